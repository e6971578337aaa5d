"""Static maps for reports: PNG and PDF, A4 landscape, drawn with geopandas + matplotlib.

No browser is needed. Every map carries what a map of China in a report must carry: a
title, a legend (with a hatched ``no data`` entry when regions lack a value), the data
source and date (Tianditu credit for the boundaries, a demo-data label when the data are
the demo), a scale bar, a north arrow, the boundary lines (境界线, dashed; the South China
Sea line drawn as its ten dashes) and, on national maps, the South China Sea inset
(南海诸岛) in the lower right. Text is set in a font with Chinese glyphs
(:mod:`geo.maps.fonts`).

Callers pass the *published* figures a page shows (the same frame the folium map is drawn
from); nothing here computes or rounds a value. Colour classes come from
:func:`geo.maps.style.color_classes`, as on the web map, so the two agree.

Typical use::

    fig = region_figure(provinces, "stations_per_10k", furniture=MapFurniture(title="…"))
    png = figure_bytes(fig, "png")

Maps are projected with an Albers equal-area conic fitted to the view
(:func:`albers_for`), so areas compare fairly and the scale bar holds near the centre.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle

from geo import i18n, regions
from geo.errors import InputError
from geo.maps.fonts import cjk_font_family
from geo.maps.official import CHINA_MAIN_BOUNDS, LINE_COLOR, SCS_INSET_BOUNDS, is_national
from geo.maps.style import NODATA_COLOR, SEQUENTIAL_REDS, ColorClasses, color_classes

A4_LANDSCAPE_IN: Final = (297 / 25.4, 210 / 25.4)
"""Page size, inches (297 × 210 mm)."""

DEFAULT_DPI: Final = 200
"""Resolution of PNG exports: 2338 × 1653 pixels on A4."""

FORMATS: Final = ("png", "pdf")

NODATA_HATCH: Final = "////"
"""Hatch of regions or cells without a value (over :data:`NODATA_COLOR`)."""

LAND_COLOR: Final = "#efece6"
"""Fill of regions under a cell layer (hex maps)."""

_MAIN_AXES: Final = (0.02, 0.085, 0.78, 0.80)  # left, bottom, width, height (figure fraction)
_COLUMN: Final = (0.815, 0.165)  # right column (north arrow, legend, inset): left, width


@dataclass(frozen=True)
class MapFurniture:
    """Everything around the map: title, legend heading, source, date, language.

    Attributes
    ----------
    title : str
        Title at the top.
    subtitle : str
        Line under the title (filters, radius…); may be empty.
    legend_title : str
        Heading of the legend.
    source : str
        Data source named in the footer (e.g. the dataset version); may be empty.
    demo : bool
        The data are (partly) the demo dataset: the footer and a badge say so.
    lang : {"zh", "en"}
        Language of the fixed texts (inset caption, scale unit, credits).
    made_on : datetime.date
        Date printed in the footer.
    notes : tuple of str
        Further footer lines (e.g. what a hatched cell means).
    """

    title: str
    subtitle: str = ""
    legend_title: str = ""
    source: str = ""
    demo: bool = False
    lang: str = i18n.DEFAULT_LANG
    made_on: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    notes: tuple[str, ...] = ()


def albers_for(bounds: Sequence[float]) -> str:
    """Return an Albers equal-area conic (PROJ string) fitted to a view.

    Parameters
    ----------
    bounds : sequence of float
        ``(west, south, east, north)``, WGS-84 degrees.

    Returns
    -------
    str
        China's usual parameters (standard parallels 25°N and 47°N, central meridian 105°E)
        for a national view; else parallels at 1/6 and 5/6 of the view's height and its
        central meridian.
    """
    west, south, east, north = (float(v) for v in bounds)
    if is_national(bounds):
        lat1, lat2, lon0 = 25.0, 47.0, 105.0
    else:
        lat1, lat2, lon0 = south + (north - south) / 6, north - (north - south) / 6, (west + east) / 2
        if abs(lat2 - lat1) < 0.5:
            lat1, lat2 = lat1 - 0.25, lat2 + 0.25
    return (
        f"+proj=aea +lat_0=0 +lon_0={lon0:.4f} +lat_1={lat1:.4f} +lat_2={lat2:.4f} "
        "+datum=WGS84 +units=m +no_defs"
    )


def _check_frame(gdf: gpd.GeoDataFrame, columns: Sequence[str], what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame, not {type(gdf).__name__}")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise InputError(f"{what} has no column {', '.join(map(repr, missing))}; it has {list(gdf.columns)}")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        raise InputError(f"{what} is in {gdf.crs.name}; convert it with gdf.to_crs(4326) first")
    return gdf.set_crs(4326, allow_override=True)


def _values(column: pd.Series, what: str) -> np.ndarray:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what}: column {column.name!r} must be numeric ({exc})") from exc


@dataclass(frozen=True)
class PointLayer:
    """Points drawn over a map, with their own legend entry (e.g. proposed sites).

    Attributes
    ----------
    lat, lng : sequence of float
        WGS-84 degrees, one per point.
    label : str
        Legend entry.
    color : str
        Marker fill.
    marker : str
        Matplotlib marker (``"*"`` star, ``"o"`` dot…).
    size : float
        Marker area, points².
    numbered : bool
        Write each point's 1-based position next to it (ranked sites; up to
        :data:`MAX_NUMBERED_POINTS` points).
    """

    lat: Sequence[float]
    lng: Sequence[float]
    label: str
    color: str = "#1f4e9c"
    marker: str = "*"
    size: float = 90.0
    numbered: bool = False


MAX_NUMBERED_POINTS: Final = 30
"""Most points of a :class:`PointLayer` labelled with their rank (more would be unreadable)."""


def _draw_points(ax: Axes, crs: str, layers: Sequence[PointLayer]) -> list[Line2D]:
    """Draw the point layers on ``ax``; return their legend handles."""
    handles = []
    for layer in layers:
        lat = np.asarray(layer.lat, dtype=np.float64)
        lng = np.asarray(layer.lng, dtype=np.float64)
        if lat.shape != lng.shape:
            raise InputError(f"map points {layer.label!r}: {len(lat)} latitudes but {len(lng)} longitudes")
        bad = ~(np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"map points {layer.label!r} row {row + 1}: ({lat[row]}, {lng[row]}) is not a WGS-84 "
                "latitude/longitude; fix or remove that point"
            )
        if not len(lat):
            continue
        pts = gpd.GeoSeries(gpd.points_from_xy(lng, lat), crs=4326).to_crs(crs)
        x, y = pts.x.to_numpy(), pts.y.to_numpy()
        ax.scatter(
            x,
            y,
            s=layer.size,
            c=layer.color,
            marker=layer.marker,
            edgecolors="white",
            linewidths=0.6,
            zorder=6,
        )
        if layer.numbered and len(x) <= MAX_NUMBERED_POINTS:
            for k, (px, py) in enumerate(zip(x, y, strict=True), start=1):
                ax.annotate(
                    str(k),
                    (px, py),
                    xytext=(4, 3),
                    textcoords="offset points",
                    fontsize=7,
                    color="#1b1b1b",
                    zorder=7,
                )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=layer.marker,
                color=layer.color,
                markeredgecolor="white",
                markersize=11,
                label=f"{layer.label} ({len(x)})",
            )
        )
    return handles


def _new_figure() -> Figure:
    # Figure() without pyplot: no global state, safe in a web server's worker threads.
    return Figure(figsize=A4_LANDSCAPE_IN, facecolor="white")


def _draw_classes(
    ax: Axes, gdf: gpd.GeoDataFrame, values: np.ndarray, classes: object, *, edge: str, width: float
) -> None:
    fills = classes.assign(values)  # type: ignore[attr-defined]
    has = np.isfinite(values)
    if has.any():
        gdf[has].plot(ax=ax, color=list(fills[has]), edgecolor=edge, linewidth=width)
    if (~has).any():
        gdf[~has].plot(ax=ax, facecolor=NODATA_COLOR, edgecolor="#8a9099", linewidth=0.0, hatch=NODATA_HATCH)
        gdf[~has].boundary.plot(ax=ax, color=edge, linewidth=width)


def _draw_context(ax: Axes, crs: str, bounds: Sequence[float]) -> None:
    """Neighbouring provinces (incl. Hong Kong, Macau, Taiwan) in a land colour under a regional map.

    Without them a province's map would show its neighbours, and the special administrative
    regions inside its outline, as holes.
    """
    west, south, east, north = bounds
    pad = 0.25 * max(east - west, north - south)
    prov = regions.simplified("province", 0.01)
    near = prov[
        shapely.intersects(
            prov.geometry.to_numpy(), shapely.box(west - pad, south - pad, east + pad, north + pad)
        )
    ]
    near.to_crs(crs).plot(ax=ax, color=LAND_COLOR, edgecolor="#c9c9c9", linewidth=0.4)


def _draw_lines(ax: Axes, crs: str, level: str, bounds: Sequence[float]) -> None:
    lines = regions.boundary_lines(level)
    west, south, east, north = bounds
    box = shapely.box(west - 1, south - 1, east + 1, north + 1)
    lines = lines[shapely.intersects(lines.geometry.to_numpy(), box)].to_crs(crs)
    scs = lines["line_type"] == "south_china_sea"
    if scs.any():
        lines[scs].plot(ax=ax, color=LINE_COLOR, linewidth=1.1)
    if (~scs).any():
        lines[~scs].plot(ax=ax, color=LINE_COLOR, linewidth=0.9, linestyle=(0, (5, 3)))


def _wrap(text: str, max_units: float = 13.0) -> str:
    """Break ``text`` into lines of at most ``max_units`` (a CJK character is 1, others about 0.55).

    Latin text breaks at spaces; CJK text anywhere. Keeps a long legend heading inside the
    right-hand column of the page.
    """
    lines: list[str] = []
    line, units = "", 0.0
    for word in re.findall(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+", text):
        w = sum(1.0 if ord(ch) >= 0x2E80 else 0.55 for ch in word.rstrip())
        if line and units + w > max_units:
            lines.append(line.rstrip())
            line, units = "", 0.0
        line += word
        units += w + (0.55 if word.endswith(" ") else 0.0)
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def _legend(
    fig: Figure,
    items: list[tuple[str, str]],
    nodata_label: str | None,
    title: str,
    font: str,
    extra: Sequence[Line2D] = (),
) -> None:
    handles: list[Patch | Line2D] = [
        Patch(facecolor=c, edgecolor="#999999", linewidth=0.4, label=label) for c, label in items
    ]
    if nodata_label is not None:
        handles.append(
            Patch(facecolor=NODATA_COLOR, edgecolor="#8a9099", hatch=NODATA_HATCH, label=nodata_label)
        )
    handles += list(extra)
    if not handles:
        return
    legend = fig.legend(
        handles=handles,
        title=_wrap(title) if title else None,
        loc="upper left",
        bbox_to_anchor=(_COLUMN[0], 0.79),
        frameon=True,
        framealpha=0.95,
        edgecolor="#bbbbbb",
        prop={"family": font, "size": 9},
        title_fontproperties={"family": font, "size": 10},
    )
    legend.set_zorder(20)


def _nice_length_km(span_km: float) -> float:
    target = span_km / 5
    exp = 10 ** math.floor(math.log10(target))
    return max(m * exp for m in (1, 2, 5) if m * exp <= target)


def _scale_bar(ax: Axes, font: str, lang: str) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_km = _nice_length_km((x1 - x0) / 1000)
    w, h = length_km * 1000, (y1 - y0) * 0.008
    x, y = x0 + (x1 - x0) * 0.015, y0 + (y1 - y0) * 0.035
    for i, color in enumerate(("#222222", "#ffffff")):
        ax.add_patch(
            Rectangle((x + i * w / 2, y), w / 2, h, facecolor=color, edgecolor="#222222", lw=0.6, zorder=20)
        )
    unit = i18n.t("maps.km", lang)
    for frac, label in ((0, "0"), (1, f"{length_km:g} {unit}")):
        ax.text(
            x + frac * w, y + h * 1.8, label, ha="center", va="bottom", fontsize=8, family=font, zorder=20
        )


def _north_arrow(fig: Figure, font: str, lang: str) -> None:
    x = _COLUMN[0] + 0.02
    arrow = FancyArrow(
        x, 0.815, 0, 0.05, width=0.004, head_width=0.016, head_length=0.022,
        transform=fig.transFigure, color="#222222",
    )  # fmt: skip
    fig.add_artist(arrow)
    fig.text(x, 0.893, i18n.t("maps.north", lang), ha="center", va="bottom", fontsize=10, family=font)


def _inset(fig: Figure, ax: Axes, crs: str, fills: dict[str, str], font: str, lang: str) -> Axes:
    west, south, east, north = SCS_INSET_BOUNDS
    prov = regions.simplified("province", 0.01)
    clipped = prov.assign(geometry=shapely.clip_by_rect(prov.geometry.to_numpy(), west, south, east, north))
    clipped = clipped[~clipped.geometry.is_empty].to_crs(crs)
    frame = gpd.GeoSeries([shapely.box(west, south, east, north)], crs=4326).to_crs(crs).total_bounds
    inset = fig.add_axes((_COLUMN[0], _MAIN_AXES[1], _COLUMN[1], _MAIN_AXES[3] * 0.40))
    inset.set_facecolor("white")
    colors = [fills.get(a, LAND_COLOR) for a in clipped["adcode"]]
    clipped.plot(ax=inset, color=colors, edgecolor="#777777", linewidth=0.35)
    # islands are specks at this size: outline them so that they stay visible
    small = clipped[clipped["adcode"] == "460000"]
    small.boundary.plot(ax=inset, color="#555555", linewidth=0.5)
    lines = regions.boundary_lines("province")
    lines[lines["line_type"] == "south_china_sea"].to_crs(crs).plot(ax=inset, color=LINE_COLOR, linewidth=1.0)
    _fit(inset, frame, margin=0.0)
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")
    for spine in inset.spines.values():
        spine.set_edgecolor("#444444")
        spine.set_linewidth(0.8)
    inset.text(
        0.96,
        0.03,
        i18n.t("maps.scs_inset", lang),
        transform=inset.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        family=font,
        zorder=5,
    )
    inset.set_label("scs_inset")
    return inset


def _furniture(fig: Figure, ax: Axes, f: MapFurniture, font: str) -> None:
    fig.text(0.03, 0.955, f.title, fontsize=18, family=font, va="top")
    if f.subtitle:
        fig.text(0.03, 0.905, f.subtitle, fontsize=10, family=font, va="top", color="#444444")
    if f.demo:
        fig.text(
            0.97,
            0.955,
            i18n.t("maps.source_demo", f.lang),
            fontsize=11,
            family=font,
            va="top",
            ha="right",
            color="#9a4d00",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fff1db", "edgecolor": "#e0a050"},
        )
    sources = [i18n.t("maps.source_boundaries", f.lang)]
    data = " · ".join(s for s in (f.source, i18n.t("maps.source_demo", f.lang) if f.demo else "") if s)
    if data:
        sources.insert(0, i18n.t("maps.source_data", f.lang, source=data))
    lines = [" | ".join(sources), *f.notes]
    fig.text(0.03, 0.025, "\n".join(lines), fontsize=8, family=font, va="bottom", color="#333333")
    fig.text(
        0.97,
        0.025,
        i18n.t("maps.made_on", f.lang, date=f.made_on.isoformat()),
        fontsize=8,
        family=font,
        va="bottom",
        ha="right",
        color="#333333",
    )


def _main_axes(fig: Figure) -> Axes:
    ax = fig.add_axes(_MAIN_AXES)
    ax.set_axis_off()
    ax.set_label("map")
    return ax


def _fit(ax: Axes, bounds_xy: Sequence[float], margin: float = 0.03) -> None:
    """Show ``bounds_xy`` at equal x/y scale, widened to the axes' own shape (no warning, no shrink)."""
    pos = ax.get_position(original=True)
    width_in, height_in = A4_LANDSCAPE_IN  # every figure here is one A4 page
    shape = (pos.height * height_in) / (pos.width * width_in)  # height / width of the axes box
    x0, y0, x1, y1 = bounds_xy
    dx, dy = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    if dy / dx > shape:
        dx = dy / shape
    else:
        dy = dx * shape
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - dx / 2, cx + dx / 2)
    ax.set_ylim(cy - dy / 2, cy + dy / 2)
    ax.set_aspect("equal", adjustable="box")


def _view(gdf: gpd.GeoDataFrame, crs: str, national: bool) -> list[float]:
    """Projected bounds to show: a national view stops at the mainland frame (the inset has the rest)."""
    if national:
        west, south, east, north = CHINA_MAIN_BOUNDS
        clipped = shapely.clip_by_rect(gdf.geometry.to_numpy(), west, south, east, north)
        return [float(v) for v in gpd.GeoSeries(clipped, crs=4326).to_crs(crs).total_bounds]
    return [float(v) for v in gdf.to_crs(crs).total_bounds]


def region_figure(
    gdf: gpd.GeoDataFrame,
    value_col: str,
    *,
    furniture: MapFurniture,
    fmt: str = "{:,.0f}",
    colors: Sequence[str] = SEQUENTIAL_REDS,
    bins: Sequence[float] | None = None,
    nodata_label: str | None = None,
    national: bool | None = None,
    points: Sequence[PointLayer] = (),
) -> Figure:
    """Draw a choropleth of regions on an A4 landscape page.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Region polygons (WGS-84) with ``adcode`` and ``value_col``; regions without a value
        (NaN) are hatched, never left out. For a national map pass every province
        (Taiwan, Hong Kong and Macau included).
    value_col : str
        Numeric column to colour by.
    furniture : MapFurniture
        Title, legend heading, source, date, language.
    fmt : str, default "{:,.0f}"
        ``str.format`` pattern of the legend edges.
    colors, bins
        Classes as on the web map (:func:`geo.maps.style.color_classes`).
    nodata_label : str, optional
        Legend label of hatched regions; default "无数据" / "No data".
    national : bool, optional
        Inset and national frame; default when the regions span China (:func:`is_national`).
    points : sequence of PointLayer
        Points over the regions (e.g. proposed sites), each with a legend entry.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``map`` (and ``scs_inset`` on national maps); texts in ``fig.texts``.
    """
    gdf = _check_frame(gdf, ["adcode", value_col], "map regions")
    if gdf.empty:
        raise InputError("map regions: no region to draw; choose another region or filter")
    bounds = [float(v) for v in gdf.total_bounds]
    national = is_national(bounds) if national is None else national
    font = cjk_font_family()
    crs = albers_for(bounds)
    values = _values(gdf[value_col], "map regions")
    classes = color_classes(values, colors, bins=bins)
    fig = _new_figure()
    ax = _main_axes(fig)
    if not national:
        _draw_context(ax, crs, bounds)
    projected = gdf.to_crs(crs)
    _draw_classes(ax, projected, values, classes, edge="white", width=0.4)
    codes = gdf["adcode"].astype(str).tolist()
    fills = dict(zip(codes, classes.assign(values).tolist(), strict=True))
    markers = _draw_points(ax, crs, points)
    view = (crs, codes, bounds, _view(gdf, crs, national), national)
    _finish(fig, ax, view, classes, values, fmt, nodata_label, furniture, font, fills, markers)
    return fig


def _finish(
    fig: Figure,
    ax: Axes,
    view: tuple[str, Sequence[str], Sequence[float], Sequence[float], bool],
    classes: ColorClasses,
    values: np.ndarray,
    fmt: str,
    nodata_label: str | None,
    furniture: MapFurniture,
    font: str,
    inset_fills: dict[str, str],
    markers: Sequence[Line2D] = (),
) -> None:
    """Draw what every exported map carries around its layers.

    ``view`` is ``(crs, region codes, bounds, view in projected metres, national)``: the
    boundary lines of the shown level and the view; then the legend (with the no-data entry
    when a value is missing), scale bar, north arrow, the South China Sea inset of a national
    map (provinces filled with ``inset_fills``) and the title and source texts; ``markers``
    are the legend entries of point layers.
    """
    crs, codes, bounds, view_xy, national = view
    _draw_lines(ax, crs, "province" if national else _level(codes), bounds)
    _fit(ax, view_xy)
    nodata = nodata_label or i18n.t("maps.nodata", furniture.lang)
    _legend(
        fig,
        classes.legend_items(fmt),
        nodata if (~np.isfinite(values)).any() else None,
        furniture.legend_title,
        font,
        markers,
    )
    _scale_bar(ax, font, furniture.lang)
    _north_arrow(fig, font, furniture.lang)
    if national:
        _inset(fig, ax, crs, inset_fills, font, furniture.lang)
    _furniture(fig, ax, furniture, font)


def _level(codes: Sequence[str]) -> str:
    from geo.maps.official import level_of

    return level_of(codes)


def _cell_polygons(cells: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(cells.dtype):
        ids = [h3.int_to_str(int(c)) for c in cells.tolist()]
    else:
        ids = [str(c) for c in cells.tolist()]
    for row, cell in zip(cells.index.tolist(), ids, strict=True):
        if not h3.is_valid_cell(cell):
            raise InputError(f"map cells row {row!r}: {cell!r} is not a valid H3 cell index")
    return np.asarray(
        [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in ids], dtype=object
    )


def hex_figure(
    cells: pd.DataFrame,
    value_col: str,
    *,
    outline: gpd.GeoDataFrame,
    furniture: MapFurniture,
    h3_col: str = "h3",
    fmt: str = "{:,.0f}",
    colors: Sequence[str] = SEQUENTIAL_REDS,
    bins: Sequence[float] | None = None,
    nodata_label: str | None = None,
    national: bool | None = None,
) -> Figure:
    """Draw H3 cells coloured by a value over filled region outlines, on an A4 landscape page.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell: ``h3_col`` (string or integer H3 index) and ``value_col``; NaN
        (e.g. a withheld figure) is hatched.
    value_col : str
        Numeric column to colour by.
    outline : geopandas.GeoDataFrame
        Regions under the cells (WGS-84, with ``adcode``), filled in :data:`LAND_COLOR`;
        they set the extent.
    furniture, h3_col, fmt, colors, bins, nodata_label, national
        As for :func:`region_figure`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    outline = _check_frame(outline, ["adcode"], "map outline")
    if outline.empty:
        raise InputError("map outline: no region to draw; choose another region")
    if h3_col not in cells.columns or value_col not in cells.columns:
        raise InputError(
            f"map cells need columns {h3_col!r} and {value_col!r}; they have {list(cells.columns)}"
        )
    bounds = [float(v) for v in outline.total_bounds]
    national = is_national(bounds) if national is None else national
    font = cjk_font_family()
    crs = albers_for(bounds)
    values = _values(cells[value_col], "map cells")
    classes = color_classes(values, colors, bins=bins)
    fig = _new_figure()
    ax = _main_axes(fig)
    if not national:
        _draw_context(ax, crs, bounds)
    outline.to_crs(crs).plot(ax=ax, color=LAND_COLOR, edgecolor="#9a9a9a", linewidth=0.35)
    if len(cells):
        hexes = gpd.GeoDataFrame(geometry=_cell_polygons(cells[h3_col]), crs=4326).to_crs(crs)
        _draw_classes(ax, hexes, values, classes, edge="none", width=0.0)
    codes = outline["adcode"].astype(str).tolist()
    view = (crs, codes, bounds, _view(outline, crs, national), national)
    _finish(fig, ax, view, classes, values, fmt, nodata_label, furniture, font, {})
    return fig


def figure_bytes(fig: Figure, fmt: str = "png", *, dpi: int = DEFAULT_DPI) -> bytes:
    """Render a figure to PNG or PDF bytes at its A4 size (no cropping).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        From :func:`region_figure` or :func:`hex_figure`.
    fmt : {"png", "pdf"}, default "png"
        Output format; PDF text is embedded as vector glyphs.
    dpi : int, default :data:`DEFAULT_DPI`
        PNG resolution (pixels per inch); 2338 × 1653 pixels at 200.

    Returns
    -------
    bytes
    """
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not supported: use one of {', '.join(FORMATS)}")
    if not 50 <= dpi <= 600:
        raise InputError(f"dpi {dpi} is out of range: use 50 to 600")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Creator": "Station Atlas (geo.maps.export)"})
    return buf.getvalue()
