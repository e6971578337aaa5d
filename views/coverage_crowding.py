"""拥挤度 / Crowding view of the coverage page: station load and seats per worker within reach (2SFCA).

Called by views/coverage.py with the page's query tuple and its table/export helpers; the
figures come from geo.access through the cached ``common.coverage_access``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import access, i18n, maps, validate
from views import common

LOAD_COLORS = ("#2b83ba", "#abdda4", "#fdae61", "#f46d43", "#9e0142")
"""Station load classes, calm blue to alarming purple (crowded from the third class on)."""
ACCESS_COLORS = ("#a50f15", "#de2d26", "#fb6a4a", "#fcae91", "#fee5d9")
"""Accessibility classes: the fewest seats per worker darkest (the reds of the gap map, reversed)."""


def render(
    q: common.CoverageQuery,
    lang: str,
    labelled: Callable[[pd.DataFrame, dict[str, str]], pd.DataFrame],
    downloads: Callable[[pd.DataFrame, str, str], None],
) -> None:
    tr = common.tr
    s = common.settings()
    thr, crowded = s.access_threshold_seats_per_1000, s.crowded_workers_per_seat
    st.caption(tr("access.explain", crowded=f"{crowded:g}", threshold=f"{thr:g}"))
    method = st.radio(
        tr("access.method"),
        list(access.METHODS),
        horizontal=True,
        key=common.lang_key("cov_access_method"),
        format_func=lambda m: tr(f"access.method_{m}"),
    )
    fig = common.coverage_access(q, method)
    summ = fig["summary"]
    k = st.columns(5)
    per_1000 = summ["seats_per_1000"]
    k[0].metric(
        tr("access.kpi_seats"),
        "–" if math.isnan(per_1000) else f"{per_1000:.1f}",
        help=tr("access.kpi_seats_help"),
    )
    k[1].metric(tr("access.kpi_below"), i18n.format_count(summ["workers_below_threshold"], lang))
    k[2].metric(tr("access.kpi_below_share"), i18n.format_share(summ["share_below"]))
    k[3].metric(tr("access.kpi_none"), i18n.format_count(summ["workers_no_seat_in_reach"], lang))
    k[4].metric(
        tr("access.kpi_crowded"),
        i18n.format_count(summ["stations_crowded"], lang),
        help=tr("access.kpi_crowded_help", n=i18n.format_count(summ["stations_qualifying"], lang)),
    )

    stations = fig["stations"]
    st_folium(
        crowding_map(q, fig, lang, thr, crowded),
        height=520,
        width=None,
        returned_objects=[],
        key="cov_acc_map",
    )
    common.credit()
    st.caption(
        tr(
            "access.map_caption",
            n=i18n.format_count(min(len(stations), maps.CLUSTER_THRESHOLD), lang),
            total=i18n.format_count(summ["stations_qualifying"], lang),
            res=fig["res"],
        )
    )

    st.subheader(tr("access.table_crowded"))
    top = stations.head(100).assign(
        crowded=lambda d: d["crowded"].map({True: tr("access.yes"), False: tr("access.no")}),
        workers_in_reach=lambda d: d["workers_in_reach"].round(),
        load_workers_per_seat=lambda d: d["load_workers_per_seat"].round(1),
    )
    st.dataframe(
        labelled(
            top.rename(columns={"name": "station"}),
            {
                "station": "col_station",
                "county": "col_county",
                "city": "col_city",
                "seats": "access.col_seats",
                "workers_in_reach": "access.col_in_reach",
                "load_workers_per_seat": "access.col_load",
                "crowded": "access.col_crowded",
                "station_id": "col_station_id",
            },
        ),
        hide_index=True,
        width="stretch",
    )
    export = stations.rename(columns={"name": "station"}).assign(seats_per_1000=stations["ratio"] * 1000)
    downloads(export.drop(columns="ratio"), "crowded_stations", "dl_acc_stations")

    st.subheader(tr("access.table_regions"))
    regions = fig["regions"].assign(
        share_below=lambda d: (d["share_below"] * 100).round(1),
        seats_per_1000=lambda d: d["seats_per_1000"].round(1),
    )
    st.dataframe(
        labelled(
            regions,
            {
                "name": "col_name",
                "workers": "col_workers",
                "seats_per_1000": "access.col_seats_per_1000",
                "workers_below": "access.col_below",
                "share_below": "access.col_share_below",
                "stations": "col_stations",
                "seats": "access.col_seats",
                "stations_crowded": "access.col_stations_crowded",
            },
        ),
        hide_index=True,
        width="stretch",
    )
    outlines = common.coverage_outline(q.region or "")[["adcode", "geometry"]]
    with_shapes = outlines.merge(fig["regions"], on="adcode", how="right")
    downloads(
        gpd.GeoDataFrame(with_shapes, geometry="geometry", crs="EPSG:4326"),
        "access_regions",
        "dl_acc_regions",
    )


def crowding_map(q: common.CoverageQuery, fig: dict, lang: str, thr: float, crowded: float) -> object:
    """Accessibility hexes under the most loaded stations (coloured by load), with two legends."""
    tr = common.tr
    outline = common.coverage_outline(q.region or "")
    b = outline.total_bounds if q.region and len(outline) else validate.CHINA_BOUNDS  # the mainland
    zoom = maps.zoom_for_bounds(b, 760, 520)  # opened at a fitting zoom, not fitBounds (see coverage.py)
    m = maps.base_map((b[1] + b[3]) / 2, (b[0] + b[2]) / 2, zoom, **common._tiles())
    maps.add_boundaries(m, outline, color="#888888", weight=0.6)
    cells = fig["cells"]
    if len(cells):
        top_edge = max(8 * thr, float(cells["seats_per_1000"].max()) + 1)
        maps.add_hexes(
            m,
            cells[["h3", "seats_per_1000"]],
            "seats_per_1000",
            fmt="{:,.1f}",
            colors=ACCESS_COLORS,
            bins=[0.0, thr / 2, thr, 2 * thr, 4 * thr, top_edge],
            legend_title=f"{tr('access.legend_access')} (H3 {fig['res']})",
        )
    pts = fig["stations"].head(maps.CLUSTER_THRESHOLD)
    edges = [crowded / 2, crowded, 2 * crowded, 5 * crowded]
    load = pts["load_workers_per_seat"].to_numpy(dtype=np.float64)
    cls = np.searchsorted(edges, load, side="right")
    tips = (
        pts["name"].astype(str)
        + " · "
        + pd.Series(load).round(1).astype(str).to_numpy()
        + " "
        + ("人/座" if lang == "zh" else "workers/seat")
    )
    shown = pts.assign(tip=tips.to_numpy())
    for i, color in enumerate(LOAD_COLORS):
        part = shown[(cls == i) & np.isfinite(load)]
        maps.add_points(m, part, tooltip_col="tip", color=color, radius=6, cluster=False, fill_opacity=0.9)
    labels = [f"< {edges[0]:g}", f"{edges[0]:g} – {edges[1]:g}", f"{edges[1]:g} – {edges[2]:g}"]
    labels += [f"{edges[2]:g} – {edges[3]:g}", f"> {edges[3]:g}"]
    maps.add_legend(
        m, tr("access.legend_load"), list(zip(LOAD_COLORS, labels, strict=True)), position="bottomleft"
    )
    return maps.localize_assets(m)
