"""Importing real registries: every row imported or rejected with a reason, nothing half-written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import datums, ingest, store
from geo.schema import AMENITIES, STATION_KINDS, STATIONS, TABLES

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parents[1]

# The fixture's ten data rows (see tests/fixtures/make_import_fixtures.py), worked by hand:
# data row -> (field, reason fragment) for the rejected ones, and warnings for kept ones.
REJECTED = {
    4: ("lat/lng", "missing"),
    5: ("lat/lng", "outside China"),
    6: ("hours", "早八晚八"),
    7: ("station_id", "duplicate id 'SH001'"),
    9: ("row", "empty row"),
}
WARNED = {3: "swapped", 8: "kept as", 10: "within 10 m"}
# The same reasons as the page shows them in Chinese.
REJECTED_ZH = {
    4: "缺少坐标",
    5: "不在中国境内",
    6: "无法识别开放时间 '早八晚八'",
    7: "编号 'SH001' 重复",
    9: "空行",
}
WARNED_ZH = {3: "经纬度填反了", 8: "记为", 10: "相距不到 10 米"}
# Row number of data row 1 in each file: CSV header is row 1; the XLSX has a title row
# above its header; GeoJSON counts features.
FIRST_ROW = {"stations_gbk.csv": 2, "stations_utf8_bom.csv": 2, "stations.xlsx": 3, "stations.geojson": 1}


def _prepare(data_dir: Path, name: str, **kw: object) -> ingest.Prepared:
    return ingest.prepare(data_dir, (FIXTURES / name).read_bytes(), name, "stations", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(FIRST_ROW))
def test_every_format_gives_the_same_hand_worked_report(name: str, demo_data_dir: Path) -> None:
    p = _prepare(demo_data_dir, name)
    r = p.report
    assert r.error is None
    assert (r.rows_in, r.accepted, r.rejected) == (10, 5, 5)
    first = FIRST_ROW[name]
    got = {x["row"] - first + 1: (x["field"], x["reason"]) for x in r.rejections}
    assert set(got) == set(REJECTED)
    for k, (fld, fragment) in REJECTED.items():
        assert got[k][0] == fld, (k, got[k])
        assert fragment in got[k][1], (k, got[k])
    warned = {x["row"] - first + 1: x["reason"] for x in r.warnings if x["row"] is not None}
    for k, fragment in WARNED.items():
        assert any(fragment in x["reason"] for x in r.warnings if x["row"] == k + first - 1), (k, warned)
    zh = {x["row"] - first + 1: ingest.reason_text(x, "zh") for x in r.rejections}
    for k, fragment in REJECTED_ZH.items():
        assert fragment in zh[k], (k, zh[k])
    for k, fragment in WARNED_ZH.items():
        texts = [ingest.reason_text(x, "zh") for x in r.warnings if x["row"] == k + first - 1]
        assert any(fragment in t for t in texts), (k, texts)
    zh_rows = ingest.rejected_rows(p, "zh")
    assert list(zh_rows.columns[:2]) == ["行号", "原因"]
    assert "经纬度: 缺少坐标" in zh_rows["原因"].str.cat()
    df = p.frame.set_index("station_id")
    assert sorted(df.index) == ["BJ001", "BJ003", "GZ001", "MO001", "SH001"]
    # swapped columns fixed: Tianhe, Guangzhou is at 23.14 N, 113.32 E
    assert df.loc["GZ001", ["lat", "lng"]].tolist() == [23.1372, 113.3245]
    assert df.loc["GZ001", "county"] == "天河区"
    assert df.loc["BJ001", "county"] == "朝阳区"
    assert df.loc["SH001", "province"] == "上海市"
    # hours: 07:00-22:00 is extended (closes after 21:00); 24小时 is all day, not "extended"
    assert bool(df.loc["GZ001", "extended_hours"])
    assert not bool(df.loc["GZ001", "open_24h"])
    assert bool(df.loc["SH001", "open_24h"])
    assert not bool(df.loc["SH001", "extended_hours"])
    assert (df.loc["BJ003", "opens"], df.loc["BJ003", "closes"]) == ("08:00", "20:00")
    assert list(df.loc["BJ001", "amenities"]) == ["hot_water", "microwave", "charging"]
    assert list(df.loc["MO001", "amenities"]) == ["hot_water", "other"]
    assert df.loc["BJ001", "kind"] == "outdoor"
    assert df.loc["GZ001", "kind"] == "driver"
    assert list(p.frame.columns) == [*STATIONS.columns, "amenities_known"]
    assert p.frame["amenities_known"].all()  # the file has a services column


def test_encodings_are_detected(demo_data_dir: Path) -> None:
    assert _prepare(demo_data_dir, "stations_gbk.csv").report.encoding == "gbk"
    assert _prepare(demo_data_dir, "stations_utf8_bom.csv").report.encoding == "utf-8-sig"
    data = (FIXTURES / "stations_gbk.csv").read_bytes().decode("gbk").encode("gb18030")
    r = ingest.prepare(
        demo_data_dir, data + "𠀀驿站,116.4,39.9,,,24小时,,Z9\n".encode("gb18030"), "x.csv", "stations"
    )
    assert r.report.encoding == "gb18030"  # a character outside GBK
    assert "𠀀驿站" in set(r.frame["name"])


def test_commit_writes_a_version_matching_the_schema_and_keeps_the_old_one(fresh_data_dir: Path) -> None:
    before = store.current_version(fresh_data_dir)
    old = store.read_table(fresh_data_dir, "stations")
    r = ingest.import_bytes(
        fresh_data_dir,
        (FIXTURES / "stations.xlsx").read_bytes(),
        "../../evil/stations.xlsx",
        "stations",
        user="王五",
        mode="replace",
    )
    assert r.version is not None
    assert r.version != before
    assert store.current_version(fresh_data_dir) == r.version
    new = store.read_table(fresh_data_dir, "stations")
    assert len(new) == 5
    assert list(new.drop(columns="geometry").columns) == [*STATIONS.columns, "amenities_known"]
    assert new["h3_9"].str.len().eq(15).all()
    m = store.read_manifest(fresh_data_dir)
    assert m["source"] == {
        "kind": "import",
        "table": "stations",
        "file": "stations.xlsx",
        "sha256": r.sha256,
        "mode": "replace",
        "crs": "wgs84",
        "encoding": "",
        "format": "xlsx",
    }
    assert m["user"] == "王五"
    assert m["import"]["rejected"] == 5
    assert m["row_counts"]["stations"] == 5
    # other tables hard-linked, previous version intact
    assert m["row_counts"]["workplaces"] == len(store.read_table(fresh_data_dir, "workplaces"))
    pd.testing.assert_frame_equal(store.read_table(fresh_data_dir, "stations", before), old)
    audit = store.read_audit(fresh_data_dir)
    assert audit.iloc[0]["action"] == "import"
    assert audit.iloc[0]["user"] == "王五"
    ingest.rollback(fresh_data_dir, before, "王五")
    assert store.current_version(fresh_data_dir) == before
    assert store.read_audit(fresh_data_dir).iloc[0]["action"] == "rollback"


def test_append_adds_rows_and_rejects_ids_already_in_the_dataset(fresh_data_dir: Path) -> None:
    n0 = len(store.read_table(fresh_data_dir, "stations", columns=["station_id"]))
    existing_id = store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"].iloc[0]
    csv_text = (
        "编号,名称,经度,纬度,开放时间\n"
        f"{existing_id},老站,116.40,39.90,08:00-20:00\n"
        "NEW1,新站一,116.41,39.91,08:00-20:00\n"
        "NEW2,新站二,121.47,31.23,24小时\n"
    )
    r = ingest.import_bytes(fresh_data_dir, csv_text.encode(), "a.csv", "stations", user="t", mode="append")
    assert (r.rows_in, r.accepted, r.rejected) == (3, 2, 1)
    assert r.rejections[0]["row"] == 2
    assert "already in the current dataset" in r.rejections[0]["reason"]
    new = store.read_table(fresh_data_dir, "stations", columns=["station_id"])
    assert len(new) == n0 + 2
    assert {"NEW1", "NEW2"} <= set(new["station_id"])


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_coordinates_from_amap_and_baidu_are_stored_as_wgs84(crs: str, demo_data_dir: Path) -> None:
    lat_in, lng_in = 39.9087, 116.3975  # as copied from the map app
    text = f"名称,经度,纬度,开放时间\n天安门,{lng_in},{lat_in},24小时\n"
    p = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations", crs=crs)
    lat, lng = p.frame.loc[0, ["lat", "lng"]].to_numpy(float)
    back_lat, back_lng = datums.from_wgs84(lat, lng, crs)
    assert abs(back_lat - lat_in) < 1e-6
    assert abs(back_lng - lng_in) < 1e-6
    # the datum shift near Beijing is a few hundred metres (GCJ-02) to about a kilometre (BD-09)
    shift_m = np.hypot((lat - lat_in) * 111_000, (lng - lng_in) * 111_000 * np.cos(np.radians(lat)))
    assert 100 < shift_m < 1500


def test_hours_columns_and_single_coordinate_column(demo_data_dir: Path) -> None:
    text = (
        "name,经纬度,开门时间,关门时间,座位数,建成日期,智慧驿站\n"
        'A,"116.39,39.90",6:30,21:30,12,2024年5月1日,是\n'
        'B,"39.90,116.39",22:00,06:00,-3,2024/13/45,否\n'
    )
    p = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations")
    r = p.report
    assert (r.accepted, r.rejected) == (1, 1)
    assert [(x["row"], x["field"], x["reason"]) for x in r.rejections] == [(3, "seats", "seats is negative")]
    assert ingest.reason_text(r.rejections[0], "zh") == "座位数 不能为负数"
    a = p.frame.iloc[0]
    assert (a["opens"], a["closes"], bool(a["extended_hours"]), bool(a["smart"]), int(a["seats"])) == (
        "06:30",
        "21:30",
        True,
        True,
        12,
    )
    assert str(a["opened_on"]) == "2024-05-01"
    assert a["kind"] == ingest.OTHER_KIND


def test_mapping_overrides_and_unknown_headers(demo_data_dir: Path) -> None:
    text = "站名X,东经度数,北纬度数,时段\nA,116.39,39.90,08:00-20:00\n"
    p = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations")
    assert p.report.error is not None
    assert "--map" in p.report.error
    p = ingest.prepare(
        demo_data_dir,
        text.encode(),
        "a.csv",
        "stations",
        mapping=["站名X=name", "东经度数=lng", "北纬度数=lat", "时段=hours"],
    )
    assert p.report.accepted == 1
    assert p.report.error is None
    with_bad = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations", mapping=["不存在=name"])
    assert "no column" in str(with_bad.report.error)
    assert ingest.detect_mapping(["站点名称", "经度(GCJ02)", "纬度(GCJ02)", "营业时间"], "stations") == {
        "站点名称": "name",
        "经度(GCJ02)": "lng",
        "纬度(GCJ02)": "lat",
        "营业时间": "hours",
    }
    assert ingest.crs_hint(["经度(百度)", "纬度(百度)"]) == "bd09"


def test_workplaces_campaign_and_checkins_checks(fresh_data_dir: Path) -> None:
    text = (
        "单位名称,职业,职工人数,经度,纬度\n快递站,快递,30,116.40,39.90\n"
        "工地,挖掘,-5,116.41,39.91\n网点,外卖骑手,2.5,116.42,39.92\n"
    )
    r = ingest.prepare(fresh_data_dir, text.encode(), "w.csv", "workplaces").report
    assert (r.accepted, r.rejected) == (1, 2)
    assert [(x["row"], x["reason"]) for x in r.rejections] == [
        (3, "workers is negative"),
        (4, "workers must be a whole number"),
    ]
    text = (
        "日期,类别,人数,金额,组织层级,经度,纬度\n2024-12-20,困难职工,10,5000元,县级工会,116.4,39.9\n"
        "2025-01-05,外星人,3,100,市级工会,116.4,39.9\n"
    )
    p = ingest.prepare(fresh_data_dir, text.encode(), "c.csv", "campaign")
    assert (p.report.accepted, p.report.rejected) == (1, 1)
    ev = p.frame.iloc[0]
    # December visits belong to the next Spring Festival's campaign
    assert (int(ev["year"]), ev["category"], ev["organizer_level"], float(ev["funds_yuan"])) == (
        2025,
        "hardship",
        "county",
        5000.0,
    )
    sid = store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"].iloc[0]
    text = f"站点编号,日期,人次\n{sid},2025-03-01,12\nNOPE,2025-03-01,3\n{sid},2025-03-01,4\n"
    r = ingest.import_bytes(fresh_data_dir, text.encode(), "k.csv", "checkins", user="t", mode="append")
    assert (r.accepted, r.rejected) == (1, 2)
    assert r.version is not None
    assert "NOPE" in r.rejections[0]["reason"]
    assert "same station and day" in r.rejections[1]["reason"]


def test_limits_are_enforced_with_a_clear_message(demo_data_dir: Path) -> None:
    text = "名称,经度,纬度,开放时间\n" + "A,116.4,39.9,24小时\n" * 200
    r = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations", max_rows=100).report
    assert r.error is not None
    assert "100" in r.error
    assert "GEO_MAX_IMPORT_ROWS" in r.error
    assert (r.rows_in, r.accepted, r.rejected) == (0, 0, 0)
    r = ingest.prepare(demo_data_dir, b"x" * 2000, "a.csv", "stations", max_bytes=1000).report
    assert r.error is not None
    assert "GEO_MAX_UPLOAD_MB" in r.error
    r = ingest.prepare(demo_data_dir, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls", "stations").report
    assert r.error is not None
    assert ".xlsx" in r.error


def test_xlsx_zip_bomb_is_refused(demo_data_dir: Path) -> None:
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度", "开放时间"])
    ws.append(["A" * 30000, 116.4, 39.9, "24小时"])
    wb.save(buf)
    r = ingest.prepare(demo_data_dir, buf.getvalue(), "a.xlsx", "stations", max_bytes=1000).report
    assert r.error is not None  # small on disk, but unpacks to far more than 40 x the limit
    ok = ingest.prepare(demo_data_dir, buf.getvalue(), "a.xlsx", "stations").report
    assert ok.error is None
    assert ok.rejected == 1
    assert "longer than" in ok.rejections[0]["reason"]


def test_rejected_rows_download_is_formula_safe(demo_data_dir: Path) -> None:
    text = '名称,经度,纬度,开放时间\n=HYPERLINK("http://x"),abc,39.9,24小时\n好站,116.4,39.9,24小时\n'
    p = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations")
    out = pd.read_csv(io.BytesIO(ingest.rejected_rows_csv(p)), encoding="utf-8-sig", dtype=str)
    assert out.loc[0, "row"] == "2"
    assert "not a number" in out.loc[0, "reason"]
    assert out.loc[0, "名称"].startswith("'=")


def test_file_names_are_display_only(demo_data_dir: Path) -> None:
    assert ingest.safe_file_name("../../etc/passwd") == "passwd"
    assert ingest.safe_file_name("C:\\Users\\x\\站点.xlsx") == "站点.xlsx"
    shown = ingest.safe_file_name("<img src=x onerror=alert(1)>.csv")
    assert "<" not in shown
    assert ">" not in shown
    assert "/" not in shown
    assert ingest.safe_file_name("") == "upload"


def test_single_station_add_edit_close_are_versions_with_audit(fresh_data_dir: Path) -> None:
    n0 = len(store.read_table(fresh_data_dir, "stations", columns=["station_id"]))
    r = ingest.save_station(
        fresh_data_dir,
        {
            "name": "新建驿站",
            "lat": 39.95,
            "lng": 116.35,
            "hours": "08:00-20:00",
            "amenities": ["hot_water", "充电"],
            "kind": "warm",
        },
        "planner1",
    )
    assert r.version is not None, r.rejections
    st_ = store.read_table(fresh_data_dir, "stations", columns=None)
    new = st_[st_["name"] == "新建驿站"].iloc[0]
    assert len(st_) == n0 + 1
    assert list(new["amenities"]) == ["hot_water", "charging"]
    sid = new["station_id"]
    r2 = ingest.save_station(
        fresh_data_dir,
        {"station_id": sid, "name": "改名驿站", "lat": 39.95, "lng": 116.35, "hours": "24小时"},
        "planner1",
    )
    assert r2.version is not None
    assert not any("within 10 m" in w["reason"] for w in r2.warnings)
    st2 = store.read_table(fresh_data_dir, "stations", columns=["station_id", "name", "open_24h"])
    assert len(st2) == n0 + 1
    assert st2.set_index("station_id").loc[sid, "name"] == "改名驿站"
    # No hours is "unknown" (a registry often lacks them); hours that are not hours still reject.
    unknown = ingest.save_station(fresh_data_dir, {"name": "没有时间", "lat": 39.9, "lng": 116.3}, "planner1")
    assert unknown.version is not None, unknown.rejections
    bad = ingest.save_station(
        fresh_data_dir, {"name": "时间不对", "lat": 39.9, "lng": 116.3, "hours": "早八晚八"}, "planner1"
    )
    assert bad.version is None
    assert bad.rejections[0]["field"] == "hours"
    v = ingest.close_station(fresh_data_dir, sid, "planner1", "拆除")
    assert store.current_version(fresh_data_dir) == v
    assert sid not in set(store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"])
    actions = store.read_audit(fresh_data_dir)["action"].tolist()[:4]
    assert actions == ["station_close", "station_add", "station_edit", "station_add"]


def test_commit_refuses_when_the_dataset_changed_since_the_preview(fresh_data_dir: Path) -> None:
    p = _prepare(fresh_data_dir, "stations_gbk.csv")
    ingest.rollback(fresh_data_dir, store.current_version(fresh_data_dir) or "", "x")  # same version: fine
    other = ingest.import_bytes(
        fresh_data_dir, (FIXTURES / "stations.geojson").read_bytes(), "g.geojson", "stations", user="x"
    )
    assert other.version is not None
    with pytest.raises(ingest.InputError, match="changed since"):
        ingest.commit(fresh_data_dir, p, "x")


def test_nothing_accepted_writes_nothing(fresh_data_dir: Path) -> None:
    before = store.list_version_ids(fresh_data_dir)
    r = ingest.import_bytes(
        fresh_data_dir, "名称,经度,纬度,开放时间\nA,,,\n".encode(), "a.csv", "stations", user="x"
    )
    assert r.version is None
    assert r.accepted == 0
    assert r.rejected == 1
    assert store.list_version_ids(fresh_data_dir) == before


# ---------------------------------------------------------------- robustness


def _check_report(r: ingest.ImportReport) -> None:
    assert r.accepted + r.rejected == r.rows_in
    assert r.accepted >= 0
    assert r.rejected >= 0
    assert {x["row"] for x in r.rejections} <= set(range(0, 10**7)) or r.rejections == []
    assert len({x["row"] for x in r.rejections}) == r.rejected
    if r.error is not None:
        assert r.rows_in == 0
        # the catch-all ("unexpected problem reading the file") is for users, not for hiding bugs
        assert not r.error.startswith("unexpected problem"), r.error


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    data=st.binary(max_size=3000), name=st.sampled_from(["a.csv", "a.xlsx", "a.geojson", "a.parquet", "a"])
)
def test_random_bytes_never_crash_the_importer(data: bytes, name: str, demo_data_dir: Path) -> None:
    _check_report(ingest.prepare(demo_data_dir, data, name, "stations").report)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0, max_value=255))
def test_truncated_or_damaged_xlsx_ends_in_a_report(cut: int, flip: int, demo_data_dir: Path) -> None:
    data = bytearray((FIXTURES / "stations.xlsx").read_bytes())
    cut = cut % len(data)
    truncated = bytes(data[:cut])
    _check_report(ingest.prepare(demo_data_dir, truncated, "a.xlsx", "stations").report)
    data[cut] = flip
    _check_report(ingest.prepare(demo_data_dir, bytes(data), "a.xlsx", "stations").report)


_text = st.text(alphabet=st.characters(codec="gbk", exclude_categories=("Cs",)), max_size=30)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            _text,
            st.floats(allow_nan=True),
            st.floats(allow_nan=True),
            _text,
            st.sampled_from(["utf-8", "gbk"]),
        ),
        max_size=20,
    ),
    table=st.sampled_from(ingest.IMPORT_TABLES),
)
def test_mixed_encodings_and_odd_values_end_in_a_report(rows: list, table: str, demo_data_dir: Path) -> None:
    lines = ["名称,经度,纬度,开放时间".encode()]
    for name, lng, lat, hours_text, enc in rows:
        lines.append(f"{name},{lng},{lat},{hours_text}".encode(enc, errors="replace"))
    r = ingest.prepare(demo_data_dir, b"\n".join(lines), "m.csv", table).report
    _check_report(r)


def test_huge_fields_reject_their_row_only(demo_data_dir: Path) -> None:
    big = "驿" * 200_000
    text = (
        f"名称,经度,纬度,开放时间\n{big},116.4,39.9,24小时\n"
        f'好站,116.4,39.9,24小时\n"{big}",116.5,39.9,24小时\n'
    )
    r = ingest.prepare(demo_data_dir, text.encode(), "big.csv", "stations").report
    _check_report(r)
    assert (r.rows_in, r.accepted, r.rejected) == (3, 1, 2)
    assert {x["row"] for x in r.rejections} == {2, 4}


def test_geojson_and_geoparquet_edge_cases(demo_data_dir: Path, tmp_path: Path) -> None:
    doc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"面","hours":"24小时"},'
        '"geometry":{"type":"Polygon","coordinates":[[[116,39],[117,39],[117,40],[116,39]]]}},'
        '{"type":"Feature","properties":{"name":"点","hours":"24小时"},'
        '"geometry":{"type":"Point","coordinates":[116.4,39.9]}}, 7]}'
    )
    r = ingest.prepare(demo_data_dir, doc.encode(), "a.geojson", "stations").report
    _check_report(r)
    assert (r.rows_in, r.accepted, r.rejected) == (3, 1, 2)
    assert "not a point" in r.rejections[0]["reason"]
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        {"名称": ["甲", "乙"], "开放时间": ["08:00-20:00", "24小时"]},
        geometry=gpd.points_from_xy([116.4, 121.47], [39.9, 31.23]),
        crs="EPSG:4326",
    )
    gdf.to_parquet(tmp_path / "s.parquet")
    p = ingest.prepare(demo_data_dir, (tmp_path / "s.parquet").read_bytes(), "s.parquet", "stations")
    assert p.report.accepted == 2
    assert p.frame["lat"].round(2).tolist() == [39.9, 31.23]


# ---------------------------------------------------------------- crash safety

_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from geo import ingest, store

    real = store.tables._write_table

    def dying_write(df, table, path):
        real(df, table, path)          # one table fully written into the temporary version
        with open(path, "r+b") as f:   # ... then die half-way through rewriting it
            f.truncate(100)
        os.kill(os.getpid(), signal.SIGKILL)

    store.tables._write_table = dying_write
    data = Path(sys.argv[2]).read_bytes()
    ingest.import_bytes(Path(sys.argv[1]), data, "s.xlsx", "stations", user="crash")
    """
)


def test_an_import_killed_mid_write_leaves_the_previous_version_intact(fresh_data_dir: Path) -> None:
    before = store.current_version(fresh_data_dir)
    ids_before = store.list_version_ids(fresh_data_dir)
    stations_before = store.read_table(fresh_data_dir, "stations")
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, str(fresh_data_dir), str(FIXTURES / "stations.xlsx")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert store.current_version(fresh_data_dir) == before
    assert store.list_version_ids(fresh_data_dir) == ids_before
    pd.testing.assert_frame_equal(store.read_table(fresh_data_dir, "stations"), stations_before)
    assert store.clean_temporaries(fresh_data_dir) == 1
    # and the next import works normally
    r = ingest.import_bytes(
        fresh_data_dir, (FIXTURES / "stations.xlsx").read_bytes(), "s.xlsx", "stations", user="x"
    )
    assert r.version is not None
    assert len(store.read_table(fresh_data_dir, "stations", columns=["name"])) == 5
    assert set(TABLES) <= set(store.read_manifest(fresh_data_dir)["row_counts"])


# ---------------------------------------------------------------- audit fixes: nothing lost


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    wb.save(buf)
    return buf.getvalue()


def _with_dimension(xlsx: bytes, ref: str) -> bytes:
    """Rewrite the <dimension> record of the first sheet (as some writers get it wrong)."""
    import re
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref.encode() + b'"', data)
                assert n == 1
            dst.writestr(item, data)
    return out.getvalue()


_REGISTRY = [
    ["名称", "经度", "纬度", "开放时间", "地址"],
    ["甲站", 116.40, 39.90, "24小时", "北京甲"],
    ["乙站", 116.41, 39.91, "08:00-20:00", "北京乙"],
    ["丙站", 121.47, 31.23, "08:00-20:00", "上海丙"],
    ["丁站", 113.32, 23.14, "07:00-22:00", "广州丁"],
    ["戊站", 114.06, 22.55, "24小时", "深圳戊"],
]


def test_xlsx_with_a_wrong_dimension_record_loses_no_row_or_column(demo_data_dir: Path) -> None:
    data = _with_dimension(_workbook({"驿站": _REGISTRY}), "A1:B2")
    p = ingest.prepare(demo_data_dir, data, "dim.xlsx", "stations")
    assert p.report.error is None, p.report.error
    assert (p.report.rows_in, p.report.accepted) == (5, 5)
    assert sorted(p.frame["address"]) == sorted(r[4] for r in _REGISTRY[1:])  # column E, outside A1:B2


def test_xlsx_sheet_naming_the_fields_is_picked_and_sheets_are_listed(demo_data_dir: Path) -> None:
    data = _workbook({"说明": [["本表为驿站名录"], ["填表人:张三"]], "驿站名录": _REGISTRY})
    assert ingest.xlsx_sheets(data, "stations") == {"说明": 0, "驿站名录": 5}
    p = ingest.prepare(demo_data_dir, data, "two.xlsx", "stations")
    assert p.report.error is None, p.report.error
    assert (p.report.sheet, p.report.accepted) == ("驿站名录", 5)
    notes = [w for w in p.report.warnings if w["code"] == "note_sheet_auto"]
    assert "工作簿中的表:说明、驿站名录" in ingest.reason_text(notes[0], "zh")
    # the wrong sheet, chosen by hand: the error names the sheets, and the file is kept for mapping
    wrong = ingest.prepare(demo_data_dir, data, "two.xlsx", "stations", sheet="说明")
    assert wrong.report.error_code == "file_no_columns_sheet"
    assert "驿站名录" in wrong.report.error
    assert "驿站名录" in ingest.error_text(wrong.report, "zh")


def test_no_recognised_column_keeps_the_file_for_the_mapping_step(demo_data_dir: Path) -> None:
    text = "站点全称,X坐标,Y坐标,服务时段\n甲站,116.39,39.90,08:00-20:00\n"
    p = ingest.prepare(demo_data_dir, text.encode(), "odd.csv", "stations")
    assert p.report.error_code == "file_no_columns"
    assert "--map" in p.report.error  # the CLI's hint
    assert p.source is not None
    assert list(p.source.frame.columns) == ["站点全称", "X坐标", "Y坐标", "服务时段"]
    assert p.report.mapping == {}
    zh = ingest.error_text(p.report, "zh")
    assert "列对应关系" in zh
    assert "--map" not in zh
    mapped = ingest.prepare(
        demo_data_dir,
        text.encode(),
        "odd.csv",
        "stations",
        mapping={"站点全称": "name", "X坐标": "lng", "Y坐标": "lat", "服务时段": "hours"},
    )
    assert mapped.report.accepted == 1


def test_file_problems_and_reader_notes_are_in_the_users_language(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    xls = ingest.prepare(demo_data_dir, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls", "stations").report
    assert xls.error_code == "file_xls"
    assert "另存为" in ingest.error_text(xls, "zh")
    assert ".xlsx" in ingest.error_text(xls, "en")
    text = "名称,经度,纬度,开放时间\n" + "A,116.4,39.9,24小时\n" * 200
    big = ingest.prepare(demo_data_dir, text.encode(), "a.csv", "stations", max_rows=100).report
    assert ingest.error_text(big, "zh").startswith("文件超过 100 行")
    titled = (
        "驿站名录(2024)\n名称,经度,纬度,开放时间\n甲,116.4,39.9,24小时\n".encode()
        + b"\xff\xff,116.5,39.9,24h\n"  # bytes of no encoding
    )
    r = ingest.prepare(demo_data_dir, titled, "t.csv", "stations").report
    zh_notes = [ingest.reason_text(w, "zh") for w in r.warnings if w["row"] is None]
    assert any("第 1–1 行视为标题" in t for t in zh_notes), zh_notes
    assert ingest.reason_text(r.rejections[0], "zh") == "该行含有既不是 UTF-8 也不是 GBK 编码的字节"
    assert r.rejections[0]["reason"] == "row has bytes that are not valid UTF-8 or GBK text"
    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame(
        {"名称": ["线", "点"], "开放时间": ["24小时", "24小时"]},
        geometry=[shapely.LineString([(116, 39), (117, 40)]), shapely.Point(116.4, 39.9)],
        crs="EPSG:4326",
    )
    gdf.to_parquet(tmp_path / "g.parquet")
    g = ingest.prepare(demo_data_dir, (tmp_path / "g.parquet").read_bytes(), "g.parquet", "stations").report
    assert ingest.reason_text(g.rejections[0], "zh") == "几何不是点"


def test_unknown_kind_and_service_are_kept_as_other_with_labels(demo_data_dir: Path) -> None:
    text = "名称,类型,经度,纬度,开放时间,服务项目\n甲站,咖啡馆,116.40,39.90,24小时,热水、按摩椅\n"
    p = ingest.prepare(demo_data_dir, text.encode(), "k.csv", "stations")
    row = p.frame.iloc[-1]
    assert row["kind"] == "other"
    assert list(row["amenities"]) == ["hot_water", "other"]
    assert "other" in STATION_KINDS
    assert "other" in AMENITIES
    kind_warn = next(w for w in p.report.warnings if w["code"] == "kind_unknown")
    assert ingest.reason_text(kind_warn, "zh") == "未知类型 '咖啡馆',记为“其他”"
    assert kind_warn["reason"] == "unknown type '咖啡馆' kept as “Other”"


def test_split_shifts_and_bracketed_notes_keep_the_row(demo_data_dir: Path) -> None:
    text = (
        "名称,经度,纬度,开放时间\n"
        '甲站,116.40,39.90,"8:00-12:00，14:00-18:00"\n'
        "乙站,116.50,39.90,8:00-20:00（冬季）\n"
        "丙站,116.60,39.90,上午8:00-11:30 下午14:00-17:30\n"
    )
    p = ingest.prepare(demo_data_dir, text.encode(), "h.csv", "stations")
    assert (p.report.accepted, p.report.rejected) == (3, 0), p.report.rejections
    got = p.frame.set_index("name")[["opens", "closes"]].apply(tuple, axis=1).to_dict()
    assert got == {"甲站": ("08:00", "18:00"), "乙站": ("08:00", "20:00"), "丙站": ("08:00", "17:30")}
    codes = {(w["row"], w["code"]) for w in p.report.warnings}
    assert {(2, "hours_shifts"), (3, "hours_note"), (4, "hours_shifts")} <= codes
    note = next(w for w in p.report.warnings if w["code"] == "hours_note")
    assert "冬季" in ingest.reason_text(note, "zh")


def _station(data_dir: Path, sid: str) -> pd.Series:
    st_ = store.read_table(data_dir, "stations", columns=list(STATIONS.columns))
    return st_.set_index("station_id").loc[sid]


def test_editing_a_station_keeps_the_fields_the_form_does_not_show(fresh_data_dir: Path) -> None:
    text = (
        "编号,名称,经度,纬度,开放时间,服务项目,启用日期\n"
        "E1,旧名,117.27,31.86,08:00-20:00,热水、按摩椅,2023-06-01\n"
    )
    r = ingest.import_bytes(fresh_data_dir, text.encode(), "e.csv", "stations", user="t", mode="append")
    assert r.version is not None
    # a page hands over numpy scalars read from the table
    lat, lng = np.float64(31.86), np.float64(117.27)
    r2 = ingest.save_station(
        fresh_data_dir, {"station_id": "E1", "name": "新名", "lat": lat, "lng": lng}, "planner1"
    )
    assert r2.version is not None, r2.rejections
    row = _station(fresh_data_dir, "E1")
    assert row["name"] == "新名"
    assert str(row["opened_on"]) == "2023-06-01"
    assert list(row["amenities"]) == ["hot_water", "other"]
    assert (row["opens"], row["closes"]) == ("08:00", "20:00")
    audit = store.read_audit(fresh_data_dir).iloc[0]
    assert audit["action"] == "station_edit"
    detail = json.loads(audit["detail"])
    assert detail["changes"] == {"name": {"before": "旧名", "after": "新名"}}
    # nothing changed: nothing written
    same = ingest.save_station(fresh_data_dir, {"station_id": "E1", "name": "新名"}, "planner1")
    assert same.version is None
    assert same.warnings[-1]["code"] == "station_unchanged"


def test_station_coordinates_from_amap_are_stored_as_wgs84(fresh_data_dir: Path) -> None:
    lat_in, lng_in = 39.9151, 116.4039
    r = ingest.save_station(
        fresh_data_dir,
        {"station_id": "G1", "name": "高德站", "lat": lat_in, "lng": lng_in, "hours": "24小时"},
        "planner1",
        crs="gcj02",
    )
    assert r.version is not None, r.rejections
    row = _station(fresh_data_dir, "G1")
    want_lat, want_lng = datums.gcj02_to_wgs84(lat_in, lng_in)
    assert abs(row["lat"] - float(want_lat)) < 1e-6
    assert abs(row["lng"] - float(want_lng)) < 1e-6
    # editing the name only leaves the stored WGS-84 coordinates alone, whatever the form's datum
    ingest.save_station(fresh_data_dir, {"station_id": "G1", "name": "高德站二"}, "p", crs="bd09")
    assert _station(fresh_data_dir, "G1")[["lat", "lng"]].tolist() == row[["lat", "lng"]].tolist()


def test_changes_on_a_version_that_moved_on_are_refused(fresh_data_dir: Path) -> None:
    seen = store.current_version(fresh_data_dir)
    sid = store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"].iloc[0]
    other = ingest.save_station(
        fresh_data_dir, {"name": "别人加的", "lat": 39.95, "lng": 116.35, "hours": "24小时"}, "someone"
    )
    assert other.version is not None
    ids = store.list_version_ids(fresh_data_dir)
    with pytest.raises(store.StaleBaseError, match="changed since you opened it"):
        ingest.save_station(fresh_data_dir, {"station_id": sid, "name": "改名"}, "p", base_version=seen)
    with pytest.raises(store.StaleBaseError, match="reload and retry"):
        ingest.close_station(fresh_data_dir, sid, "p", base_version=seen)
    with pytest.raises(store.StaleBaseError):
        ingest.rollback(fresh_data_dir, ids[0], "p", expect_current=seen)
    assert store.list_version_ids(fresh_data_dir) == ids
    assert store.current_version(fresh_data_dir) == other.version


def test_two_imports_checked_on_the_same_version_cannot_both_be_written(fresh_data_dir: Path) -> None:
    import threading

    text = "名称,经度,纬度,开放时间\n{n},116.40,39.90,24小时\n"
    preps = [
        ingest.prepare(fresh_data_dir, text.format(n=n).encode(), f"{n}.csv", "stations", mode="append")
        for n in ("甲", "乙")
    ]
    real = store.tables._write_table
    both_in = threading.Barrier(2, timeout=2)

    def slow_write(df: pd.DataFrame, table: object, path: Path) -> None:
        real(df, table, path)  # type: ignore[arg-type]
        # Without the lock both writers get here together (both on the same base); with it, never.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_in.wait()

    results: list[object] = []

    def run(p: ingest.Prepared) -> None:
        try:
            results.append(ingest.commit(fresh_data_dir, p, "t").version)
        except store.StaleBaseError as exc:
            results.append(exc)

    import unittest.mock

    with unittest.mock.patch.object(store.tables, "_write_table", slow_write):
        threads = [threading.Thread(target=run, args=(p,)) for p in preps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(isinstance(x, str) for x in results) == 1, results
    assert sum(isinstance(x, store.StaleBaseError) for x in results) == 1, results


def test_a_committed_import_cannot_be_written_twice(fresh_data_dir: Path) -> None:
    p = _prepare(fresh_data_dir, "stations_gbk.csv", mode="append")
    assert ingest.commit(fresh_data_dir, p, "t").version is not None
    ids = store.list_version_ids(fresh_data_dir)
    with pytest.raises(ingest.InputError, match="already imported"):
        ingest.commit(fresh_data_dir, p, "t")
    assert store.list_version_ids(fresh_data_dir) == ids


def test_a_write_clears_what_a_killed_writer_left(fresh_data_dir: Path) -> None:
    stale = fresh_data_dir / "versions" / ".tmp-killed"
    stale.mkdir()
    (stale / "stations.parquet").write_bytes(b"half")
    ingest.save_station(fresh_data_dir, {"name": "新站", "lat": 39.95, "lng": 116.35, "hours": "24小时"}, "p")
    assert not stale.exists()


def test_rollback_records_the_version_it_left(fresh_data_dir: Path) -> None:
    first = store.current_version(fresh_data_dir)
    r = ingest.save_station(
        fresh_data_dir, {"name": "新站", "lat": 39.95, "lng": 116.35, "hours": "24小时"}, "p"
    )
    assert ingest.rollback(fresh_data_dir, first or "", "admin") == first
    detail = json.loads(store.read_audit(fresh_data_dir).iloc[0]["detail"])
    assert detail == {"from": r.version, "version": first}
