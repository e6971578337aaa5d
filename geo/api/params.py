"""Limits of the JSON API and the strict parsing of its query parameters (what the spec says)."""

from __future__ import annotations

import re
from typing import Final

from starlette.datastructures import QueryParams

from geo.datums import CHINA_BBOX, CRS_NAMES
from geo.errors import InputError

API_VERSION: Final = "1.1.0"
KEY_TTL_S: Final = 1.0
"""How long a dataset key is trusted before the data directory is looked at again, seconds."""

MAX_ECHO_CHARS: Final = 100
"""Most characters of one input value an error message repeats (see :func:`echo`)."""

AROUND_RADIUS_MAX_M: Final = 50_000.0
"""Widest ``radius_m`` of ``/stations/around``, metres."""
AROUND_RADIUS_DEFAULT_M: Final = 30_000.0
AROUND_LIMIT_MAX: Final = 500
"""Most stations ``/stations/around`` returns."""
AROUND_LIMIT_DEFAULT: Final = 300

PLACES_LIMIT_MAX: Final = 20
"""Most results of ``/places``."""

REPORT_BODY_MAX_BYTES: Final = 4096
"""Largest report request body, bytes."""

STRING_SECTIONS: Final = ("common", "nearest", "courier")
"""Sections of ``geo/strings`` served to the phone app by ``/strings``."""

STRINGS_MAX_AGE_S: Final = 300
"""``Cache-Control: max-age`` of ``/strings`` (revalidated by ETag after that)."""

_NEAREST_PARAMS: Final = frozenset(
    {"lat", "lng", "k", "amenity", "amenities", "kind", "kinds", "open_at", "crs", "radius_m", "links"}
)
_AROUND_PARAMS: Final = frozenset({"lat", "lng", "crs", "radius_m", "limit", "links"})
_PLACES_PARAMS: Final = frozenset({"q", "limit"})
_STRINGS_PARAMS: Final = frozenset({"lang"})
_REPORT_FIELDS: Final = ("station_id", "problem", "text")


def echo(text: object) -> str:
    """Return user input as an error message may repeat it: at most :data:`MAX_ECHO_CHARS` characters.

    The one place input is cut for messages; longer input ends in ``…``.
    """
    value = str(text)
    return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"


def _check_params(params: QueryParams, known: frozenset[str]) -> None:
    """Refuse unknown parameters and over-long values (so no message can echo them whole)."""
    unknown = sorted(set(params.keys()) - known)
    if unknown:
        raise InputError(
            f"unknown parameter(s) {echo(', '.join(unknown))}; known: {', '.join(sorted(known))}"
        )
    for name, value in params.multi_items():
        if len(value) > MAX_ECHO_CHARS:
            raise InputError(
                f"{name}: a value of {len(value)} characters is too long (at most {MAX_ECHO_CHARS})"
            )


def _one(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise InputError(f"{name} given {len(values)} times; give it once")
    return values[0] if values else None


def _int_param(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = _one(params, name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise InputError(f"{name}={echo(raw)!r}: give a whole number from {low} to {high}") from exc
    if not low <= value <= high:
        raise InputError(f"{name}={value}: give a whole number from {low} to {high}")
    return value


def _bool_param(params: QueryParams, name: str, default: bool) -> bool:
    raw = _one(params, name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise InputError(f"{name}={echo(raw)!r}: give true or false")


# Request parsing shared by nearest and around: strict, and exactly what the spec says

OPEN_AT_PATTERN: Final = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
"""``open_at`` values accepted: ``H:MM`` or ``HH:MM``, 00:00 to 23:59."""

LAT_MIN, LNG_MIN, LAT_MAX, LNG_MAX = CHINA_BBOX
"""The API accepts points inside this rectangle (:data:`geo.datums.CHINA_BBOX`, degrees)."""


def parse_point(params: QueryParams, example: str) -> tuple[float, float, str]:
    """Read ``lat``, ``lng`` and ``crs``; refuse points outside :data:`geo.datums.CHINA_BBOX`.

    The rectangle (not China's outline) is what the OpenAPI spec can state, so it is what
    the API checks: a point in it but off China (the sea, a neighbour) gets the nearest
    stations, far away. Coordinates are checked as given, before any datum conversion.

    Returns
    -------
    (float, float, str)
        ``lat``, ``lng`` (degrees, in datum ``crs``) and ``crs``.
    """
    lat, lng = _one(params, "lat"), _one(params, "lng")
    if lat is None or lng is None:
        raise InputError(f"lat and lng are required, e.g. {example}")
    try:
        la, ln = float(lat.strip()), float(lng.strip())
    except ValueError as exc:
        raise InputError(
            f"lat={echo(lat)!r}, lng={echo(lng)!r}: give both as decimal degrees, e.g. 39.9087"
        ) from exc
    if not (LAT_MIN <= la <= LAT_MAX and LNG_MIN <= ln <= LNG_MAX):
        raise InputError(
            f"({la:.5f}, {ln:.5f}) is outside China (the API accepts lat {LAT_MIN}..{LAT_MAX}, "
            f"lng {LNG_MIN}..{LNG_MAX}): give lat then lng in decimal degrees; did you swap them?"
        )
    crs = _one(params, "crs")
    if crs is not None and crs not in CRS_NAMES:
        raise InputError(
            f"crs={echo(crs)!r} is not a datum this API knows: use one of {', '.join(CRS_NAMES)}"
        )
    return la, ln, crs or "wgs84"


_OPEN_AT_RE: Final = re.compile(OPEN_AT_PATTERN.strip("^$"))


def _open_at(params: QueryParams) -> str | None:
    raw = _one(params, "open_at")
    if raw is not None and not _OPEN_AT_RE.fullmatch(raw):
        raise InputError(f"open_at={echo(raw)!r}: give a time of day as HH:MM, 00:00 to 23:59")
    return raw
