"""找驿站 page (AppTest): search / typed coordinates → cards ordered by distance, filters, reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from geo import datums, store
from geo.distance import haversine_m

ROOT = Path(__file__).parents[2]


@pytest.fixture
def app(fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.chdir(ROOT)
    from views import common

    common._settings_cached.clear()  # settings are cached per process; this test has its own data dir
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/nearest.py")
    at.run()
    assert not at.exception, at.exception
    return at


def type_coords(at: AppTest, text: str, crs: str = "wgs84") -> None:
    form_inputs = [t for t in at.text_input if t.placeholder == "39.9087, 116.3975"]
    form_inputs[0].set_value(text)
    at.radio[0].set_value(crs)
    next(b for b in at.button if b.label in ("用这个坐标", "Use these coordinates")).click()
    at.run()
    assert not at.exception, at.exception


def card_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and ". " in m.value[:8]]


def test_page_asks_where_i_am_first(app: AppTest) -> None:
    assert app.title[0].value == "找驿站"
    assert any("先告诉我你在哪儿" in i.value for i in app.info)


def test_typed_coordinates_give_the_nearest_stations_by_brute_force(app: AppTest, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    lat0, lng0 = float(st_["lat"].iloc[7]) + 0.001, float(st_["lng"].iloc[7]) + 0.001
    app.toggle[0].set_value(False)  # any hours: compare with plain brute force
    type_coords(app, f"{lat0}, {lng0}")
    d = haversine_m(lat0, lng0, st_["lat"].to_numpy(), st_["lng"].to_numpy())
    expected = st_["name"].to_numpy()[np.argsort(d, kind="stable")[:5]]
    titles = card_titles(app)
    assert len(titles) == 5
    for title, name in zip(titles, expected, strict=True):
        assert name.replace("(", "\\(").replace(")", "\\)") in title
    links = [b.url for b in app.get("link_button")]
    assert any(u.startswith("https://uri.amap.com/navigation?") for u in links)
    assert any("coord_type=bd09ll" in u for u in links)
    assert any(u.startswith("https://www.openstreetmap.org/?mlat=") for u in links)


def test_amap_coordinates_in_lng_lat_order_are_converted(app: AppTest, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    lat0, lng0 = float(st_["lat"].iloc[3]), float(st_["lng"].iloc[3])
    g_lat, g_lng = datums.wgs84_to_gcj02(lat0, lng0)
    app.toggle[0].set_value(False)
    type_coords(app, f"{float(g_lng):.6f},{float(g_lat):.6f}", "gcj02")
    assert st_["name"].iloc[3].replace("(", "\\(").replace(")", "\\)") in card_titles(app)[0]
    assert "0 米" in card_titles(app)[0] or " 米" in card_titles(app)[0]


def test_bad_coordinates_show_a_readable_error(app: AppTest) -> None:
    type_coords(app, "hello")
    assert app.error
    assert "两" not in app.error[0].value
    assert "latitude and longitude" in app.error[0].value


def test_place_search_by_pinyin_sets_my_position(app: AppTest) -> None:
    app.text_input(key="nearest_query").set_value("zhengzhou")
    app.run()
    buttons = [b for b in app.button if b.key and b.key.startswith("nearest_place_")]
    assert buttons
    assert buttons[0].label.startswith("郑州")
    buttons[0].click()
    app.run()
    assert not app.exception
    assert any("我的位置:郑州" in m.value for m in app.markdown)
    assert len(card_titles(app)) >= 1


def test_report_is_stored_once_per_hour(app: AppTest, fresh_data_dir: Path) -> None:
    st_ = store.read_table(fresh_data_dir, "stations")
    app.toggle[0].set_value(False)
    type_coords(app, f"{st_['lat'].iloc[0]}, {st_['lng'].iloc[0]}")
    send = next(b for b in app.button if b.label == "提交")
    note = app.text_area[0]
    note.set_value("<script>alert(1)</script> 热水器坏了")
    send.click()
    app.run()
    assert any("谢谢" in s.value for s in app.success)
    send = next(b for b in app.button if b.label == "提交")
    send.click()
    app.run()
    assert any("一小时" in w.value for w in app.warning)
    reports = store.read_reports(fresh_data_dir)
    assert len(reports) == 1
    assert reports["station_id"].iloc[0] == st_["station_id"].iloc[0]
    assert (
        reports["text"].iloc[0] == "<script>alert(1)</script> 热水器坏了"
    )  # stored as typed, escaped on display


def test_english(app: AppTest) -> None:
    app.session_state["lang"] = "en"
    app.run()
    assert app.title[0].value == "Find a station"
    assert not app.exception


def test_amenity_filter_returns_only_matching_stations(app: AppTest, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    app.toggle[0].set_value(False)
    app.get("button_group")[0].set_value(["battery_swap"])
    type_coords(app, f"{st_['lat'].iloc[0]}, {st_['lng'].iloc[0]}")
    have = st_[st_["amenities"].map(lambda a: "battery_swap" in list(a))]
    d = haversine_m(
        float(st_["lat"].iloc[0]), float(st_["lng"].iloc[0]), have["lat"].to_numpy(), have["lng"].to_numpy()
    )
    expected = pd.Series(have["name"].to_numpy()[np.argsort(d, kind="stable")[:5]])
    titles = card_titles(app)
    assert len(titles) == 5
    for title, name in zip(titles, expected, strict=True):
        assert name.replace("(", "\\(").replace(")", "\\)") in title


def test_a_station_imported_without_services_says_services_unknown(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo import ingest

    text = "名称,经度,纬度\n无服务列驿站,116.400,39.900\n"
    r = ingest.import_bytes(fresh_data_dir, text.encode(), "a.csv", "stations", user="t", mode="replace")
    assert r.accepted == 1
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.chdir(ROOT)
    from views import common

    common._settings_cached.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/nearest.py")
    at.run()
    at.toggle[0].set_value(False)  # its hours are unknown too: any hours
    type_coords(at, "39.9001, 116.4001")
    assert card_titles(at)[0].startswith("**1. 无服务列驿站**")
    captions = [c.value for c in at.caption]
    assert any(c.startswith("服务项目未知") for c in captions), captions
