"""One process serves the Streamlit app, the JSON API and the phone app (``make run``).

Run: ``GEO_DATA_DIR=data uvicorn asgi:app --port 8501 --no-proxy-headers`` — the app at
``/``, the API at ``/api/v1/...`` (see ``geo/api/``; :func:`geo.api.with_api` explains why
API requests skip the app's middlewares) and the couriers' phone app at ``/m/``
(``static/m``, see ``geo/phone.py``).

``asgi:courier`` serves only the API and the phone app (404 elsewhere): the part that may
run with several worker processes (``uvicorn asgi:courier --workers 4``) while the
Streamlit app, which keeps uploads and downloads in one process, runs with one
(docs/deploy.md).

``--no-proxy-headers``: uvicorn would otherwise take the client address from
``X-Forwarded-For`` whenever the peer is 127.0.0.1; the API decides itself whom to believe
(``GEO_TRUSTED_PROXIES``, see :func:`geo.api.client_address`).
"""

import logging
from pathlib import Path

import streamlit as st
from starlette.types import Receive, Scope, Send

from geo import api, auth, hosts, phone

STATIC = Path(__file__).resolve().parent / "static"

settings = auth.startup(st.secrets)  # prints the sign-in mode; a half-written [auth] stops the server here
# Host check in front of everything (DNS rebinding): 400 unless Host is allowed (GEO_ALLOWED_HOSTS).
_allowed = hosts.allowed_hosts(settings.allowed_hosts)
app = hosts.HostCheck(api.with_api(st.App("app.py"), phone=phone.app(STATIC)), _allowed)


async def _nothing_else(scope: Scope, receive: Receive, send: Send) -> None:
    """404 for paths outside /api and /m; lifespan events acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]  # startup / shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "http":
        await api.error_response("not here: this server answers /api/v1/... and /m/ only", 404)(
            scope, receive, send
        )


courier = hosts.HostCheck(api.with_api(_nothing_else, phone=phone.app(STATIC)), _allowed)

# Streamlit attaches a handler to uvicorn's access logger, which turns per-request logging
# back on even under `uvicorn --no-access-log`; GEO_ACCESS_LOG=1 keeps it.
logging.getLogger("uvicorn.access").disabled = not settings.access_log
