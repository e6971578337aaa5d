"""Colours, choropleth classes and legends (drawn without branca, so no d3 is fetched)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import folium
import folium.plugins
import numpy as np
from branca.element import MacroElement
from folium.template import Template
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError
from geo.maps.escape import escape_text

SEQUENTIAL_REDS: Final = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
"""Default sequential palette, light to dark (ColorBrewer "Reds", 5 classes)."""

NODATA_COLOR: Final = "#bfc4ca"
"""Fill of regions or cells without a value: a mid grey, clearly apart from the map
background (``geo.maps.official.MAP_BACKGROUND``) and from the lightest class colour."""

POINT_COLOR: Final = "#c8102e"
"""Default colour of station points (the app's primary colour)."""

LEGEND_POSITIONS: Final = ("topleft", "topright", "bottomleft", "bottomright")


_CSS_COLOR: Final = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|(rgb|hsl)a?\([0-9.,%\s]+\)")


def _check_color(color: str, what: str) -> str:
    if not isinstance(color, str) or not _CSS_COLOR.fullmatch(color):
        raise InputError(f"{what} {color!r} is not a CSS colour: use '#rrggbb', a colour name or rgb(...)")
    return color


class _Legend(MacroElement):
    """A Leaflet control showing pre-built, escaped legend HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "atlas-legend");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_: str, position: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_
        self.position = position


def legend_html(title: str | None, items: Sequence[tuple[str, str]]) -> str:
    """Build the HTML of a legend box; title and labels are escaped.

    Parameters
    ----------
    title : str or None
        Heading of the legend.
    items : sequence of (colour, label)
        One swatch per class, top to bottom; colours must be CSS colours.

    Returns
    -------
    str
        A self-contained ``<div>`` with inline styles (no external CSS needed).
    """
    rows = []
    if title:
        rows.append(f'<div style="font-weight:600;margin-bottom:4px">{escape_text(title)}</div>')
    for color, label in items:
        _check_color(color, "legend colour")
        rows.append(
            '<div style="white-space:nowrap"><span style="display:inline-block;width:12px;height:12px;'
            f"margin-right:6px;vertical-align:-2px;border:1px solid rgba(0,0,0,.25);background:{color}"
            f'"></span>{escape_text(label)}</div>'
        )
    return (
        '<div style="background:rgba(255,255,255,.92);padding:6px 8px;border-radius:4px;'
        'box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.5 sans-serif;color:#222">' + "".join(rows) + "</div>"
    )


def add_legend(
    m: folium.Map,
    title: str | None,
    items: Sequence[tuple[str, str]],
    *,
    position: str = "bottomright",
) -> folium.Map:
    """Draw a legend on the map without branca (so no d3 is fetched).

    Parameters
    ----------
    m : folium.Map
        The map.
    title : str or None
        Heading (escaped).
    items : sequence of (colour, label)
        Swatches top to bottom; labels are escaped, colours must be CSS colours.
    position : {"topleft", "topright", "bottomleft", "bottomright"}, default "bottomright"
        Corner of the map.

    Returns
    -------
    folium.Map
        ``m``, with the legend control added.

    Raises
    ------
    InputError
        For an unknown position or a colour that is not a CSS colour.
    """
    if position not in LEGEND_POSITIONS:
        raise InputError(f"legend position {position!r} is unknown: use one of {', '.join(LEGEND_POSITIONS)}")
    _Legend(legend_html(title, items), position).add_to(m)
    return m


# ---------------------------------------------------------------------------------------
# Colour classes


@dataclass(frozen=True)
class ColorClasses:
    """Class edges and colours of a choropleth.

    Attributes
    ----------
    edges : numpy.ndarray
        Class edges, shape ``(k + 1,)``, increasing; class ``i`` is
        ``[edges[i], edges[i+1])``, the last one closed. Empty when nothing has a value.
    colors : tuple of str
        Colour of each class, shape ``(k,)``.
    nodata_color : str
        Colour of missing values.
    """

    edges: NDArray[np.float64]
    colors: tuple[str, ...]
    nodata_color: str = NODATA_COLOR

    def assign(self, values: ArrayLike) -> NDArray[np.object_]:
        """Return the colour of each value; values outside the edges take the end classes.

        Parameters
        ----------
        values : array_like of float, shape (n,)
            Values; NaN is missing.

        Returns
        -------
        numpy.ndarray of str, shape (n,)
        """
        v = np.asarray(values, dtype=np.float64)
        out = np.full(v.shape, self.nodata_color, dtype=object)
        if len(self.colors) == 0:
            return out
        idx = np.searchsorted(self.edges[1:-1], v, side="right")
        ok = np.isfinite(v)
        out[ok] = np.asarray(self.colors, dtype=object)[idx[ok]]
        return out

    def legend_items(self, fmt: str = "{:,.0f}", *, nodata_label: str | None = None) -> list[tuple[str, str]]:
        """Return ``(colour, label)`` pairs, one per class, then missing values if labelled.

        Parameters
        ----------
        fmt : str, default "{:,.0f}"
            ``str.format`` pattern for the edges.
        nodata_label : str or None
            Label of the missing-value swatch; ``None`` leaves it out.

        Returns
        -------
        list of (str, str)
        """
        items = []
        for i, color in enumerate(self.colors):
            lo, hi = self.edges[i], self.edges[i + 1]
            label = fmt.format(lo) if lo == hi else f"{fmt.format(lo)} – {fmt.format(hi)}"
            items.append((color, label))
        if nodata_label is not None:
            items.append((self.nodata_color, nodata_label))
        return items


def color_classes(
    values: ArrayLike,
    colors: Sequence[str] = SEQUENTIAL_REDS,
    *,
    bins: Sequence[float] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    nodata_color: str = NODATA_COLOR,
) -> ColorClasses:
    """Choose choropleth classes: given edges, or equal intervals between vmin and vmax.

    Parameters
    ----------
    values : array_like of float, shape (n,)
        The values to classify (NaN is missing); used for the default vmin/vmax.
    colors : sequence of str, default :data:`SEQUENTIAL_REDS`
        One CSS colour per class, low to high.
    bins : sequence of float, optional
        ``len(colors) + 1`` increasing edges; overrides vmin/vmax.
    vmin, vmax : float, optional
        Range split into ``len(colors)`` equal classes; default the data's min and max.
    nodata_color : str, default :data:`NODATA_COLOR`
        Colour of missing values.

    Returns
    -------
    ColorClasses
        When vmin == vmax there is one class, coloured ``colors[-1]``; when nothing has
        a value and no bins are given, there is none.

    Raises
    ------
    InputError
        For no colours, bad colours, wrongly sized or unordered bins, or vmin > vmax.
    """
    palette = tuple(_check_color(c, "class colour") for c in colors)
    _check_color(nodata_color, "nodata colour")
    if not palette:
        raise InputError("colors is empty: give at least one CSS colour")
    if bins is not None:
        edges = np.asarray(bins, dtype=np.float64)
        if (
            edges.shape != (len(palette) + 1,)
            or not np.all(np.isfinite(edges))
            or np.any(np.diff(edges) <= 0)
        ):
            raise InputError(
                f"bins {list(bins)} must be {len(palette) + 1} finite, increasing edges "
                f"for {len(palette)} colours"
            )
        return ColorClasses(edges, palette, nodata_color)
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    lo = float(vmin) if vmin is not None else (float(finite.min()) if finite.size else math.nan)
    hi = float(vmax) if vmax is not None else (float(finite.max()) if finite.size else math.nan)
    if math.isnan(lo) or math.isnan(hi):
        return ColorClasses(np.empty(0), (), nodata_color)
    if lo > hi:
        raise InputError(f"vmin {lo} is greater than vmax {hi}: swap them")
    if lo == hi:
        return ColorClasses(np.array([lo, hi]), (palette[-1],), nodata_color)
    return ColorClasses(np.linspace(lo, hi, len(palette) + 1), palette, nodata_color)


def _check_fmt(fmt: str) -> str:
    try:
        fmt.format(1.5)
    except (ValueError, IndexError, KeyError) as exc:
        raise InputError(f"fmt {fmt!r} is not a str.format pattern for one number, e.g. '{{:,.0f}}'") from exc
    return fmt


def _format_values(values: NDArray[np.float64], fmt: str, nodata_label: str) -> list[str]:
    return [fmt.format(v) if math.isfinite(v) else nodata_label for v in values.tolist()]
