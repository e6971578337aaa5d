"""Real-browser fixtures: the app served as ``make run`` serves it, and headless Chromium.

* ``app_url`` starts ``uvicorn asgi:app`` (Streamlit app + JSON API in one process) on a
  free port against a test-scale demo dataset, and stops it after the session.
* ``browser`` launches Debian's Chromium (``/usr/bin/chromium`` or ``$GEO_CHROMIUM``).
  There is no skip: a missing browser fails with a message saying how to install it.
* ``open_page`` opens a page with no network beyond loopback: any request to another host
  is aborted and recorded, as are failed requests and HTTP responses >= 400
  (Playwright's ``requestfailed`` does not report 404s). Tests assert ``page.problems == []``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Return the Chromium executable, or fail the session with install instructions."""
    path = os.environ.get("GEO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "no headless Chromium found: install Debian's package (`sudo apt-get install chromium "
            "fonts-wqy-microhei`, `make browser` does it as root) or set GEO_CHROMIUM; "
            "browser tests are never skipped",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``uvicorn asgi:app`` like ``make run`` and wait until it answers."""
    env = {
        **os.environ,
        "GEO_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        # the code under test must not be reloaded mid-test when files change
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
        # as a deployment on a LAN names its host: the phone-app test opens it as courier.lan
        # (an insecure context); any other name still gets the Host check's 400
        "GEO_ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],courier.lan",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "asgi:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app server exited early:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"app server did not start:\n{log.read_text(errors='replace')[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def e2e_data_dir(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the test-scale demo dataset for the browser session."""
    d = tmp_path_factory.mktemp("e2e") / "data"
    shutil.copytree(demo_data_dir, d)
    return d


@pytest.fixture(scope="session")
def app_url(e2e_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the running app (and API) for this test session."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = start_server(e2e_data_dir, port, log)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: object, app_url: str) -> Iterator[Callable[..., object]]:
    """Open ``path`` of the app at a viewport; the page records network problems in ``.problems``."""
    contexts = []

    def _open(path: str = "/", viewport: dict[str, int] | None = None, lang: str | None = None) -> object:
        ctx = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")  # type: ignore[attr-defined]
        contexts.append(ctx)
        page = ctx.new_page()
        problems: list[str] = []
        dialogs: list[str] = []

        def route(r: object) -> None:
            host = urlparse(r.request.url).hostname  # type: ignore[attr-defined]
            if host in ("127.0.0.1", "localhost", None) or r.request.url.startswith(
                ("data:", "blob:", "about:")
            ):  # type: ignore[attr-defined]
                r.continue_()  # type: ignore[attr-defined]
            else:
                problems.append(f"external request blocked: {r.request.url}")  # type: ignore[attr-defined]
                r.abort()  # type: ignore[attr-defined]

        ctx.route("**/*", route)
        page.on("requestfailed", lambda req: problems.append(f"failed: {req.url} {req.failure}"))
        page.on(
            "response", lambda resp: resp.status >= 400 and problems.append(f"HTTP {resp.status}: {resp.url}")
        )

        def on_dialog(d: object) -> None:
            dialogs.append(d.message)  # type: ignore[attr-defined]
            d.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", on_dialog)
        page.problems = problems  # type: ignore[attr-defined]
        page.dialogs = dialogs  # type: ignore[attr-defined]
        sep = "&" if "?" in path else "?"
        url = app_url + path + (f"{sep}lang={lang}" if lang else "")
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
        wait_for_app_idle(page)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def wait_for_app_idle(page: object, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no running indicator)."""
    page.wait_for_function(  # type: ignore[attr-defined]
        """() => {
            const s = document.querySelector("[data-testid='stStatusWidget']");
            return !s || !/Running|运行|Stop|停止/.test(s.innerText);
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(500)  # type: ignore[attr-defined]


def map_frame(page: object, index: int = 0, timeout_ms: int = 60_000) -> object:
    """Return the st_folium iframe's frame once its Leaflet container has rendered."""
    page.wait_for_selector("iframe[title*='st_folium'], iframe[src*='streamlit_folium']", timeout=timeout_ms)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        frames = [f for f in page.frames if "streamlit_folium" in f.url]  # type: ignore[attr-defined]
        if len(frames) > index:
            frame = frames[index]
            try:
                frame.wait_for_selector(".leaflet-container", timeout=2_000)
                return frame
            except Exception:
                pass
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
    raise AssertionError("the map did not render: no .leaflet-container in the st_folium iframe")


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under tests/e2e/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Streamlit scrolls an inner container, so grow the viewport to the content height first.
    size = page.viewport_size  # type: ignore[attr-defined]
    height = page.evaluate(  # type: ignore[attr-defined]
        """() => { const m = document.querySelector("[data-testid='stMain']");
                   return m ? m.scrollHeight : document.body.scrollHeight; }"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 6000)})  # type: ignore[attr-defined]
    page.wait_for_timeout(400)  # type: ignore[attr-defined]
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size(size)  # type: ignore[attr-defined]
    return path
