"""Take the README's screenshots of the campaign dashboard and the import report.

Starts the app like ``make run`` on a data directory (the national demo, default
``/tmp/d1``; ``python -m geo generate --data-dir /tmp/d1`` makes it), opens the pages in
headless Debian Chromium and writes ``docs/screenshots/*.png``. Look at them before
committing.

Run: ``.venv/bin/python docs/screenshots.py [DATA_DIR]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import (  # noqa: E402 - after the path is set
    CHROMIUM_ARGS,
    DESKTOP,
    chromium_path,
    free_port,
    map_frame,
    start_server,
    wait_for_app_idle,
)

OUT = ROOT / "docs" / "screenshots"


def main(data_dir: Path) -> list[Path]:
    """Write the screenshots; return their paths."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(data_dir, port, Path(tmp) / "server.log")
        written = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=DESKTOP, locale="zh-CN")
                page.goto(f"http://127.0.0.1:{port}/campaign", wait_until="domcontentloaded")
                page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
                wait_for_app_idle(page, 300_000)
                map_frame(page, 0, 120_000)
                wait_for_app_idle(page, 300_000)
                page.wait_for_timeout(1500)
                written.append(OUT / "campaign.png")
                page.set_viewport_size({"width": DESKTOP["width"], "height": 1700})  # KPIs and the map
                page.wait_for_timeout(1500)
                page.screenshot(path=str(written[-1]), full_page=False)
                page.set_viewport_size(DESKTOP)

                page.goto(f"http://127.0.0.1:{port}/data", wait_until="domcontentloaded")
                page.wait_for_selector(
                    "[data-testid='stFileUploaderDropzoneInput']", state="attached", timeout=120_000
                )
                wait_for_app_idle(page)
                page.set_input_files(
                    "[data-testid='stFileUploaderDropzoneInput']",
                    str(ROOT / "tests" / "fixtures" / "stations_gbk.csv"),
                )
                page.wait_for_selector("[data-testid='stDataFrame']", timeout=120_000)
                wait_for_app_idle(page)
                page.wait_for_timeout(1000)
                written.append(OUT / "import_report.png")
                page.set_viewport_size({"width": DESKTOP["width"], "height": 1500})
                page.screenshot(path=str(written[-1]), full_page=False)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/d1")):
        print(path)
