"""Coverage planning in a real browser, offline: gap hexes are drawn, siting adds markers, nothing fails."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, map_frame, screenshot, wait_for_app_idle

pytestmark = pytest.mark.e2e

# Opened at /coverage, Streamlit's frontend first probes /coverage/_stcore/{health,host-config}
# (404 under st.App) and then uses /_stcore/...; those two probes are not failures of this page.
PROBES = ("/coverage/_stcore/health", "/coverage/_stcore/host-config")

# Count Leaflet layers in the map iframe: works whether folium draws on SVG or on canvas.
COUNT_LAYERS = """
    const maps = Object.values(window).filter(v => typeof L !== "undefined" && v instanceof L.Map);
    const r = {maps: maps.length, polygons: 0, circles: 0};
    maps.forEach(m => m.eachLayer(l => {
        if (l instanceof L.CircleMarker) r.circles++;
        else if (l instanceof L.Polygon) r.polygons++;
    }));
"""


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
    gaps = layers(page, "r.polygons > 40")
    assert gaps["polygons"] > 40, gaps  # outlines + hex cells
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


def test_phone_has_no_sideways_scroll(open_page) -> None:
    # English is covered in tests/app (AppTest): in the browser, ?lang=en is not honoured on a
    # sub-page URL and following a navigation link currently fails in app.py (reported).
    page = open_page("/coverage", PHONE)  # type: ignore[operator]
    page.wait_for_selector("[data-testid='stMetric']", state="attached", timeout=120_000)
    idle(page)
    assert "覆盖规划" in page.locator("h1").first.inner_text()
    got = layers(page, "r.polygons > 20")
    assert got["polygons"] > 20, got
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "coverage-phone")
    assert problems(page) == []
