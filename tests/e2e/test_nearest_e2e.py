"""找驿站 in a real browser at phone size: tap the map or use the phone's location → cards and links."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, map_frame, screenshot, wait_for_app_idle

pytestmark = pytest.mark.e2e

# Opened at /nearest, Streamlit's frontend first probes /nearest/_stcore/{health,host-config}
# (404 under st.App) and then uses /_stcore/...; those two probes are not failures of this page.
PROBES = ("/nearest/_stcore/health", "/nearest/_stcore/host-config")

NO_SIDEWAYS_SCROLL = """() => [document.documentElement.scrollWidth, window.innerWidth,
    document.querySelector('[data-testid=stMain]').scrollWidth]"""


@pytest.fixture(autouse=True, scope="module")
def navigation_registered(browser: object, app_url: str) -> None:
    """Open "/" once so app.py registers st.navigation before deep links are used.

    On a freshly started server Streamlit maps /nearest to pages/nearest.py by its v1
    ``pages/`` folder discovery *without running app.py* (language from ?lang, sign-in gate)
    until some session has run app.py; see the report to the lead.
    """
    ctx = browser.new_context(viewport=PHONE)  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(app_url + "/")
    page.wait_for_selector("h1", timeout=60_000)
    wait_for_app_idle(page)
    ctx.close()


def problems(page: object) -> list[str]:
    return [p for p in page.problems if not p.endswith(PROBES)]  # type: ignore[attr-defined]


def check_results(page: object) -> None:
    page.wait_for_selector("[class*='st-key-nearest_card_4'] a", timeout=60_000)  # type: ignore[attr-defined]
    wait_for_app_idle(page)
    cards = page.locator("[class*='st-key-nearest_card_']")  # type: ignore[attr-defined]
    assert cards.count() == 5
    hrefs = [a.get_attribute("href") for a in cards.first.locator("a").all()]
    assert any(h.startswith("https://uri.amap.com/navigation?") for h in hrefs), hrefs
    assert any(h.startswith("https://api.map.baidu.com/marker?") and "bd09ll" in h for h in hrefs), hrefs
    assert any(h.startswith("https://www.openstreetmap.org/?mlat=") for h in hrefs), hrefs
    doc_w, view_w, main_w = page.evaluate(NO_SIDEWAYS_SCROLL)  # type: ignore[attr-defined]
    assert doc_w <= view_w
    assert main_w <= view_w
    # buttons big enough to tap (≥ 40 px high)
    box = cards.first.locator("a").first.bounding_box()
    assert box["height"] >= 40


def test_phone_tap_on_map_gives_cards_and_navigation_links(open_page: object) -> None:
    page = open_page("/nearest", PHONE)  # type: ignore[operator]
    map_frame(page)
    iframe = page.locator("iframe[title*='st_folium']").first  # type: ignore[attr-defined]
    iframe.scroll_into_view_if_needed()  # below the fold on a phone
    page.wait_for_timeout(500)  # type: ignore[attr-defined]
    box = iframe.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)  # type: ignore[attr-defined]
    page.wait_for_selector("[class*='st-key-nearest_card_0']", timeout=60_000)  # type: ignore[attr-defined]
    wait_for_app_idle(page)
    check_results(page)
    assert "地图上点选" in page.inner_text("[data-testid=stMain]")  # type: ignore[attr-defined]
    map_frame(page)  # the map re-rendered around the tapped point
    screenshot(page, "nearest_phone_zh_tap")
    assert problems(page) == []
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_phone_location_button_in_english(browser: object, app_url: str) -> None:
    ctx = browser.new_context(  # type: ignore[attr-defined]
        viewport=PHONE, locale="en-US", permissions=["geolocation"],
        geolocation={"latitude": 31.2304, "longitude": 121.4737, "accuracy": 20},
    )  # fmt: skip
    try:
        page = ctx.new_page()
        page.goto(f"{app_url}/nearest?lang=en")
        page.wait_for_selector("h1:has-text('Find a station')", timeout=60_000)
        wait_for_app_idle(page)
        assert "Find a station" in page.inner_text("[data-testid=stMain]")
        page.frame_locator("iframe[title*='geolocation']").locator("button").click()
        page.wait_for_selector("[class*='st-key-nearest_card_0']", timeout=60_000)
        wait_for_app_idle(page)
        text = page.inner_text("[data-testid=stMain]")
        assert "Find a station" in text
        assert "phone location (± 20 m)" in text
        assert "(estimate)" in text
        check_results(page)
        screenshot(page, "nearest_phone_en_location")
    finally:
        ctx.close()


def test_desktop_search_by_pinyin(open_page: object) -> None:
    page = open_page("/nearest", DESKTOP)  # type: ignore[operator]
    page.locator("input[aria-label*='zhengzhou']").fill("zhengzhou")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.wait_for_selector("[class*='st-key-nearest_place_0']", timeout=60_000)  # type: ignore[attr-defined]
    page.locator("[class*='st-key-nearest_place_0'] button").click()  # type: ignore[attr-defined]
    page.wait_for_selector("[class*='st-key-nearest_card_0']", timeout=60_000)  # type: ignore[attr-defined]
    wait_for_app_idle(page)
    assert "我的位置:郑州市" in page.inner_text("[data-testid=stMain]")  # type: ignore[attr-defined]
    map_frame(page)
    screenshot(page, "nearest_desktop_zh_search")
    assert problems(page) == []
