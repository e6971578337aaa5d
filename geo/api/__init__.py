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
is built once per dataset version, never per request (:mod:`geo.api.dataset`); who sent a
request is decided in :mod:`geo.api.clients`; parameters are parsed in :mod:`geo.api.params`
and described in :mod:`geo.api.openapi`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from geo import i18n, navigation, places, reports, store
from geo.api.clients import client_address as client_address
from geo.api.clients import trusted_networks as trusted_networks
from geo.api.dataset import _CACHE, Loaded, dataset, status_board, with_status
from geo.api.dataset import _settings_cache as _settings_cache
from geo.api.dataset import settings as _settings
from geo.api.dataset import warm as warm
from geo.api.openapi import openapi_spec as openapi_spec
from geo.api.params import (
    _AROUND_PARAMS,
    _NEAREST_PARAMS,
    _PLACES_PARAMS,
    _REPORT_FIELDS,
    _STRINGS_PARAMS,
    _bool_param,
    _check_params,
    _int_param,
    _one,
    _open_at,
)
from geo.api.params import API_VERSION as API_VERSION
from geo.api.params import AROUND_LIMIT_DEFAULT as AROUND_LIMIT_DEFAULT
from geo.api.params import AROUND_LIMIT_MAX as AROUND_LIMIT_MAX
from geo.api.params import AROUND_RADIUS_DEFAULT_M as AROUND_RADIUS_DEFAULT_M
from geo.api.params import AROUND_RADIUS_MAX_M as AROUND_RADIUS_MAX_M
from geo.api.params import KEY_TTL_S as KEY_TTL_S
from geo.api.params import LAT_MAX as LAT_MAX
from geo.api.params import LAT_MIN as LAT_MIN
from geo.api.params import LNG_MAX as LNG_MAX
from geo.api.params import LNG_MIN as LNG_MIN
from geo.api.params import MAX_ECHO_CHARS as MAX_ECHO_CHARS
from geo.api.params import OPEN_AT_PATTERN as OPEN_AT_PATTERN
from geo.api.params import PLACES_LIMIT_MAX as PLACES_LIMIT_MAX
from geo.api.params import REPORT_BODY_MAX_BYTES as REPORT_BODY_MAX_BYTES
from geo.api.params import STRING_SECTIONS as STRING_SECTIONS
from geo.api.params import STRINGS_MAX_AGE_S as STRINGS_MAX_AGE_S
from geo.api.params import echo as echo
from geo.api.params import parse_point as parse_point
from geo.errors import DataMissingError, GeoError, InputError
from geo.nearest import minute_of_day_now
from geo.schema import AMENITIES, AMENITY_ICONS, REPORT_PROBLEMS, STATION_KINDS


class FastJSONResponse(JSONResponse):
    """JSON body rendered by orjson (several times faster than ``json``; NaN becomes null)."""

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
        """Serialise ``content`` as UTF-8 JSON."""
        return orjson.dumps(content)


def error_response(
    message: str, status: int = 400, *, field: str | None = None, headers: dict[str, str] | None = None
) -> FastJSONResponse:
    """Return a JSON error body ``{"error": message[, "field": field]}`` with ``status``."""
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return FastJSONResponse(body, status_code=status, headers=headers)


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


def _station_list(
    query: dict[str, Any], loaded: Loaded, results: list[dict[str, Any]], data_dir: Path
) -> FastJSONResponse:
    """Answer a station listing (nearest, around): the query, dataset, results with live status."""
    body = {
        "query": query,
        "dataset": loaded.version,
        "count": len(results),
        "estimate_note": navigation.ESTIMATE_NOTE,
        "results": with_status(results, data_dir),
    }
    return FastJSONResponse(body, headers={"Access-Control-Allow-Origin": "*"})


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
    query = {
        "lat": req.lat,
        "lng": req.lng,
        "crs": "wgs84",
        "k": req.k,
        "amenities": list(req.amenities),
        "kinds": list(req.kinds),
        "open_at": _one(params, "open_at"),
        "radius_m": req.radius_m,
    }
    return _station_list(query, loaded, results, settings.data_dir)


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
    query = {"lat": req.lat, "lng": req.lng, "crs": "wgs84", "radius_m": radius_m, "limit": limit}
    return _station_list(query, loaded, results, settings.data_dir)


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
        {"dataset": loaded.version, "station": with_status(records, settings.data_dir)[0]},
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
