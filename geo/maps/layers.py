"""Map layers (region outlines, choropleths, H3 cells, points) and whole-map builders."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import folium
import folium.plugins
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.errors import InputError
from geo.maps.assets import _relocalize
from geo.maps.escape import _escape_series, escape_text
from geo.maps.official import add_official_layers, is_national, level_of
from geo.maps.style import (
    NODATA_COLOR,
    POINT_COLOR,
    SEQUENTIAL_REDS,
    _check_color,
    _check_fmt,
    _format_values,
    add_legend,
    color_classes,
)
from geo.maps.tiles import base_map
from geo.maps.viewport import _bounds_center, _check_latlng

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
    lang: str = "zh",
    official: bool = True,
) -> folium.Map:
    """Build a choropleth map of regions, fitted to their extent.

    Regions without a value are filled with the ``no data`` colour, never left out, so
    Taiwan, Hong Kong, Macau and the South China Sea islands always show.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Region polygons (WGS-84) with ``value_col``, ``label_col`` and ``adcode``
        (kept in the feature properties so a click can name the region).
    value_col, label_col, fmt, legend_title, nodata_label, bins
        As for :func:`add_choropleth`.
    tiles, tianditu_key
        As for :func:`base_map`.
    lang : {"zh", "en"}, default "zh"
        Language of the South China Sea inset caption and line tooltips.
    official : bool, default True
        Add the boundary lines, background and (national view) inset of
        :func:`geo.maps.official.add_official_layers`; a national view is then fitted to
        the mainland, the islands further south being in the inset.
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
        if not (official and is_national(gdf.total_bounds)):  # else one fit, to the mainland, below
            m.fit_bounds([[miny, minx], [maxy, maxx]])
        if official:
            values = _numeric(gdf[value_col], "choropleth regions")
            fills = color_classes(values, bins=bins).assign(values)
            codes = gdf["adcode"].astype(str).tolist() if "adcode" in gdf.columns else []
            add_official_layers(
                m,
                gdf.total_bounds,
                lang=lang,
                level=level_of(codes),
                fills=dict(zip(codes, fills.tolist(), strict=True)) if codes else None,
            )
    return m


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
    lang: str = "zh",
    official: bool = True,
) -> folium.Map:
    """Build a map of H3 cells coloured by ``value_col`` over region outlines, fitted to them.

    The caller keeps ``len(cells)`` under :data:`MAX_HEX_CELLS` (coarsen or filter first).
    With ``view`` = ``(lat, lng, zoom)`` the map opens at that centre and zoom instead
    (a map redrawn for the part a user zoomed into stays where the user left it).
    With an ``outline`` and ``official`` (default), the boundary lines and, for a national
    outline, the South China Sea inset are added (:func:`geo.maps.official.add_official_layers`,
    caption in ``lang``).
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
    framed = official and outline is not None and len(outline) > 0
    if view is None and not (framed and is_national(outline.total_bounds)):  # type: ignore[union-attr]
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if official and outline is not None and len(outline):
        codes = outline["adcode"].astype(str).tolist() if "adcode" in outline.columns else []
        add_official_layers(m, outline.total_bounds, lang=lang, level=level_of(codes), fit=view is None)
    return m
