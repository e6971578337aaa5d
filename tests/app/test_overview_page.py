"""Overview page (AppTest): KPIs computed from the data, language switch, province drill-down."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo import i18n
from geo.distance import haversine_m

ROOT = Path(__file__).parents[2]


@pytest.fixture
def app(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_data_dir))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def test_kpis_match_an_independent_count(app: AppTest, demo_tables: dict) -> None:
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    assert metric(app, "驿站总数") == i18n.format_count(len(st), "zh")
    assert metric(app, "24小时开放") == i18n.format_count(int(st["open_24h"].sum()), "zh")
    assert metric(app, "劳动者聚集点") == i18n.format_count(len(wp), "zh")
    assert metric(app, "覆盖劳动者总数") == i18n.format_count(int(wp["workers"].sum()), "zh")
    # share within 1 km by brute force over every station (independent of the index)
    d = haversine_m(
        wp["lat"].to_numpy()[:, None],
        wp["lng"].to_numpy()[:, None],
        st["lat"].to_numpy()[None, :],
        st["lng"].to_numpy()[None, :],
    ).min(axis=1)
    share = wp["workers"].to_numpy()[d <= 1000].sum() / wp["workers"].sum()
    assert metric(app, "1公里内有驿站的劳动者") == i18n.format_share(share)


def test_demo_data_is_labelled(app: AppTest) -> None:
    assert any("演示数据" in m.value for m in app.markdown)


def test_english_switch(app: AppTest) -> None:
    app.sidebar.segmented_control[0].set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "National overview"
    assert metric(app, "Stations")


def test_choosing_a_province_switches_to_hexes_and_county_table(app: AppTest, demo_tables: dict) -> None:
    st = demo_tables["stations"]
    code = st["province_adcode"].value_counts().index[0]
    app.sidebar.selectbox[0].set_value(code).run()
    assert not app.exception
    name = st.loc[st["province_adcode"] == code, "province"].iloc[0]
    assert any(name in s.value for s in app.subheader)
    table = app.dataframe[0].value
    assert len(table) > 0
    counties = set(
        demo_tables["workplaces"].loc[demo_tables["workplaces"]["province_adcode"] == code, "county"]
    )
    assert set(table["name"]) <= counties | set(st.loc[st["province_adcode"] == code, "county"])


def test_mixed_data_says_which_tables_hold_demo_rows(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo import ingest

    csv = fresh_data_dir.parent / "县_*x*.csv"
    csv.write_text("名称,经度,纬度,开放时间\n新驿站,116.39,39.90,24小时\n", encoding="utf-8")
    report = ingest.import_bytes(
        fresh_data_dir, csv.read_bytes(), csv.name, "stations", mode="append", user="t"
    )
    assert report.accepted == 1, report
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    caption = next(m.value for m in at.markdown if "部分为演示数据" in m.value)
    # The file name (as stored: sanitised) is user text: its Markdown is escaped.
    assert r"驿站:演示数据 + 导入 县\_\_x\_\.csv;其余为演示数据" in caption
