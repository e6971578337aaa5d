"""User-interface strings in Chinese and English, and number formatting.

Strings live in ``geo/strings/<feature>.toml``, one file per feature, as
``[feature] key = { zh = "...", en = "..." }``; look them up as ``t("feature.key", lang)``.
Chinese is the default language. Numbers follow each language's habits: 万 / 亿 in
Chinese, thousands separators in English.
"""

from __future__ import annotations

import functools
import math
import tomllib
from importlib import resources
from typing import Any, Final

LANGS: Final = ("zh", "en")
DEFAULT_LANG: Final = "zh"


@functools.cache
def strings() -> dict[str, dict[str, str]]:
    """Return every UI string as ``{"feature.key": {"zh": ..., "en": ...}}``."""
    out: dict[str, dict[str, str]] = {}
    folder = resources.files("geo") / "strings"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for section, items in data.items():
            for key, value in items.items():
                out[f"{section}.{key}"] = value
    return out


def t(key: str, lang: str = DEFAULT_LANG, **fmt: Any) -> str:  # noqa: ANN401 - format values
    """Return the UI string ``key`` in ``lang``, formatted with ``fmt``.

    Raises ``KeyError`` for an unknown key, so a typo fails in tests, not in front of users.
    """
    entry = strings()[key]
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**fmt) if fmt else text


def _trim(x: float, digits: int) -> str:
    # Chinese figures are written without thousands separators: 1002.43万.
    s = f"{x:.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def format_count(n: float | None, lang: str = DEFAULT_LANG, digits: int = 2) -> str:
    """Format a count: ``1002.43万`` / ``1.86亿`` in Chinese, ``10,024,300`` in English."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    if lang == "zh":
        a = abs(n)
        if a >= 1e8:
            return f"{_trim(n / 1e8, digits)}亿"
        if a >= 1e4:
            return f"{_trim(n / 1e4, digits)}万"
        return _trim(n, 0 if float(n).is_integer() else 1)
    return f"{n:,.0f}" if float(n).is_integer() or abs(n) >= 100 else f"{n:,.1f}"


def format_yuan(x: float | None, lang: str = DEFAULT_LANG) -> str:
    """Format money: ``3.2亿元`` / ``45.1万元`` in Chinese, ``¥320.5 M`` in English."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if lang == "zh":
        return f"{format_count(x, 'zh')}元"
    a = abs(x)
    if a >= 1e9:
        return f"¥{x / 1e9:,.2f} bn"
    if a >= 1e6:
        return f"¥{x / 1e6:,.1f} M"
    return f"¥{x:,.0f}"


def format_distance(distance_m: float, lang: str = DEFAULT_LANG) -> str:
    """Format a distance: metres below 1 km, kilometres with one decimal above."""
    if distance_m < 1000:
        return f"{distance_m:.0f} 米" if lang == "zh" else f"{distance_m:.0f} m"
    km = distance_m / 1000
    return f"{km:.1f} 公里" if lang == "zh" else f"{km:.1f} km"


def format_share(share: float | None, digits: int = 1) -> str:
    """Format a share in [0, 1] as a percentage."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    return f"{share * 100:.{digits}f}%"
