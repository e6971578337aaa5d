"""Folium map builders that render with no internet.

Every builder here produces a :class:`folium.Map` whose scripts and stylesheets come
from the app's own ``static/`` folder (served by Streamlit at ``/app/static``), never
from a CDN: offline, ``st_folium`` stops at the first script that fails to load and
the map stays blank. Typical use::

    m = base_map(39.9, 116.4, 5)
    add_choropleth(m, provinces, "stations", label_col="name", legend_title="驿站数")
    add_points(m, stations, popup_cols={"name": "名称"}, tooltip_col="name")
    localize_assets(m)  # after the last layer; idempotent
    st_folium(m, returned_objects=[])  # in a page, never in geo/

Coordinates are ``lat``/``lng`` in WGS-84. Any user-supplied text that reaches HTML
(popups, tooltips, legend labels, layer names) goes through :func:`escape_text`,
because folium's ``Popup`` and ``Tooltip`` insert their text unescaped.

No branca ``ColorMap`` is ever added to a map: ``st_folium`` would then fetch d3 from
a hard-coded public URL. Legends are drawn by :func:`add_legend` instead.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError, MapAssetError

# ---------------------------------------------------------------------------------------
# Constants

STATIC_URL_PREFIX: Final = "/app/static"
"""URL under which Streamlit serves ``./static`` (``enableStaticServing``); prefix it with
``server.baseUrlPath`` when one is set."""

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"
"""The app's static folder holding the vendored web assets (``static/vendor``)."""

MAX_ZOOM: Final = 18
"""Largest zoom level of every map. Leaflet.markercluster needs the map (not only a tile
layer) to have one; with ``tiles=None`` folium sets none and clustering fails."""

COORD_DECIMALS: Final = 5
"""Decimal places kept for coordinates sent to the browser (1e-5 degree ≈ 1.1 m)."""

CLUSTER_THRESHOLD: Final = 1_000
"""Above this many points :func:`add_points` clusters by default."""

PLAIN_MARKERS_MAX: Final = 5_000
"""Most points :func:`add_points` will draw one by one (``cluster=False``); beyond that a
browser spends seconds per render."""

MAX_HEX_CELLS: Final = 8_000
"""Guideline for callers of :func:`add_hexes`: at ≈ 300 bytes per cell this many stay under
:data:`MAX_PAYLOAD_BYTES`; coarsen (``geo.hexes.cells_to_parent``) or keep only the cells
in view before passing more."""

MAX_PAYLOAD_BYTES: Final = 3_000_000
"""Largest rendered map (see :func:`payload_bytes`) a page should send to the browser."""

BOUNDARY_CREDIT: Final = "边界: 天地图"
"""Attribution shown on every map: region boundaries come from Tianditu."""

SEQUENTIAL_REDS: Final = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
"""Default sequential palette, light to dark (ColorBrewer "Reds", 5 classes)."""

NODATA_COLOR: Final = "#d9d9d9"
"""Fill of regions or cells without a value."""

POINT_COLOR: Final = "#c8102e"
"""Default colour of station points (the app's primary colour)."""

LEGEND_POSITIONS: Final = ("topleft", "topright", "bottomleft", "bottomright")

# ---------------------------------------------------------------------------------------
# Vendored assets


@dataclass(frozen=True)
class LocalAsset:
    """A vendored copy of one of folium's CDN assets.

    Attributes
    ----------
    cdn_filename : str
        Last path segment of the CDN URL this copy replaces; checked so that two folium
        elements using the same asset *name* for different files are not confused.
    path : str
        Path of the copy relative to :data:`STATIC_DIR`.
    """

    cdn_filename: str
    path: str


JS_ASSETS: Final[Mapping[str, LocalAsset]] = {
    "leaflet": LocalAsset("leaflet.js", "vendor/leaflet/1.9.3/leaflet.js"),
    "leaflet_imagepath": LocalAsset("leaflet-imagepath.js", "js/leaflet-imagepath.js"),
    "jquery": LocalAsset("jquery-3.7.1.min.js", "vendor/jquery/3.7.1/jquery.min.js"),
    "markerclusterjs": LocalAsset(
        "leaflet.markercluster.js", "vendor/leaflet.markercluster/1.1.0/leaflet.markercluster.js"
    ),
}
"""folium script names (as in ``default_js``) with a local copy."""

CSS_ASSETS: Final[Mapping[str, LocalAsset]] = {
    "leaflet_css": LocalAsset("leaflet.css", "vendor/leaflet/1.9.3/leaflet.css"),
    "markerclustercss": LocalAsset(
        "MarkerCluster.css", "vendor/leaflet.markercluster/1.1.0/MarkerCluster.css"
    ),
    "markerclusterdefaultcss": LocalAsset(
        "MarkerCluster.Default.css", "vendor/leaflet.markercluster/1.1.0/MarkerCluster.Default.css"
    ),
}
"""folium stylesheet names (as in ``default_css``) with a local copy."""

_IMAGEPATH_NAME: Final = "leaflet_imagepath"

# folium.Map lists these for folium.Icon (bootstrap glyphicons / Font Awesome / awesome
# markers) only. This app draws CircleMarkers, so they are dropped rather than vendored
# (≈ 1 MB); localize_assets refuses maps that contain a folium.Icon instead.
_ICON_ASSET_NAMES: Final = frozenset(
    {
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)

# ---------------------------------------------------------------------------------------
# Tiles


@dataclass(frozen=True)
class TileProvider:
    """An optional online base map.

    Attributes
    ----------
    name : str
        Key accepted by :func:`base_map` (``tiles=``).
    urls : tuple of str
        Leaflet URL templates, bottom layer first; ``{key}`` is replaced by the API key.
    attribution : str
        Attribution HTML required by the provider.
    subdomains : str
        Values of ``{s}`` in the URL templates.
    max_native_zoom : int
        Deepest zoom level the provider serves; Leaflet upsamples beyond it.
    needs_key : bool
        Whether the URLs need an API key.
    gcj02_tiles : bool
        Whether the tiles are drawn in GCJ-02 (China's obfuscated datum). WGS-84 overlays
        on such tiles appear shifted by up to ~700 m; callers must move overlay
        coordinates with ``geo.datums.wgs84_to_gcj02`` before adding them.
    """

    name: str
    urls: tuple[str, ...]
    attribution: str
    subdomains: str
    max_native_zoom: int
    needs_key: bool = False
    gcj02_tiles: bool = False


_TIANDITU_WMTS: Final = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={{key}}"
)

TILE_PROVIDERS: Final[Mapping[str, TileProvider]] = {
    "osm": TileProvider(
        name="osm",
        urls=("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
        attribution='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        subdomains="abc",
        max_native_zoom=19,
    ),
    "tianditu": TileProvider(
        name="tianditu",
        # vector base (vec_w) + Chinese labels (cva_w), Web Mercator, WGS-84 (CGCS2000)
        urls=(_TIANDITU_WMTS.format(layer="vec"), _TIANDITU_WMTS.format(layer="cva")),
        attribution='&copy; <a href="https://www.tianditu.gov.cn/">天地图</a>',
        subdomains="01234567",
        max_native_zoom=18,
        needs_key=True,
    ),
    "amap": TileProvider(
        name="amap",
        urls=(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        ),
        attribution="&copy; 高德地图 AutoNavi",
        subdomains="1234",
        max_native_zoom=18,
        gcj02_tiles=True,
    ),
}
"""Online base maps :func:`base_map` can add; none is needed for the app to work."""


def _tile_provider(tiles: str | None) -> TileProvider | None:
    if tiles is None or tiles.strip().lower() in ("", "none"):
        return None
    provider = TILE_PROVIDERS.get(tiles.strip().lower())
    if provider is None:
        raise InputError(
            f"unknown tiles {tiles!r}: choose none, {', '.join(TILE_PROVIDERS)} (setting GEO_TILES)"
        )
    return provider


def tiles_use_gcj02(tiles: str | None) -> bool:
    """Tell whether a tile provider draws in GCJ-02, so overlays must be shifted.

    Parameters
    ----------
    tiles : str or None
        A ``tiles`` value accepted by :func:`base_map`.

    Returns
    -------
    bool
        True for ``amap``: convert overlay coordinates with ``geo.datums.wgs84_to_gcj02``
        before adding them, or the overlays sit up to ~700 m off the streets.
    """
    provider = _tile_provider(tiles)
    return provider is not None and provider.gcj02_tiles


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


# ---------------------------------------------------------------------------------------
# Asset localisation


def _walk(element: Element) -> Iterator[Element]:
    """Yield ``element`` and all its descendants (children and Popup parts), once each."""
    seen: set[int] = set()
    stack = [element]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        yield el
        stack.extend(reversed(list(el._children.values())))
        # Popup keeps its content in separate Element containers, not in _children.
        stack.extend(
            part
            for attr in ("header", "html", "script")
            if isinstance(part := getattr(el, attr, None), Element)
        )


def _map_prefix(m: folium.Map) -> str | None:
    """Return the prefix the map's assets were localized with, or None if not yet."""
    suffix = "/" + JS_ASSETS["leaflet"].path
    for name, url in m.default_js:
        if name == "leaflet" and url.endswith(suffix) and not url.startswith(("http://", "https://")):
            return url[: -len(suffix)]
    return None


def _local_url(element: Element, name: str, url: str, table: Mapping[str, LocalAsset], prefix: str) -> str:
    asset = table.get(name)
    filename = url.split("?", 1)[0].rsplit("/", 1)[-1]
    if asset is None or not (filename == asset.cdn_filename or url.endswith("/" + asset.path)):
        raise MapAssetError(
            f"map element {type(element).__name__} needs web asset {name!r} ({url}), which has no "
            f"local copy: this map would stay blank offline. Vendor it under static/vendor/ "
            f"(npm pack, licence beside it) and register it in geo.maps.JS_ASSETS/CSS_ASSETS, "
            f"or do not use {type(element).__name__}."
        )
    return f"{prefix}/{asset.path}"


def _check_unsupported(element: Element) -> None:
    if isinstance(element, branca.colormap.ColorMap):
        raise MapAssetError(
            "a branca ColorMap is on the map: st_folium then loads web asset 'd3' from a public "
            "URL and the map stays blank offline. Colour with the ColorMap inside a style function "
            "and draw the legend with geo.maps.add_legend."
        )
    if isinstance(element, folium.Icon):
        raise MapAssetError(
            "a folium.Icon is on the map: it needs web assets 'awesome_markers', 'bootstrap' and "
            "glyphicons/Font Awesome, which are not vendored. Draw points with geo.maps.add_points "
            "(circle markers) or vendor those assets first."
        )
    if isinstance(element, folium.plugins.FastMarkerCluster) and "AwesomeMarkers" in element.callback:
        raise MapAssetError(
            "a FastMarkerCluster uses its default callback, which needs web asset 'awesome_markers' "
            "(not vendored). Use geo.maps.add_points, or pass a callback returning L.circleMarker."
        )


def localize_assets(m: folium.Map, prefix: str = STATIC_URL_PREFIX) -> folium.Map:
    """Point every script and stylesheet of a map at the vendored local copies.

    Call it after the last layer is added (the builders of this module call it
    themselves once a map is localized, so it is only needed for elements added by
    other code). It is idempotent and may be called again with another prefix.

    Each element gets its own ``default_js``/``default_css`` lists (instance
    attributes); folium's class attributes, shared by every map, are never changed.
    The Map's icon assets (bootstrap, awesome markers, glyphicons, Font Awesome) are
    dropped, and ``js/leaflet-imagepath.js`` is inserted right after ``leaflet.js``.

    Parameters
    ----------
    m : folium.Map
        The map, with all its layers.
    prefix : str, default :data:`STATIC_URL_PREFIX`
        URL at which ``./static`` is served, without trailing slash.

    Returns
    -------
    folium.Map
        ``m`` itself, changed in place.

    Raises
    ------
    MapAssetError
        When an element needs an asset without a local copy (naming element and asset),
        or when the map holds an element that would load one at display time (a branca
        ColorMap, a ``folium.Icon``, a FastMarkerCluster with its default callback).
    """
    prefix = prefix.rstrip("/")
    elements = list(_walk(m))
    for el in elements:
        _check_unsupported(el)

    seen_names: set[str] = set(_ICON_ASSET_NAMES)
    for el in elements:
        if not isinstance(el, JSCSSMixin):
            continue
        js: list[tuple[str, str]] = []
        for name, url in el.default_js:
            seen_names.add(name)
            if name == _IMAGEPATH_NAME or (isinstance(el, folium.Map) and name in _ICON_ASSET_NAMES):
                continue  # the imagepath script is re-inserted after leaflet below
            js.append((name, _local_url(el, name, url, JS_ASSETS, prefix)))
            if name == "leaflet":
                js.append((_IMAGEPATH_NAME, f"{prefix}/{JS_ASSETS[_IMAGEPATH_NAME].path}"))
        css: list[tuple[str, str]] = []
        for name, url in el.default_css:
            seen_names.add(name)
            if isinstance(el, folium.Map) and name in _ICON_ASSET_NAMES:
                continue
            css.append((name, _local_url(el, name, url, CSS_ASSETS, prefix)))
        # Instance attributes: the class lists stay as folium ships them.
        el.default_js = js
        el.default_css = css

    # A render before this call left CDN links in the figure's header (keyed by asset
    # name); drop them, the next render adds the local ones.
    root = m.get_root()
    if isinstance(root, Figure):
        for key, child in list(root.header._children.items()):
            if not isinstance(child, JavascriptLink | CssLink) or child.url.startswith(prefix + "/"):
                continue
            if key in seen_names:
                del root.header._children[key]
            else:
                raise MapAssetError(
                    f"the page header links web asset {key!r} ({child.url}), which has no local copy; "
                    "vendor it under static/vendor/ or remove the link."
                )
    return m


def _relocalize(m: folium.Map) -> None:
    """Localize newly added elements when the map was localized before."""
    prefix = _map_prefix(m)
    if prefix is not None:
        localize_assets(m, prefix)


# ---------------------------------------------------------------------------------------
# Map and controls


class _Attribution(MacroElement):
    """Adds a (pre-escaped) credit to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metres and kilometres only (folium's ``control_scale`` adds miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({metric: true, imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


def _check_latlng(lat: float, lng: float, what: str) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InputError(
            f"{what} ({lat}, {lng}) is not a WGS-84 lat/lng: lat in [-90, 90], lng in [-180, 180]"
        )


def base_map(
    center_lat: float,
    center_lng: float,
    zoom: int = 5,
    *,
    tiles: str | None = None,
    tianditu_key: str = "",
    attribution: str = BOUNDARY_CREDIT,
    prefix: str = STATIC_URL_PREFIX,
    width: str | int = "100%",
    height: str | int = "100%",
) -> folium.Map:
    """Create an empty map whose assets are local, without tiles by default.

    Parameters
    ----------
    center_lat, center_lng : float
        Initial centre, WGS-84 degrees.
    zoom : int, default 5
        Initial zoom level, 0 to :data:`MAX_ZOOM`.
    tiles : {None, "none", "osm", "tianditu", "amap"}, default None
        Optional online base map (see :data:`TILE_PROVIDERS`); ``None`` works offline.
        ``amap`` tiles are GCJ-02: check :func:`tiles_use_gcj02` and shift overlays.
    tianditu_key : str, default ""
        API key, required for ``tiles="tianditu"`` (setting ``GEO_TIANDITU_KEY``).
    attribution : str, default :data:`BOUNDARY_CREDIT`
        Text credited in the attribution control (escaped).
    prefix : str, default :data:`STATIC_URL_PREFIX`
        URL at which ``./static`` is served.
    width, height : str or int, default "100%"
        Size of the map element (pixels or CSS percentage).

    Returns
    -------
    folium.Map
        With ``max_zoom`` set on the map itself, the canvas renderer and local assets.

    Raises
    ------
    InputError
        For an invalid centre or zoom, unknown tiles or a missing Tianditu key.
    """
    _check_latlng(center_lat, center_lng, "map centre")
    if not 0 <= zoom <= MAX_ZOOM:
        raise InputError(f"zoom {zoom} is out of range: use 0 to {MAX_ZOOM}")
    provider = _tile_provider(tiles)
    if provider is not None and provider.needs_key and not tianditu_key.strip():
        raise InputError(
            f"tiles={provider.name!r} needs an API key: set GEO_TIANDITU_KEY or use tiles='none'"
        )

    m = folium.Map(
        location=[center_lat, center_lng],
        zoom_start=zoom,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,  # folium's scale bar shows miles too; _MetricScale below
        width=width,
        height=height,
    )
    # folium gives max_zoom only to a tile layer; without one Leaflet.markercluster fails
    # with "Map has no maxZoom specified" and the whole map stays blank.
    m.options["max_zoom"] = MAX_ZOOM
    if provider is not None:
        key = quote(tianditu_key.strip(), safe="")
        for i, url in enumerate(provider.urls):
            folium.TileLayer(
                tiles=url.replace("{key}", key),
                attr=provider.attribution,
                name=f"{provider.name}-{i}",
                subdomains=provider.subdomains,
                max_zoom=MAX_ZOOM,
                max_native_zoom=provider.max_native_zoom,
                overlay=i > 0,
                control=False,
            ).add_to(m)
    _MetricScale().add_to(m)
    if attribution:
        _Attribution(escape_text(attribution)).add_to(m)
    return localize_assets(m, prefix)


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


# ---------------------------------------------------------------------------------------
# Polygons


def _check_columns(df: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(f"{what} has no column {', '.join(map(repr, missing))}; it has {list(df.columns)}")


def _check_wgs84(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame, not {type(gdf).__name__}")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        raise InputError(f"{what} is in {gdf.crs.name}; convert it with gdf.to_crs(4326) first")
    keep = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    return gdf[keep]


def _round_coords(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.round(coords, COORD_DECIMALS)


def _polygon_features(geoms: NDArray[np.object_], tips: Sequence[str]) -> dict[str, Any]:
    """Build a FeatureCollection with rounded coordinates, ids 0..n-1 and a ``tip`` each."""
    rounded = shapely.transform(geoms, _round_coords)
    geometries = shapely.to_geojson(rounded)
    features = [
        {"type": "Feature", "id": i, "properties": {"tip": tip}, "geometry": json.loads(g)}
        for i, (g, tip) in enumerate(zip(geometries.tolist(), tips, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


def _style_function(
    fills: Sequence[str] | None, *, color: str, weight: float, fill_opacity: float
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def style(feature: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"color": color, "weight": weight}
        if fills is None:
            out.update(fill=False)
        else:
            out.update(fillColor=fills[int(feature["id"])], fillOpacity=fill_opacity)
        return out

    return style


def _add_features(
    m: folium.Map,
    collection: dict[str, Any],
    style: Callable[[dict[str, Any]], dict[str, Any]],
    name: str | None,
) -> None:
    folium.GeoJson(
        collection,
        name=escape_text(name) if name else None,
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        control=bool(name),
    ).add_to(m)
    _relocalize(m)


def add_boundaries(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    *,
    name_col: str = "name",
    weight: float = 1.0,
    color: str = "#666666",
    name: str | None = None,
) -> folium.Map:
    """Draw region outlines with the region name as tooltip.

    Parameters
    ----------
    m : folium.Map
        The map.
    gdf : geopandas.GeoDataFrame
        Region polygons in WGS-84 (``EPSG:4326``; a missing CRS is taken as WGS-84).
        Simplify large layers first (``geo.regions.simplified``): coordinates are only
        rounded to :data:`COORD_DECIMALS` places here.
    name_col : str, default "name"
        Column shown as tooltip (escaped).
    weight : float, default 1.0
        Line width in pixels.
    color : str, default "#666666"
        Line colour.
    name : str, optional
        Layer name for a LayerControl (escaped).

    Returns
    -------
    folium.Map
        ``m``; unchanged when ``gdf`` has no geometry.

    Raises
    ------
    InputError
        When ``gdf`` is not a WGS-84 GeoDataFrame or lacks ``name_col``.
    """
    gdf = _check_wgs84(gdf, "boundaries")
    _check_columns(gdf, [name_col], "boundaries")
    _check_color(color, "line colour")
    if gdf.empty:
        return m
    tips = _escape_series(gdf[name_col]).tolist()
    collection = _polygon_features(gdf.geometry.to_numpy(), tips)
    _add_features(m, collection, _style_function(None, color=color, weight=weight, fill_opacity=0.0), name)
    return m


def _value_tips(
    labels: pd.Series | None,
    values: NDArray[np.float64],
    fmt: str,
    value_label: str | None,
    nodata_label: str,
) -> list[str]:
    """Escaped tooltip per feature: ``<b>label</b><br>value_label: value`` (label optional)."""
    shown = _escape_series(pd.Series(_format_values(values, fmt, nodata_label), dtype=object))
    if value_label:
        shown = f"{escape_text(value_label)}: " + shown
    if labels is None:
        return shown.tolist()
    return ("<b>" + _escape_series(labels).reset_index(drop=True) + "</b><br>" + shown).tolist()


def add_choropleth(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    value_col: str,
    *,
    label_col: str = "name",
    fmt: str = "{:,.0f}",
    colors: Sequence[str] = SEQUENTIAL_REDS,
    bins: Sequence[float] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    legend_title: str | None = None,
    nodata_label: str = "无数据",
    nodata_color: str = NODATA_COLOR,
    name: str | None = None,
    line_color: str = "#ffffff",
    weight: float = 0.5,
    fill_opacity: float = 0.75,
) -> folium.Map:
    """Colour regions by a value, with tooltips and (optionally) a legend.

    Parameters
    ----------
    m : folium.Map
        The map.
    gdf : geopandas.GeoDataFrame
        Region polygons in WGS-84 with ``value_col`` and ``label_col``.
    value_col : str
        Numeric column to colour by; missing values get ``nodata_color``.
    label_col : str, default "name"
        Column naming each region in the tooltip (escaped).
    fmt : str, default "{:,.0f}"
        ``str.format`` pattern for values in tooltips and legend.
    colors, bins, vmin, vmax, nodata_color
        Classes, see :func:`color_classes`.
    legend_title : str, optional
        When given, a legend with this title is added (:func:`add_legend`) and the title
        prefixes the value in tooltips.
    nodata_label : str, default "无数据"
        Shown for missing values.
    name : str, optional
        Layer name for a LayerControl (escaped).
    line_color, weight, fill_opacity
        Outline colour, outline width in pixels, fill opacity 0-1.

    Returns
    -------
    folium.Map
        ``m``; unchanged when ``gdf`` has no geometry.

    Raises
    ------
    InputError
        For a non-WGS-84 frame, missing columns, a non-numeric value column or bad classes.
    """
    gdf = _check_wgs84(gdf, "choropleth regions")
    _check_columns(gdf, [value_col, label_col], "choropleth regions")
    _check_fmt(fmt)
    _check_color(line_color, "line colour")
    values = _numeric(gdf[value_col], "choropleth regions")
    classes = color_classes(values, colors, bins=bins, vmin=vmin, vmax=vmax, nodata_color=nodata_color)
    if gdf.empty:
        return m
    fills = classes.assign(values).tolist()
    tips = _value_tips(gdf[label_col], values, fmt, legend_title, nodata_label)
    collection = _polygon_features(gdf.geometry.to_numpy(), tips)
    style = _style_function(fills, color=line_color, weight=weight, fill_opacity=fill_opacity)
    _add_features(m, collection, style, name)
    if legend_title is not None:
        has_nodata = bool(np.any(~np.isfinite(values)))
        add_legend(
            m, legend_title, classes.legend_items(fmt, nodata_label=nodata_label if has_nodata else None)
        )
    return m


def _numeric(column: pd.Series, what: str) -> NDArray[np.float64]:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what}: column {column.name!r} must be numeric ({exc})") from exc


def _cells_as_str(cells: pd.Series) -> list[str]:
    """Return H3 cells as strings, from string or integer indexes; raise on invalid ones."""
    if pd.api.types.is_integer_dtype(cells.dtype):
        out = [h3.int_to_str(int(c)) for c in cells.tolist()]
    else:
        out = [str(c) for c in cells.tolist()]
    for row, cell in zip(cells.index.tolist(), out, strict=True):
        if not h3.is_valid_cell(cell):
            raise InputError(f"hexes row {row!r}: {cell!r} is not a valid H3 cell index")
    return out


def add_hexes(
    m: folium.Map,
    cells_df: pd.DataFrame,
    value_col: str,
    *,
    h3_col: str = "h3",
    label_col: str | None = None,
    fmt: str = "{:,.0f}",
    colors: Sequence[str] = SEQUENTIAL_REDS,
    bins: Sequence[float] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    legend_title: str | None = None,
    nodata_label: str = "无数据",
    nodata_color: str = NODATA_COLOR,
    name: str | None = None,
    line_color: str = "#ffffff",
    weight: float = 0.3,
    fill_opacity: float = 0.7,
) -> folium.Map:
    """Draw H3 cells as polygons coloured by a value.

    Each cell costs about 300 bytes of page (350 with a label); keeping a map under
    :data:`MAX_PAYLOAD_BYTES` is the caller's job: pass at most about
    :data:`MAX_HEX_CELLS` cells (coarsen with ``geo.hexes.cells_to_parent`` or keep the
    cells in view). Nothing is dropped or coarsened here.

    Parameters
    ----------
    m : folium.Map
        The map.
    cells_df : pandas.DataFrame
        One row per cell: ``h3_col`` (H3 index as string or integer) and ``value_col``.
    value_col : str
        Numeric column to colour by.
    h3_col : str, default "h3"
        Column of H3 indexes.
    label_col : str, optional
        Column shown in bold above the value in the tooltip (escaped); by default the
        tooltip shows only the value (cell indexes mean nothing to users and cost bytes).
    fmt, colors, bins, vmin, vmax, legend_title, nodata_label, nodata_color, name
        As in :func:`add_choropleth`.
    line_color, weight, fill_opacity
        Outline colour, outline width in pixels, fill opacity 0-1.

    Returns
    -------
    folium.Map
        ``m``; unchanged when ``cells_df`` is empty.

    Raises
    ------
    InputError
        For missing columns, an invalid cell index, a non-numeric value or bad classes.
    """
    _check_columns(cells_df, [h3_col, value_col, label_col], "hexes")
    _check_fmt(fmt)
    _check_color(line_color, "line colour")
    values = _numeric(cells_df[value_col], "hexes")
    classes = color_classes(values, colors, bins=bins, vmin=vmin, vmax=vmax, nodata_color=nodata_color)
    if cells_df.empty:
        return m
    cells = _cells_as_str(cells_df[h3_col])
    # h3 gives (lat, lng) vertices; GeoJSON wants closed (lng, lat) rings. Cells are few
    # (see MAX_HEX_CELLS), so one h3 call per cell is acceptable.
    rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in cells]
    geoms = shapely.polygons([shapely.linearrings(r) for r in rings])
    labels = cells_df[label_col] if label_col is not None else None
    tips = _value_tips(labels, values, fmt, legend_title, nodata_label)
    collection = _polygon_features(np.asarray(geoms, dtype=object), tips)
    style = _style_function(
        classes.assign(values).tolist(), color=line_color, weight=weight, fill_opacity=fill_opacity
    )
    _add_features(m, collection, style, name)
    if legend_title is not None:
        has_nodata = bool(np.any(~np.isfinite(values)))
        add_legend(
            m, legend_title, classes.legend_items(fmt, nodata_label=nodata_label if has_nodata else None)
        )
    return m


# ---------------------------------------------------------------------------------------
# Points

# Returns a plain circle marker (pitfall: FastMarkerCluster's default callback needs
# awesome-markers). Tooltip and popup strings arrive pre-escaped from Python.
_CLUSTER_CALLBACK: Final = """function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]), %s);
    if (row[2]) { marker.bindTooltip(row[2]); }
    if (row[3]) { marker.bindPopup(row[3], {maxWidth: 320}); }
    return marker;
}"""


# Cluster bubbles in the points' own colour (markercluster's default green/yellow/orange
# bubbles read like the values of a red choropleth underneath).
_CLUSTER_ICON: Final = """function (cluster) {
    var n = cluster.getChildCount();
    var size = n < 100 ? 28 : n < 1000 ? 34 : 40;
    return L.divIcon({
        html: '<div style="width:' + size + 'px;height:' + size + 'px;'
            + 'border-radius:50%%;background:%s;opacity:.85;color:#fff;border:2px solid #fff;'
            + 'box-sizing:border-box;text-align:center;font:600 11px sans-serif;'
            + 'line-height:' + (size - 4) + 'px">' + n + '</div>',
        className: "atlas-cluster",
        iconSize: L.point(size, size)
    });
}"""


def _popup_html(df: pd.DataFrame, popup_cols: Mapping[str, str]) -> pd.Series:
    """Build escaped popup HTML per row: ``<b>label</b>: value`` lines."""
    out = pd.Series("", index=df.index, dtype=object)
    for i, (col, label) in enumerate(popup_cols.items()):
        line = f"<b>{escape_text(label)}</b>: " + _escape_series(df[col])
        out = out + ("<br>" if i else "") + line
    return out


def add_points(
    m: folium.Map,
    df: pd.DataFrame,
    *,
    lat_col: str = "lat",
    lng_col: str = "lng",
    popup_cols: Sequence[str] | Mapping[str, str] | None = None,
    tooltip_col: str | None = None,
    color: str = POINT_COLOR,
    radius: float = 5.0,
    cluster: bool | None = None,
    name: str | None = None,
    fill_opacity: float = 0.8,
) -> folium.Map:
    """Draw points as circle markers, clustered when there are many.

    Up to :data:`CLUSTER_THRESHOLD` points (by default) become individual
    ``CircleMarker``s; more go into one ``FastMarkerCluster`` whose callback returns
    ``L.circleMarker`` (no icon assets needed). All text is escaped in Python.

    Clustered points cost about 23 bytes each plus their tooltip/popup text (non-ASCII
    characters are sent as 6-byte JSON escapes): 100,000 bare points ≈ 2.3 MB,
    with a short Chinese tooltip ≈ 4.4 MB. Keep :func:`payload_bytes` under
    :data:`MAX_PAYLOAD_BYTES` by filtering or leaving out text for large layers.

    Parameters
    ----------
    m : folium.Map
        The map.
    df : pandas.DataFrame
        One row per point with WGS-84 ``lat_col``/``lng_col`` degrees.
    lat_col, lng_col : str, default "lat", "lng"
        Coordinate columns.
    popup_cols : sequence of str or mapping of column to label, optional
        Columns listed in the popup (``label: value`` lines, escaped).
    tooltip_col : str, optional
        Column shown on hover (escaped).
    color : str, default :data:`POINT_COLOR`
        Outline and fill colour.
    radius : float, default 5.0
        Marker radius in pixels.
    cluster : bool, optional
        Force clustering on or off; default: cluster above :data:`CLUSTER_THRESHOLD`.
    name : str, optional
        Layer name for a LayerControl (escaped).
    fill_opacity : float, default 0.8
        Fill opacity 0-1.

    Returns
    -------
    folium.Map
        ``m``; unchanged when ``df`` is empty.

    Raises
    ------
    InputError
        For missing columns, coordinates that are not WGS-84 degrees, or ``cluster=False``
        with more than :data:`PLAIN_MARKERS_MAX` points.
    """
    cols: Mapping[str, str] = (
        {}
        if popup_cols is None
        else dict(popup_cols)
        if isinstance(popup_cols, Mapping)
        else {c: c for c in popup_cols}
    )
    _check_columns(df, [lat_col, lng_col, tooltip_col, *cols], "points")
    _check_color(color, "point colour")
    if df.empty:
        return m
    lat = _numeric(df[lat_col], "points")
    lng = _numeric(df[lng_col], "points")
    bad = ~(np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180))
    if bad.any():
        first = df.index.tolist()[int(np.argmax(bad))]
        raise InputError(
            f"points row {first!r} (and {int(bad.sum()) - 1} more): {lat_col}/{lng_col} are not WGS-84 "
            "degrees; drop or geocode those rows first"
        )
    lat, lng = np.round(lat, COORD_DECIMALS), np.round(lng, COORD_DECIMALS)
    tips = _escape_series(df[tooltip_col]).tolist() if tooltip_col else [""] * len(df)
    popups = _popup_html(df, cols).tolist() if cols else [""] * len(df)
    use_cluster = len(df) > CLUSTER_THRESHOLD if cluster is None else cluster
    layer_name = escape_text(name) if name else None

    if use_cluster:
        style = {
            "radius": radius,
            "color": color,
            "weight": 1,
            "fillColor": color,
            "fillOpacity": fill_opacity,
        }
        # Rows are [lat, lng, tooltip, popup], cut after the last column in use: empty
        # strings would cost 3 bytes per point for nothing.
        width = 4 if cols else 3 if tooltip_col else 2
        rows = zip(lat.tolist(), lng.tolist(), tips, popups, strict=True)
        data = [list(row[:width]) for row in rows]
        folium.plugins.FastMarkerCluster(
            data,
            callback=_CLUSTER_CALLBACK % json.dumps(style),
            name=layer_name,
            control=bool(name),
            icon_create_function=_CLUSTER_ICON % color,
            chunkedLoading=True,
        ).add_to(m)
    else:
        if len(df) > PLAIN_MARKERS_MAX:
            raise InputError(
                f"{len(df):,} points is too many to draw one by one (at most {PLAIN_MARKERS_MAX:,}): "
                "use cluster=True or None"
            )
        group = folium.FeatureGroup(name=layer_name, control=bool(name))
        for y, x, tip, popup in zip(lat.tolist(), lng.tolist(), tips, popups, strict=True):
            folium.CircleMarker(
                location=[y, x],
                radius=radius,
                color=color,
                weight=1,
                fill=True,
                fill_color=color,
                fill_opacity=fill_opacity,
                popup=folium.Popup(popup, max_width=320) if popup else None,
                tooltip=folium.Tooltip(tip) if tip else None,
            ).add_to(group)
        group.add_to(m)
    _relocalize(m)
    return m


# ---------------------------------------------------------------------------------------
# Output


def payload_bytes(m: folium.Map) -> int:
    """Return the size of the rendered map page in bytes (UTF-8).

    Parameters
    ----------
    m : folium.Map
        The map.

    Returns
    -------
    int
        ``len(m.get_root().render())`` in bytes; pages should keep it at most
        :data:`MAX_PAYLOAD_BYTES`. Linked scripts are not counted.
    """
    return len(m.get_root().render().encode("utf-8"))


@functools.cache
def _read_asset(path: str) -> bytes:
    """Read one vendored web asset from :data:`STATIC_DIR`.

    Only :mod:`geo.store` touches project *data* files; these are the app's own packaged
    web assets (static/vendor, static/js), read here solely to inline them into a
    standalone HTML export that must work opened from disk, with no server and no
    internet.
    """
    full = (STATIC_DIR / path).resolve()
    if not full.is_relative_to(STATIC_DIR) or not full.is_file():
        raise MapAssetError(
            f"web asset {path!r} is missing under {STATIC_DIR}; restore static/ from the repository"
        )
    return full.read_bytes()


# How branca renders JavascriptLink and CssLink.
_ASSET_TAG: Final = re.compile(r'<script src="([^"]+)"></script>|<link rel="stylesheet" href="([^"]+)"/>')
_CSS_URL: Final = re.compile(r"""url\((['"]?)([^)'"]+)\1\)""")
_SOURCE_MAP: Final = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


def _inline_css(path: str) -> str:
    css = _read_asset(path).decode("utf-8")
    folder = path.rsplit("/", 1)[0] if "/" in path else ""

    def embed(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("#", "data:", "http:", "https:", "/")):
            return match.group(0)
        target = f"{folder}/{ref}" if folder else ref
        mime = mimetypes.guess_type(target)[0] or "application/octet-stream"
        data = base64.b64encode(_read_asset(target)).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return _CSS_URL.sub(embed, css).replace("</style", "<\\/style")


def _inline_js(path: str) -> str:
    js = _read_asset(path).decode("utf-8")
    js = _SOURCE_MAP.sub("", js)  # the .map files are not vendored
    # Inside an inline <script>, "</script" would end it and "<!--" changes parsing.
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def map_html(m: folium.Map, *, prefix: str = STATIC_URL_PREFIX) -> str:
    """Export the map as one standalone HTML file that works offline, opened from disk.

    The vendored scripts and stylesheets are inlined (stylesheet images as data URIs),
    so the file needs neither the Streamlit server nor the internet (tiles excepted).

    Parameters
    ----------
    m : folium.Map
        The map; its assets are localized first (:func:`localize_assets`).
    prefix : str, default :data:`STATIC_URL_PREFIX`
        Prefix the assets are localized with before being inlined.

    Returns
    -------
    str
        The complete HTML document.

    Raises
    ------
    MapAssetError
        When an asset has no local copy or a vendored file is missing.
    """
    prefix = prefix.rstrip("/")
    localize_assets(m, prefix)
    page = m.get_root().render()
    start = prefix + "/"

    def inline(match: re.Match[str]) -> str:
        js_url, css_url = match.group(1), match.group(2)
        url = js_url or css_url
        if not url.startswith(start):
            raise MapAssetError(f"{url} is not a local asset and cannot be inlined; vendor it under static/")
        if js_url:
            return "<script>" + _inline_js(url[len(start) :]) + "</script>"
        return "<style>" + _inline_css(url[len(start) :]) + "</style>"

    # One pass, so text inside inlined files is never taken for another tag.
    return _ASSET_TAG.sub(inline, page)


def _bounds_center(bounds: Sequence[float]) -> tuple[float, float]:
    minx, miny, maxx, maxy = bounds
    return (miny + maxy) / 2, (minx + maxx) / 2


def region_map(
    gdf: gpd.GeoDataFrame,
    value_col: str,
    *,
    label_col: str = "name",
    fmt: str = "{:,.0f}",
    legend_title: str | None = None,
    nodata_label: str = "无数据",
    bins: Sequence[float] | None = None,
    tiles: str | None = None,
    tianditu_key: str = "",
) -> folium.Map:
    """Build a choropleth map of regions, fitted to their extent.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Region polygons (WGS-84) with ``value_col``, ``label_col`` and ``adcode``
        (kept in the feature properties so a click can name the region).
    value_col, label_col, fmt, legend_title, nodata_label, bins
        As for :func:`add_choropleth`.
    tiles, tianditu_key
        As for :func:`base_map`.
    """
    lat, lng = _bounds_center(gdf.total_bounds) if len(gdf) else (35.0, 104.0)
    m = base_map(lat, lng, 4, tiles=tiles, tianditu_key=tianditu_key)
    add_choropleth(
        m,
        gdf,
        value_col,
        label_col=label_col,
        fmt=fmt,
        legend_title=legend_title,
        nodata_label=nodata_label,
        bins=bins,
    )
    if len(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def hex_res_for_zoom(zoom: float, lat: float = 35.0, min_edge_px: float = 2.0) -> int:
    """Finest H3 resolution whose cells are still visible on a web map at ``zoom``.

    Parameters
    ----------
    zoom : float
        Leaflet zoom level (0 = the world in 256 pixels).
    lat : float, default 35.0
        Latitude of the view, degrees (Web Mercator shrinks metres per pixel by cos(lat)).
    min_edge_px : float, default 2.0
        Smallest average cell edge, in screen pixels, that still reads as a cell.

    Returns
    -------
    int
        Resolution 0–15: the finest with ``average_hexagon_edge_length >= min_edge_px``
        pixels (0 when even res-0 cells are smaller).
    """
    m_per_px = 2 * math.pi * 6_378_137.0 / 256 * math.cos(math.radians(lat)) / 2 ** float(zoom)
    best = 0
    for res in range(16):
        if h3.average_hexagon_edge_length(res, unit="m") >= min_edge_px * m_per_px:
            best = res
    return best


def zoom_for_bounds(bounds: Sequence[float], width_px: int, height_px: int, max_zoom: int = MAX_ZOOM) -> int:
    """Largest whole zoom at which ``bounds`` fit a map of the given size (Web Mercator).

    Parameters
    ----------
    bounds : sequence of float
        ``(min_lng, min_lat, max_lng, max_lat)``, WGS-84 degrees (``total_bounds`` order).
    width_px, height_px : int
        Size of the map, pixels.
    max_zoom : int, default :data:`MAX_ZOOM`
        Zoom for a single point or a tiny box.

    Returns
    -------
    int
        Zoom level 0 to ``max_zoom`` (what Leaflet's ``fitBounds`` picks without padding).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)

    def merc_y(lat: float) -> float:
        s = math.sin(math.radians(max(min(lat, 85.0511), -85.0511)))
        return 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)  # 0..1 over the world

    dx = max((maxx - minx) / 360.0, 1e-12)
    dy = max(merc_y(miny) - merc_y(maxy), 1e-12)
    zoom = math.floor(math.log2(min(width_px / (256 * dx), height_px / (256 * dy))))
    return int(min(max(zoom, 0), max_zoom))


def hex_map(
    cells: pd.DataFrame,
    value_col: str,
    *,
    outline: gpd.GeoDataFrame | None = None,
    h3_col: str = "h3",
    fmt: str = "{:,.0f}",
    legend_title: str | None = None,
    bins: Sequence[float] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    tiles: str | None = None,
    tianditu_key: str = "",
    view: tuple[float, float, int] | None = None,
) -> folium.Map:
    """Build a map of H3 cells coloured by ``value_col`` over region outlines, fitted to them.

    The caller keeps ``len(cells)`` under :data:`MAX_HEX_CELLS` (coarsen or filter first).
    With ``view`` = ``(lat, lng, zoom)`` the map opens at that centre and zoom instead
    (a map redrawn for the part a user zoomed into stays where the user left it).
    """
    from geo import hexes

    if len(cells):
        lat, lng = hexes.cells_to_latlng(cells[h3_col].to_numpy())
        bounds = [float(lng.min()), float(lat.min()), float(lng.max()), float(lat.max())]
    elif outline is not None and len(outline):
        bounds = [float(v) for v in outline.total_bounds]
    else:
        bounds = [73.0, 18.0, 135.0, 53.0]
    if view is not None:
        _check_latlng(view[0], view[1], "map view centre")
    m = base_map(
        *(view[:2] if view else _bounds_center(bounds)),
        int(view[2]) if view else 6,
        tiles=tiles,
        tianditu_key=tianditu_key,
    )
    if outline is not None and len(outline):
        add_boundaries(m, outline, color="#888888", weight=0.8)
    if len(cells):
        add_hexes(
            m,
            cells,
            value_col,
            h3_col=h3_col,
            fmt=fmt,
            legend_title=legend_title,
            bins=bins,
            vmin=vmin,
            vmax=vmax,
        )
    if view is None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m
