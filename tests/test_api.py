"""The JSON API over real HTTP: ``uvicorn asgi:app`` on loopback, hit with urllib."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

from geo.distance import haversine_m
from tests.e2e.conftest import free_port, start_server


@pytest.fixture(scope="module")
def api(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_server(demo_data_dir, port, tmp_path_factory.mktemp("api") / "server.log")
    yield f"http://127.0.0.1:{port}/api/v1"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def get(url: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def nearest(api: str, **params: object) -> tuple[int, dict]:
    status, body, _ = get(f"{api}/nearest?{urlencode(params, doseq=True)}")
    return status, body


def test_health(api: str) -> None:
    status, body, _ = get(f"{api}/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["dataset"]["version"] == "v0001"


def test_nearest_matches_brute_force(api: str, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    rng = np.random.default_rng(7)
    for i in rng.choice(len(st_), 5, replace=False):
        lat, lng = float(st_["lat"].iloc[i]) + 0.003, float(st_["lng"].iloc[i]) - 0.002
        status, body = nearest(api, lat=lat, lng=lng, k=4)
        assert status == 200, body
        d = haversine_m(lat, lng, st_["lat"].to_numpy(), st_["lng"].to_numpy())
        order = np.argsort(d, kind="stable")[:4]
        assert [r["station_id"] for r in body["results"]] == st_["station_id"].to_numpy()[order].tolist()
        assert np.allclose([r["distance_m"] for r in body["results"]], d[order], atol=0.06)
        assert body["count"] == 4
        assert "estimate" in body["estimate_note"]


def test_repeated_and_comma_separated_amenities(api: str, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    a = nearest(api, lat=30.5, lng=114.3, k=5, amenity=["hot_water", "toilet"], open_at="22:30")
    b = nearest(api, lat=30.5, lng=114.3, k=5, amenities="hot_water,toilet", open_at="22:30")
    assert a[0] == b[0] == 200
    assert a[1]["results"] == b[1]["results"]
    assert len(a[1]["results"]) > 0  # the checks below must not pass on an empty answer
    amen = st_.set_index("station_id")["amenities"]
    assert all({"hot_water", "toilet"} <= set(amen[r["station_id"]]) for r in a[1]["results"])
    assert all(r["open_now"] for r in a[1]["results"])


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"lat": 91, "lng": 116}, "lat=91.0 is outside -90..90"),
        ({"lat": 39.9, "lng": 181}, "outside -180..180"),
        ({"lat": 40.7, "lng": -74.0}, "outside China"),  # New York
        ({"lat": 39.9, "lng": 116.4, "k": 51}, "1 to 50"),
        ({"lat": 39.9, "lng": 116.4, "amenity": "jacuzzi"}, "unknown code 'jacuzzi'"),
        ({"lat": 39.9, "lng": 116.4, "kind": "castle"}, "unknown code 'castle'"),
        ({"lat": 39.9, "lng": 116.4, "open_at": "24:30"}, "HH:MM"),
        ({"lat": 39.9, "lng": 116.4, "crs": "epsg3857"}, "datum"),
        ({"lat": "north", "lng": 116.4}, "decimal degrees"),
        ({"lng": 116.4}, "lat and lng are required"),
        ({"lat": 39.9, "lng": 116.4, "radius": 5}, "unknown parameter(s) radius"),
        ({"lat": [39.9, 40.0], "lng": 116.4}, "lat given 2 times"),
    ],
)
def test_bad_input_is_400_with_a_readable_message(api: str, params: dict, fragment: str) -> None:
    status, body = nearest(api, **params)
    assert status == 400, body
    assert fragment in body["error"]


def test_crs_gcj02_and_bd09_give_the_same_answer(api: str) -> None:
    from geo import datums

    lat, lng = 23.13, 113.26
    g = datums.wgs84_to_gcj02(lat, lng)
    b = datums.wgs84_to_bd09(lat, lng)
    ref = nearest(api, lat=lat, lng=lng, k=3, links="false")[1]["results"]
    assert len(ref) == 3
    assert (
        nearest(api, lat=float(g[0]), lng=float(g[1]), crs="gcj02", k=3, links="false")[1]["results"] == ref
    )
    assert nearest(api, lat=float(b[0]), lng=float(b[1]), crs="bd09", k=3, links="false")[1]["results"] == ref


def test_openapi_describes_the_routes(api: str) -> None:
    status, spec, _ = get(f"{api}/openapi.json")
    assert status == 200
    assert spec["openapi"].startswith("3.1")
    params = {p["name"] for p in spec["paths"]["/api/v1/nearest"]["get"]["parameters"]}
    assert {"lat", "lng", "k", "amenity", "kind", "open_at", "crs"} <= params
    assert "400" in spec["paths"]["/api/v1/nearest"]["get"]["responses"]


def test_the_app_is_served_by_the_same_process(api: str) -> None:
    with urllib.request.urlopen(api.replace("/api/v1", "/_stcore/health"), timeout=10) as r:
        assert r.status == 200
        assert r.read().strip() == b"ok"
