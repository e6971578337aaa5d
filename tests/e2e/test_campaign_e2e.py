"""The campaign dashboard in headless Chromium: KPI cards, a drawn map, no failed request.

Uses the shared fixtures of ``tests/e2e/conftest.py`` (the app served like ``make run``
on a free port against the test-scale demo data, Debian's Chromium, network recording).
The page is reached through the sidebar link to ``/campaign``, as a user does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.e2e.conftest import map_frame, screenshot, wait_for_app_idle

pytestmark = pytest.mark.e2e

# Count the polygon features (hexes / regions) on the Leaflet map of the iframe, whatever
# its variable is called (streamlit-folium renames folium's ``map_<hash>`` to ``map_div``).
_COUNT_FEATURES = """() => {
    const isMap = k => { try { return window[k] instanceof L.Map; } catch (e) { return false; } };
    const name = Object.keys(window).find(isMap);
    if (!name) { return -1; }
    let n = 0;
    window[name].eachLayer(l => {
        const g = l.feature && l.feature.geometry;
        if (g && g.type.endsWith("Polygon")) { n++; }
    });
    return n;
}"""


def _open_campaign(open_page: Callable[..., object], viewport: dict[str, int]) -> object:
    # Through the sidebar link, as a user does (a wide window shows the sidebar), then the
    # window takes the size under test: the layout reflows as on a phone.
    page = open_page("/", viewport={"width": 1400, "height": 900})
    link = page.locator("[data-testid='stSidebarNav'] a[href$='/campaign']")  # type: ignore[attr-defined]
    link.click(timeout=90_000)
    # Streamlit routes in the page (history.pushState): wait for the path, not for a page load.
    page.wait_for_function("() => location.pathname.endsWith('/campaign')", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_selector("[data-testid='stMetricValue']", timeout=90_000)  # type: ignore[attr-defined]
    page.set_viewport_size(viewport)  # type: ignore[attr-defined]
    wait_for_app_idle(page)
    return page


def _check_page(page: object) -> None:
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()  # type: ignore[attr-defined]
    assert len(values) >= 6
    assert all(re.search(r"\d", v) for v in values[:2]), values
    frame = map_frame(page)
    assert frame.locator(".leaflet-container").count() == 1  # type: ignore[attr-defined]
    frame.wait_for_function(f"() => ({_COUNT_FEATURES})() > 0", timeout=30_000)  # type: ignore[attr-defined]
    assert frame.evaluate(_COUNT_FEATURES) > 0  # type: ignore[attr-defined]
    # drawn: Leaflet renders the cells into the overlay pane (canvas renderer)
    assert frame.locator(".leaflet-overlay-pane canvas, .leaflet-overlay-pane path").count() > 0  # type: ignore[attr-defined]
    assert page.problems == []  # type: ignore[attr-defined]


def test_campaign_dashboard_renders_kpis_and_map_on_desktop_and_phone(
    open_page: Callable[..., object],
) -> None:
    page = _open_campaign(open_page, {"width": 1400, "height": 2400})
    _check_page(page)
    assert "万" in " ".join(page.locator("[data-testid='stMetricValue']").all_inner_texts())  # type: ignore[attr-defined]
    screenshot(page, "campaign")
    # The same session at phone width, switched to the regions view (English is covered by the AppTest).
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.get_by_text("行政区", exact=True).click()  # type: ignore[attr-defined]
    wait_for_app_idle(page)
    _check_page(page)
    screenshot(page, "campaign_phone")
