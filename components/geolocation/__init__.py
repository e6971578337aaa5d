"""A one-button Streamlit component that asks the browser for the user's position.

Served from this folder (``frontend/index.html``), so nothing is fetched from a CDN. The
browser gives WGS-84 coordinates and only in a secure context (HTTPS or localhost); the
component reports ``{"error": "insecure" | "denied" | "unavailable" | "timeout" |
"unsupported"}`` otherwise so the page can fall back to tapping the map or searching.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components  # noqa: TID251 - a UI component, not geo/

_FRONTEND = Path(__file__).parent / "frontend"
_component = components.declare_component("geolocation", path=str(_FRONTEND))


def locate(label: str, busy_label: str, key: str) -> dict[str, Any] | None:
    """Draw the button; return the last result (``lat``/``lng``/``accuracy_m``/``ts`` or ``error``)."""
    value = _component(label=label, busy_label=busy_label, key=key, default=None)
    return value if isinstance(value, dict) else None
