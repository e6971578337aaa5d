"""geo.maps maps really render in headless Chromium with every external request blocked.

* through Streamlit: ``streamlit run tests/e2e/map_app.py`` with static serving, the map in
  the st_folium iframe loads Leaflet & co. from /app/static;
* standalone: the file written by ``geo.maps.map_html`` opened from disk.

Both fail on any request to another host, any failed request, any HTTP status >= 400
(Playwright's ``requestfailed`` misses 404s) and any JavaScript dialog (escaping).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import maps
from tests.e2e.conftest import free_port, map_frame, screenshot

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
APP = Path(__file__).with_name("map_app.py")

# Count of canvas pixels that are not transparent: the vector layers really were drawn.
PAINTED_PIXELS_JS = """() => {
    let n = 0;
    for (const c of document.querySelectorAll('.leaflet-overlay-pane canvas')) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    }
    return n;
}"""


@pytest.fixture(scope="module")
def map_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve map_app.py with ``streamlit run`` from the repo root, using .streamlit/config.toml.

    Streamlit serves the ``static/`` folder *beside the main script* (not the working
    directory's), so the script runs from a temporary folder holding a link to ./static,
    as app.py has it beside itself.
    """
    port = free_port()
    work = tmp_path_factory.mktemp("map-app")
    log = work / "streamlit.log"
    script = work / APP.name
    script.write_bytes(APP.read_bytes())
    (work / "static").symlink_to(ROOT / "static", target_is_directory=True)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not start:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def offline_page(browser: object, allow_file: bool = False) -> tuple[object, object, list[str], list[str]]:
    """A new page that may reach only loopback (and files); returns (context, page, problems, dialogs)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")  # type: ignore[attr-defined]
    page = ctx.new_page()
    problems: list[str] = []
    dialogs: list[str] = []

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        local = urlparse(url).hostname in ("127.0.0.1", "localhost")
        if local or url.startswith(("data:", "blob:", "about:")) or (allow_file and url.startswith("file:")):
            r.continue_()  # type: ignore[attr-defined]
        else:
            problems.append(f"external request blocked: {url}")
            r.abort()  # type: ignore[attr-defined]

    def on_dialog(d: object) -> None:
        dialogs.append(d.message)  # type: ignore[attr-defined]
        d.dismiss()  # type: ignore[attr-defined]

    ctx.route("**/*", route)
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url} {req.failure}"))
    page.on(
        "response", lambda resp: resp.status >= 400 and problems.append(f"HTTP {resp.status}: {resp.url}")
    )
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
    return ctx, page, problems, dialogs


def test_map_renders_in_st_folium_from_local_assets_only(browser: object, map_app_url: str) -> None:
    ctx, page, problems, dialogs = offline_page(browser)
    try:
        leaflet_url = f"{map_app_url}/app/static/vendor/leaflet/1.9.3/leaflet.js"
        with urllib.request.urlopen(leaflet_url, timeout=10) as static:
            assert static.status == 200, "static serving is off: set [server] enableStaticServing = true"
        page.goto(map_app_url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
        frame = map_frame(page)
        frame.wait_for_selector(".atlas-cluster", timeout=30_000)  # type: ignore[attr-defined]
        frame.wait_for_selector(".atlas-legend", timeout=10_000)  # type: ignore[attr-defined]
        page.wait_for_timeout(1_500)  # type: ignore[attr-defined]

        box = frame.locator(".leaflet-container").bounding_box()  # type: ignore[attr-defined]
        assert box is not None
        assert box["height"] > 300, "the st_folium iframe collapsed"
        assert frame.evaluate(PAINTED_PIXELS_JS) > 10_000, "no polygons were drawn"  # type: ignore[attr-defined]
        assert "驿站数" in frame.locator(".atlas-legend").inner_text()  # type: ignore[attr-defined]
        assert "天地图" in frame.locator(".leaflet-control-attribution").inner_text()  # type: ignore[attr-defined]
        scripts = frame.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")  # type: ignore[attr-defined]
        assert any(s.endswith("/app/static/vendor/leaflet/1.9.3/leaflet.js") for s in scripts), scripts
        image_path = frame.evaluate("() => L.Icon.Default.imagePath")  # type: ignore[attr-defined]
        assert image_path == f"{map_app_url}/app/static/vendor/leaflet/1.9.3/images/"

        frame.locator(".atlas-cluster").first.click()  # type: ignore[attr-defined]
        page.wait_for_timeout(1_500)  # type: ignore[attr-defined]
        screenshot(page, "maps_offline_st_folium")
        assert problems == []
        assert dialogs == [], "escaped text ran as HTML"
    finally:
        ctx.close()  # type: ignore[attr-defined]


# Opens every circle marker's tooltip and popup (their HTML enters the DOM) and returns
# their visible text.
OPEN_MARKERS_JS = """() => {
    const texts = [];
    for (const key of Object.keys(window)) {
        if (!key.startsWith('circle_marker_')) continue;
        const marker = window[key];
        marker.openTooltip();
        texts.push(marker.getTooltip().getElement().textContent.trim());
        marker.openPopup();
        texts.push(marker.getPopup().getElement().querySelector('.leaflet-popup-content').textContent.trim());
    }
    return texts;
}"""

XSS = ["<img src=x onerror=alert(1)>", "`${alert(2)}`", "</script><script>alert(3)</script>"]


def test_standalone_export_renders_from_disk_without_network(browser: object, tmp_path: Path) -> None:
    regions = gpd.GeoDataFrame(
        {"name": [XSS[0], "天津市"], "stations": [10.0, 40.0]},
        geometry=[shapely.box(115.5, 39.4, 117.5, 41.0), shapely.box(116.7, 38.6, 118.0, 40.2)],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(5)
    points = pd.DataFrame({"lat": rng.uniform(38.8, 40.8, 1_500), "lng": rng.uniform(115.8, 117.9, 1_500)})
    m = maps.base_map(39.8, 116.8, 7)
    maps.add_choropleth(m, regions, "stations", legend_title="驿站数")
    maps.add_points(m, points)
    hostile = pd.DataFrame({"lat": [39.0, 39.2, 39.4], "lng": [117.2, 117.4, 117.6], "name": XSS})
    maps.add_points(m, hostile, tooltip_col="name", popup_cols={"name": "名称"}, cluster=False)
    path = tmp_path / "map.html"
    path.write_text(maps.map_html(m), encoding="utf-8")

    ctx, page, problems, dialogs = offline_page(browser, allow_file=True)
    try:
        page.goto(path.as_uri(), wait_until="load")  # type: ignore[attr-defined]
        page.wait_for_selector(".leaflet-container .atlas-cluster", timeout=20_000)  # type: ignore[attr-defined]
        page.wait_for_timeout(1_000)  # type: ignore[attr-defined]
        assert page.evaluate(PAINTED_PIXELS_JS) > 10_000  # type: ignore[attr-defined]
        assert "驿站数" in page.locator(".atlas-legend").inner_text()  # type: ignore[attr-defined]
        texts = page.evaluate(OPEN_MARKERS_JS)  # type: ignore[attr-defined]
        assert sorted(texts) == sorted([*XSS, *(f"名称: {x}" for x in XSS)]), (
            "text shown is not the text given"
        )
        page.wait_for_timeout(500)  # type: ignore[attr-defined]
        assert page.locator('img[src="x"]').count() == 0  # type: ignore[attr-defined]
        screenshot(page, "maps_offline_standalone")
        assert problems == []
        assert dialogs == []
    finally:
        ctx.close()  # type: ignore[attr-defined]


# The inset's SVG paths (provinces and the South China Sea line) and the boundary-line layer.
INSET_JS = """() => {
    const inset = document.querySelector('.leaflet-bottom.leaflet-right .atlas-scs-inset svg');
    if (!inset) return null;
    const r = inset.getBoundingClientRect();
    const map = document.querySelector('.leaflet-container').getBoundingClientRect();
    return {paths: inset.querySelectorAll('path').length, text: inset.textContent,
            width: r.width, height: r.height,
            right_gap: map.right - r.right, bottom_gap: map.bottom - r.bottom,
            map_height: map.height};
}"""


@pytest.mark.parametrize(("lang", "caption"), [("zh", "南海诸岛"), ("en", "South China Sea Islands")])
def test_national_overview_shows_the_south_china_sea_inset_offline(
    open_page: object, lang: str, caption: str
) -> None:
    page = open_page("/", lang=lang)  # type: ignore[operator]
    frame = map_frame(page)
    frame.wait_for_selector(".atlas-scs-inset svg path", timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(1_000)  # type: ignore[attr-defined]
    inset = frame.evaluate(INSET_JS)  # type: ignore[attr-defined]
    assert inset is not None, "no South China Sea inset in the lower right"
    assert inset["text"] == caption
    assert inset["paths"] > 10  # provinces in the box plus the ten dashes of the line
    assert 80 < inset["width"] < 200
    assert inset["height"] > inset["width"]
    # lower right: within the attribution's height of the map's bottom-right corner
    assert 0 <= inset["right_gap"] < 30, inset
    assert 0 <= inset["bottom_gap"] < 40, inset
    lines = frame.evaluate(  # type: ignore[attr-defined]
        """() => Object.keys(window).filter(k => k.startsWith('geo_json_'))
                  .map(k => window[k]).filter(l => l && l.getLayers)
                  .flatMap(l => l.getLayers()).map(f => f.feature && f.feature.properties.line_type)
                  .filter(Boolean)"""
    )
    assert "south_china_sea" in lines, lines
    assert len(lines) >= 8, lines
    screenshot(page, f"overview-national-inset-{lang}")
    assert page.problems == []  # type: ignore[attr-defined]


def test_overview_map_downloads_as_an_a4_png_and_pdf(open_page: object, tmp_path: Path) -> None:
    from PIL import Image

    page = open_page("/")  # type: ignore[operator]
    map_frame(page)
    for label, magic in (("下载地图 PNG", b"\x89PNG"), ("下载地图 PDF (A4)", b"%PDF")):
        button = page.get_by_role("button", name=label)  # type: ignore[attr-defined]
        with page.expect_download(timeout=120_000) as info:  # type: ignore[attr-defined]
            button.click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        data = path.read_bytes()
        assert data.startswith(magic), label
    png = next(tmp_path.glob("*.png"))
    assert png.name == "overview_china.png"
    assert Image.open(png).size == (int(297 / 25.4 * 200), int(210 / 25.4 * 200))
    assert page.problems == []  # type: ignore[attr-defined]
