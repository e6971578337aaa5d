"""Malicious station names from an import never run in the browser, on any page with a map.

Stations named like ``<img src=x onerror=alert(1)>`` and ``</script><script>…`` are imported
(as a county office's CSV would bring them) next to Tiananmen; then every page that draws
them is opened in headless Chromium. No dialog may open, and no frame (the page or a map
iframe) may contain an injected element or have run an injected script.

The app runs on its own server and data directory (the conftest helpers), so the imported
names do not leak into other browser tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo import ingest, store
from tests.e2e.conftest import DESKTOP, free_port, map_frame, screenshot, start_server, wait_for_app_idle

pytestmark = pytest.mark.e2e

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2);window.__xss=2</script>",
    '"><svg onload=alert(3)><img src=x onerror=window.__xss=3>',
    "'-alert(4)-'",
    '<iframe srcdoc="<script>parent.alert(5)</script>"></iframe>',
    "<a href=javascript:alert(6)>点我</a>",
]
# pages that draw a map (and the data page, which shows names and file names in tables)
PAGES = ["/", "/nearest", "/coverage", "/campaign", "/data"]
HERE_LAT, HERE_LNG = 39.9087, 116.3975

INJECTED = """() => {
    const bad = [];
    if (window.__xss) bad.push('window.__xss=' + window.__xss);
    const sel = "img[src='x'], svg[onload], iframe[srcdoc], a[href^='javascript:']";
    for (const el of document.querySelectorAll(sel)) bad.push(el.outerHTML.slice(0, 120));
    // an injected <script> element holds exactly the payload's code
    for (const el of document.querySelectorAll('script'))
        if (/^\\s*(alert\\(|parent\\.alert)/.test(el.textContent)) bad.push('script: ' + el.textContent);
    for (const el of document.querySelectorAll('*'))
        for (const a of el.getAttributeNames())
            if (a.startsWith('on') && /alert|__xss/.test(el.getAttribute(a))) bad.push(el.tagName + ' ' + a);
    return bad;
}"""


@pytest.fixture(scope="module")
def xss_app(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("xss") / "data"
    shutil.copytree(demo_data_dir, data)
    lines = ["编号,名称,地址,运营单位,经度,纬度,开放时间,服务项目"]
    for i, p in enumerate(PAYLOADS):
        q = p.replace('"', '""')
        lng, lat = HERE_LNG + 0.0004 * i, HERE_LAT + 0.0003 * i
        lines.append(f'XSS{i},"{q}","{q}","{q}",{lng},{lat},24小时,"热水、{q}"')
    report = ingest.import_bytes(
        data,
        "\n".join(lines).encode("utf-8"),
        '<img src=x onerror=alert("file")>.csv',
        "stations",
        user="<script>alert('user')</script>",
        mode="append",
    )
    assert report.accepted == len(PAYLOADS), report.rejections
    assert store.read_manifest(data)["source"]["file"].count("<") == 0
    port = free_port()
    # imported data and no users: only the local opt-in opens the planning and data pages
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEO_DEMO_ADMIN", "local")
        proc = start_server(data, port, tmp_path_factory.mktemp("xss-server") / "server.log")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _check_frames(page: object) -> list[str]:
    found = []
    for frame in page.frames:  # type: ignore[attr-defined]
        try:
            found += [f"{frame.url[:60]}: {b}" for b in frame.evaluate(INJECTED)]
        except Exception as exc:  # a frame navigating away mid-check
            if "detached" not in str(exc) and "destroyed" not in str(exc):
                raise
    return found


@pytest.mark.parametrize("path", PAGES)
def test_imported_markup_never_runs(browser: object, xss_app: str, path: str) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")  # type: ignore[attr-defined]
    try:
        page = ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        # open "/" first in every context: the entry point (with its sign-in gate) runs then
        page.goto(xss_app + "/", wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
        wait_for_app_idle(page)
        if path != "/":
            page.goto(xss_app + path, wait_until="domcontentloaded")
            page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
            wait_for_app_idle(page)
        if path == "/nearest":  # ask for stations near Tiananmen, where the payloads are
            page.get_by_role("tab", name="⌨️ 输坐标").click()
            page.get_by_placeholder("39.9087, 116.3975").fill(f"{HERE_LAT}, {HERE_LNG}")
            page.get_by_role("button", name="用这个坐标").click()
            wait_for_app_idle(page)
            page.wait_for_timeout(2000)
        if path == "/data":
            page.get_by_text("单个驿站").click()
            box = page.get_by_label("查找驿站(编号或名称)")
            box.fill("XSS")
            box.press("Enter")
            wait_for_app_idle(page)
            page.get_by_label("选择驿站(或新建)").click()  # open the station list: names as options
            page.wait_for_timeout(1000)
        if path != "/data":
            try:
                map_frame(page, timeout_ms=30_000)
            except AssertionError:
                pytest.fail(f"{path}: no map rendered")
        page.wait_for_timeout(1500)  # give any injected handler time to fire
        main_text = page.inner_text("body")
        assert "Traceback" not in main_text
        if path in ("/nearest", "/data"):  # the names did reach the page, shown as plain text
            assert any(p in main_text for p in PAYLOADS), main_text[:2000]
        if path == "/nearest":
            screenshot(page, "xss_nearest_desktop_zh")
        assert dialogs == [], f"{path}: a dialog opened: {dialogs}"
        assert _check_frames(page) == [], f"{path}: injected markup found"
    finally:
        ctx.close()
