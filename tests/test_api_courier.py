"""The courier endpoints of the API, in process: stations around / by id, places, reports, strings, errors."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from geo import api, navigation
from geo.datums import CHINA_BBOX
from geo.distance import haversine_m
from geo.nearest import K_MAX
from tests.aio import run_async

APP = api.app()
PEER = ("198.51.100.7", 50000)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, demo_data_dir: Path) -> Iterator[Path]:
    """A writable copy of the demo data, served by the API with small report limits."""
    import shutil

    d = tmp_path_factory.mktemp("courier-api") / "data"
    shutil.copytree(demo_data_dir, d)
    env = {
        "GEO_DATA_DIR": str(d),
        "GEO_REPORT_CLIENT_PER_HOUR": "3",
        "GEO_REPORT_STATION_PER_HOUR": "4",
        "GEO_TRUSTED_PROXIES": "10.0.0.0/8",
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        api._settings_cache.clear()
        yield d
    api._settings_cache.clear()


def call(method: str, path: str, *, client: tuple[str, int] = PEER, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.request(method, path, **kwargs)

    return run_async(go())


def stations(demo_tables: dict) -> pd.DataFrame:
    return demo_tables["stations"]


# ---------------------------------------------------------------- stations


def test_around_gives_the_nearest_within_the_radius_beyond_k_max(data_dir: Path, demo_tables: dict) -> None:
    st_ = stations(demo_tables)
    lat, lng = 31.2304, 121.4737  # Shanghai: the most stations of the test data within 50 km
    r = call("GET", f"/api/v1/stations/around?lat={lat}&lng={lng}&radius_m=50000&limit=120&links=false")
    assert r.status_code == 200, r.text
    body = r.json()
    d = haversine_m(lat, lng, st_["lat"].to_numpy(), st_["lng"].to_numpy())
    inside = np.flatnonzero(d <= 50_000)
    want = inside[np.argsort(d[inside], kind="stable")][:120]
    assert len(want) > K_MAX  # more than /nearest may give
    assert [x["station_id"] for x in body["results"]] == st_["station_id"].to_numpy()[want].tolist()
    assert np.allclose([x["distance_m"] for x in body["results"]], d[want], atol=0.06)
    assert body["count"] == 120
    first = body["results"][0]
    assert {"opens", "closes", "open_24h", "hours_known", "amenities", "kind", "address", "status"} <= set(
        first
    )
    assert "links" not in first


def test_around_is_gzipped_for_phones(data_dir: Path) -> None:
    r = call("GET", "/api/v1/stations/around?lat=30.55&lng=114.3", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["query"] == {
        "lat": 30.55,
        "lng": 114.3,
        "crs": "wgs84",
        "radius_m": 30000.0,
        "limit": 300,
    }
    assert int(r.headers["content-length"]) < len(r.content) / 3  # httpx decoded it


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("lat=30.55&lng=114.3&limit=501", "from 1 to 500"),
        ("lat=30.55&lng=114.3&limit=0", "from 1 to 500"),
        ("lat=30.55&lng=114.3&radius_m=50001", "at most 50000"),
        ("lat=30.55&lng=114.3&radius_m=-1", "more than 0"),
        ("lat=30.55&lng=114.3&k=5", "unknown parameter(s) k"),
        ("lat=60&lng=114.3", "outside China"),
    ],
)
def test_around_refuses_what_the_spec_refuses(data_dir: Path, query: str, fragment: str) -> None:
    r = call("GET", f"/api/v1/stations/around?{query}")
    assert r.status_code == 400
    assert fragment in r.json()["error"]


def test_one_station_is_the_nearest_record_without_distances(data_dir: Path, demo_tables: dict) -> None:
    row = stations(demo_tables).iloc[17]
    r = call("GET", f"/api/v1/stations/{row['station_id']}")
    assert r.status_code == 200
    one = r.json()["station"]
    near = call("GET", f"/api/v1/nearest?lat={row['lat']}&lng={row['lng']}&k=1").json()["results"][0]
    assert near["station_id"] == row["station_id"]
    for key in ("distance_m", "walk_min", "ride_min"):
        near.pop(key)
    assert one == near
    assert one["name"] == row["name"]


def test_unknown_station_is_404_json(data_dir: Path) -> None:
    r = call("GET", "/api/v1/stations/NOPE-1")
    assert r.status_code == 404
    assert "NOPE-1" in r.json()["error"]


def test_records_say_whether_hours_are_known(data_dir: Path) -> None:
    results = call("GET", "/api/v1/nearest?lat=30.55&lng=114.3&k=5").json()["results"]
    assert all(x["hours_known"] is True and isinstance(x["open_now"], bool) for x in results)


def test_unknown_hours_give_null_open_now_not_open_or_closed(demo_tables: dict) -> None:
    from geo.nearest import StationIndex

    st_ = stations(demo_tables)
    index = StationIndex.from_frame(st_)
    text = navigation.StationText.from_frame(st_)
    index.hours_known = np.arange(index.n_stations) % 2 == 0  # type: ignore[attr-defined]
    recs = navigation.station_records(index, text, np.array([0, 1]), None, at_min=600)
    assert recs[0]["hours_known"] is True
    assert isinstance(recs[0]["open_now"], bool)
    assert recs[1]["hours_known"] is False
    assert recs[1]["open_now"] is None
    assert (recs[1]["opens"], recs[1]["closes"], recs[1]["open_24h"]) == (None, None, False)
    assert (recs[1]["closes_in_min"], recs[1]["opens_in_min"]) == (None, None)


# ---------------------------------------------------------------- places


def test_places_finds_pinyin_chinese_initials_and_stations(data_dir: Path, demo_tables: dict) -> None:
    top = call("GET", "/api/v1/places?q=zhengzhou&limit=3").json()
    assert top["query"] == "zhengzhou"
    first = top["places"][0]
    assert (first["name"], first["level"], first["province"]) == ("郑州市", "city", "河南省")
    assert haversine_m(first["lat"], first["lng"], 34.7578, 113.6486) < 5_000
    assert call("GET", "/api/v1/places?q=郑州").json()["places"][0]["name"] == "郑州市"
    assert "北京市" in [p["name"] for p in call("GET", "/api/v1/places?q=bj").json()["places"][:3]]
    row = stations(demo_tables).iloc[5]
    hits = call("GET", "/api/v1/places", params={"q": row["name"]}).json()["places"]
    station = next(p for p in hits if p["level"] == "station")
    assert station["station_id"] == row["station_id"]
    assert (station["lat"], station["lng"]) == (row["lat"], row["lng"])


@pytest.mark.parametrize(
    ("query", "status", "count"),
    [
        ("q=", 200, 0),
        ("q=a", 200, 0),
        ("q=zz&limit=20", 200, None),
        ("q=zz&limit=21", 400, None),
        ("", 400, None),
    ],
)
def test_places_bounds(data_dir: Path, query: str, status: int, count: int | None) -> None:
    r = call("GET", f"/api/v1/places?{query}")
    assert r.status_code == status, r.text
    if count is not None:
        assert r.json()["count"] == count == len(r.json()["places"])


# ---------------------------------------------------------------- reports


def post(body: object, client: tuple[str, int] = PEER, **headers: str) -> httpx.Response:
    return call("POST", "/api/v1/reports", json=body, client=client, headers=headers)


def test_a_report_is_stored_as_plain_text_and_shows_in_the_status(data_dir: Path, demo_tables: dict) -> None:
    sid = str(stations(demo_tables)["station_id"].iloc[40])
    payload = '<img src=x onerror="alert(1)"> & <b>热水</b>\x07'
    r = post({"station_id": sid, "problem": "no_hot_water", "text": payload}, client=("198.51.100.40", 1))
    assert r.status_code == 201, r.text
    rep = r.json()["report"]
    assert rep["text"] == payload[:-1]  # as typed, only the control character removed; no escaping
    assert (rep["station_id"], rep["problem"], rep["status"]) == (sid, "no_hot_water", "open")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", rep["created"])
    assert r.json()["station_status"] == {
        "reports_48h": 1,
        "top_problem": "no_hot_water",
        "last_at": rep["created"],
        "reported_closed": False,
    }
    assert r.headers["content-type"] == "application/json"
    one = call("GET", f"/api/v1/stations/{sid}").json()["station"]
    assert one["status"]["reports_48h"] == 1


def test_reported_closed_needs_two_different_clients(data_dir: Path, demo_tables: dict) -> None:
    row = stations(demo_tables).iloc[60]
    sid = str(row["station_id"])

    def status() -> dict:
        got = call("GET", f"/api/v1/nearest?lat={row['lat']}&lng={row['lng']}&k=1").json()["results"][0]
        assert got["station_id"] == sid
        return got["status"]

    assert status()["reported_closed"] is False
    assert post({"station_id": sid, "problem": "closed"}, client=("198.51.100.60", 1)).status_code == 201
    assert status() == {**status(), "reports_48h": 1, "top_problem": "closed", "reported_closed": False}
    # the same client again is refused; a second client makes it "reported closed"
    assert post({"station_id": sid, "problem": "closed"}, client=("198.51.100.60", 2)).status_code == 429
    assert post({"station_id": sid, "problem": "closed"}, client=("198.51.100.61", 1)).status_code == 201
    assert status()["reported_closed"] is True
    assert status()["reports_48h"] == 2


def test_client_limit_gives_429_with_retry_after(data_dir: Path, demo_tables: dict) -> None:
    ids = stations(demo_tables)["station_id"].astype(str).tolist()[100:110]
    me = ("198.51.100.100", 1)
    for sid in ids[:3]:  # GEO_REPORT_CLIENT_PER_HOUR=3
        assert post({"station_id": sid, "problem": "full"}, client=me).status_code == 201
    r = post({"station_id": ids[3], "problem": "full"}, client=me)
    assert r.status_code == 429
    wait = int(r.headers["retry-after"])
    assert wait == r.json()["retry_after_s"]
    assert 3500 < wait <= 3600
    assert "from one address" in r.json()["error"]
    # a forged X-Forwarded-For from an untrusted peer changes nothing
    forged = post({"station_id": ids[3], "problem": "full"}, client=me, **{"X-Forwarded-For": "192.0.2.99"})
    assert forged.status_code == 429
    # another address may still report
    assert post({"station_id": ids[3], "problem": "full"}, client=("198.51.100.101", 1)).status_code == 201


def test_station_limit_counts_every_client(data_dir: Path, demo_tables: dict) -> None:
    sid = str(stations(demo_tables)["station_id"].iloc[200])
    for i in range(4):  # GEO_REPORT_STATION_PER_HOUR=4
        assert (
            post({"station_id": sid, "problem": "moved"}, client=(f"198.51.100.{200 + i}", 1)).status_code
            == 201
        )
    r = post({"station_id": sid, "problem": "moved"}, client=("198.51.100.250", 1))
    assert r.status_code == 429
    assert "about this station" in r.json()["error"]


def test_a_trusted_proxy_forwards_the_client_address(data_dir: Path, demo_tables: dict) -> None:
    sid = str(stations(demo_tables)["station_id"].iloc[300])
    proxy = ("10.1.2.3", 1)  # GEO_TRUSTED_PROXIES=10.0.0.0/8
    first = post({"station_id": sid, "problem": "full"}, client=proxy, **{"X-Forwarded-For": "203.0.113.5"})
    assert first.status_code == 201
    # a different courier behind the same proxy is a different client
    other = post({"station_id": sid, "problem": "full"}, client=proxy, **{"X-Forwarded-For": "203.0.113.6"})
    assert other.status_code == 201
    # ...and the first one again is the same client (same-station limit)
    again = post({"station_id": sid, "problem": "full"}, client=proxy, **{"X-Forwarded-For": "203.0.113.5"})
    assert again.status_code == 429


@pytest.mark.parametrize(
    ("scope_client", "xff", "trusted", "want"),
    [
        (("203.0.113.1", 1), None, "", "203.0.113.1"),
        (("203.0.113.1", 1), "1.2.3.4", "", "203.0.113.1"),  # no proxies trusted: header ignored
        (("127.0.0.1", 1), "1.2.3.4", "", "127.0.0.1"),  # not even from loopback
        (("127.0.0.1", 1), "1.2.3.4", "127.0.0.1", "1.2.3.4"),
        (("127.0.0.1", 1), "6.6.6.6, 1.2.3.4", "127.0.0.1", "1.2.3.4"),  # the hop the proxy saw
        (("127.0.0.1", 1), "1.2.3.4, 10.0.0.2", "127.0.0.1,10.0.0.0/8", "1.2.3.4"),  # two proxies
        (("198.51.100.1", 1), "1.2.3.4", "127.0.0.1", "198.51.100.1"),  # header from an untrusted peer
        (None, "1.2.3.4", "", ""),  # a Unix socket: no peer
    ],
)
def test_client_address(scope_client: tuple | None, xff: str | None, trusted: str, want: str) -> None:
    headers = [(b"x-forwarded-for", xff.encode())] if xff else []
    assert api.client_address({"client": scope_client, "headers": headers}, trusted) == want


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (b"{not json", "body", 400),
        (b"[1, 2]", "body", 400),
        (b'{"problem": "closed"}', "station_id", 400),
        (b'{"station_id": "   ", "problem": "closed"}', "station_id", 400),
        (b'{"station_id": 7, "problem": "closed"}', "station_id", 400),
        (b'{"station_id": "S000001", "problem": "on fire"}', "problem", 400),
        (b'{"station_id": "S000001"}', "problem", 400),
        (b'{"station_id": "S000001", "problem": "other"}', "text", 400),
        (b'{"station_id": "S000001", "problem": "other", "text": " \\u0007 "}', "text", 400),
        (b'{"station_id": "S000001", "problem": "full", "text": 5}', "text", 400),
        (b'{"station_id": "S000001", "problem": "full", "extra": 1}', "extra", 400),
        (b'{"station_id": "NO-SUCH", "problem": "full"}', "station_id", 404),
    ],
)
def test_bad_report_bodies_name_the_field(data_dir: Path, body: bytes, field: str, status: int) -> None:
    r = call("POST", "/api/v1/reports", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["field"] == field


def test_report_text_longer_than_the_limit_is_refused(data_dir: Path, demo_tables: dict) -> None:
    sid = str(stations(demo_tables)["station_id"].iloc[400])
    limit = navigation.REPORT_TEXT_MAX_CHARS
    r = post(
        {"station_id": sid, "problem": "other", "text": "长" * (limit + 1)}, client=("198.51.100.140", 1)
    )
    assert (r.status_code, r.json()["field"]) == (400, "text")
    assert "长" * 101 not in r.text
    ok = post({"station_id": sid, "problem": "other", "text": "长" * limit}, client=("198.51.100.140", 1))
    assert ok.status_code == 201
    assert ok.json()["report"]["text"] == "长" * limit


def test_report_needs_json_and_a_small_body(data_dir: Path) -> None:
    r = call("POST", "/api/v1/reports", content=b"station_id=S1", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    big = b'{"station_id": "S1", "problem": "other", "text": "' + b"x" * 5000 + b'"}'
    r = call("POST", "/api/v1/reports", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert call("GET", "/api/v1/reports").status_code == 405


# ---------------------------------------------------------------- strings, health, spec


def toml_strings(sections: tuple[str, ...], lang: str) -> dict[str, str]:
    out = {}
    for entry in (resources.files("geo") / "strings").iterdir():
        if entry.name.endswith(".toml"):
            for section, items in tomllib.loads(entry.read_text(encoding="utf-8")).items():
                if section in sections:
                    out.update({f"{section}.{k}": v.get(lang) or v["zh"] for k, v in items.items()})
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_strings_are_the_string_files(data_dir: Path, lang: str) -> None:
    r = call("GET", f"/api/v1/strings?lang={lang}")
    assert r.status_code == 200
    body = r.json()
    assert body["lang"] == lang
    assert body["strings"] == toml_strings(api.STRING_SECTIONS, lang)
    assert body["strings"]["nearest.title"] == ("找驿站" if lang == "zh" else "Find a station")
    assert body["enums"]["problem"]["no_hot_water"] == ("没有热水" if lang == "zh" else "No hot water")
    assert set(body["enums"]["amenity"]) == set(body["enums"]["amenity_icon"])
    assert r.headers["cache-control"] == f"public, max-age={api.STRINGS_MAX_AGE_S}"
    again = call("GET", f"/api/v1/strings?lang={lang}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_strings_versions_differ_by_language_and_bad_language_is_400(data_dir: Path) -> None:
    zh, en = call("GET", "/api/v1/strings").json(), call("GET", "/api/v1/strings?lang=en").json()
    assert zh["lang"] == "zh"
    assert zh["version"] != en["version"]
    assert call("GET", "/api/v1/strings?lang=fr").status_code == 400
    assert call("GET", "/api/v1/strings?lang=").status_code == 400


def test_health_gives_a_tag_that_follows_the_data(data_dir: Path) -> None:
    body = call("GET", "/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["dataset"]["version"] == "v0001"
    assert body["dataset"]["tag"].startswith("v0001-")
    assert body["api_version"] == api.API_VERSION


def test_the_spec_states_the_real_bounds(data_dir: Path) -> None:
    spec = call("GET", "/api/v1/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/v1/health",
        "/api/v1/nearest",
        "/api/v1/stations/around",
        "/api/v1/stations/{station_id}",
        "/api/v1/places",
        "/api/v1/reports",
        "/api/v1/strings",
        "/api/v1/openapi.json",
    }
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/nearest"]["get"]["parameters"]}
    assert (
        params["lat"]["minimum"],
        params["lng"]["minimum"],
        params["lat"]["maximum"],
        params["lng"]["maximum"],
    ) == (CHINA_BBOX)
    assert params["k"]["maximum"] == K_MAX
    body = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["problem"]["enum"] == [
        "closed",
        "no_hot_water",
        "no_power",
        "full",
        "moved",
        "other",
    ]
    # the edges of the box are accepted, just outside is refused
    lat0, lng0, lat1, lng1 = CHINA_BBOX
    assert call("GET", f"/api/v1/nearest?lat={lat0}&lng={lng0}").status_code == 200
    assert call("GET", f"/api/v1/nearest?lat={lat1}&lng={lng1}").status_code == 200
    assert call("GET", f"/api/v1/nearest?lat={lat0 - 0.001}&lng={lng0}").status_code == 400


# ---------------------------------------------------------------- error bodies never echo much input

LONG = "A" * 5000


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/nearest?lat={LONG}&lng=116",
        f"/api/v1/nearest?lat=39.9&lng=116.4&amenity={LONG}",
        f"/api/v1/nearest?lat=39.9&lng=116.4&{LONG}=1",
        f"/api/v1/nearest?lat=39.9&lng=116.4&x{'A' * 60}=1&y{'A' * 60}=1",
        f"/api/v1/stations/around?lat=39.9&lng=116.4&limit={LONG}",
        f"/api/v1/stations/{LONG}",
        f"/api/v1/places?q={LONG}",
        f"/api/v1/strings?lang={LONG}",
        f"/api/v1/{LONG}",
    ],
)
def test_errors_repeat_at_most_100_characters_of_input(data_dir: Path, path: str) -> None:
    r = call("GET", path)
    assert 400 <= r.status_code < 500
    assert "A" * (api.MAX_ECHO_CHARS + 1) not in r.text
    assert "error" in r.json()


@pytest.mark.parametrize(
    "body",
    [
        {"station_id": LONG[:3000], "problem": "closed"},
        {"station_id": "S000001", "problem": LONG[:3000]},
        {LONG[:3000]: 1, "station_id": "S000001", "problem": "closed"},
    ],
)
def test_report_errors_repeat_at_most_100_characters(data_dir: Path, body: dict) -> None:
    r = post(body)
    assert r.status_code == 400  # not 413: the body is under the size limit
    assert "A" * (api.MAX_ECHO_CHARS + 1) not in r.text


def test_echo_is_the_one_cut() -> None:
    assert api.echo("x" * 100) == "x" * 100
    assert api.echo("x" * 101) == "x" * 100 + "…"
