"""AppTest: the campaign dashboard renders real figures, switches views and never shows a small count."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo import campaign

ROOT = Path(__file__).parents[2]


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_data_dir: Path) -> AppTest:
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/campaign.py")
    at.run()
    assert not at.exception
    return at


def test_kpis_show_the_true_totals_in_chinese_units(app: AppTest, demo_data_dir: Path) -> None:
    total = campaign.campaign_total(demo_data_dir, campaign.Filters(2025))
    metrics = {m.label: m.value for m in app.metric}
    from geo import i18n

    assert metrics["慰问职工"] == i18n.format_count(total["people"], "zh")
    assert metrics["慰问活动"] == i18n.format_count(total["events"], "zh")
    assert metrics["慰问资金"].endswith("元")
    assert metrics["目标完成率"].endswith("%")
    assert metrics["同比"].endswith("%")
    assert any("送温暖看板" in t.value for t in app.title)


def test_tables_show_no_count_below_k_and_label_withheld_figures_as_withheld(
    app: AppTest, demo_tables: dict
) -> None:
    ev = demo_tables["campaign"]
    ev = ev[ev["year"].astype(int) == 2025]
    by_city = ev.groupby(["province_adcode", "category", "city_adcode"])["people"].sum().reset_index()
    small = by_city[(by_city["people"] < 10) & (by_city["province_adcode"] != by_city["city_adcode"])]
    province, category = small.iloc[0][["province_adcode", "category"]]  # a thin selection
    app.selectbox(key="campaign_province__zh").set_value(str(province)).run()
    app.multiselect(key="campaign_cats__zh").set_value([str(category)]).run()
    assert not app.exception
    people = app.dataframe[0].value.iloc[:, 1].tolist()
    assert "已隐去" in people, "a thin selection has withheld rows"
    for v in people:
        assert "<" not in v
        if v == "已隐去":
            continue
        text = str(v).replace(",", "")
        # 万 is 10,000: read the figure, do not just find the character
        number = float(text[:-1]) * 1e4 if text.endswith("万") else float(text)
        assert number >= 10, v
    assert any("已隐去" in c.value for c in app.caption)


def test_english_thousands_separators_and_switching_views(
    monkeypatch: pytest.MonkeyPatch, demo_data_dir: Path
) -> None:
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/campaign.py")
    at.run()
    at.sidebar.segmented_control[0].set_value("en").run()
    assert not at.exception
    total = campaign.campaign_total(demo_data_dir, campaign.Filters(2025))
    assert {m.label: m.value for m in at.metric}["Workers visited"] == f"{total['people']:,}"
    at.radio(key="campaign_view__en").set_value("region").run()
    assert not at.exception
    at.radio(key="campaign_metric__en").set_value("checkins").run()
    assert not at.exception
    assert any("hexagons" in c.value for c in at.caption)
    days = at.select_slider(key="campaign_day__en")
    days.set_value(days.options[20]).run()
    assert not at.exception


def test_province_filter_and_category(app: AppTest) -> None:
    app.selectbox(key="campaign_province__zh").set_value("440000").run()
    assert not app.exception
    app.multiselect(key="campaign_cats__zh").set_value(["hardship"]).run()
    assert not app.exception
    assert "<" not in app.metric[0].value
    app.selectbox(key="campaign_city_440000__zh").set_value("440300").run()  # 深圳: counties
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["目标完成率"] == "无目标"


def test_a_full_frame_of_cells_stays_under_the_payload_cap() -> None:
    import numpy as np
    import pandas as pd

    from geo import hexes, maps
    from views import common

    rng = np.random.default_rng(0)
    cells = pd.unique(hexes.latlng_to_cells(rng.uniform(22, 45, 40_000), rng.uniform(100, 122, 40_000), 6))
    cells = cells[: campaign.MAX_MAP_CELLS]
    assert len(cells) == campaign.MAX_MAP_CELLS
    people = rng.integers(0, 5_000, len(cells)).astype(float)
    people[::7] = np.nan  # withheld cells are drawn too (grey, "已隐去")
    frame = pd.DataFrame({"h3": cells, "people": people})
    m = common.campaign_map(frame, "hex", "people", campaign.locked_bins(people), "人数", "已隐去", "")
    assert maps.payload_bytes(m) <= maps.MAX_PAYLOAD_BYTES


def test_choices_survive_a_language_switch(app: AppTest) -> None:
    # The browser keeps a choice by its label; labels change with the language, so each
    # language has its own widget, handed the choice made in the other one.
    app.selectbox(key="campaign_province__zh").set_value("440000").run()
    app.radio(key="campaign_view__zh").set_value("region").run()
    app.sidebar.segmented_control[0].set_value("en").run()
    assert not app.exception
    assert app.selectbox(key="campaign_province__en").value == "440000"
    assert app.radio(key="campaign_view__en").value == "region"
    app.radio(key="campaign_view__en").set_value("hex").run()
    app.sidebar.segmented_control[0].set_value("zh").run()
    assert app.radio(key="campaign_view__zh").value == "hex"  # the latest choice, not the old one
