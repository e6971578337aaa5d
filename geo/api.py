"""HTTP JSON API (Starlette routes) over the library: ``/api/v1/...``.

``asgi.py`` serves them beside the Streamlit app in one process, so one command serves
both: :func:`with_api` sends ``/api/...`` requests to this module's own small Starlette
app and everything else to ``st.App``. (Routes handed to ``st.App(routes=...)`` would also
work, but every request would then pass Streamlit's session, gzip and path-security
middlewares, which the app needs and the API does not: that halves the requests per
second one core can answer.)

* ``GET /api/v1/health`` — liveness and the dataset in use;
* ``GET /api/v1/nearest?lat=&lng=[&k=5][&amenity=hot_water...][&kind=...][&open_at=23:30]
  [&crs=wgs84|gcj02|bd09][&radius_m=]`` — nearest stations, ordered by distance, each
  with its live ``status`` from couriers' reports (:mod:`geo.reports`);
* ``GET /api/v1/stations/around?lat=&lng=[&radius_m=30000][&limit=300]`` — the stations a
  phone keeps for offline use;
* ``GET /api/v1/stations/{station_id}`` — one station;
* ``GET /api/v1/places?q=&limit=`` — place search (Chinese, pinyin, initials, stations);
* ``POST /api/v1/reports`` — a courier's problem report (rate-limited per client and station);
* ``GET /api/v1/strings?lang=zh|en`` — the phone app's UI strings (from ``geo/strings``);
* ``GET /api/v1/openapi.json`` — the OpenAPI 3.1 description.

Bad input gets ``400 {"error": "<what is wrong and what to send>"}``; no error body
echoes more than :data:`MAX_ECHO_CHARS` characters of any one input (:func:`echo`, and
values longer than that are refused at the boundary, :func:`_check_lengths`). The station index
is built once per dataset version (module-level cache keyed on
:func:`geo.store.dataset_key`, re-checked at most once a second), never per request; the
first build runs in a worker thread so the event loop (which also serves the app) keeps
going.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from geo import i18n, navigation, places, reports, store
from geo.datums import CHINA_BBOX, CRS_NAMES
from geo.errors import DataMissingError, GeoError, InputError
from geo.nearest import K_MAX, StationIndex, minute_of_day_now
from geo.schema import AMENITIES, AMENITY_ICONS, REPORT_PROBLEMS, STATION_KINDS
from geo.settings import Settings, load_settings

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


_settings_cache: list[tuple[float, Settings]] = []


def _settings() -> Settings:
    # Reading env vars and secrets costs ~70 µs: at thousands of requests a second, re-read
    # them at most once per KEY_TTL_S.
    now = time.monotonic()
    if not _settings_cache or now - _settings_cache[0][0] > KEY_TTL_S:
        _settings_cache[:] = [(now, load_settings())]
    return _settings_cache[0][1]


class FastJSONResponse(JSONResponse):
    """JSON body rendered by orjson (several times faster than ``json``; NaN becomes null)."""

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
        """Serialise ``content`` as UTF-8 JSON."""
        return orjson.dumps(content)


def echo(text: object) -> str:
    """Return user input as an error message may repeat it: at most :data:`MAX_ECHO_CHARS` characters.

    The one place input is cut for messages; longer input ends in ``…``.
    """
    value = str(text)
    return value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"


def error_response(
    message: str, status: int = 400, *, field: str | None = None, headers: dict[str, str] | None = None
) -> FastJSONResponse:
    """Return a JSON error body ``{"error": message[, "field": field]}`` with ``status``."""
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return FastJSONResponse(body, status_code=status, headers=headers)


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


# ---------------------------------------------------------------------------------------
# The dataset, loaded once per version


@dataclass(frozen=True)
class Loaded:
    """The station index of one dataset version and what records need besides it."""

    key: str
    version: str
    index: StationIndex
    text: navigation.StationText


class _Cache:
    """One :class:`Loaded` per process, replaced when the dataset version changes."""

    def __init__(self) -> None:
        self.loaded: Loaded | None = None
        self.key: str | None = None
        self.key_checked = 0.0
        self.lock = threading.Lock()
        self.gazetteer: tuple[str, places.Gazetteer] | None = None
        self.gazetteer_lock = threading.Lock()

    def current_key(self, data_dir: Path) -> str:
        now = time.monotonic()
        if self.key is None or now - self.key_checked > KEY_TTL_S:
            self.key = store.dataset_key(data_dir)
            self.key_checked = now
        return self.key

    def get_fast(self, data_dir: Path) -> Loaded | None:
        """Return the loaded dataset if it is current (no I/O most of the time), else ``None``."""
        key = self.current_key(data_dir)
        loaded = self.loaded
        return loaded if loaded is not None and loaded.key == key else None

    def load(self, data_dir: Path) -> Loaded:
        """Build (or return) the index of the current version; runs in a worker thread."""
        with self.lock:
            key = store.dataset_key(data_dir)
            self.key, self.key_checked = key, time.monotonic()
            if self.loaded is not None and self.loaded.key == key:
                return self.loaded
            if key.endswith("|empty"):
                raise DataMissingError(
                    f"no dataset in {data_dir}: run `python -m geo generate --data-dir {data_dir}`"
                )
            navigation.check_in_china(39.9, 116.4)  # builds the China outline once, here off the loop
            stations = store.read_table(data_dir, "stations")
            version = str(store.read_manifest(data_dir).get("dataset_version", ""))
            self.loaded = Loaded(
                key=key,
                version=version,
                index=StationIndex.from_frame(stations),
                text=navigation.StationText.from_frame(stations),
            )
            # Place search needs a gazetteer that takes seconds to build: start it now, in
            # the background, rather than on a courier's first search.
            threading.Thread(target=self._warm_places, args=(data_dir,), daemon=True).start()
            return self.loaded

    def _warm_places(self, data_dir: Path) -> None:
        with contextlib.suppress(GeoError, OSError):
            self.places(data_dir)

    def places(self, data_dir: Path) -> places.Gazetteer:
        """Return the gazetteer with the current stations (built on first use, ~3 s); worker thread."""
        with self.gazetteer_lock:
            key = store.dataset_key(data_dir)
            if self.gazetteer is None or self.gazetteer[0] != key:
                stations = store.read_table(data_dir, "stations")
                cols = [
                    c for c in ("station_id", "name", "address", "lat", "lng", "province") if c in stations
                ]
                self.gazetteer = (key, places.base_gazetteer().with_stations(stations[cols]))
            return self.gazetteer[1]


_CACHE = _Cache()


async def dataset(data_dir: Path) -> Loaded:
    """Return the loaded dataset of ``data_dir``, building it off the event loop when needed."""
    loaded = _CACHE.get_fast(data_dir)
    if loaded is None:
        loaded = await run_in_threadpool(_CACHE.load, data_dir)
    return loaded


def warm(data_dir: Path | None = None) -> None:
    """Build the index and the China outline now (e.g. at start-up) instead of on first request."""
    _CACHE.load(data_dir or _settings().data_dir)


_boards: dict[Path, reports.StatusBoard] = {}
_boards_lock = threading.Lock()


def status_board(data_dir: Path) -> reports.StatusBoard:
    """Return this process's :class:`geo.reports.StatusBoard` of ``data_dir``."""
    board = _boards.get(data_dir)
    if board is None:
        with _boards_lock:
            board = _boards.setdefault(data_dir, reports.StatusBoard(data_dir))
    return board


def _with_status(records: list[dict[str, Any]], data_dir: Path) -> list[dict[str, Any]]:
    statuses = status_board(data_dir).statuses()
    for rec in records:
        rec["status"] = statuses.get(rec["station_id"], reports.EMPTY_STATUS)
    return records


# ---------------------------------------------------------------------------------------
# Client addresses


_proxy_cache: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {}


def trusted_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``GEO_TRUSTED_PROXIES`` (comma-separated addresses or networks)."""
    nets = _proxy_cache.get(setting)
    if nets is None:
        try:
            nets = tuple(
                ipaddress.ip_network(p.strip(), strict=False) for p in setting.split(",") if p.strip()
            )
        except ValueError as exc:
            raise InputError(
                f"setting trusted_proxies={setting!r}: give addresses or networks, e.g. 127.0.0.1,10.0.0.0/8"
            ) from exc
        _proxy_cache[setting] = nets
    return nets


def _trusted(address: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address(scope: Scope, trusted_proxies: str = "") -> str:
    """Return the address of the client that sent a request.

    The peer of the connection, unless the peer is one of ``trusted_proxies``: then the
    rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy (what the
    nearest trusted proxy saw). A header from any other peer is ignored, so a client
    cannot choose its own address. (Run uvicorn with ``--no-proxy-headers``, as ``make
    run`` does, so the peer is the real one.)

    Returns
    -------
    str
        The address, or ``""`` when the server does not know the peer (a Unix socket).
    """
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    nets = trusted_networks(trusted_proxies)
    if not nets or not _trusted(peer, nets):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded += [v.strip() for v in value.decode("latin-1").split(",")]
    for hop in reversed(forwarded):
        if hop and not _trusted(hop, nets):
            return hop
    return peer


# ---------------------------------------------------------------------------------------
# Handlers


async def health(request: Request) -> FastJSONResponse:
    """``GET /api/v1/health``: liveness plus the dataset in use."""
    settings = _settings()
    body: dict[str, Any] = {"status": "ok", "api_version": API_VERSION}
    try:
        m = store.read_manifest(settings.data_dir)
        version = str(m.get("dataset_version") or "")
        created = str(m.get("created") or "")
        key = store.dataset_key(settings.data_dir)  # changes with any change of the data in use
        body["dataset"] = {
            "version": version,
            "created": created,
            "tag": f"{version}-{hashlib.sha256(key.encode()).hexdigest()[:12]}",
            "source": m.get("source", {}).get("kind"),
            "row_counts": m.get("row_counts"),
        }
    except GeoError as exc:
        body.update(status="no-data", detail=str(exc))
    return FastJSONResponse(body)


async def nearest(request: Request) -> FastJSONResponse:
    """``GET /api/v1/nearest``: the ``k`` nearest matching stations to a point."""
    settings = _settings()
    params = request.query_params
    try:
        _check_params(params, _NEAREST_PARAMS)
        lat, lng, crs = parse_point(params, "/api/v1/nearest?lat=39.9087&lng=116.3975")
        k, radius_m = _one(params, "k"), _one(params, "radius_m")
        if radius_m is not None and not radius_m.strip():
            raise InputError("radius_m is empty: give a distance in metres, or leave it out")
        loaded = await dataset(settings.data_dir)
        req = navigation.parse_request(
            lat,
            lng,
            k=5 if k is None else k,
            amenities=params.getlist("amenity") + params.getlist("amenities"),
            kinds=params.getlist("kind") + params.getlist("kinds"),
            open_at=_open_at(params),
            crs=crs,
            radius_m=radius_m,
            require_china=False,
        )
        links = _bool_param(params, "links", True)
        results = navigation.nearest_records(loaded.index, loaded.text, req, links=links)
    except DataMissingError as exc:
        return error_response(str(exc), 503)
    except InputError as exc:
        return error_response(str(exc), 400)
    body = {
        "query": {
            "lat": req.lat,
            "lng": req.lng,
            "crs": "wgs84",
            "k": req.k,
            "amenities": list(req.amenities),
            "kinds": list(req.kinds),
            "open_at": _one(params, "open_at"),
            "radius_m": req.radius_m,
        },
        "dataset": loaded.version,
        "count": len(results),
        "estimate_note": navigation.ESTIMATE_NOTE,
        "results": _with_status(results, settings.data_dir),
    }
    return FastJSONResponse(body, headers={"Access-Control-Allow-Origin": "*"})


async def around(request: Request) -> FastJSONResponse:
    """``GET /api/v1/stations/around``: up to ``limit`` stations within ``radius_m`` (offline cache)."""
    settings = _settings()
    params = request.query_params
    try:
        _check_params(params, _AROUND_PARAMS)
        lat, lng, crs = parse_point(params, "/api/v1/stations/around?lat=39.9087&lng=116.3975")
        req = navigation.parse_request(lat, lng, crs=crs, require_china=False)
        raw_radius = _one(params, "radius_m")
        radius_m = AROUND_RADIUS_DEFAULT_M
        if raw_radius is not None:
            try:
                radius_m = float(raw_radius.strip())
            except ValueError as exc:
                raise InputError(f"radius_m={echo(raw_radius)!r}: give a distance in metres") from exc
            if not 0 < radius_m <= AROUND_RADIUS_MAX_M:
                raise InputError(
                    f"radius_m={radius_m}: give more than 0 and at most {AROUND_RADIUS_MAX_M:.0f} m"
                )
        limit = _int_param(params, "limit", AROUND_LIMIT_DEFAULT, 1, AROUND_LIMIT_MAX)
        links = _bool_param(params, "links", True)
        loaded = await dataset(settings.data_dir)
        distance_m, pos = loaded.text.around(req.lat, req.lng, radius_m, limit)
        results = navigation.station_records(
            loaded.index, loaded.text, pos, distance_m, at_min=minute_of_day_now(), links=links
        )
    except DataMissingError as exc:
        return error_response(str(exc), 503)
    except InputError as exc:
        return error_response(str(exc), 400)
    body = {
        "query": {"lat": req.lat, "lng": req.lng, "crs": "wgs84", "radius_m": radius_m, "limit": limit},
        "dataset": loaded.version,
        "count": len(results),
        "estimate_note": navigation.ESTIMATE_NOTE,
        "results": _with_status(results, settings.data_dir),
    }
    return FastJSONResponse(body, headers={"Access-Control-Allow-Origin": "*"})


async def station(request: Request) -> FastJSONResponse:
    """``GET /api/v1/stations/{station_id}``: one station, 404 when unknown."""
    settings = _settings()
    station_id = str(request.path_params["station_id"])
    try:
        if request.query_params:
            _check_params(request.query_params, frozenset({"links"}))
        links = _bool_param(request.query_params, "links", True)
        loaded = await dataset(settings.data_dir)
    except DataMissingError as exc:
        return error_response(str(exc), 503)
    except InputError as exc:
        return error_response(str(exc), 400)
    position = loaded.text.position_of(station_id)
    if position is None:
        return error_response(f"no station {echo(station_id)!r} in dataset {loaded.version}", 404)
    records = navigation.station_records(
        loaded.index,
        loaded.text,
        np.array([position], dtype=np.int64),
        None,
        at_min=minute_of_day_now(),
        links=links,
    )
    return FastJSONResponse(
        {"dataset": loaded.version, "station": _with_status(records, settings.data_dir)[0]},
        headers={"Access-Control-Allow-Origin": "*"},
    )


async def place_search(request: Request) -> FastJSONResponse:
    """``GET /api/v1/places?q=&limit=``: places and stations matching a name or pinyin."""
    settings = _settings()
    params = request.query_params
    try:
        _check_params(params, _PLACES_PARAMS)
        q = _one(params, "q")
        if q is None:
            raise InputError("q is required, e.g. /api/v1/places?q=zhengzhou")
        limit = _int_param(params, "limit", places.DEFAULT_LIMIT, 1, PLACES_LIMIT_MAX)
        if store.dataset_key(settings.data_dir).endswith("|empty"):
            gazetteer = await run_in_threadpool(places.base_gazetteer)
        else:
            gazetteer = await run_in_threadpool(_CACHE.places, settings.data_dir)
        found = gazetteer.search(q, limit)
    except InputError as exc:
        return error_response(str(exc), 400)
    out = []
    for row in found.to_dict("records"):
        item: dict[str, Any] = {
            "name": str(row["label"]),
            "level": str(row["kind"]),
            "lat": float(row["lat"]),
            "lng": float(row["lng"]),
            "detail": str(row["detail"] or ""),
        }
        for key in ("province", "name_en", "station_id"):
            if row[key]:
                item[key] = str(row[key])
        out.append(item)
    query = str(q).strip()[: places.MAX_QUERY_CHARS]
    return FastJSONResponse(
        {"query": query, "count": len(out), "places": out}, headers={"Access-Control-Allow-Origin": "*"}
    )


class _BadReportError(InputError):
    """A report body that cannot be stored; ``field`` names the culprit."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        self.field, self.status = field, status
        super().__init__(message)


async def _read_body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BadReportError(
                "body", f"the body is larger than {limit} bytes; send a short JSON object", 413
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_report(raw: bytes) -> tuple[str, str, str]:
    """Validate a report body; return ``(station_id, problem, text)``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _BadReportError(
            "body", 'the body is not valid JSON; send {"station_id": …, "problem": …}'
        ) from exc
    if not isinstance(body, dict):
        raise _BadReportError("body", "the body must be a JSON object with station_id and problem")
    unknown = sorted(set(body) - set(_REPORT_FIELDS))
    if unknown:
        raise _BadReportError(
            echo(unknown[0]),
            f"unknown field(s) {echo(', '.join(unknown))}; send station_id, problem and text",
        )
    station_id = body.get("station_id")
    if not isinstance(station_id, str) or not station_id.strip() or len(station_id) > MAX_ECHO_CHARS:
        raise _BadReportError(
            "station_id", f"station_id must be a station id (text of 1 to {MAX_ECHO_CHARS} characters)"
        )
    problem = body.get("problem")
    if not isinstance(problem, str) or problem not in REPORT_PROBLEMS:
        raise _BadReportError("problem", f"problem must be one of {', '.join(REPORT_PROBLEMS.values)}")
    text = body.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise _BadReportError("text", "text must be a string")
    if len(text) > navigation.REPORT_TEXT_MAX_CHARS:
        raise _BadReportError(
            "text", f"text is {len(text)} characters long; at most {navigation.REPORT_TEXT_MAX_CHARS}"
        )
    try:
        problem, text = navigation.clean_report(problem, text)
    except InputError as exc:
        raise _BadReportError("text", str(exc)) from exc
    return station_id, problem, text


async def report(request: Request) -> FastJSONResponse:
    """``POST /api/v1/reports``: store a courier's problem report (201), or say why not."""
    settings = _settings()
    try:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise _BadReportError("body", "send the report as JSON (Content-Type: application/json)", 415)
        station_id, problem, text = _parse_report(await _read_body(request, REPORT_BODY_MAX_BYTES))
        loaded = await dataset(settings.data_dir)
        if loaded.text.position_of(station_id) is None:
            raise _BadReportError(
                "station_id", f"no station {echo(station_id)!r} in dataset {loaded.version}", 404
            )
        address = client_address(request.scope, settings.trusted_proxies)
        limits = store.ReportLimits(
            client_per_hour=settings.report_client_per_hour, station_per_hour=settings.report_station_per_hour
        )
        data_dir = settings.data_dir

        def add() -> dict[str, Any] | store.RateLimited:
            client = store.client_id(data_dir, address) if address else "ip:unknown"
            now = dt.datetime.now(dt.UTC)
            return store.add_report(
                data_dir, station_id, problem, text, client=client, now=now, limits=limits
            )

        stored = await run_in_threadpool(add)
    except DataMissingError as exc:
        return error_response(str(exc), 503)
    except _BadReportError as exc:
        return error_response(str(exc), exc.status, field=exc.field)
    except InputError as exc:
        return error_response(str(exc), 400)
    if isinstance(stored, store.RateLimited):
        wait = stored.retry_after_s
        what = {
            "client": f"more than {limits.client_per_hour} reports an hour from one address",
            "station": f"more than {limits.station_per_hour} reports an hour about this station",
            "same_station": "this station was already reported from this address within the hour",
        }[stored.limit]
        return FastJSONResponse(
            {"error": f"too many reports: {what}; try again in {wait} s", "retry_after_s": wait},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    stored["created"] = reports.iso_seconds(str(stored["created"]))
    board = status_board(data_dir)
    board.invalidate()
    status = board.status_of(station_id)
    return FastJSONResponse({"report": stored, "station_status": status}, status_code=201)


_strings_cache: dict[str, tuple[bytes, str]] = {}


def strings_body(lang: str) -> tuple[bytes, str]:
    """Return the ``/strings`` JSON body of ``lang`` and its ETag (computed once per process)."""
    cached = _strings_cache.get(lang)
    if cached is None:
        table = {
            key: entry.get(lang) or entry[i18n.DEFAULT_LANG]
            for key, entry in i18n.strings().items()
            if key.split(".", 1)[0] in STRING_SECTIONS
        }
        enums = {
            "amenity": AMENITIES.labels(lang),
            "amenity_icon": dict(AMENITY_ICONS),
            "kind": STATION_KINDS.labels(lang),
            "problem": REPORT_PROBLEMS.labels(lang),
        }
        payload = {"lang": lang, "strings": table, "enums": enums}
        version = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        cached = (orjson.dumps({"lang": lang, "version": version, **payload}), f'"{version}"')
        _strings_cache[lang] = cached
    return cached


async def strings(request: Request) -> Response:
    """``GET /api/v1/strings?lang=zh|en``: the phone app's UI strings and code labels."""
    params = request.query_params
    try:
        _check_params(params, _STRINGS_PARAMS)
        lang = _one(params, "lang")
        lang = i18n.DEFAULT_LANG if lang is None else lang
        if lang not in i18n.LANGS:
            raise InputError(f"lang={echo(lang)!r}: use one of {', '.join(i18n.LANGS)}")
    except InputError as exc:
        return error_response(str(exc), 400)
    body, etag = strings_body(lang)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={STRINGS_MAX_AGE_S}"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# OpenAPI


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def openapi_spec() -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the API, with the bounds the handlers enforce."""
    hhmm = {"type": "string", "pattern": r"^([01][0-9]|2[0-4]):[0-5][0-9]$"}
    status = {
        "type": "object",
        "description": "open reports of the last 48 h (geo.reports)",
        "required": ["reports_48h", "top_problem", "last_at", "reported_closed"],
        "additionalProperties": False,
        "properties": {
            "reports_48h": {"type": "integer", "minimum": 0},
            "top_problem": _nullable({"type": "string", "enum": REPORT_PROBLEMS.values}),
            "last_at": _nullable({"type": "string", "format": "date-time"}),
            "reported_closed": {
                "type": "boolean",
                "description": "reports of problem 'closed' from at least 2 different clients",
            },
        },
    }
    links = {
        "type": "object",
        "description": "open the station in a map app: Amap (GCJ-02), Baidu (BD-09), OSM (WGS-84)",
        "required": ["amap", "baidu", "osm"],
        "properties": {k: {"type": "string", "format": "uri"} for k in ("amap", "baidu", "osm")},
    }
    station_props: dict[str, Any] = {
        "station_id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": STATION_KINDS.values},
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS-84 latitude, degrees"},
        "lng": {
            "type": "number",
            "minimum": -180,
            "maximum": 180,
            "description": "WGS-84 longitude, degrees",
        },
        "open_now": _nullable({"type": "boolean", "description": "open now (Beijing time), or at open_at"}),
        "hours_known": {"type": "boolean", "description": "false: opening hours unknown, open_now is null"},
        "opens": {**_nullable(hhmm), "description": "HH:MM; null when open 24 h or unknown"},
        "closes": {**_nullable(hhmm), "description": "HH:MM; null when open 24 h or unknown"},
        "open_24h": {"type": "boolean"},
        "closes_in_min": _nullable({"type": "integer", "minimum": 1, "maximum": 1440}),
        "opens_in_min": _nullable({"type": "integer", "minimum": 0, "maximum": 1440}),
        "smart": {"type": "boolean"},
        "amenities": {"type": "array", "items": {"type": "string", "enum": AMENITIES.values}},
        "amenities_known": {
            "type": "boolean",
            "description": "false: services unknown (imported without them), amenities is empty",
        },
        "address": {"type": "string"},
        "links": links,
        "status": status,
    }
    base_required = [
        "station_id",
        "name",
        "kind",
        "lat",
        "lng",
        "open_now",
        "hours_known",
        "opens",
        "closes",
        "open_24h",
        "closes_in_min",
        "opens_in_min",
        "smart",
        "amenities",
        "amenities_known",
        "address",
        "status",
    ]
    station = {"type": "object", "required": base_required, "properties": station_props}
    located = {
        "type": "object",
        "required": [*base_required, "distance_m", "walk_min", "ride_min"],
        "properties": {
            **station_props,
            "distance_m": {"type": "number", "minimum": 0, "description": "great-circle distance, metres"},
            "walk_min": {"type": "number", "minimum": 0, "description": "estimated walking minutes"},
            "ride_min": {"type": "number", "minimum": 0, "description": "estimated e-bike minutes"},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
    }

    def json_content(schema: dict[str, Any]) -> dict[str, Any]:
        return {"application/json": {"schema": schema}}

    def err(description: str) -> dict[str, Any]:
        return {"description": description, "content": json_content(error)}

    def param(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema,
            "description": description,
        }

    lat = param(
        "lat",
        {"type": "number", "minimum": LAT_MIN, "maximum": LAT_MAX},
        "latitude in datum crs, decimal degrees (China's bounding box)",
        True,
    )
    lng = param(
        "lng",
        {"type": "number", "minimum": LNG_MIN, "maximum": LNG_MAX},
        "longitude in datum crs, decimal degrees (China's bounding box)",
        True,
    )
    crs = param(
        "crs",
        {"type": "string", "enum": list(CRS_NAMES), "default": "wgs84"},
        "datum of lat/lng (Amap: gcj02, Baidu: bd09)",
    )
    links_param = param("links", {"type": "boolean", "default": True}, "include map-app links")
    listing = {
        "type": "object",
        "required": ["query", "dataset", "count", "estimate_note", "results"],
        "properties": {
            "query": {"type": "object"},
            "dataset": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "estimate_note": {"type": "string"},
            "results": {"type": "array", "items": located},
        },
    }
    no_data = err("No dataset loaded")
    place = {
        "type": "object",
        "required": ["name", "level", "lat", "lng", "detail"],
        "properties": {
            "name": {"type": "string"},
            "level": {"type": "string", "enum": list(places.PLACE_KINDS)},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lng": {"type": "number", "minimum": -180, "maximum": 180},
            "detail": {"type": "string"},
            "province": {"type": "string"},
            "name_en": {"type": "string"},
            "station_id": {"type": "string"},
        },
    }
    report_out = {
        "type": "object",
        "required": ["id", "station_id", "problem", "text", "created", "status"],
        "properties": {
            "id": {"type": "integer"},
            "station_id": {"type": "string"},
            "problem": {"type": "string", "enum": REPORT_PROBLEMS.values},
            "text": {"type": "string", "maxLength": navigation.REPORT_TEXT_MAX_CHARS},
            "created": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "enum": ["open"]},
        },
    }
    # What clean_report keeps: text without control characters, trimmed.
    visible = r"[^\s\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]"
    report_in = {
        "type": "object",
        "required": ["station_id", "problem"],
        "additionalProperties": False,
        "properties": {
            "station_id": {"type": "string", "minLength": 1, "maxLength": MAX_ECHO_CHARS, "pattern": r"\S"},
            "problem": {"type": "string", "enum": REPORT_PROBLEMS.values},
            "text": {
                **_nullable({"type": "string", "maxLength": navigation.REPORT_TEXT_MAX_CHARS}),
                "description": "plain text, stored and returned as text (never HTML)",
            },
        },
        "if": {"properties": {"problem": {"const": "other"}}, "required": ["problem"]},
        "then": {"required": ["text"], "properties": {"text": {"type": "string", "pattern": visible}}},
    }
    health_out = {
        "type": "object",
        "required": ["status", "api_version"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "no-data"]},
            "api_version": {"type": "string"},
            "detail": {"type": "string"},
            "dataset": {
                "type": "object",
                "required": ["version", "created", "tag"],
                "properties": {
                    "version": {"type": "string"},
                    "created": {"type": "string"},
                    "tag": {"type": "string", "description": "changes whenever the data in use changes"},
                    "source": _nullable({"type": "string"}),
                    "row_counts": _nullable({"type": "object"}),
                },
            },
        },
    }
    strings_out = {
        "type": "object",
        "required": ["lang", "version", "strings", "enums"],
        "properties": {
            "lang": {"type": "string", "enum": list(i18n.LANGS)},
            "version": {"type": "string"},
            "strings": {"type": "object", "additionalProperties": {"type": "string"}},
            "enums": {
                "type": "object",
                "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    }
    cors = {"Access-Control-Allow-Origin": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "驿站图 Station Atlas API",
            "version": API_VERSION,
            "description": "Nearest trade-union worker rest stations in China, their live status from "
            "couriers' reports, place search and the phone app's strings. Coordinates in responses "
            "are WGS-84; travel times are estimates. Error bodies repeat at most "
            f"{MAX_ECHO_CHARS} characters of any input value.",
        },
        "paths": {
            "/api/v1/health": {
                "get": {
                    "summary": "Liveness and the dataset in use",
                    "responses": {"200": {"description": "OK", "content": json_content(health_out)}},
                }
            },
            "/api/v1/nearest": {
                "get": {
                    "summary": "Nearest stations to a point, ordered by distance",
                    "parameters": [
                        lat,
                        lng,
                        param(
                            "k",
                            {"type": "integer", "minimum": 1, "maximum": K_MAX, "default": 5},
                            "how many stations",
                        ),
                        {
                            **param(
                                "amenity",
                                {"type": "array", "items": {"type": "string", "enum": AMENITIES.values}},
                                "required amenities (all of them); repeat the parameter",
                            ),
                            "style": "form",
                            "explode": True,
                        },
                        {
                            **param(
                                "kind",
                                {"type": "array", "items": {"type": "string", "enum": STATION_KINDS.values}},
                                "station kinds (any of them); repeat the parameter",
                            ),
                            "style": "form",
                            "explode": True,
                        },
                        param(
                            "open_at",
                            {"type": "string", "pattern": OPEN_AT_PATTERN},
                            "only stations open at this Beijing time, HH:MM (overnight hours honoured; "
                            "stations with unknown hours are left out)",
                        ),
                        crs,
                        param(
                            "radius_m",
                            {"type": "number", "exclusiveMinimum": 0},
                            "only within this many metres",
                        ),
                        links_param,
                    ],
                    "responses": {
                        "200": {
                            "description": "Stations ordered by distance",
                            "headers": cors,
                            "content": json_content(listing),
                        },
                        "400": err(
                            f"Bad input (outside China's bounding box, k not 1..{K_MAX}, unknown amenity, "
                            "kind or datum, bad time, unknown parameter)"
                        ),
                        "503": no_data,
                    },
                }
            },
            "/api/v1/stations/around": {
                "get": {
                    "summary": "Stations around a point, nearest first, to keep on a phone for offline use",
                    "parameters": [
                        lat,
                        lng,
                        crs,
                        param(
                            "radius_m",
                            {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": AROUND_RADIUS_MAX_M,
                                "default": AROUND_RADIUS_DEFAULT_M,
                            },
                            "only within this many metres",
                        ),
                        param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": AROUND_LIMIT_MAX,
                                "default": AROUND_LIMIT_DEFAULT,
                            },
                            "most stations",
                        ),
                        links_param,
                    ],
                    "responses": {
                        "200": {
                            "description": "Stations ordered by distance",
                            "headers": cors,
                            "content": json_content(listing),
                        },
                        "400": err("Bad input"),
                        "503": no_data,
                    },
                }
            },
            "/api/v1/stations/{station_id}": {
                "get": {
                    "summary": "One station",
                    "parameters": [
                        {"name": "station_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        links_param,
                    ],
                    "responses": {
                        "200": {
                            "description": "The station",
                            "headers": cors,
                            "content": json_content(
                                {
                                    "type": "object",
                                    "required": ["dataset", "station"],
                                    "properties": {"dataset": {"type": "string"}, "station": station},
                                }
                            ),
                        },
                        "400": err("Bad parameter"),
                        "404": err("No such station"),
                        "503": no_data,
                    },
                }
            },
            "/api/v1/places": {
                "get": {
                    "summary": "Find places and stations by Chinese name, pinyin or initials",
                    "parameters": [
                        param(
                            "q",
                            {"type": "string", "maxLength": MAX_ECHO_CHARS},
                            f"Chinese text, toneless pinyin or initials (first {places.MAX_QUERY_CHARS} "
                            "characters used; fewer than 2 letters find nothing)",
                            True,
                        ),
                        param(
                            "limit",
                            {"type": "integer", "minimum": 1, "maximum": PLACES_LIMIT_MAX, "default": 10},
                            "most results",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Places, best match first",
                            "headers": cors,
                            "content": json_content(
                                {
                                    "type": "object",
                                    "required": ["query", "count", "places"],
                                    "properties": {
                                        "query": {"type": "string"},
                                        "count": {"type": "integer", "minimum": 0},
                                        "places": {"type": "array", "items": place},
                                    },
                                }
                            ),
                        },
                        "400": err("Bad input"),
                    },
                }
            },
            "/api/v1/reports": {
                "post": {
                    "summary": "Report a problem with a station",
                    "requestBody": {"required": True, "content": json_content(report_in)},
                    "responses": {
                        "201": {
                            "description": "Stored",
                            "content": json_content(
                                {
                                    "type": "object",
                                    "required": ["report", "station_status"],
                                    "properties": {"report": report_out, "station_status": status},
                                }
                            ),
                        },
                        "400": err("Bad body; field names the culprit"),
                        "404": err("No such station"),
                        "413": err(f"Body larger than {REPORT_BODY_MAX_BYTES} bytes"),
                        "415": err("Not JSON"),
                        "429": {
                            "description": "Too many reports from this client or about this station",
                            "headers": {
                                "Retry-After": {
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                                    "required": True,
                                }
                            },
                            "content": json_content(
                                {
                                    "type": "object",
                                    "required": ["error", "retry_after_s"],
                                    "properties": {
                                        "error": {"type": "string"},
                                        "retry_after_s": {"type": "integer", "minimum": 1},
                                    },
                                }
                            ),
                        },
                        "503": no_data,
                    },
                }
            },
            "/api/v1/strings": {
                "get": {
                    "summary": "UI strings of the phone app and labels of the codes",
                    "parameters": [
                        param(
                            "lang", {"type": "string", "enum": list(i18n.LANGS), "default": "zh"}, "language"
                        )
                    ],
                    "responses": {
                        "200": {"description": "Strings", "content": json_content(strings_out)},
                        "304": {"description": "Not modified (If-None-Match)"},
                        "400": err("Bad input"),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This description",
                    "responses": {
                        "200": {"description": "OpenAPI 3.1", "content": json_content({"type": "object"})}
                    },
                }
            },
        },
    }


async def openapi(request: Request) -> FastJSONResponse:
    """``GET /api/v1/openapi.json``: the OpenAPI description."""
    return FastJSONResponse(openapi_spec())


GZIP_MIN_BYTES: Final = 1024
"""Answers of the gzip-compressed routes smaller than this are sent as they are."""


def _gzip(endpoint: Any) -> ASGIApp:  # noqa: ANN401 - a request -> response coroutine
    """``endpoint`` with its answers gzip-compressed for clients that accept it.

    Only for the large, rarely asked answers (``/stations/around``: ~300 stations for the
    phone's offline cache, 5x smaller compressed; strings; the spec). ``/nearest`` is not
    compressed: gzip would add about half again to its CPU time per request (measured
    in-process: 0.51 -> 0.78 ms for k=5), for 5 kB.
    """
    return GZipMiddleware(request_response(endpoint), minimum_size=GZIP_MIN_BYTES, compresslevel=6)


def routes() -> list[BaseRoute]:
    """Return every API route, to mount beside the Streamlit app."""
    return [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/nearest", nearest, methods=["GET"]),
        Route("/api/v1/stations/around", _gzip(around), methods=["GET"]),
        Route("/api/v1/stations/{station_id}", station, methods=["GET"]),
        Route("/api/v1/places", place_search, methods=["GET"]),
        Route("/api/v1/reports", report, methods=["POST"]),
        Route("/api/v1/strings", _gzip(strings), methods=["GET"]),
        Route("/api/v1/openapi.json", _gzip(openapi), methods=["GET"]),
    ]


API_PREFIX: Final = "/api/"
"""Requests under this path go to the API; the rest to the app."""


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404 / 405 answers are plain text; the API answers JSON, without echoing the path.
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "no such API path; see /api/v1/openapi.json", 405: "method not allowed for this path"}
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    return error_response(message.get(code, "request failed"), code, headers=headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response("internal error; the server log has the details", 500)


def app() -> Starlette:
    """Return the API as its own Starlette app.

    Gzip only on a few large answers (see :func:`_gzip`); a reverse proxy in front (TLS,
    compression) may compress the rest.
    """
    return Starlette(
        routes=routes(),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )


def with_api(other: ASGIApp, *, phone: ASGIApp | None = None) -> ASGIApp:
    """Serve the API under :data:`API_PREFIX`, ``phone`` under ``/m/`` and ``other`` elsewhere.

    Lifespan and websocket events, and every other path, go to ``other`` (the Streamlit app).

    Parameters
    ----------
    other : ASGI app
        The Streamlit app.
    phone : ASGI app, optional
        The phone web app (:func:`geo.phone.app`).
    """
    from geo import phone as phone_paths

    api_app = app()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(API_PREFIX):
                await api_app(scope, receive, send)
                return
            if phone is not None and phone_paths.is_phone_path(path):
                await phone(scope, receive, send)
                return
        await other(scope, receive, send)

    return dispatch
