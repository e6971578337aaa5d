"""Serving the couriers' phone web app (``static/m/``) at ``/m/``, beside the API and the app.

* ``/m/`` is ``static/m/index.html``; ``/m/<file>`` the app's scripts, styles, manifest
  (``application/manifest+json``), icons and service worker (``/m/sw.js``, scope ``/m/``);
* ``/m/vendor/...`` is ``static/vendor/...`` (Leaflet): paths with a version in them, so
  they are cached for a year as immutable;
* everything else under ``/m/`` is revalidated on each use (``no-cache`` with an ETag): a
  new version reaches phones at once, and the service worker keeps the offline copy;
* every answer carries a strict Content-Security-Policy (:data:`CSP`: scripts, styles,
  connections and workers from this origin only, no inline script, no framing),
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
* text is gzip-compressed for clients that accept it (a phone on a slow network).

Nothing here reads the data: the app asks the API (``/api/v1/...``) for that.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX: Final = "/m"
"""Path of the phone app."""

VENDOR_PREFIX: Final = "/m/vendor/"
"""Path of the vendored libraries (``static/vendor``), versioned and immutable."""

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""Content-Security-Policy of every ``/m/`` answer."""

SECURITY_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)

IMMUTABLE: Final = "public, max-age=31536000, immutable"
"""Cache-Control of versioned vendor files."""
REVALIDATE: Final = "no-cache"
"""Cache-Control of the app's own files: use a stored copy only after asking (ETag)."""

GZIP_MIN_BYTES: Final = 500
"""Smaller answers are sent uncompressed (compression would save too little)."""

# The platform's table may lack these or give older names; browsers need exactly these.
for _ext, _type in (
    (".webmanifest", "application/manifest+json"),
    (".js", "text/javascript"),
    (".mjs", "text/javascript"),
):
    mimetypes.add_type(_type, _ext)


def _with_headers(inner: ASGIApp) -> ASGIApp:
    """Add the security and cache headers to every answer of ``inner``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        cache = IMMUTABLE if path.startswith(VENDOR_PREFIX) else REVALIDATE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += [*SECURITY_HEADERS, (b"cache-control", cache.encode())]
                if path.endswith("/sw.js"):
                    headers.append((b"service-worker-allowed", b"/m/"))
                message = {**message, "headers": headers}
            await send(message)

        await inner(scope, receive, send_with_headers)

    return app


async def _to_slash(request: object) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


def app(static_dir: Path) -> ASGIApp:
    """Return the ASGI app serving ``static_dir/m`` at ``/m/`` and ``static_dir/vendor`` at ``/m/vendor/``.

    Parameters
    ----------
    static_dir : Path
        The repository's ``static`` directory. Missing sub-directories give 404s, not
        an error at start-up (the app may be deployed without the phone app).
    """
    static_dir = Path(static_dir)
    site = Starlette(
        routes=[
            Route(PREFIX, _to_slash, methods=["GET", "HEAD"]),
            Mount(VENDOR_PREFIX.rstrip("/"), StaticFiles(directory=static_dir / "vendor", check_dir=False)),
            Mount(PREFIX, StaticFiles(directory=static_dir / "m", html=True, check_dir=False)),
        ]
    )
    return _with_headers(GZipMiddleware(site, minimum_size=GZIP_MIN_BYTES, compresslevel=6))


def is_phone_path(path: str) -> bool:
    """Return whether a request path belongs to the phone app (``/m`` or below ``/m/``)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def lan_addresses() -> list[str]:
    """Return this machine's non-loopback IPv4 addresses (read from the interfaces; nothing is contacted)."""
    import ipaddress
    import socket

    import psutil

    found = []
    for _name, addrs in sorted(psutil.net_if_addrs().items()):
        for a in addrs:
            if a.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(a.address)
            if not (ip.is_loopback or ip.is_link_local) and a.address not in found:
                found.append(a.address)
    return found


def start_banner(port: int, workers: int = 1) -> str:
    """Return what ``make run`` prints on start: where phones open the app, and what needs HTTPS."""
    lines = [
        f"驿站图 Station Atlas: app http://localhost:{port}/ · API http://localhost:{port}/api/v1/health",
        f"  Phone app (couriers): http://localhost:{port}{PREFIX}/ here; on a phone in the same network:",
    ]
    addresses = lan_addresses()
    lines += [f"    http://{a}:{port}{PREFIX}/" for a in addresses] or ["    (no network address found)"]
    lines += [
        "  Phones allow location and offline use only over HTTPS: put a reverse proxy with a",
        "  certificate in front (docs/deploy.md); over plain http the app works by search and",
        "  typed coordinates.",
    ]
    if workers > 1:
        lines += [
            f"  WORKERS={workers}: the API and /m/ use every worker, but Streamlit pages keep uploads and",
            "  downloads in one process, so file uploads and downloads on the planner pages fail at random",
            "  (docs/deploy.md: run the app with 1 worker and the API with several).",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(
        start_banner(
            int(sys.argv[1]) if len(sys.argv) > 1 else 8501, int(sys.argv[2]) if len(sys.argv) > 2 else 1
        )
    )
