"""A font with Chinese glyphs for matplotlib (static map export).

matplotlib's default DejaVu Sans has no Chinese glyphs: titles and legends would print as
empty boxes. The font comes, in this order, from

1. the ``noto-cjk-sans-otc`` wheel (Noto Sans CJK, SIL OFL 1.1), a dependency of the
   project, so a fresh ``pip install`` has it on any machine;
2. a system font matplotlib can find (Noto Sans CJK / Source Han Sans, WenQuanYi, SimHei,
   Microsoft YaHei, PingFang), e.g. Debian's ``fonts-noto-cjk`` or ``fonts-wqy-microhei``.

With neither, :func:`cjk_font_family` raises :class:`~geo.errors.MapAssetError` naming
both fixes.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Final

from matplotlib import font_manager

from geo.errors import MapAssetError

PACKAGED_FONT_MODULE: Final = "noto_cjk_sans_otc"
"""Python package shipping ``NotoSansCJK-Regular.ttc`` (attribute ``FONT_PATH``)."""

PACKAGED_FAMILY: Final = "Noto Sans CJK SC"
"""Face of the packaged collection to use: Simplified Chinese glyph forms."""

SYSTEM_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
"""System font families with Chinese glyphs, in order of preference."""


def _packaged_font() -> Path | None:
    try:
        module = importlib.import_module(PACKAGED_FONT_MODULE)
    except ImportError:
        return None
    path = Path(str(module.FONT_PATH))
    return path if path.is_file() else None


@functools.cache
def cjk_font_family() -> str:
    """Register a font with Chinese glyphs with matplotlib and return its family name.

    Returns
    -------
    str
        A family name to pass as ``fontfamily`` (e.g. ``"Noto Sans CJK SC"``).

    Raises
    ------
    MapAssetError
        When neither the packaged font nor any of :data:`SYSTEM_FAMILIES` is installed.
    """
    packaged = _packaged_font()
    if packaged is not None:
        font_manager.fontManager.addfont(str(packaged))
        return PACKAGED_FAMILY
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in SYSTEM_FAMILIES:
        if family in installed:
            return family
    raise MapAssetError(
        "no font with Chinese glyphs for the static map export: install the project's dependency "
        "`pip install noto-cjk-sans-otc` (or `pip install -e .`), or a system font such as Debian's "
        "`apt-get install fonts-noto-cjk` (or fonts-wqy-microhei), then restart"
    )
