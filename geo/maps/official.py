"""What a map of China in an official report must show, on the folium maps.

* the boundary lines (境界线) of the Tianditu data, incl. the South China Sea dashed line,
  drawn on every national and provincial view (:func:`add_boundary_lines`);
* Taiwan, Hong Kong, Macau, Hainan and the South China Sea islands filled like every other
  region even without data: the ``no data`` colour (:data:`geo.maps.style.NODATA_COLOR`)
  differs clearly from the map background (:data:`MAP_BACKGROUND`);
* on national views, a South China Sea inset (南海诸岛) in the lower right
  (:func:`add_scs_inset`), an inline SVG drawn from the same boundaries: no extra script,
  font or tile, so it renders offline in the st_folium iframe like the rest of the map.

:func:`add_official_layers` does all three for a view; :func:`geo.maps.region_map` and
:func:`geo.maps.hex_map` call it. Bounding boxes are ``(west, south, east, north)``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template
from numpy.typing import NDArray

from geo import i18n, regions
from geo.maps.assets import _relocalize
from geo.maps.escape import escape_text
from geo.maps.style import _check_color

MAP_BACKGROUND: Final = "#f4f7fa"
"""Background of maps without tiles (Leaflet's default grey ``#ddd`` hid no-data regions)."""

LINE_COLOR: Final = "#3c3c3c"
"""Colour of the boundary lines."""

LINE_DASH: Final = "7 4"
"""Dash pattern (pixels on, off) of sea, estuary and land boundary lines. The South China Sea
line is drawn solid: its dashes are the geometry itself (one part per dash)."""

CHINA_MAIN_BOUNDS: Final = (73.0, 17.6, 135.4, 53.7)
"""``(west, south, east, north)`` frame of a national view with an inset: the mainland,
Taiwan and Hainan; the islands further south are shown in the inset."""

SCS_INSET_BOUNDS: Final = (106.0, 2.8, 123.8, 25.2)
"""``(west, south, east, north)`` shown in the South China Sea inset."""

NATIONAL_MIN_WIDTH_DEG: Final = 25.0
"""A view at least this wide (degrees of longitude) is national: it gets the inset."""

INSET_WIDTH_PX: Final = 112
"""Width of the inset on a web map, pixels."""

_LAND_FILL: Final = "#e9e4da"


def is_national(bounds: Sequence[float]) -> bool:
    """Tell whether a view ``(west, south, east, north)`` shows (most of) China."""
    west, _south, east, _north = (float(v) for v in bounds)
    return east - west >= NATIONAL_MIN_WIDTH_DEG


def level_of(adcodes: Sequence[str]) -> str:
    """Return the level of 6-digit adcodes: ``province`` (xx0000), ``city`` (xxxx00) or ``county``."""
    codes = [str(a) for a in adcodes]
    if codes and all(c.endswith("0000") for c in codes):
        return "province"
    if codes and all(c.endswith("00") for c in codes):
        return "city"
    return "county"


def _lines_in(bounds: Sequence[float], level: str) -> gpd.GeoDataFrame:
    west, south, east, north = (float(v) for v in bounds)
    lines = regions.boundary_lines(level)
    box = shapely.box(west - 1.0, south - 1.0, east + 1.0, north + 1.0)
    return lines[shapely.intersects(lines.geometry.to_numpy(), box)]


def add_boundary_lines(
    m: folium.Map,
    bounds: Sequence[float],
    *,
    level: str = "province",
    lang: str = i18n.DEFAULT_LANG,
    color: str = LINE_COLOR,
    weight: float = 1.6,
) -> folium.Map:
    """Draw the Tianditu boundary lines (境界线) that reach into a view, dashed.

    Parameters
    ----------
    m : folium.Map
        The map.
    bounds : sequence of float
        ``(west, south, east, north)`` of the view, WGS-84 degrees; lines within 1° of it
        are drawn.
    level : {"province", "city", "county"}, default "province"
        Level of the regions shown (see :func:`geo.regions.boundary_lines`).
    lang : {"zh", "en"}, default "zh"
        Language of the tooltip naming the line type.
    color : str, default :data:`LINE_COLOR`
        Line colour.
    weight : float, default 1.6
        Line width, pixels.

    Returns
    -------
    folium.Map
        ``m``, with one non-clickable layer of lines (none when no line is near the view).
    """
    _check_color(color, "line colour")
    lines = _lines_in(bounds, level)
    if lines.empty:
        return m
    # ≈ 100 m is finer than a screen pixel at the zooms these views open at.
    simple = shapely.simplify(lines.geometry.to_numpy(), 0.001)
    rounded = shapely.transform(simple, lambda c: np.round(c, 4))
    features = [
        {
            "type": "Feature",
            "properties": {
                "tip": escape_text(regions.LINE_TYPE_LABELS[kind][lang if lang in ("zh", "en") else "zh"]),
                "line_type": kind,
            },
            "geometry": json.loads(geom),
        }
        for kind, geom in zip(lines["line_type"], shapely.to_geojson(rounded).tolist(), strict=True)
    ]

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        solid = feature["properties"]["line_type"] == "south_china_sea"
        return {"color": color, "weight": weight, "opacity": 0.9, "dashArray": None if solid else LINE_DASH}

    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=None,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        control=False,
    ).add_to(m)
    _relocalize(m)
    return m


def _svg_path(geom: shapely.Geometry, to_px: Callable[[NDArray[np.float64]], NDArray[np.float64]]) -> str:
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or not hasattr(poly, "exterior"):
            continue
        for ring in [poly.exterior, *poly.interiors]:
            # Whole pixels, repeated points dropped: an island shrinks to one point, which the
            # round line cap still draws as a dot.
            xy = np.round(to_px(np.asarray(ring.coords))).astype(np.int64)
            keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
            parts.append("M" + "L".join(f"{x},{y}" for x, y in xy[keep].tolist()) + "Z")
    return "".join(parts)


def _merc_y(lat: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.degrees(np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


@functools.cache
def _inset_shapes(
    tolerance_deg: float = 0.03,
) -> tuple[tuple[tuple[str, shapely.Geometry], ...], shapely.Geometry]:
    """Province polygons clipped to the inset box, and the South China Sea line (WGS-84)."""
    west, south, east, north = SCS_INSET_BOUNDS
    prov = regions.boundaries("province")
    clipped = shapely.clip_by_rect(prov.geometry.to_numpy(), west, south, east, north)
    keep = ~shapely.is_empty(clipped)
    simple = shapely.simplify(clipped[keep], tolerance_deg, preserve_topology=True)
    shapes = tuple(zip(prov["adcode"].to_numpy()[keep].tolist(), simple.tolist(), strict=True))
    lines = regions.boundary_lines("province")
    scs = shapely.union_all(lines.loc[lines["line_type"] == "south_china_sea"].geometry.to_numpy())
    return shapes, scs


def scs_inset_svg(
    title: str,
    *,
    fills: Mapping[str, str] | None = None,
    width_px: int = INSET_WIDTH_PX,
    line_color: str = LINE_COLOR,
) -> str:
    """Draw the South China Sea inset (南海诸岛) as a standalone SVG element.

    Parameters
    ----------
    title : str
        Caption at the bottom (escaped), e.g. "南海诸岛".
    fills : mapping of adcode to CSS colour, optional
        Fill of each province (as on the main map); others get a neutral land colour.
    width_px : int, default :data:`INSET_WIDTH_PX`
        Width in pixels; the height follows from the box in Web Mercator.
    line_color : str, default :data:`LINE_COLOR`
        Colour of the South China Sea line and outlines.

    Returns
    -------
    str
        ``<svg …>`` with one path per province (islands as specks with an outline, so they
        stay visible), the South China Sea line and the caption.
    """
    fills = fills or {}
    west, south, east, north = SCS_INSET_BOUNDS
    top, bottom = (float(v) for v in _merc_y(np.array([north, south])))
    scale = width_px / (east - west)
    height_px = round((top - bottom) * scale)

    def to_px(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(((coords[:, 0] - west) * scale, (top - _merc_y(coords[:, 1])) * scale))

    shapes, scs = _inset_shapes()
    paths = []
    for adcode, geom in shapes:
        fill = _check_color(fills.get(adcode, _LAND_FILL), "inset fill")
        d = _svg_path(geom, to_px)
        if d:
            paths.append(
                f'<path d="{d}" fill="{fill}" stroke="#777" stroke-width="0.7" stroke-linecap="round" '
                'stroke-linejoin="round"/>'
            )
    for line in getattr(scs, "geoms", [scs]):
        xy = to_px(np.asarray(line.coords))
        d = "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in np.round(xy, 1).tolist())
        paths.append(f'<path d="{d}" fill="none" stroke="{line_color}" stroke-width="1.3"/>')
    # Shrink the caption to fit the width (CJK characters are about twice as wide as Latin).
    units = sum(1.0 if ord(ch) >= 0x2E80 else 0.56 for ch in title) or 1.0
    font_px = min(10.0, (width_px - 8) / units)
    caption = (
        f'<text x="{width_px - 4}" y="{height_px - 5}" text-anchor="end" font-size="{font_px:.1f}" '
        f'font-family="sans-serif" fill="#222">{escape_text(title)}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="atlas-scs-inset-svg" width="{width_px}" '
        f'height="{height_px}" viewBox="0 0 {width_px} {height_px}" role="img" '
        f'aria-label="{escape_text(title)}">'
        f'<rect width="100%" height="100%" fill="{MAP_BACKGROUND}"/>' + "".join(paths) + caption + "</svg>"
    )


class _Inset(MacroElement):
    """A Leaflet control holding the inset SVG, lowest in the bottom-right corner.

    It goes right above the attribution, whatever the order in which controls were added.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomright"});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "atlas-scs-inset");
                div.style.cssText = "background:#fff;border:1px solid #555;line-height:0;"
                    + "box-shadow:0 1px 4px rgba(0,0,0,.3)";
                div.innerHTML = {{ this.svg|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            (function (map, div) {
                var att = map.attributionControl && map.attributionControl.getContainer();
                if (att && att.parentNode === div.parentNode) { div.parentNode.insertBefore(div, att); }
                else { div.parentNode.appendChild(div); }
            })({{ this._parent.get_name() }}, {{ this.get_name() }}.getContainer());
        {% endmacro %}
        """
    )

    def __init__(self, svg: str) -> None:
        super().__init__()
        self._name = "ScsInset"
        self.svg = svg


class _Background(MacroElement):
    """Sets the map container's background (shown where there are no tiles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.getContainer().style.background = {{ this.color|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, color: str) -> None:
        super().__init__()
        self._name = "Background"
        self.color = color


def add_scs_inset(
    m: folium.Map, *, lang: str = i18n.DEFAULT_LANG, fills: Mapping[str, str] | None = None
) -> folium.Map:
    """Add the South China Sea inset (南海诸岛) in the lower right of a national map.

    Parameters
    ----------
    m : folium.Map
        The map.
    lang : {"zh", "en"}, default "zh"
        Language of the caption.
    fills : mapping of adcode to CSS colour, optional
        Province fills as on the main map (see :func:`scs_inset_svg`).

    Returns
    -------
    folium.Map
        ``m``, with the inset control.
    """
    _Inset(scs_inset_svg(i18n.t("maps.scs_inset", lang), fills=fills)).add_to(m)
    return m


def add_official_layers(
    m: folium.Map,
    bounds: Sequence[float],
    *,
    lang: str = i18n.DEFAULT_LANG,
    level: str = "province",
    fills: Mapping[str, str] | None = None,
    inset: bool | None = None,
    fit: bool = True,
) -> folium.Map:
    """Make a national or provincial view fit for a report: lines, background, inset.

    Parameters
    ----------
    m : folium.Map
        The map, with its layers.
    bounds : sequence of float
        ``(west, south, east, north)`` of the regions shown, WGS-84 degrees.
    lang : {"zh", "en"}, default "zh"
        Language of the inset caption and line tooltips.
    level : {"province", "city", "county"}, default "province"
        Level of the regions shown; picks the boundary lines (:func:`geo.regions.boundary_lines`).
    fills : mapping of adcode to CSS colour, optional
        Province fills for the inset.
    inset : bool, optional
        Draw the South China Sea inset; default when the view is national (:func:`is_national`).
    fit : bool, default True
        With the inset, fit the map to :data:`CHINA_MAIN_BOUNDS` (the islands further south
        are in the inset, and the mainland fills the map).

    Returns
    -------
    folium.Map
        ``m``.
    """
    _Background(MAP_BACKGROUND).add_to(m)
    add_boundary_lines(m, bounds, level=level, lang=lang)
    if inset if inset is not None else is_national(bounds):
        add_scs_inset(m, lang=lang, fills=fills)
        if fit:
            west, south, east, north = CHINA_MAIN_BOUNDS
            # Quarter zoom steps: at whole steps China often fits only at the smaller zoom,
            # half the map's width.
            m.options["zoom_snap"] = 0.25
            m.fit_bounds([[south, west], [north, east]])
    return m
