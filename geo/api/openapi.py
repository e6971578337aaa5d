"""The OpenAPI 3.1 description of the JSON API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from geo import i18n, navigation, places
from geo.api.params import (
    API_VERSION,
    AROUND_LIMIT_DEFAULT,
    AROUND_LIMIT_MAX,
    AROUND_RADIUS_DEFAULT_M,
    AROUND_RADIUS_MAX_M,
    LAT_MAX,
    LAT_MIN,
    LNG_MAX,
    LNG_MIN,
    MAX_ECHO_CHARS,
    OPEN_AT_PATTERN,
    PLACES_LIMIT_MAX,
    REPORT_BODY_MAX_BYTES,
)
from geo.datums import CRS_NAMES
from geo.nearest import K_MAX
from geo.schema import AMENITIES, REPORT_PROBLEMS, STATION_KINDS


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
