"""Security: opening a protected page's URL first on a fresh server still goes through the gate.

Streamlit auto-runs scripts in a ``pages/`` folder by URL, without ``app.py``; the pages
therefore live in ``views/`` and every URL is routed by ``st.navigation`` in ``app.py``.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from geo.auth import hash_password

from .conftest import free_port, start_server

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("path", ["/data", "/coverage", "/campaign"])
def test_first_request_to_a_protected_page_asks_for_sign_in(
    path: str, browser, e2e_data_dir, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = {"ada": {"password_hash": hash_password("s3cret-pass"), "roles": ["admin"]}}
    monkeypatch.setitem(os.environ, "GEO_USERS", json.dumps(users))
    port = free_port()
    proc = start_server(e2e_data_dir, port, tmp_path / "server.log")  # a fresh server: nobody opened "/"
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}{path}", wait_until="domcontentloaded")
        page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
        page.wait_for_function(
            "() => /登录|Sign in/.test(document.body.innerText)",
            timeout=60_000,
        )
        page.wait_for_timeout(1500)
        text = page.inner_text("body")
        assert "此页面需要登录" in text
        # no raw file list in the sidebar (the multipage-v1 fallback), and no page content
        assert "common" not in page.inner_text("[data-testid='stSidebar']")
        assert page.locator("[data-testid='stFileUploader']").count() == 0
        page.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
            assert r.status == 200  # the public API stays open
    finally:
        proc.terminate()
        proc.wait(timeout=10)
