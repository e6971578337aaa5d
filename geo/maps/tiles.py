"""Optional online base maps (tile providers) and the empty base map every builder starts from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import folium
import folium.plugins
from branca.element import MacroElement
from folium.template import Template

from geo.errors import InputError
from geo.maps.assets import STATIC_URL_PREFIX, localize_assets
from geo.maps.escape import escape_text
from geo.maps.viewport import MAX_ZOOM, _check_latlng

BOUNDARY_CREDIT: Final = "边界: 天地图"
"""Attribution shown on every map: region boundaries come from Tianditu."""


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
