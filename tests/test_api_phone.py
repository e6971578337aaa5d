"""Serving the phone app at /m/: files, MIME types, cache and security headers, compression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from geo import phone
from tests.aio import run_async

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@pytest.fixture(scope="module")
def static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static")
    m = root / "m"
    (m / "icons").mkdir(parents=True)
    (m / "index.html").write_text("<!doctype html><title>m</title>" + "<p>x</p>" * 200, encoding="utf-8")
    (m / "app.js").write_text("export const x = 1;\n" * 100, encoding="utf-8")
    (m / "sw.js").write_text("self.addEventListener('fetch', () => {});\n", encoding="utf-8")
    (m / "manifest.webmanifest").write_text('{"name": "m"}', encoding="utf-8")
    (m / "icons" / "icon-192.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 600)
    lf = root / "vendor" / "leaflet" / "1.9.3"
    lf.mkdir(parents=True)
    (lf / "leaflet.js").write_text("/* leaflet */\n" * 100, encoding="utf-8")
    (root / "secret.txt").write_text("not served", encoding="utf-8")
    return root


def get(static: Path, path: str, **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=phone.app(static))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.get(path, headers=headers)

    return run_async(go())


@pytest.mark.parametrize(
    ("path", "ctype", "cache"),
    [
        ("/m/", "text/html; charset=utf-8", "no-cache"),
        ("/m/index.html", "text/html; charset=utf-8", "no-cache"),
        ("/m/app.js", "text/javascript; charset=utf-8", "no-cache"),
        ("/m/sw.js", "text/javascript; charset=utf-8", "no-cache"),
        ("/m/manifest.webmanifest", "application/manifest+json", "no-cache"),
        ("/m/icons/icon-192.png", "image/png", "no-cache"),
        (
            "/m/vendor/leaflet/1.9.3/leaflet.js",
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
    ],
)
def test_files_types_and_headers(static: Path, path: str, ctype: str, cache: str) -> None:
    r = get(static, path)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    assert r.headers["cache-control"] == cache
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["etag"]


def test_the_csp_constant_is_the_one_asked_for() -> None:
    assert phone.CSP == CSP


def test_service_worker_may_control_the_app_scope(static: Path) -> None:
    assert get(static, "/m/sw.js").headers["service-worker-allowed"] == "/m/"


def test_bare_prefix_redirects_to_the_app(static: Path) -> None:
    r = get(static, "/m")
    assert r.status_code == 308
    assert r.headers["location"] == "/m/"


@pytest.mark.parametrize(
    "path", ["/m/nope.js", "/m/../secret.txt", "/m/%2e%2e/secret.txt", "/m/vendor/../secret.txt"]
)
def test_nothing_outside_the_app_is_served(static: Path, path: str) -> None:
    r = get(static, path)
    assert r.status_code == 404
    assert "not served" not in r.text
    assert r.headers["content-security-policy"] == CSP


def test_text_is_gzipped_when_accepted_and_revalidation_gives_304(static: Path) -> None:
    r = get(static, "/m/app.js", **{"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == "export const x = 1;\n" * 100
    plain = get(static, "/m/app.js", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    again = get(static, "/m/app.js", **{"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["content-security-policy"] == CSP


def test_only_reading_is_allowed(static: Path) -> None:
    async def go() -> Any:
        transport = httpx.ASGITransport(app=phone.app(static))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.post("/m/index.html", content=b"x")

    assert run_async(go()).status_code == 405


def test_phone_paths() -> None:
    assert phone.is_phone_path("/m")
    assert phone.is_phone_path("/m/app.js")
    assert not phone.is_phone_path("/map")
    assert not phone.is_phone_path("/")


def test_start_banner_names_lan_addresses_and_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phone, "lan_addresses", lambda: ["192.168.1.20", "10.0.0.5"])
    text = phone.start_banner(8601)
    assert "http://192.168.1.20:8601/m/" in text
    assert "http://10.0.0.5:8601/m/" in text
    assert "HTTPS" in text
    assert "WORKERS" not in text
    assert "uploads" in phone.start_banner(8601, workers=2)


def test_lan_addresses_are_not_loopback() -> None:
    assert all(not a.startswith("127.") for a in phone.lan_addresses())
