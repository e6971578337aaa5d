"""覆盖规划 / Coverage planning: who is served, where the gaps are, where the next stations go."""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from geo import coverage as coverage_lib
from geo import export, hexes, i18n, maps, validate
from geo.coverage import RADIUS_PRESETS_M, TIMES_OF_DAY_MIN
from geo.errors import GeoError
from geo.query import CoverageQuery, SitingQuery
from geo.schema import AMENITIES, OCCUPATIONS, REPORT_PROBLEMS, STATION_KINDS, Enum
from views import common, coverage_crowding, map_export_ui

tr, lang = common.tr, common.lang()
MAP_WIDTH_PX = 760  # a map opens at the zoom that fits its region in this width (a laptop's page)
MIN_MAP_RES = 4  # coarsen no further: res-4 cells (≈ 1,770 km²) still show where gaps are
VIEW_PAD, VIEW_MOVE = 0.3, 0.25  # cells are taken from the view padded by 30 %; redraw after a 25 % pan
st.title(tr("coverage.title"))
st.caption(tr("coverage.intro"))
common.dataset_caption()


def hhmm(t: int) -> str:
    return f"{t // 60:02d}:{t % 60:02d}"


def dist_text(d: float) -> str:
    return tr("coverage.none_reachable") if not math.isfinite(d) else i18n.format_distance(d, lang)


# Export columns with a heading in the user's language (CSV, XLSX); GeoJSON keeps the codes.
EXPORT_LABELS = {
    "rank": "col_rank",
    "adcode": "col_adcode",
    "name": "col_name",
    "h3": "col_h3",
    "lat": "col_lat",
    "lng": "col_lng",
    "source": "col_source",
    "workers": "col_workers",
    "covered": "col_covered",
    "uncovered": "col_uncovered",
    "share_pct": "col_share",
    "stations": "col_stations",
    "stations_per_10k": "col_per10k",
    "median_distance_m": "col_median",
    "p90_distance_m": "col_p90",
    "workplaces": "col_workplaces",
    "workers_uncovered": "col_workers_uncovered",
    "workplaces_uncovered": "col_workplaces_uncovered",
    "workers_newly_covered": "col_newly",
    "workers_covered_cum": "col_covered_cum",
    "share_cum_pct": "col_cum_share",
    "province_adcode": "col_province_adcode",
    "province": "col_province",
    "city_adcode": "col_city_adcode",
    "city": "col_city",
    "county": "col_county",
    # the crowding view (views/coverage_crowding.py)
    "station": "col_station",
    "station_id": "col_station_id",
    "seats": "access.col_seats",
    "workers_in_reach": "access.col_in_reach",
    "load_workers_per_seat": "access.col_load",
    "crowded": "access.col_crowded",
    "seats_per_1000": "access.col_seats_per_1000",
    "workers_below": "access.col_below",
    "share_below_pct": "access.col_share_below",
    "stations_crowded": "access.col_stations_crowded",
}


def label(k: str) -> str:
    """Heading of an export or table column: a coverage key, or a full key of another block."""
    return tr(k if "." in k else f"coverage.{k}")


def downloads(df: pd.DataFrame, name: str, key: str) -> None:
    """CSV and XLSX with headings in the user's language; GeoJSON (column codes) for GIS tools."""
    # Shares as percentages, named so: a bare 0.78 in a spreadsheet reads as 0.78 %.
    pct = {c: f"{c}_pct" for c in ("share", "share_cum", "share_below") if c in df.columns}
    data = df.assign(**{c: df[c] * 100 for c in pct}).rename(columns=pct)
    table = pd.DataFrame(data.drop(columns="geometry", errors="ignore"))
    if "name" in table.columns and "source" in table.columns:  # a proposed site's own name
        table = table.rename(columns={"name": tr("coverage.col_site_name")})
    table = table.rename(columns={c: label(k) for c, k in EXPORT_LABELS.items()})
    c1, c2, c3 = st.columns(3)
    c1.download_button("CSV", export.to_csv_bytes(table), f"{name}.csv", "text/csv", key=f"{key}_csv")
    c2.download_button("XLSX", export.to_xlsx_bytes(table, name), f"{name}.xlsx", key=f"{key}_xlsx")
    if {"lat", "lng"} <= set(data.columns) or "geometry" in data.columns:
        c3.download_button("GeoJSON", export.to_geojson_bytes(data), f"{name}.geojson", key=f"{key}_geojson")


def keep_valid(key: str, valid: object) -> None:
    """Forget a widget value that is not an option (a language switch can leave a label behind)."""
    value = st.session_state.get(key)
    items = value if isinstance(value, list) else [value]
    if key in st.session_state and not all(v in valid for v in items):  # type: ignore[operator]
        del st.session_state[key]


def labelled(df: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    return df[list(cols)].rename(columns={c: label(k) for c, k in cols.items()})


def remember_view(map_key: str) -> None:
    """Keep the part of the map a user zoomed or panned to (st_folium's on_change)."""
    out = st.session_state.get(map_key) or {}
    b, zoom, centre = out.get("bounds") or {}, out.get("zoom"), out.get("center")
    sw, ne = b.get("_southWest") or {}, b.get("_northEast") or {}
    if zoom is None or not centre or None in (sw.get("lat"), sw.get("lng"), ne.get("lat"), ne.get("lng")):
        return
    old = st.session_state.get(f"{map_key}_view")
    if old is not None and old["zoom"] == zoom:
        # A small pan keeps the cells drawn: they were taken from a padded box.
        span_lat, span_lng = old["span"]
        if abs(centre["lat"] - old["lat"]) < VIEW_MOVE * span_lat and (
            abs(centre["lng"] - old["lng"]) < VIEW_MOVE * span_lng
        ):
            return
    box = validate.BBox(float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    st.session_state[f"{map_key}_view"] = {
        "lat": round(float(centre["lat"]), 5),
        "lng": round(float(centre["lng"]), 5),
        "zoom": int(zoom),
        "span": (box.north - box.south, box.east - box.west),
        "bbox": tuple(round(v, 4) for v in coverage_lib.bbox_of_view(box, pad=VIEW_PAD)),
    }


def gap_map(map_key: str, res: int, sites: pd.DataFrame | None, height: int) -> dict | None:
    """Draw the gap map (cells, stations, sites) for the view the user left it at; notes under it.

    Cells are drawn at the chosen ``res`` where they fit (one region, or a zoomed-in view),
    else at the finest coarser resolution that fits and is visible at the map's zoom.
    """
    view = st.session_state.get(f"{map_key}_view")
    if view is None:
        # Open on the region at a zoom computed here (not fitBounds in the browser): the view
        # the map reports back then equals this one, and nothing is drawn twice.
        b = common.coverage_outline(region).total_bounds if region else validate.CHINA_BOUNDS
        zoom = maps.zoom_for_bounds(b, MAP_WIDTH_PX, height)
        view = {
            "lat": round((b[1] + b[3]) / 2, 5),
            "lng": round((b[0] + b[2]) / 2, 5),
            "zoom": zoom,
            "span": (b[3] - b[1], b[2] - b[0]),
            "bbox": coverage_lib.bbox_of_view(b, pad=VIEW_PAD),
        }
        st.session_state[f"{map_key}_view"] = view
    start = min(res, maps.hex_res_for_zoom(view["zoom"], view["lat"]))
    measure = bool(st.session_state.get("cov_measure_payload"))  # set by tests
    m, info = common.coverage_gap_map(q, start, lang, sites, measure=measure, view=view, min_res=MIN_MAP_RES)
    st.session_state[f"{map_key}_info"] = info
    out = st_folium(
        m,
        height=height,
        width=None,
        returned_objects=["last_clicked", "bounds", "zoom", "center"],
        key=map_key,
        on_change=lambda: remember_view(map_key),
    )
    common.credit()
    used = info["res"]
    if used < res and info["truncated"]:
        st.info(tr("coverage.gaps_coarsened_cut", res=used, n=info["cells"], chosen=res))
    elif used < res:
        st.info(tr("coverage.gaps_coarsened", res=used, n=info["cells"], chosen=res))
    elif info["truncated"]:
        st.info(tr("coverage.gaps_cut", res=used, n=info["cells"]))
    else:
        st.caption(tr("coverage.gaps_view", res=used))
    if info["stations_shown"] < info["stations_total"]:
        st.info(
            tr(
                "coverage.stations_capped",
                total=i18n.format_count(info["stations_total"], lang),
                shown=i18n.format_count(info["stations_shown"], lang),
            )
        )
    return out


# ---- sidebar: radius, time, filters, region ------------------------------------------------
regs = common.coverage_region_list(common.data_key(), str(common.data_dir()))
pending = st.session_state.pop("cov_pending", None)  # a map click chose a region
if pending is not None:
    row = regs[
        regs["adcode"].eq(pending) | regs["city_adcode"].eq(pending) | regs["province_adcode"].eq(pending)
    ]
    if len(row):
        r0 = row.iloc[0]
        st.session_state[common.lang_key("cov_prov")] = r0["province_adcode"]
        st.session_state[common.lang_key("cov_city")] = (
            r0["city_adcode"] if pending != r0["province_adcode"] else ""
        )
        st.session_state[common.lang_key("cov_county")] = pending if pending == r0["adcode"] else ""
provs = regs.drop_duplicates("province_adcode").set_index("province_adcode")["province"]
for k, valid in {
    "cov_radius": [*RADIUS_PRESETS_M, 0.0],
    "cov_time": [-1, *TIMES_OF_DAY_MIN, -2],
    "cov_amen": AMENITIES.values,
    "cov_kinds": STATION_KINDS.values,
    "cov_occ": OCCUPATIONS.values,
    "cov_prov": ["", *provs.index],
    "cov_view": ["cov", "gap", "site", "acc", "rep"],
    "cov_res": [7, 8],
    "cov_quota_level": ["province", "city", "county"],
}.items():
    keep_valid(common.lang_key(k), valid)
with st.sidebar:
    st.subheader(tr("coverage.settings"))
    preset = st.selectbox(
        tr("coverage.radius"),
        [*RADIUS_PRESETS_M, 0.0],
        index=1,
        key=common.lang_key("cov_radius"),
        format_func=lambda r: i18n.format_distance(r, lang) if r else tr("coverage.custom"),
    )
    radius_m = preset or st.number_input(
        tr("coverage.radius_custom"), 50.0, 20_000.0, 1500.0, 50.0, key="cov_r"
    )
    at_opt = st.selectbox(
        tr("coverage.time"),
        [-1, *TIMES_OF_DAY_MIN, -2],
        key=common.lang_key("cov_time"),
        format_func=lambda t: {-1: tr("coverage.any_time"), -2: tr("coverage.custom")}.get(t) or hhmm(t),
    )
    if at_opt == -2:
        t = st.time_input(tr("coverage.time_custom"), dt.time(4, 30), step=900, key="cov_time_custom")
        at_opt = t.hour * 60 + t.minute

    def pick(codes: Enum, what: str, key: str) -> list[str]:
        return st.multiselect(
            tr(f"coverage.{what}"),
            codes.values,
            format_func=codes.labels(lang).get,
            key=common.lang_key(key),
            placeholder=tr("coverage.all"),
        )

    amen = pick(AMENITIES, "amenities", "cov_amen")
    kinds = pick(STATION_KINDS, "kinds", "cov_kinds")
    occ = pick(OCCUPATIONS, "occupations", "cov_occ")
    closed = common.coverage_closed_ids()
    skip_closed = bool(closed) and st.checkbox(
        tr("coverage.exclude_closed"),
        key="cov_closed",
        help=tr("coverage.exclude_closed_help", n=len(closed)),
    )
    st.subheader(tr("coverage.region"))
    prov = st.selectbox(
        tr("coverage.province"),
        ["", *provs.index],
        key=common.lang_key("cov_prov"),
        format_func=lambda a: provs.get(a, tr("region.nation")),
    )
    city = county = ""
    if prov:
        in_prov = regs[regs["province_adcode"] == prov]
        cities = in_prov.drop_duplicates("city_adcode").set_index("city_adcode")["city"]
        if common.coverage_child_level(prov) == "city":
            keep_valid(common.lang_key("cov_city"), ["", *cities.index])
            city = st.selectbox(
                tr("coverage.city"),
                ["", *cities.index],
                key=common.lang_key("cov_city"),
                format_func=lambda a: cities.get(a, tr("coverage.whole")),
            )
        counties = (in_prov[in_prov["city_adcode"] == city] if city else in_prov).set_index("adcode")[
            "county"
        ]
        if city or common.coverage_child_level(prov) == "county":
            keep_valid(common.lang_key("cov_county"), ["", *counties.index])
            county = st.selectbox(
                tr("coverage.county"),
                ["", *counties.index],
                key=common.lang_key("cov_county"),
                format_func=lambda a: counties.get(a, tr("coverage.whole")),
            )
region = county or city or prov
q = CoverageQuery(
    float(radius_m),
    None if int(at_opt) < 0 else int(at_opt),
    tuple(amen),
    tuple(kinds),
    tuple(occ),
    closed if skip_closed else (),
    region or None,
).checked()

# ---- KPIs -----------------------------------------------------------------------------------
fig = common.coverage_figures(q)
s = fig["summary"]
k = st.columns(4)
k[0].metric(tr("coverage.kpi_workers"), i18n.format_count(s["workers_total"], lang))
k[1].metric(tr("coverage.kpi_covered"), i18n.format_count(s["workers_covered"], lang))
k[2].metric(tr("coverage.kpi_share"), i18n.format_share(s["share"]))
k[3].metric(tr("coverage.kpi_uncovered"), i18n.format_count(s["workers_uncovered"], lang))
k = st.columns(4)
k[0].metric(tr("coverage.kpi_stations"), i18n.format_count(s["stations_qualifying"], lang))
k[1].metric(
    tr("coverage.kpi_per10k"), "–" if math.isnan(s["stations_per_10k"]) else f"{s['stations_per_10k']:.2f}"
)
k[2].metric(tr("coverage.kpi_median"), dist_text(s["median_distance_m"]), help=tr("coverage.kpi_median_help"))
k[3].metric(tr("coverage.kpi_p90"), dist_text(s["p90_distance_m"]))

VIEWS = {
    "cov": "coverage.tab_coverage",
    "gap": "coverage.tab_gaps",
    "site": "coverage.tab_siting",
    "acc": "access.tab",
    "rep": "coverage.tab_reports",
}
# One view per run (not st.tabs): a map in a hidden tab has no size and Leaflet cannot fit it.
view = (
    st.segmented_control(
        " ",
        list(VIEWS),
        format_func=lambda v: tr(VIEWS[v]),
        key=common.lang_key("cov_view"),
        default="cov",
        label_visibility="collapsed",
    )
    or "cov"
)
sites_state = st.session_state.get("cov_sites")
if view == "cov":
    st.caption(tr("coverage.map_hint"))
    out = st_folium(
        common.coverage_region_map(q, lang),
        height=480,
        width=None,
        returned_objects=["last_clicked"],
        key=f"cov_map_{region or 'cn'}",
    )
    map_export_ui.coverage_buttons(
        q, region, sites_state["sites"] if sites_state and sites_state["q"] == q else None
    )
    click = (out or {}).get("last_clicked")
    if click and click != st.session_state.get("cov_last_click"):
        st.session_state["cov_last_click"] = click
        shown = common.coverage_outline(region)
        hit = shown[shown.contains(shapely.Point(click["lng"], click["lat"]))]
        if len(hit) and hit["adcode"].iloc[0] != region:
            st.session_state["cov_pending"] = hit["adcode"].iloc[0]
            st.rerun()
    common.credit()
    st.subheader(tr("coverage.table_regions"))
    table = fig["regions"].assign(share=lambda d: (d["share"] * 100).round(1))
    shown = labelled(
        table,
        {
            "name": "col_name",
            "workers": "col_workers",
            "covered": "col_covered",
            "uncovered": "col_uncovered",
            "share": "col_share",
            "stations": "col_stations",
            "stations_per_10k": "col_per10k",
            "median_distance_m": "col_median",
            "p90_distance_m": "col_p90",
            "workplaces": "col_workplaces",
        },
    )
    st.dataframe(
        shown.replace([np.inf], np.nan),
        hide_index=True,
        width="stretch",
        column_config={
            **{c: st.column_config.NumberColumn(format="%.1f") for c in shown.columns[[4, 6]]},
            **{c: st.column_config.NumberColumn(format="%.0f") for c in shown.columns[[7, 8]]},
        },
    )
    outlines = common.coverage_outline(region)[["adcode", "geometry"]]
    with_shapes = outlines.merge(fig["regions"], on="adcode", how="right")
    downloads(
        gpd.GeoDataFrame(with_shapes, geometry="geometry", crs="EPSG:4326"), "coverage_regions", "dl_regions"
    )
    st.subheader(tr("coverage.times_title"))
    st.caption(tr("coverage.times_caption"))
    times = common.coverage_times(q)
    for col, row in zip(st.columns(len(times)), times.itertuples(), strict=True):
        col.metric(row.at, i18n.format_share(row.share))
        col.caption(f"{tr('coverage.kpi_covered')} {i18n.format_count(row.workers_covered, lang)}")

if view == "gap":
    res = st.radio(
        tr("coverage.gaps_res"),
        [7, 8],
        index=1,
        horizontal=True,
        key=common.lang_key("cov_res"),
        format_func=lambda r: tr(
            "coverage.gaps_res_label", res=r, area=f"{hexes.average_hexagon_area_km2(r):.2f}"
        ),
    )
    if not region:
        st.caption(tr("coverage.gaps_nation"))
    sites = sites_state["sites"] if sites_state and sites_state["q"] == q else None
    st.caption(tr("coverage.gaps_click"))
    map_key = f"cov_gap_{region or 'cn'}_{res}"
    out = gap_map(map_key, res, sites, 520)
    info = st.session_state[f"{map_key}_info"]
    st.session_state["cov_gap_map_bytes"] = info["bytes"]
    click = (out or {}).get("last_clicked")
    if click and click != st.session_state.get("cov_gap_click"):
        # Kept per map: a redraw for a new view starts a new component with no click yet.
        st.session_state["cov_gap_click"] = click
        cell_at = hexes.latlng_to_cells([click["lat"]], [click["lng"]], info["res"])[0]
        st.session_state[f"{map_key}_cell"] = str(cell_at)
    cell = st.session_state.get(f"{map_key}_cell")
    if cell:
        names = ("、" if lang == "zh" else ", ").join(OCCUPATIONS.label(o, lang) for o in occ)
        heading = (
            tr("coverage.gaps_cell_occ", cell=cell, occupations=names)
            if occ
            else tr("coverage.gaps_cell", cell=cell)
        )
        st.markdown(f"**{heading}**")
        by_occ = common.coverage_cell(q, cell).assign(
            occupation=lambda d: d["occupation"].map(OCCUPATIONS.labels(lang))
        )
        st.dataframe(
            labelled(
                by_occ,
                {
                    "occupation": "col_occupation",
                    "workplaces": "col_workplaces",
                    "workers": "col_workers",
                    "workers_uncovered": "col_workers_uncovered",
                },
            ),
            hide_index=True,
            key="cov_cell_table",
        )
    st.subheader(tr("coverage.gaps_top"))
    top = common.coverage_top_gaps(q, res, 100)
    if top.empty:
        st.success(tr("coverage.gaps_none"))
    else:
        st.dataframe(
            labelled(
                top,
                {
                    "rank": "col_rank",
                    "h3": "col_h3",
                    "workers_uncovered": "col_workers_uncovered",
                    "workplaces_uncovered": "col_workplaces_uncovered",
                    "county": "col_county",
                    "city": "col_city",
                    "province": "col_province",
                    "lat": "col_lat",
                    "lng": "col_lng",
                },
            ),
            hide_index=True,
            width="stretch",
        )
        polys = gpd.GeoDataFrame(top, geometry=hexes.cells_to_polygons(top["h3"]), crs="EPSG:4326")
        downloads(polys, "coverage_gaps", "dl_gaps")

if view == "site":
    objective = st.radio(
        tr("coverage.siting_objective"),
        ["coverage", "access"],
        horizontal=True,
        format_func=lambda o: tr(f"coverage.objective_{o}"),
        key=common.lang_key("cov_objective"),
    )
    st.caption(tr("coverage.siting_intro" if objective == "coverage" else "coverage.siting_intro_access"))
    with st.form("cov_site_form"):
        c1, c2, c3 = st.columns(3)
        n_new = c1.number_input(tr("coverage.siting_n"), 1, 500, 20, key="cov_n")
        quota = c2.number_input(tr("coverage.siting_quota"), 0, 500, 0, key="cov_quota")
        quota_level = c3.selectbox(
            tr("coverage.siting_quota_level"),
            ["province", "city", "county"],
            index=2,
            format_func=lambda lv: tr(f"coverage.{lv}"),
            key=common.lang_key("cov_quota_level"),
        )
        if objective == "access":
            a1, a2 = st.columns(2)
            seats = a1.number_input(
                tr("coverage.siting_seats"), 0.0, 10_000.0, 0.0, step=1.0, format="%.0f", key="cov_seats"
            )
            threshold = a2.number_input(
                tr("coverage.siting_threshold"),
                0.1,
                10_000.0,
                float(common.settings().access_threshold_seats_per_1000),
                step=1.0,
                format="%g",
                key="cov_threshold",
            )
        upload = st.file_uploader(tr("coverage.siting_upload"), type=["csv"], key="cov_upload")
        only_user = st.checkbox(tr("coverage.siting_only"), key="cov_only")
        run = st.form_submit_button(tr("coverage.siting_run"), type="primary")
    if run:
        try:
            sq = SitingQuery(int(n_new), int(quota) or None, quota_level, bool(only_user))
            data = upload.getvalue() if upload else None
            if objective == "access":
                result = common.coverage_sites_access(q, sq, data, float(seats) or None, float(threshold))
            else:
                result = common.coverage_sites(q, sq, data)
            st.session_state["cov_sites"] = {"q": q, "objective": objective, **result}
            st.rerun()
        except (ValueError, UnicodeDecodeError, GeoError) as exc:
            st.error(tr("coverage.siting_bad_csv", message=common.escape_markdown(str(exc))))
    if sites_state and sites_state["q"] == q and sites_state.get("objective", "coverage") == objective:
        r = sites_state
        access_run = objective == "access"
        # the same three figures for either objective: covered, or reaching the access threshold
        prefix, field = (
            ("siting_reach_", "workers_reaching") if access_run else ("siting_", "workers_covered")
        )
        c = st.columns(3)
        c[0].metric(tr(f"coverage.{prefix}before"), i18n.format_share(r["share_before"]))
        c[1].metric(tr(f"coverage.{prefix}after"), i18n.format_share(r["share_after"]))
        counted = r[f"{field}_after"]
        c[2].metric(tr(f"coverage.{prefix}new"), i18n.format_count(counted - r[f"{field}_before"], lang))
        ok = r["recomputed"] == counted
        verified_key = "coverage.siting_reach_verified" if access_run else "coverage.siting_verified"
        (st.success if ok else st.error)(
            tr(verified_key if ok else "coverage.siting_mismatch", n=i18n.format_count(r["recomputed"], lang))
        )
        if access_run:
            solver = (
                "coverage.siting_solver_greedy"
                if r["solver"] == "greedy"
                else (
                    "coverage.siting_solver_exact"
                    if r["proven_optimal"]
                    else "coverage.siting_solver_exact_limit"
                )
            )
            st.caption(
                tr(solver, seats=f"{r['seats_per_site']:g}", threshold=f"{r['threshold_seats_per_1000']:g}")
            )
        if len(r["sites"]) < n_new:
            fewer = "coverage.siting_reach_fewer" if access_run else "coverage.siting_fewer"
            st.warning(tr(fewer, n=len(r["sites"])))
        gap_map(f"cov_site_map_{region or 'cn'}", 8, r["sites"], 520)
        map_export_ui.coverage_buttons(q, region, r["sites"], key="cov_site_dl")
        st.subheader(tr("coverage.siting_sites"))
        shown = r["sites"].assign(
            share_cum=lambda d: (d["share_cum"] * 100).round(2),
            source=lambda d: d["source"].map(
                {"cell": tr("coverage.source_cell"), "user": tr("coverage.source_user")}
            ),
        )
        names = {
            "rank": "col_rank",
            "lat": "col_lat",
            "lng": "col_lng",
            "h3": "col_h3",
            "county": "col_county",
            "city": "col_city",
            "province": "col_province",
            "source": "col_source",
        }
        if access_run:
            shown = shown.assign(workers_in_reach=lambda d: d["workers_in_reach"].round())
            names |= {
                "seats": "access.col_seats",
                "workers_in_reach": "access.col_in_reach",
                "workers_newly_reaching": "col_newly_reaching",
                "share_cum": "col_cum_reaching",
            }
        else:
            names |= {"workers_newly_covered": "col_newly", "share_cum": "col_cum_share"}
        st.dataframe(labelled(shown, names), hide_index=True, width="stretch")
        downloads(r["sites"], "proposed_sites_access" if access_run else "proposed_sites", "dl_sites")

if view == "acc":
    coverage_crowding.render(q, lang, labelled, downloads)

if view == "rep":
    reports = common.coverage_reports_in(region)
    if reports.empty:
        st.info(tr("coverage.reports_none"))
    else:
        level = common.coverage_child_level(region)
        by = common.coverage_reports_by_region(level, region)
        st.subheader(tr("coverage.reports_title"))
        st.dataframe(
            by.rename(
                columns={
                    "name": tr("coverage.col_name"),
                    "reports": tr("coverage.col_reports"),
                    "stations_reported": tr("coverage.col_stations_reported"),
                    **REPORT_PROBLEMS.labels(lang),
                }
            ).drop(columns="adcode"),
            hide_index=True,
        )
        st.subheader(tr("coverage.reports_latest"))
        # Report text is user input: shown only inside dataframes (never as HTML/markdown).
        latest = reports.head(200).assign(
            problem=lambda d: d["problem"].map(lambda p: REPORT_PROBLEMS.label(p, lang))
        )
        st.dataframe(
            labelled(
                latest,
                {
                    "station_name": "col_station",
                    "county": "col_county",
                    "city": "col_city",
                    "station_id": "col_station_id",
                    "problem": "col_problem",
                    "text": "col_text",
                    "created": "col_created",
                },
            ),
            hide_index=True,
            width="stretch",
        )
