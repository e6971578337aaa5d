"""Coverage planning in a real browser, offline: gap hexes are drawn, siting adds markers, nothing fails."""

from __future__ import annotations

import re

import pytest

from .conftest import DESKTOP, PHONE, map_frame, screenshot, wait_for_app_idle

pytestmark = pytest.mark.e2e

# Opened at /coverage, Streamlit's frontend first probes /coverage/_stcore/{health,host-config}
# (404 under st.App) and then uses /_stcore/...; those two probes are not failures of this page.
PROBES = ("/coverage/_stcore/health", "/coverage/_stcore/host-config")

# Count Leaflet layers in the map iframe: works whether folium draws on SVG or on canvas.
COUNT_LAYERS = """
    const maps = Object.values(window).filter(v => typeof L !== "undefined" && v instanceof L.Map);
    const r = {maps: maps.length, polygons: 0, hexes: 0, circles: 0};
    maps.forEach(m => m.eachLayer(l => {
        if (l instanceof L.CircleMarker) r.circles++;
        else if (l instanceof L.Polygon) {
            r.polygons++;
            // an H3 cell is one ring of 6 vertices (5 for the rare pentagon); outlines have many
            const rings = l.getLatLngs();
            if (rings.length === 1 && !Array.isArray(rings[0][0]) && rings[0].length <= 6) r.hexes++;
        }
    }));
"""

# Screen position (in the page) of a lat/lng on the first map: for real mouse clicks.
POINT_ON_PAGE = """([lat, lng]) => {
    const m = Object.values(window).find(v => typeof L !== "undefined" && v instanceof L.Map);
    const p = m.latLngToContainerPoint([lat, lng]);
    return {x: p.x, y: p.y};
}"""

# Centre of the gap cell with the most uncovered workers that is drawn on the map.
A_HEX_CENTRE = """() => {
    const m = Object.values(window).find(v => typeof L !== "undefined" && v instanceof L.Map);
    let best = null;
    m.eachLayer(l => {
        if (l instanceof L.Polygon && l.getLatLngs().length === 1 && l.getLatLngs()[0].length <= 6
            && m.getBounds().contains(l.getBounds().getCenter()) && !best) best = l.getBounds().getCenter();
    });
    return best && [best.lat, best.lng];
}"""


def problems(page: object) -> list[str]:
    return [p for p in page.problems if not p.endswith(PROBES)]  # type: ignore[attr-defined]


def idle(page: object) -> None:
    page.wait_for_timeout(600)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => { const s = document.querySelector("[data-testid='stStatusWidget']");
                   return !s || !/Running|运行|Stop|停止/.test(s.innerText); }""",
        timeout=120_000,
    )
    wait_for_app_idle(page)


def layers(page: object, expect: str) -> dict:
    """Wait until the map's layer counts ``r`` satisfy the JS condition ``expect``; return them."""
    frame = map_frame(page)
    frame.wait_for_function(f"() => {{ {COUNT_LAYERS} return {expect}; }}", timeout=60_000)  # type: ignore[attr-defined]
    return frame.evaluate(f"() => {{ {COUNT_LAYERS} return r; }}")  # type: ignore[attr-defined]


def test_gap_map_draws_hex_cells_and_siting_adds_markers(open_page) -> None:
    page = open_page("/coverage", DESKTOP)  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    assert "覆盖规划" in page.locator("h1").first.inner_text()
    # coverage view: province choropleth
    first = layers(page, "r.polygons > 20")
    assert first["polygons"] > 20, first
    # gap map: H3 cells over province outlines
    page.get_by_text("缺口地图", exact=True).click()
    idle(page)
    gaps = layers(page, "r.hexes > 40")
    assert gaps["hexes"] > 40, gaps  # hex cells, not only province outlines
    assert page.get_by_text("缺口最大的 100 个格子").count() == 1
    # siting: run it, the map shows the proposed sites as circle markers
    page.get_by_text("选址", exact=True).click()
    idle(page)
    page.get_by_role("button", name="计算选址").click()
    idle(page)
    page.wait_for_selector("text=已独立复核", timeout=120_000)
    sites = layers(page, "r.circles >= 20")
    assert sites["circles"] >= 20, sites
    screenshot(page, "coverage")
    assert problems(page) == []
    assert page.dialogs == []  # type: ignore[attr-defined]


def choices(page: object) -> list[str]:
    """What the sidebar's select boxes show (their text is an input's value, not page text)."""
    return page.locator("[data-testid='stSidebar'] input[role='combobox']").evaluate_all(  # type: ignore[attr-defined]
        "els => els.map(e => e.value)"
    )


def click_map_at(page: object, lat: float, lng: float) -> None:
    """Click the first map with the mouse at a lat/lng (as a user does)."""
    frame = map_frame(page)
    pt = frame.evaluate(POINT_ON_PAGE, [lat, lng])  # type: ignore[attr-defined]
    box = page.locator("iframe[title*='st_folium'], iframe[src*='streamlit_folium']").first.bounding_box()  # type: ignore[attr-defined]
    page.mouse.click(box["x"] + pt["x"], box["y"] + pt["y"])  # type: ignore[attr-defined]


def test_clicking_the_map_drills_down_and_clicking_a_gap_cell_lists_its_workers(open_page) -> None:
    page = open_page("/coverage", DESKTOP)  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    layers(page, "r.polygons > 20")
    page.locator(
        "iframe[title*='st_folium'], iframe[src*='streamlit_folium']"
    ).first.scroll_into_view_if_needed()
    click_map_at(page, 30.9, 112.3)  # inside 湖北
    idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stSidebar'] input[role='combobox']\")]"
        ".some(e => e.value === '湖北省')",
        timeout=60_000,
    )
    assert "湖北省" in choices(page)
    page.get_by_text("缺口地图", exact=True).click()
    idle(page)
    layers(page, "r.hexes > 5")
    frame = map_frame(page)
    lat, lng = frame.evaluate(A_HEX_CENTRE)  # type: ignore[attr-defined]
    page.locator(
        "iframe[title*='st_folium'], iframe[src*='streamlit_folium']"
    ).first.scroll_into_view_if_needed()
    click_map_at(page, lat, lng)
    idle(page)
    page.get_by_text("中的劳动者").first.wait_for(timeout=60_000)
    heading = page.get_by_text("中的劳动者").first.inner_text()
    assert heading.startswith("格子 8"), heading  # a res-8 cell of the zoomed-in province
    screenshot(page, "coverage-cell")
    assert problems(page) == []


def test_switching_language_relabels_the_sidebar_choices(open_page) -> None:
    page = open_page("/coverage", DESKTOP)  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    assert choices(page)[:2] == ["1.0 公里", "不限时间"]
    page.locator("[data-testid='stSidebar']").get_by_text("English", exact=True).click()
    idle(page)
    page.get_by_text("Coverage planning").first.wait_for(timeout=60_000)
    shown = choices(page)
    assert shown[:2] == ["1.0 km", "Any time"], shown
    assert "All China" in shown, shown
    assert not any(re.search(r"[\u4e00-\u9fff]", v) for v in shown), shown  # no Chinese left
    assert problems(page) == []


def test_english_sub_page_url_opens_in_english(open_page) -> None:
    page = open_page("/coverage", DESKTOP, lang="en")  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    assert "Coverage planning" in page.locator("h1").first.inner_text()
    assert choices(page)[:2] == ["1.0 km", "Any time"]


def test_phone_has_no_sideways_scroll(open_page) -> None:
    # English in the browser: test_english_sub_page_url_opens_in_english (?lang=en on /coverage).
    page = open_page("/coverage", PHONE)  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    assert "覆盖规划" in page.locator("h1").first.inner_text()
    got = layers(page, "r.polygons > 20")
    assert got["polygons"] > 20, got
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "coverage-phone")
    assert problems(page) == []
