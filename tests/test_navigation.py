"""Map-app links, request validation, typed coordinates, reports and result records."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import datums, navigation
from geo.distance import haversine_m
from geo.errors import InputError
from geo.nearest import StationIndex

TIANANMEN = (39.9087, 116.3975)


def test_amap_link_uses_gcj02_lng_lat_order_and_encodes_the_name() -> None:
    url = navigation.amap_url(*TIANANMEN, "天安门,驿站 & 1号")
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("https", "uri.amap.com", "/navigation")
    q = parse_qs(parsed.query)
    lng, lat, name = q["to"][0].split(",")
    g_lat, g_lng = datums.wgs84_to_gcj02(*TIANANMEN)
    assert abs(float(lat) - float(g_lat)) < 1e-6
    assert abs(float(lng) - float(g_lng)) < 1e-6
    # the GCJ-02 shift in Beijing is a few hundred metres: the link must not carry WGS-84
    assert haversine_m(float(lat), float(lng), *TIANANMEN) > 300
    assert name == "天安门 驿站 & 1号"  # comma would cut Amap's "to" field
    assert q["coordinate"] == ["gaode"]
    assert q["mode"] == ["walk"]
    assert q["callnative"] == ["1"]


def test_baidu_link_uses_bd09_lat_lng_order() -> None:
    url = navigation.baidu_url(*TIANANMEN, "驿站", "东城区")
    q = parse_qs(urlparse(url).query)
    lat, lng = (float(v) for v in q["location"][0].split(","))
    b_lat, b_lng = datums.wgs84_to_bd09(*TIANANMEN)
    assert abs(lat - float(b_lat)) < 1e-6
    assert abs(lng - float(b_lng)) < 1e-6
    assert q["coord_type"] == ["bd09ll"]
    assert q["output"] == ["html"]
    assert q["title"] == ["驿站"]
    assert q["content"] == ["东城区"]


def test_osm_link_is_wgs84() -> None:
    assert navigation.osm_url(*TIANANMEN) == (
        "https://www.openstreetmap.org/?mlat=39.908700&mlon=116.397500#map=17/39.908700/116.397500"
    )


def test_links_of_many_equal_links_of_one() -> None:
    many = navigation.map_links_many([30.0, 40.0], [110.0, 116.0], ["a", "b"], ["x", "y"])
    assert many[1] == navigation.map_links(40.0, 116.0, "b", "y")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lat": 95, "lng": 116}, "outside -90..90"),
        ({"lat": 39, "lng": 200}, "outside -180..180"),
        ({"lat": "x", "lng": 116}, "decimal degrees"),
        ({"lat": 37.5, "lng": 127.0}, "outside China"),  # Seoul
        ({"lat": 47.9, "lng": 106.9}, "outside China"),  # Ulaanbaatar
        ({"lat": 116.4, "lng": 39.9}, "outside -90..90"),  # swapped
        ({"lat": 39.9, "lng": 116.4, "k": 51}, "1 to 50"),
        ({"lat": 39.9, "lng": 116.4, "k": 0}, "1 to 50"),
        ({"lat": 39.9, "lng": 116.4, "k": "five"}, "whole number"),
        ({"lat": 39.9, "lng": 116.4, "open_at": "25:00"}, "HH:MM"),
        ({"lat": 39.9, "lng": 116.4, "crs": "utm"}, "datum"),
        ({"lat": 39.9, "lng": 116.4, "radius_m": "-5"}, "positive"),
    ],
)
def test_bad_requests_name_the_problem(kwargs: dict, fragment: str) -> None:
    lat, lng = kwargs.pop("lat"), kwargs.pop("lng")
    with pytest.raises(InputError, match=fragment):
        navigation.parse_request(lat, lng, **kwargs)


def test_requests_in_china_edge_places_are_accepted() -> None:
    for lat, lng in [(22.28, 114.16), (25.03, 121.56), (16.83, 112.33), (53.3, 122.3), (39.47, 75.99)]:
        navigation.parse_request(lat, lng)


def test_gcj02_request_is_converted_back_to_wgs84() -> None:
    g_lat, g_lng = datums.wgs84_to_gcj02(*TIANANMEN)
    req = navigation.parse_request(float(g_lat), float(g_lng), crs="gcj02", amenities="hot_water,toilet")
    assert haversine_m(req.lat, req.lng, *TIANANMEN) < 0.01
    assert req.amenities == ("hot_water", "toilet")


@pytest.mark.parametrize(
    "text", ["39.9087, 116.3975", "39.9087，116.3975", "116.3975,39.9087", " 39.9087 116.3975 "]
)
def test_typed_coordinates_in_either_order(text: str) -> None:
    assert navigation.parse_coordinates(text) == pytest.approx(TIANANMEN)


def test_typed_coordinates_errors() -> None:
    with pytest.raises(InputError, match="two numbers"):
        navigation.parse_coordinates("39.9")
    with pytest.raises(InputError, match="outside China"):
        navigation.parse_coordinates("48.85, 2.35")  # Paris


def test_report_text_is_cleaned_and_cut() -> None:
    problem, text = navigation.clean_report("other", " a\x00b " + "长" * 500)
    assert problem == "other"
    assert text.startswith("ab ")
    assert len(text) == navigation.REPORT_TEXT_MAX_CHARS
    with pytest.raises(InputError):
        navigation.clean_report("on_fire", "")
    with pytest.raises(InputError, match="description"):
        navigation.clean_report("other", "   ")
    assert navigation.clean_report("closed", "") == ("closed", "")


@pytest.fixture
def tiny() -> tuple[StationIndex, navigation.StationText, pd.DataFrame]:
    df = pd.DataFrame(
        {
            "station_id": ["A", "B", "C", "D"],
            "name": ["甲", "乙", "丙", "丁"],
            "kind": ["union", "caring", "union", "driver"],
            "lat": [39.900, 39.905, 39.920, 39.950],
            "lng": [116.400, 116.400, 116.400, 116.400],
            "address": ["a", None, "c", "d"],
            "opens": ["08:00", "22:00", None, "09:00"],
            "closes": ["20:00", "06:00", None, "17:00"],
            "open_24h": [False, False, True, False],
            "smart": [False, True, False, False],
            "amenities": [["hot_water"], ["toilet"], ["hot_water", "toilet"], []],
        }
    )
    return StationIndex.from_frame(df), navigation.StationText.from_frame(df), df


def test_records_at_night_follow_overnight_hours(tiny: tuple) -> None:
    index, text, df = tiny
    req = navigation.parse_request(39.899, 116.400, k=4)
    recs = navigation.nearest_records(index, text, req, now_min=23 * 60 + 30)
    assert [r["station_id"] for r in recs] == ["A", "B", "C", "D"]
    d = haversine_m(39.899, 116.400, df["lat"].to_numpy(), df["lng"].to_numpy())
    assert np.allclose([r["distance_m"] for r in recs], d, atol=0.06)
    assert [r["open_now"] for r in recs] == [False, True, True, False]
    a, b, c = recs[0], recs[1], recs[2]
    assert (a["opens"], a["closes"], a["opens_in_min"], a["closes_in_min"]) == ("08:00", "20:00", 510, None)
    assert (b["closes"], b["closes_in_min"]) == ("06:00", 390)
    assert c["open_24h"]
    assert c["opens"] is None
    assert c["closes_in_min"] is None
    assert b["address"] == ""
    assert b["amenities"] == ["toilet"]
    # 1.3 detour at 4.5 km/h: 111 m straight line is ~1.9 min walking
    assert a["walk_min"] == pytest.approx(d[0] * 1.3 / 75.0, abs=0.05)
    assert set(a["links"]) == {"amap", "baidu", "osm"}


def test_open_at_filter_still_returns_the_nearest_matching(tiny: tuple) -> None:
    index, text, _ = tiny
    req = navigation.parse_request(39.899, 116.400, k=2, open_at="03:00", amenities=["toilet"])
    recs = navigation.nearest_records(index, text, req, links=False)
    assert [r["station_id"] for r in recs] == ["B", "C"]
    assert all(r["open_now"] for r in recs)
    assert "links" not in recs[0]


def test_no_match_gives_an_empty_list(tiny: tuple) -> None:
    index, text, _ = tiny
    req = navigation.parse_request(39.899, 116.400, k=3, kinds="outdoor")
    assert navigation.nearest_records(index, text, req) == []


@given(st.lists(st.one_of(st.none(), st.text(max_size=40)), max_size=30))
def test_percent_encode_matches_urllib_quote(texts: list[str | None]) -> None:
    got = navigation.percent_encode(texts)
    assert got.tolist() == [quote(t or "", safe="") for t in texts]


def test_percent_encode_slices_of_arrow_buffers() -> None:
    names = np.array(["北京 驿站", "a,b", "", "~x_y.z-1"], dtype=object)
    assert navigation.percent_encode(names[1:]).tolist() == ["a%2Cb", "", "~x_y.z-1"]
