"""Escaping of user text for folium's HTML and JavaScript templates."""

from __future__ import annotations

import html
from typing import Final

import pandas as pd

# ---------------------------------------------------------------------------------------
# Escaping

# html.escape covers & < > " '. folium's Popup and Tooltip additionally put the text in a
# JavaScript template literal (`...`), where a backtick ends it, "${" runs code and a
# backslash escape such as "\x3c" turns into "<" before the HTML is parsed.
_EXTRA_ESCAPES: Final = (("\\", "&#92;"), ("`", "&#96;"), ("$", "&#36;"))
_SERIES_ESCAPES: Final = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("'", "&#x27;"),
    *_EXTRA_ESCAPES,
)


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):  # list-likes: not a missing scalar
        return False


def escape_text(s: object) -> str:
    """Escape text for HTML, including HTML inside folium's JavaScript templates.

    Parameters
    ----------
    s : object
        Text (or a value shown as text). ``None`` and missing values (NaN, ``pd.NA``)
        give ``""``.

    Returns
    -------
    str
        ``html.escape(str(s), quote=True)`` with backslash, backtick and ``$`` also
        replaced by character references, so the result is inert both as HTML and inside
        a JavaScript template literal.
    """
    if s is None or (not isinstance(s, str) and _is_missing(s)):
        return ""
    out = html.escape(str(s), quote=True)
    for char, ref in _EXTRA_ESCAPES:
        out = out.replace(char, ref)
    return out


def _escape_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`escape_text` over a column (missing values give ``""``)."""
    out = values.astype("string").fillna("")
    for char, ref in _SERIES_ESCAPES:
        out = out.str.replace(char, ref, regex=False)
    return out.astype(object)
