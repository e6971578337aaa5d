"""Overview in a real browser, offline: the map renders with province polygons; nothing fails."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, map_frame, screenshot

pytestmark = pytest.mark.e2e


def painted_canvas_pixels(frame: object) -> int:
    """Count non-transparent pixels on the map's canvas layers (prefer_canvas draws polygons there)."""
    return frame.evaluate(  # type: ignore[attr-defined]
        """() => {
            let n = 0;
            for (const c of document.querySelectorAll('.leaflet-container canvas')) {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
            }
            return n;
        }"""
    )


@pytest.mark.parametrize(
    ("viewport", "lang", "name"), [(DESKTOP, None, "overview"), (PHONE, "en", "overview-phone-en")]
)
def test_overview_map_renders_offline(open_page, viewport: dict, lang: str | None, name: str) -> None:
    page = open_page("/", viewport=viewport, lang=lang)
    frame = map_frame(page)
    frame.wait_for_function("() => document.querySelectorAll('.leaflet-container canvas').length > 0")
    page.wait_for_timeout(800)
    assert painted_canvas_pixels(frame) > 1000, "province polygons were not drawn"
    assert frame.locator(".leaflet-control-attribution").inner_text().find("天地图") >= 0
    text = page.locator("[data-testid='stMetric']").first.inner_text()
    assert any(ch.isdigit() for ch in text)
    if viewport is PHONE:
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, name)
    assert page.problems == []
    assert page.dialogs == []
