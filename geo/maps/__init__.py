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

The package has one module per job: :mod:`~geo.maps.assets` (vendored assets, HTML export),
:mod:`~geo.maps.escape` (escaping), :mod:`~geo.maps.tiles` (tile providers, base map),
:mod:`~geo.maps.style` (colours, classes, legends), :mod:`~geo.maps.layers` (layers and
whole-map builders), :mod:`~geo.maps.official` (boundary lines, South China Sea inset),
:mod:`~geo.maps.export` (static PNG/PDF with matplotlib) and :mod:`~geo.maps.viewport` (zoom
and bounds maths; every bounding box is ``(west, south, east, north)``). Everything public
of the folium side is re-exported here: ``from geo import maps``.
"""

from geo.maps.assets import (
    CSS_ASSETS,
    JS_ASSETS,
    MAX_PAYLOAD_BYTES,
    STATIC_DIR,
    STATIC_URL_PREFIX,
    LocalAsset,
    localize_assets,
    map_html,
    payload_bytes,
)
from geo.maps.escape import _escape_series, escape_text
from geo.maps.layers import (
    CLUSTER_THRESHOLD,
    COORD_DECIMALS,
    MAX_HEX_CELLS,
    PLAIN_MARKERS_MAX,
    add_boundaries,
    add_choropleth,
    add_hexes,
    add_points,
    hex_map,
    region_map,
)
from geo.maps.official import (
    CHINA_MAIN_BOUNDS,
    MAP_BACKGROUND,
    SCS_INSET_BOUNDS,
    add_boundary_lines,
    add_official_layers,
    add_scs_inset,
    is_national,
    scs_inset_svg,
)
from geo.maps.style import (
    LEGEND_POSITIONS,
    NODATA_COLOR,
    POINT_COLOR,
    SEQUENTIAL_REDS,
    ColorClasses,
    add_legend,
    color_classes,
    legend_html,
)
from geo.maps.tiles import BOUNDARY_CREDIT, TILE_PROVIDERS, TileProvider, base_map, tiles_use_gcj02
from geo.maps.viewport import MAX_ZOOM, hex_res_for_zoom, zoom_for_bounds

__all__ = [
    "BOUNDARY_CREDIT",
    "CHINA_MAIN_BOUNDS",
    "CLUSTER_THRESHOLD",
    "COORD_DECIMALS",
    "CSS_ASSETS",
    "JS_ASSETS",
    "LEGEND_POSITIONS",
    "MAP_BACKGROUND",
    "MAX_HEX_CELLS",
    "MAX_PAYLOAD_BYTES",
    "MAX_ZOOM",
    "NODATA_COLOR",
    "PLAIN_MARKERS_MAX",
    "POINT_COLOR",
    "SCS_INSET_BOUNDS",
    "SEQUENTIAL_REDS",
    "STATIC_DIR",
    "STATIC_URL_PREFIX",
    "TILE_PROVIDERS",
    "ColorClasses",
    "LocalAsset",
    "TileProvider",
    "_escape_series",
    "add_boundaries",
    "add_boundary_lines",
    "add_choropleth",
    "add_hexes",
    "add_legend",
    "add_official_layers",
    "add_points",
    "add_scs_inset",
    "base_map",
    "color_classes",
    "escape_text",
    "hex_map",
    "hex_res_for_zoom",
    "is_national",
    "legend_html",
    "localize_assets",
    "map_html",
    "payload_bytes",
    "region_map",
    "scs_inset_svg",
    "tiles_use_gcj02",
    "zoom_for_bounds",
]
