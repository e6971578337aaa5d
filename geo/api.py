"""HTTP JSON API (Starlette routes) over the library: ``/api/v1/...``.

``asgi.py`` serves them beside the Streamlit app in one process, so one command serves
both: :func:`with_api` sends ``/api/...`` requests to this module's own small Starlette
app and everything else to ``st.App``. (Routes handed to ``st.App(routes=...)`` would also
work, but every request would then pass Streamlit's session, gzip and path-security
middlewares, which the app needs and the API does not: that halves the requests per
second one core can answer.)

* ``GET /api/v1/health`` — liveness and the dataset in use;
* ``GET /api/v1/nearest?lat=&lng=[&k=5][&amenity=hot_water...][&kind=...][&open_at=23:30]
  [&crs=wgs84|gcj02|bd09][&radius_m=]`` — nearest stations, ordered by distance;
* ``GET /api/v1/openapi.json`` — the OpenAPI 3.1 description.

Bad input gets ``400 {"error": "<what is wrong and what to send>"}``. The station index
is built once per dataset version (module-level cache keyed on
:func:`geo.store.dataset_key`, re-checked at most once a second), never per request; the
first build runs in a worker thread so the event loop (which also serves the app) keeps
going.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from geo import navigation, store
from geo.datums import CRS_NAMES
from geo.errors import DataMissingError, GeoError, InputError
from geo.nearest import K_MAX, StationIndex
from geo.schema import AMENITIES, STATION_KINDS
from geo.settings import Settings, load_settings

API_VERSION: Final = "1.0.0"
KEY_TTL_S: Final = 1.0
"""How long a dataset key is trusted before the data directory is looked at again, seconds."""

_NEAREST_PARAMS: Final = frozenset(
    {"lat", "lng", "k", "amenity", "amenities", "kind", "kinds", "open_at", "crs", "radius_m", "links"}
)


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


def error_response(message: str, status: int = 400) -> FastJSONResponse:
    """Return a JSON error body ``{"error": message}`` with ``status``."""
    return FastJSONResponse({"error": message}, status_code=status)


async def health(request: Request) -> FastJSONResponse:
    """``GET /api/v1/health``: liveness plus the dataset in use."""
    settings = _settings()
    body: dict[str, Any] = {"status": "ok"}
    try:
        m = store.read_manifest(settings.data_dir)
        body["dataset"] = {
            "version": m.get("dataset_version"),
            "source": m.get("source", {}).get("kind"),
            "row_counts": m.get("row_counts"),
        }
    except GeoError as exc:
        body.update(status="no-data", detail=str(exc))
    return FastJSONResponse(body)


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
            return self.loaded


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


# ---------------------------------------------------------------------------------------
# /api/v1/nearest


def _one(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise InputError(f"{name} given {len(values)} times; give it once")
    return values[0] if values else None


async def nearest(request: Request) -> FastJSONResponse:
    """``GET /api/v1/nearest``: the ``k`` nearest matching stations to a point."""
    settings = _settings()
    params = request.query_params
    try:
        unknown = sorted(set(params.keys()) - _NEAREST_PARAMS)
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(_NEAREST_PARAMS))}"
            )
        lat, lng = _one(params, "lat"), _one(params, "lng")
        if lat is None or lng is None:
            raise InputError("lat and lng are required, e.g. /api/v1/nearest?lat=39.9087&lng=116.3975")
        loaded = await dataset(settings.data_dir)
        req = navigation.parse_request(
            lat,
            lng,
            k=_one(params, "k") or 5,
            amenities=params.getlist("amenity") + params.getlist("amenities"),
            kinds=params.getlist("kind") + params.getlist("kinds"),
            open_at=_one(params, "open_at"),
            crs=_one(params, "crs") or "wgs84",
            radius_m=_one(params, "radius_m"),
        )
        links = (_one(params, "links") or "true").lower() not in ("0", "false", "no")
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
        "results": results,
    }
    return FastJSONResponse(body, headers={"Access-Control-Allow-Origin": "*"})


# ---------------------------------------------------------------------------------------
# OpenAPI


def openapi_spec() -> dict[str, Any]:
    """Return the OpenAPI 3.1 description of the API."""
    station = {
        "type": "object",
        "required": [
            "station_id",
            "name",
            "lat",
            "lng",
            "distance_m",
            "walk_min",
            "ride_min",
            "open_now",
            "amenities",
        ],
        "properties": {
            "station_id": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": STATION_KINDS.values},
            "lat": {"type": "number", "description": "WGS-84 latitude, degrees"},
            "lng": {"type": "number", "description": "WGS-84 longitude, degrees"},
            "distance_m": {"type": "number", "description": "great-circle distance, metres"},
            "walk_min": {"type": "number", "description": "estimated walking minutes (4.5 km/h, detour 1.3)"},
            "ride_min": {"type": "number", "description": "estimated e-bike minutes (15 km/h, detour 1.3)"},
            "open_now": {"type": "boolean", "description": "open now (Beijing time), or at open_at"},
            "opens": {"type": ["string", "null"], "description": "HH:MM; null when open 24 h"},
            "closes": {"type": ["string", "null"], "description": "HH:MM; null when open 24 h"},
            "open_24h": {"type": "boolean"},
            "closes_in_min": {"type": ["integer", "null"]},
            "opens_in_min": {"type": ["integer", "null"]},
            "smart": {"type": "boolean"},
            "amenities": {"type": "array", "items": {"type": "string", "enum": AMENITIES.values}},
            "address": {"type": "string"},
            "links": {
                "type": "object",
                "description": "open the station in a map app: Amap (GCJ-02), Baidu (BD-09), OSM (WGS-84)",
                "properties": {k: {"type": "string", "format": "uri"} for k in ("amap", "baidu", "osm")},
            },
        },
    }
    error = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

    def param(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema,
            "description": description,
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "驿站图 Station Atlas API",
            "version": API_VERSION,
            "description": "Nearest trade-union worker rest stations in China. Coordinates in responses "
            "are WGS-84; travel times are estimates.",
        },
        "paths": {
            "/api/v1/health": {
                "get": {
                    "summary": "Liveness and the dataset in use",
                    "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
                }
            },
            "/api/v1/nearest": {
                "get": {
                    "summary": "Nearest stations to a point, ordered by distance",
                    "parameters": [
                        param("lat", {"type": "number", "minimum": -90, "maximum": 90}, "latitude", True),
                        param("lng", {"type": "number", "minimum": -180, "maximum": 180}, "longitude", True),
                        param(
                            "k",
                            {"type": "integer", "minimum": 1, "maximum": K_MAX, "default": 5},
                            "how many stations",
                        ),
                        {
                            **param(
                                "amenity",
                                {"type": "array", "items": {"type": "string", "enum": AMENITIES.values}},
                                "required amenities (all of them); repeat or comma-separate",
                            ),
                            "style": "form",
                            "explode": True,
                        },
                        {
                            **param(
                                "kind",
                                {"type": "array", "items": {"type": "string", "enum": STATION_KINDS.values}},
                                "station kinds (any of them)",
                            ),
                            "style": "form",
                            "explode": True,
                        },
                        param(
                            "open_at",
                            {"type": "string", "pattern": "^[0-2]?[0-9]:[0-5][0-9]$"},
                            "only stations open at this Beijing time, HH:MM (overnight hours honoured)",
                        ),
                        param(
                            "crs",
                            {"type": "string", "enum": list(CRS_NAMES), "default": "wgs84"},
                            "datum of lat/lng (Amap: gcj02, Baidu: bd09)",
                        ),
                        param(
                            "radius_m", {"type": "number", "exclusiveMinimum": 0}, "only within this distance"
                        ),
                        param("links", {"type": "boolean", "default": True}, "include map-app links"),
                    ],
                    "responses": {
                        "200": {
                            "description": "Stations ordered by distance",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "query": {"type": "object"},
                                            "dataset": {"type": "string"},
                                            "count": {"type": "integer"},
                                            "estimate_note": {"type": "string"},
                                            "results": {"type": "array", "items": station},
                                        },
                                    }
                                }
                            },
                        },
                        "400": {
                            "description": "Bad input (coordinates out of range or outside China, k > 50, "
                            "unknown amenity or kind, bad time)",
                            "content": {"application/json": {"schema": error}},
                        },
                        "503": {
                            "description": "No dataset loaded",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            },
        },
    }


async def openapi(request: Request) -> FastJSONResponse:
    """``GET /api/v1/openapi.json``: the OpenAPI description."""
    return FastJSONResponse(openapi_spec())


def routes() -> list[BaseRoute]:
    """Return every API route, to mount beside the Streamlit app."""
    return [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/nearest", nearest, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
    ]


API_PREFIX: Final = "/api/"
"""Requests under this path go to the API; the rest to the app."""


def app() -> Starlette:
    """Return the API as its own Starlette app.

    No gzip: answers are a few kB and compressing them costs more CPU than it saves on
    loopback or a LAN; a reverse proxy in front (TLS, compression) is the place for it.
    """
    return Starlette(routes=routes())


def with_api(other: ASGIApp) -> ASGIApp:
    """Serve the API under :data:`API_PREFIX` and ``other`` (the Streamlit app) elsewhere.

    Lifespan and websocket events, and every path outside the prefix, go to ``other``.
    """
    api_app = app()

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await api_app(scope, receive, send)
        else:
            await other(scope, receive, send)

    return dispatch
