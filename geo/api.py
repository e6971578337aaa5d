"""HTTP JSON API (Starlette routes) over the library: ``/api/v1/...``.

The routes are mounted beside the Streamlit app in one process by ``asgi.py``
(``st.App(..., routes=api.routes())``), so one command serves both.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from geo import store
from geo.errors import GeoError
from geo.settings import Settings, load_settings


def _settings() -> Settings:
    return load_settings()


def error_response(message: str, status: int = 400) -> JSONResponse:
    """Return a JSON error body ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


async def health(request: Request) -> JSONResponse:
    """``GET /api/v1/health``: liveness plus the dataset in use."""
    settings = _settings()
    body: dict[str, Any] = {"status": "ok"}
    try:
        m = store.read_manifest(settings.data_dir)
        body["dataset"] = {
            "version": m.get("dataset_version"),
            "source": m.get("source", {}).get("kind"),
            "row_counts": m.get("row_counts"),
        }
    except GeoError as exc:
        body.update(status="no-data", detail=str(exc))
    return JSONResponse(body)


def routes() -> list[BaseRoute]:
    """Return every API route, to mount beside the Streamlit app."""
    return [Route("/api/v1/health", health, methods=["GET"])]
