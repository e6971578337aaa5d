"""Coverage planning page (AppTest): KPIs from the data, filters, drill-down, gaps, siting, reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from geo import i18n, store
from geo.distance import haversine_m
from geo.maps import MAX_PAYLOAD_BYTES

ROOT = Path(__file__).parents[2]


def open_page(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    from views import common

    common._settings_cached.clear()  # settings (so the data directory) are cached per process
    monkeypatch.setenv("GEO_DATA_DIR", str(data_dir))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("views/coverage.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_page(demo_data_dir, monkeypatch)


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def brute_distance(demo_tables: dict, stations_mask=None) -> np.ndarray:
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    if stations_mask is not None:
        st = st[stations_mask]
    d = np.full(len(wp), np.inf)
    for s in range(0, len(st), 300):
        b = st.iloc[s : s + 300]
        d = np.minimum(
            d,
            haversine_m(
                wp["lat"].to_numpy()[:, None],
                wp["lng"].to_numpy()[:, None],
                b["lat"].to_numpy(),
                b["lng"].to_numpy(),
            ).min(axis=1),
        )
    return d


def test_kpis_match_a_brute_force_count(app: AppTest, demo_tables: dict) -> None:
    wp = demo_tables["workplaces"]
    w = wp["workers"].to_numpy()
    d = brute_distance(demo_tables)
    assert metric(app, "劳动者") == i18n.format_count(int(w.sum()), "zh")
    assert metric(app, "已覆盖") == i18n.format_count(int(w[d <= 1000].sum()), "zh")
    assert metric(app, "覆盖率") == i18n.format_share(w[d <= 1000].sum() / w.sum())
    assert metric(app, "合格驿站") == i18n.format_count(len(demo_tables["stations"]), "zh")
    assert app.dataframe, "the region table is missing"
    table = app.dataframe[0].value
    assert len(table) == wp["province_adcode"].nunique()
    # time-of-day view: four times side by side
    for t in ("04:30", "12:00", "20:00", "02:00"):
        metric(app, t)


def test_radius_and_time_change_the_figures(app: AppTest, demo_tables: dict) -> None:
    wp = demo_tables["workplaces"]
    w = wp["workers"].to_numpy()
    d = brute_distance(demo_tables)
    app.selectbox(key="cov_radius__zh").set_value(3000.0).run()
    assert not app.exception
    assert metric(app, "已覆盖") == i18n.format_count(int(w[d <= 3000].sum()), "zh")
    app.selectbox(key="cov_time__zh").set_value(270).run()
    assert not app.exception
    assert metric(app, "04:30") == metric(app, "覆盖率")


def test_occupation_filter_counts_only_those_workers(app: AppTest, demo_tables: dict) -> None:
    wp = demo_tables["workplaces"]
    app.multiselect(key="cov_occ__zh").set_value(["sanitation"]).run()
    assert not app.exception
    want = int(wp.loc[wp["occupation"] == "sanitation", "workers"].sum())
    assert metric(app, "劳动者") == i18n.format_count(want, "zh")


def test_choosing_a_province_lists_its_cities(app: AppTest, demo_tables: dict) -> None:
    wp = demo_tables["workplaces"]
    prov = "420000"  # 湖北: a province with cities (not a municipality)
    app.selectbox(key="cov_prov__zh").set_value(prov).run()
    assert not app.exception
    table = app.dataframe[0].value
    st = demo_tables["stations"]
    cities = set(wp.loc[wp["province_adcode"] == prov, "city"]) | set(
        st.loc[st["province_adcode"] == prov, "city"]
    )
    assert set(table.iloc[:, 0]) <= cities
    assert metric(app, "劳动者") == i18n.format_count(
        int(wp.loc[wp["province_adcode"] == prov, "workers"].sum()), "zh"
    )
    # and further down to a city's counties
    city = wp.loc[wp["province_adcode"] == prov, "city_adcode"].value_counts().index[0]
    app.selectbox(key="cov_city__zh").set_value(city).run()
    assert not app.exception
    # a county may have stations but no workplaces, and still be listed
    counties = set(wp.loc[wp["city_adcode"] == city, "county"]) | set(
        st.loc[st["city_adcode"] == city, "county"]
    )
    assert set(app.dataframe[0].value.iloc[:, 0]) <= counties


def test_gap_view_ranks_cells_and_keeps_the_map_small(app: AppTest, demo_tables: dict) -> None:
    app.session_state["cov_measure_payload"] = True
    app.segmented_control(key="cov_view__zh").set_value("gap").run()
    assert not app.exception
    top = app.dataframe[0].value
    assert 0 < len(top) <= 100
    assert top.iloc[:, 2].is_monotonic_decreasing  # uncovered workers, most first
    assert 0 < app.session_state["cov_gap_map_bytes"] <= MAX_PAYLOAD_BYTES
    app.selectbox(key="cov_prov__zh").set_value("440000").run()
    assert not app.exception
    assert 0 < app.session_state["cov_gap_map_bytes"] <= MAX_PAYLOAD_BYTES


def test_siting_proposes_sites_and_verifies_them(app: AppTest) -> None:
    app.segmented_control(key="cov_view__zh").set_value("site").run()
    app.number_input(key="cov_n").set_value(5)
    app.form_submit_button[0].click().run()
    assert not app.exception, app.exception
    assert app.success, "no verification message"
    assert "一致" in app.success[0].value  # the recount agrees
    sites = app.dataframe[-1].value
    assert len(sites) == 5
    before, after = metric(app, "选址前覆盖率"), metric(app, "选址后覆盖率")
    assert float(after.rstrip("%")) > float(before.rstrip("%"))
    # the static map of coverage with these sites downloads from under the siting map
    labels = [b.proto.label for b in app.get("download_button")]
    assert {"下载地图 PNG", "下载地图 PDF (A4)"} <= set(labels)


def test_siting_for_access_lifts_workers_and_is_recounted(app: AppTest, demo_tables: dict) -> None:
    from geo import access

    app.segmented_control(key="cov_view__zh").set_value("site").run()
    app.radio(key="cov_objective__zh").set_value("access").run()
    app.number_input(key="cov_n").set_value(5)
    app.number_input(key="cov_threshold").set_value(10.0)
    app.form_submit_button[0].click().run()
    assert not app.exception, app.exception
    assert "2SFCA" in app.success[0].value
    assert "一致" in app.success[0].value
    before, after = metric(app, "选址前达标占比"), metric(app, "选址后达标占比")
    assert float(after.rstrip("%")) > float(before.rstrip("%"))
    # "before" is the 2SFCA share of the page's default query (1 km, any time), computed here
    st_, wp = demo_tables["stations"], demo_tables["workplaces"]
    reach = access.reaches(access.two_step_fca(st_, wp, 1000.0).accessibility, 10.0)
    share = wp["workers"].to_numpy()[reach].sum() / wp["workers"].sum()
    assert float(before.rstrip("%")) == pytest.approx(share * 100, abs=0.1)
    sites = app.dataframe[-1].value
    assert 1 <= len(sites) <= 5
    assert "新增达标劳动者" in sites.columns
    assert any("求解" in c.value for c in app.caption)


def test_english_labels(app: AppTest) -> None:
    app.session_state["lang"] = "en"
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Coverage planning"
    metric(app, "Coverage share")
    assert app.dataframe[0].value.columns[0] == "Region"


def test_reported_closed_stations_can_be_left_out(
    fresh_data_dir: Path, demo_tables: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = demo_tables["stations"]["station_id"].tolist()[:200]
    now = dt.datetime(2025, 1, 10, 8, 0)
    for i, sid in enumerate(ids):  # two different clients each: one alone does not close a station
        for who in ("a", "b"):
            text = "<script>alert(1)</script>" if i == 0 else ""
            store.insert_report(fresh_data_dir, sid, "closed", text, f"{who}{i}", now, client=f"{who}{i}")
    at = open_page(fresh_data_dir, monkeypatch)
    before = metric(at, "合格驿站")
    at.checkbox(key="cov_closed").check().run()
    assert not at.exception
    assert metric(at, "合格驿站") == i18n.format_count(len(demo_tables["stations"]) - 200, "zh")
    assert metric(at, "合格驿站") != before
    keep = ~demo_tables["stations"]["station_id"].isin(ids).to_numpy()
    d = brute_distance(demo_tables, keep)
    w = demo_tables["workplaces"]["workers"].to_numpy()
    assert metric(at, "已覆盖") == i18n.format_count(int(w[d <= 1000].sum()), "zh")
    at.segmented_control(key="cov_view__zh").set_value("rep").run()
    assert not at.exception
    by_region = at.dataframe[0].value
    assert by_region.iloc[:, 1:].to_numpy().sum() > 0
    # report text is shown as data, not markup
    assert not any("<script>" in m.value for m in at.markdown)


def test_reports_tab_lists_only_the_selected_region_with_station_names(
    fresh_data_dir: Path, demo_tables: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    st_ = demo_tables["stations"]
    wuhan = st_[st_["city_adcode"] == "420100"].iloc[0]
    beijing = st_[st_["province_adcode"] == "110000"].iloc[0]
    now = dt.datetime(2025, 1, 10, 8, 0)
    store.insert_report(fresh_data_dir, wuhan["station_id"], "no_hot_water", "", "s1", now)
    store.insert_report(fresh_data_dir, beijing["station_id"], "closed", "", "s2", now)
    at = open_page(fresh_data_dir, monkeypatch)
    at.selectbox(key="cov_prov__zh").set_value("420000").run()
    at.selectbox(key="cov_city__zh").set_value("420100").run()
    at.segmented_control(key="cov_view__zh").set_value("rep").run()
    assert not at.exception, at.exception
    by_region, latest = at.dataframe[0].value, at.dataframe[1].value
    assert by_region.iloc[:, 0].tolist() == [wuhan["county"]]
    assert beijing["county"] not in set(by_region.iloc[:, 0])
    assert len(latest) == 1
    assert latest["驿站"].iloc[0] == wuhan["name"]
    assert latest["区县"].iloc[0] == wuhan["county"]
    assert latest["驿站编号"].iloc[0] == wuhan["station_id"]


def test_gap_map_says_how_it_was_reduced(app: AppTest) -> None:
    app.segmented_control(key="cov_view__zh").set_value("gap").run()
    assert not app.exception, app.exception
    info = app.session_state["cov_gap_cn_8_info"]
    assert info["res"] < 8  # all of China is drawn with coarser cells
    texts = [i.value for i in app.info]
    if info["truncated"]:
        assert any("只画出" in t for t in texts), texts
    else:
        assert any("较粗的 H3" in t for t in texts), texts
        assert not any("只画出" in t or "top" in t for t in texts), texts


def test_cell_drill_down_counts_only_the_chosen_occupations(app: AppTest, demo_tables: dict) -> None:
    wp = demo_tables["workplaces"]
    cell = wp.loc[wp["occupation"] == "sanitation", "h3_9"].iloc[0]
    app.multiselect(key="cov_occ__zh").set_value(["sanitation"]).run()
    app.segmented_control(key="cov_view__zh").set_value("gap").run()
    app.session_state["cov_gap_cn_8_cell"] = cell  # what a click on the map stores
    app.run()
    assert not app.exception, app.exception
    assert any(cell in m.value and "环卫" in m.value for m in app.markdown), [m.value for m in app.markdown]
    table = app.dataframe[0].value
    assert table.iloc[:, 0].tolist() == ["环卫"]
    want = wp.loc[(wp["h3_9"] == cell) & (wp["occupation"] == "sanitation"), "workers"].sum()
    assert table.iloc[0, 2] == want


def test_siting_map_at_nation_level_stays_small_and_readable(app: AppTest) -> None:
    app.session_state["cov_measure_payload"] = True
    app.segmented_control(key="cov_view__zh").set_value("site").run()
    app.number_input(key="cov_n").set_value(3)
    app.form_submit_button[0].click().run()
    assert not app.exception, app.exception
    info = app.session_state["cov_site_map_cn_info"]
    assert info["res"] <= 5  # cells visible on a map of all China, not 6,000 res-7 specks
    assert 0 < info["bytes"] <= MAX_PAYLOAD_BYTES
    assert "人)" in app.success[0].value
    assert " 人" not in app.success[0].value


def test_choices_survive_a_language_switch(app: AppTest) -> None:
    app.selectbox(key="cov_radius__zh").set_value(3000.0).run()
    app.selectbox(key="cov_prov__zh").set_value("420000").run()
    app.session_state["lang"] = "en"
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="cov_radius__en").value == 3000.0
    assert app.selectbox(key="cov_prov__en").value == "420000"


def dense_access(demo_tables: dict, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """2SFCA from the full distance matrix: accessibility per workplace, load per station."""
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    d = haversine_m(
        wp["lat"].to_numpy()[:, None],
        wp["lng"].to_numpy()[:, None],
        st["lat"].to_numpy(),
        st["lng"].to_numpy(),
    )
    within = d <= radius_m
    p = wp["workers"].to_numpy(float)
    demand = p @ within
    seats = st["seats"].to_numpy(float)
    return within @ np.where(demand > 0, seats / np.where(demand > 0, demand, 1), 0.0), demand / seats


def test_crowding_view_matches_a_dense_2sfca(app: AppTest, demo_tables: dict) -> None:
    app.segmented_control(key="cov_view__zh").set_value("acc").run()
    assert not app.exception, app.exception
    acc, load = dense_access(demo_tables, 1000.0)
    p = demo_tables["workplaces"]["workers"].to_numpy()
    assert metric(app, "每千名劳动者可达座位") == f"{(p * acc).sum() / p.sum() * 1000:.1f}"
    assert metric(app, "可达性不足的劳动者") == i18n.format_count(int(p[acc * 1000 < 10].sum()), "zh")
    assert metric(app, "半径内没有座位的劳动者") == i18n.format_count(int(p[acc == 0].sum()), "zh")
    crowded = int((load > 100).sum())
    assert metric(app, "拥挤驿站") == i18n.format_count(crowded, "zh")
    stations, regions = app.dataframe[0].value, app.dataframe[1].value
    assert stations["负载(人/座)"].iloc[0] == round(load.max(), 1)
    assert stations["负载(人/座)"].is_monotonic_decreasing
    assert len(regions) == demo_tables["workplaces"]["province_adcode"].nunique()
    assert any("2SFCA" in c.value for c in app.caption)  # the one-sentence explanation
    labels = [b.label for b in app.get("download_button")]
    assert labels.count("GeoJSON") >= 2


def test_crowding_view_e2sfca_region_and_english(app: AppTest, demo_tables: dict) -> None:
    app.segmented_control(key="cov_view__zh").set_value("acc").run()
    mean, top_load = metric(app, "每千名劳动者可达座位"), app.dataframe[0].value["负载(人/座)"].iloc[0]
    app.radio(key="cov_access_method__zh").set_value("e2sfca").run()
    assert not app.exception, app.exception
    # Seats are conserved by both methods, so the mean is the same; decayed loads are lower.
    assert metric(app, "每千名劳动者可达座位") == mean
    assert app.dataframe[0].value["负载(人/座)"].iloc[0] < top_load
    app.selectbox(key="cov_prov__zh").set_value("420000").run()
    assert not app.exception, app.exception
    wp = demo_tables["workplaces"]
    cities = set(wp.loc[wp["province_adcode"] == "420000", "city"]) | set(
        demo_tables["stations"].loc[demo_tables["stations"]["province_adcode"] == "420000", "city"]
    )
    assert set(app.dataframe[1].value.iloc[:, 0]) <= cities
    app.session_state["lang"] = "en"
    app.run()
    assert not app.exception, app.exception
    assert app.radio(key="cov_access_method__en").value == "e2sfca"
    metric(app, "Seats per 1,000 workers")
    assert "Load (workers/seat)" in app.dataframe[0].value.columns
