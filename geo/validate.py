"""The validation boundary: every check of user input is written here once, then trusted inside.

What is checked here, and nowhere else:

- **lat/lng** ranges (WGS-84 decimal degrees): :func:`check_latlng` (one point),
  :func:`check_latlngs` (arrays, refused whole), :func:`valid_latlng` (a mask, for tables
  that report bad rows themselves).
- **H3 resolution**: :func:`check_res` (0–15, or a narrower range an analysis supports).
- **Region membership** ("row in region"): :func:`region_mask` -- one adcode matches a
  province, a city or a county (adcodes are unique across levels; a municipality's city
  code is its province code, the same region).
- **Inside China**: :func:`inside_china` (the Tianditu outline) and
  :func:`in_china_bounds` (the box :data:`CHINA_BOUNDS`, for framing maps and quick tests).
- **Bounding boxes** in one order, ``(west, south, east, north)`` -- the order of
  GeoPandas' ``total_bounds`` and of :func:`geo.maps.zoom_for_bounds`: :class:`BBox`,
  :func:`check_bbox`, :func:`in_bbox`.
- Table shape: :func:`check_columns`, :func:`aligned` (one value per row), and the
  scalar checks :func:`check_radius_m`, :func:`check_level`.

Checks raise :class:`geo.errors.InputError` (bad values) or :class:`geo.errors.SchemaError`
(a table without the columns needed), with a message naming the field and the fix.
This module imports nothing from the analyses, so that every module may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, DTypeLike, NDArray

from geo.errors import InputError, SchemaError

LAT_MAX: Final = 90.0
"""Largest absolute latitude, degrees."""
LNG_MAX: Final = 180.0
"""Largest absolute longitude, degrees."""

H3_MIN_RES: Final = 0
H3_MAX_RES: Final = 15
"""Resolutions H3 defines."""

REGION_CODE_COLUMNS: Final = ("province_adcode", "city_adcode", "adcode")
"""Region code columns of a point table, coarse to fine."""

LEVELS: Final = ("province", "city", "county")
"""Region levels below the nation."""


class BBox(NamedTuple):
    """A bounding box in WGS-84 degrees, in the one order used everywhere: west, south, east, north.

    The order of GeoPandas' ``total_bounds`` (``minx, miny, maxx, maxy``).
    """

    west: float
    south: float
    east: float
    north: float


CHINA_BOUNDS: Final = BBox(73.0, 18.0, 135.0, 53.6)
"""Mainland China and Hainan, ``(west, south, east, north)`` degrees, for framing maps.

North is 53.6, not 53.0: the northernmost point of China, on the Heilongjiang (Amur) north of
Mohe, lies at about 53°33′N; a box cut at 53.0 leaves the tip of Heilongjiang off the map.
West 73°E (the Pamirs, ~73°30′E), east 135°E (the Heilongjiang–Wusuli confluence, ~135°05′E,
the edge of a map view), south 18°N (Hainan, ~18°10′N): the South China Sea islands down to
~4°N are left out on purpose, they would halve the scale of the map.
"""


# ---------------------------------------------------------------- coordinates


def check_latlng(lat: float, lng: float) -> tuple[float, float]:
    """Return one point as floats, or raise naming the bad coordinate.

    Raises
    ------
    InputError
        When a coordinate is not a number, NaN, or outside -90..90 / -180..180.
    """
    try:
        la, ln = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise InputError(f"lat={lat!r}, lng={lng!r}: give coordinates as decimal degrees") from exc
    if not -LAT_MAX <= la <= LAT_MAX:  # also rejects NaN
        raise InputError(f"lat={lat!r} is outside -90..90; give latitude in decimal degrees (WGS-84)")
    if not -LNG_MAX <= ln <= LNG_MAX:
        raise InputError(f"lng={lng!r} is outside -180..180; give longitude in decimal degrees (WGS-84)")
    return la, ln


def valid_latlng(lat: ArrayLike, lng: ArrayLike) -> NDArray[np.bool_]:
    """Return which points have finite coordinates within -90..90 and -180..180 (NaN: invalid)."""
    la = np.asarray(lat, dtype=np.float64)
    ln = np.asarray(lng, dtype=np.float64)
    return np.asarray((np.abs(la) <= LAT_MAX) & (np.abs(ln) <= LNG_MAX), dtype=bool)


def check_latlngs(lats: ArrayLike, lngs: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return two 1-D ``float64`` arrays of equal length, or raise naming the first bad point.

    Raises
    ------
    InputError
        When the shapes differ or a value is missing or out of range.
    """
    lat = np.asarray(lats, dtype=np.float64)
    lng = np.asarray(lngs, dtype=np.float64)
    if lat.ndim != 1 or lat.shape != lng.shape:
        raise InputError(
            f"lats and lngs must be 1-D and of equal length (got shapes {lat.shape} and {lng.shape})"
        )
    for name, values, limit in (("lats", lat, LAT_MAX), ("lngs", lng, LNG_MAX)):
        bad = ~(np.abs(values) <= limit)  # NaN fails the comparison, so counts as bad
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name}: {int(bad.sum())} value(s) missing or outside -{limit:g}..{limit:g}, "
                f"first at position {first} ({float(values[first])}); drop or fix those points"
            )
    return lat, lng


# ---------------------------------------------------------------- bounding boxes and China


def check_bbox(bbox: Sequence[float]) -> BBox:
    """Return ``bbox`` as a :class:`BBox` (west, south, east, north), or raise.

    Raises
    ------
    InputError
        When it has not four numbers, a value is out of range (a latitude beyond ±90 is
        a box in another order), west > east, or south > north.
    """
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bbox={bbox!r}: give (west, south, east, north) in WGS-84 degrees") from exc
    in_range = (
        abs(south) <= LAT_MAX and abs(north) <= LAT_MAX and abs(west) <= LNG_MAX and abs(east) <= LNG_MAX
    )
    if not (in_range and south <= north and west <= east):  # a latitude past 90: the order is wrong
        raise InputError(f"bbox={tuple(bbox)!r}: give (west, south, east, north) in WGS-84 degrees")
    return BBox(west, south, east, north)


def in_bbox(lat: ArrayLike, lng: ArrayLike, bbox: Sequence[float]) -> NDArray[np.bool_]:
    """Return which points lie in ``bbox`` = (west, south, east, north), edges included."""
    b = check_bbox(bbox)
    la = np.asarray(lat, dtype=np.float64)
    ln = np.asarray(lng, dtype=np.float64)
    return np.asarray((la >= b.south) & (la <= b.north) & (ln >= b.west) & (ln <= b.east), dtype=bool)


def in_china_bounds(lat: ArrayLike, lng: ArrayLike) -> NDArray[np.bool_]:
    """Return which points lie in :data:`CHINA_BOUNDS` (a box: quick, and generous at the borders)."""
    return in_bbox(lat, lng, CHINA_BOUNDS)


def inside_china(lat: ArrayLike, lng: ArrayLike) -> NDArray[np.bool_]:
    """Return which points lie inside China's boundary (the Tianditu outline, islands included)."""
    from geo import regions  # geopandas and the boundary files: loaded only when asked

    return np.asarray(
        regions.inside_china(np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64)),
        dtype=bool,
    )


# ---------------------------------------------------------------- H3 and regions


def check_res(res: int, lo: int = H3_MIN_RES, hi: int = H3_MAX_RES, what: str = "") -> int:
    """Return ``res`` as an int when ``lo <= res <= hi``, else raise.

    Parameters
    ----------
    res : int
        H3 resolution.
    lo, hi : int
        Range accepted (default all of H3's, 0–15).
    what : str
        What the resolution is for, named in the message (e.g. ``"campaign maps"``).
    """
    try:
        r = int(res)
    except (TypeError, ValueError) as exc:
        raise InputError(f"H3 resolution {res!r} is not a whole number: use {lo}–{hi}") from exc
    if not lo <= r <= hi:
        purpose = f" for {what}" if what else ""
        raise InputError(f"H3 resolution {res} is out of range{purpose}: use {lo}–{hi}")
    return r


def region_mask(df: pd.DataFrame, adcode: str | None) -> NDArray[np.bool_]:
    """Return which rows lie in the region ``adcode`` (province, city or county code).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with any of ``province_adcode``, ``city_adcode``, ``adcode`` (missing columns
        and missing codes match nothing).
    adcode : str or None
        6-digit code of any level; ``None`` or ``""`` selects every row.

    Returns
    -------
    numpy.ndarray
        ``bool``, shape ``(len(df),)``.
    """
    if not adcode:
        return np.ones(len(df), dtype=bool)
    code = str(adcode)
    hit = np.zeros(len(df), dtype=bool)
    for col in REGION_CODE_COLUMNS:
        if col in df.columns:
            hit |= np.asarray((df[col] == code).to_numpy(dtype=bool, na_value=False))
    return hit


def check_adcode(region: object) -> str | None:
    """Return a region code stripped (``None`` for none), or raise when it is not 6 digits."""
    if region is None or region == "":
        return None
    code = str(region).strip()
    if not (code.isdigit() and len(code) == 6):
        raise InputError(f"region {code!r} is not a 6-digit adcode (e.g. 440000, 440300, 440305)")
    return code


def check_level(level: str) -> str:
    """Return ``level`` when it is a region level (province, city, county), else raise."""
    if level not in LEVELS:
        raise InputError(f"level={level!r}: choose one of {', '.join(LEVELS)}")
    return level


# ---------------------------------------------------------------- tables and scalars


def check_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`SchemaError` naming the columns of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{what} table lacks column(s) {', '.join(missing)}; regenerate or re-import it")


def aligned(values: ArrayLike, n: int, name: str, dtype: DTypeLike) -> NDArray[Any]:
    """Return ``values`` as a flat array of ``dtype`` with one value per row of a table of ``n`` rows.

    Raises
    ------
    InputError
        When the length differs from ``n``.
    """
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if len(arr) != n:
        raise InputError(f"{name} has {len(arr)} values but workplaces has {n} rows; pass one per workplace")
    return arr


def check_radius_m(radius_m: float) -> float:
    """Return a service radius in metres as a float, or raise when it is not positive and finite."""
    try:
        r = float(radius_m)
    except (TypeError, ValueError) as exc:
        raise InputError(f"radius_m={radius_m!r}: give a positive distance in metres") from exc
    if not (r > 0 and np.isfinite(r)):
        raise InputError(f"radius_m={radius_m!r}: give a positive distance in metres")
    return r
