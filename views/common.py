"""What every page shares: settings, language, dataset loading and the cached wrappers.

Caches key on plain values (data directory and dataset version key), never on
GeoDataFrames. Big read-only tables and the station index are held once per process
with ``st.cache_resource``; pages must not modify what these return.

Size: the cached wrappers of every page (one small function each, keyed on plain values
and the dataset version) plus the shared widgets; no data logic lives here.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from geo import engines, i18n, provenance, store
from geo.nearest import StationIndex
from geo.query import CoverageQuery, Filters, SitingQuery
from geo.settings import Settings, load_settings


@st.cache_resource
def _settings_cached(
    secrets_items: tuple[tuple[str, Any], ...], env_items: tuple[tuple[str, str], ...]
) -> Settings:
    return load_settings(dict(secrets_items), env=dict(env_items))


def settings() -> Settings:
    """Return the settings (env vars over ``[geo]`` in ``.streamlit/secrets.toml``)."""
    try:
        section = dict(st.secrets.get("geo", {}))
    except (FileNotFoundError, KeyError, AttributeError):
        section = {}
    # Keyed on the GEO_* environment too, so a changed GEO_DATA_DIR is never served stale.
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GEO_")))
    return _settings_cached(tuple(sorted((k, v) for k, v in section.items() if not isinstance(v, dict))), env)


def data_dir() -> Path:
    """Return the data directory in use."""
    return settings().data_dir


def engine() -> engines.Engine:
    """Return the engine the settings choose (a plain value: part of every cache key it affects)."""
    return engines.from_settings(settings())


def lang() -> str:
    """Return the UI language chosen in the sidebar (``zh`` by default)."""
    return str(st.session_state.get("lang") or i18n.DEFAULT_LANG)


def tr(key: str, **fmt: Any) -> str:
    """Translate ``key`` into the current language."""
    return i18n.t(key, lang(), **fmt)


def lang_key(base: str) -> str:
    """Return the session key of a widget whose option labels follow the language.

    The browser side of a select box or radio remembers the choice by its label, so
    when the language changes the labels the choice is lost (a radio shows nothing
    chosen, a select box the old label). One key per language, handed the choice made
    under the other language, keeps it.
    """
    key = f"{base}__{lang()}"
    for other in i18n.LANGS:
        old = f"{base}__{other}"
        if old != key and old in st.session_state:
            if key not in st.session_state:
                st.session_state[key] = st.session_state[old]
            del st.session_state[old]
    return key


def data_key() -> str:
    """Return the cache key of the dataset in use (changes on import / rollback)."""
    return store.dataset_key(data_dir())


def manifest() -> dict[str, Any]:
    """Return the manifest of the dataset in use."""
    return _manifest_cached(data_key(), str(data_dir()))


@st.cache_data(show_spinner=False)
def _manifest_cached(key: str, directory: str) -> dict[str, Any]:
    return store.read_manifest(Path(directory))


@st.cache_resource(show_spinner=False, max_entries=4)
def table(key: str, directory: str, name: str) -> pd.DataFrame:
    """Return one stored table of the dataset ``key`` (shared, read-only)."""
    return store.read_table(Path(directory), name)


def stations() -> pd.DataFrame:
    """Return the stations table of the dataset in use (read-only)."""
    return table(data_key(), str(data_dir()), "stations")


def workplaces() -> pd.DataFrame:
    """Return the workplaces table of the dataset in use (read-only)."""
    return table(data_key(), str(data_dir()), "workplaces")


@st.cache_resource(show_spinner=False, max_entries=4)
def _station_index(key: str, directory: str) -> StationIndex:
    return StationIndex.from_frame(table(key, directory, "stations"))


def station_index() -> StationIndex:
    """Return the one station index of the dataset in use (built once, cached)."""
    return _station_index(data_key(), str(data_dir()))


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown (and Streamlit's ``:color[...]``, ``$`` maths) in user text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(show_spinner=False, max_entries=8)
def _table_sources(key: str, directory: str) -> dict[str, provenance.TableSource]:
    d = Path(directory)
    return provenance.table_sources(store.list_versions(d), store.current_version(d) or "")


def _source_text(src: provenance.TableSource) -> str:
    parts = [tr("app.source_demo")] if src.demo else []
    parts += [tr("app.source_file", file=escape_markdown(f)) for f in src.files]
    if src.edits:
        parts.append(tr("app.source_edits", n=src.edits))
    return " + ".join(parts) or "?"


def dataset_caption() -> None:
    """Show which dataset is in use, labelling demo data clearly (演示数据), also when mixed."""
    m = manifest()
    sources = _table_sources(data_key(), str(data_dir()))
    changed = {name: src for name, src in sources.items() if not src.pure_demo}
    sep, colon = (";", ":") if lang() == "zh" else ("; ", ": ")
    label = {name: tr("app.table_targets" if name == "targets" else f"data.table_{name}") for name in sources}
    described = sep.join(f"{label[name]}{colon}{_source_text(src)}" for name, src in changed.items())
    if not changed:
        st.markdown(f":orange-badge[{tr('app.demo_short')}] {tr('app.demo_badge')}")
    elif any(src.demo for src in sources.values()):
        rest = sep + tr("app.rest_demo") if len(changed) < len(sources) else ""
        st.markdown(f":orange-badge[{tr('app.mixed_short')}] {described}{rest}")
    else:
        st.caption(tr("app.imported_badge", file=described))
    st.caption(tr("app.dataset", version=m.get("dataset_version", "?"), created=m.get("created", "?")[:16]))


def credit() -> None:
    """Show the data credits (Tianditu boundaries, GeoNames places)."""
    st.caption(tr("app.credit"))


# ---- cached wrappers of geo computations (one place for all pages) ----------------------------


@st.cache_resource(show_spinner=False, max_entries=2)
def _nearest_distance_m(key: str, directory: str, eng: engines.Engine) -> Any:
    from geo import coverage

    return coverage.nearest_distance_m(
        table(key, directory, "workplaces"), _station_index(key, directory), engine=eng
    )


def nearest_distance_m() -> Any:
    """Great-circle distance (m) from every workplace to its nearest station (any station)."""
    return _nearest_distance_m(data_key(), str(data_dir()), engine())


@st.cache_data(show_spinner=False, max_entries=8)
def _overview_stats(key: str, directory: str, radius_m: float, eng: engines.Engine) -> dict[str, Any]:
    from geo import planning

    return planning.overview_figures(
        table(key, directory, "stations"),
        table(key, directory, "workplaces"),
        _station_index(key, directory),
        _nearest_distance_m(key, directory, eng),
        radius_m,
    )


def overview_stats(radius_m: float) -> dict[str, Any]:
    """National KPIs and province/county tables for the overview page."""
    return _overview_stats(data_key(), str(data_dir()), float(radius_m), engine())


def _tiles() -> dict[str, str]:
    s = settings()
    return {"tiles": s.tiles, "tianditu_key": s.tianditu_key}


def overview_nation_map(radius_m: float, lang_code: str) -> Any:
    """Province choropleth of stations per 10,000 workers."""
    from geo import i18n, maps, regions

    provinces = overview_stats(radius_m)["provinces"]
    gdf = regions.simplified("province", 0.02)[["adcode", "geometry"]].merge(
        provinces[["adcode", "name", "stations_per_10k"]], on="adcode", how="left"
    )
    gdf["name"] = gdf["name"].fillna(regions.simplified("province", 0.02)["name"])
    return maps.region_map(
        gdf,
        "stations_per_10k",
        fmt="{:.2f}",
        legend_title=i18n.t("overview.legend_per10k", lang_code),
        nodata_label=i18n.t("maps.nodata", lang_code),
        lang=lang_code,
        **_tiles(),
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _station_hex_counts(key: str, directory: str, province_adcode: str) -> tuple[pd.DataFrame, int]:
    from geo import hexes, maps

    st_ = table(key, directory, "stations")
    sel = st_.loc[st_["province_adcode"] == province_adcode, "h3_9"].to_numpy()
    for res in (7, 6, 5, 4):
        counts = pd.Series(hexes.cells_to_parent(sel, res)).value_counts()
        if len(counts) <= maps.MAX_HEX_CELLS // 2:
            break
    return counts.rename_axis("h3").reset_index(name="stations"), res


def overview_province_map(province_adcode: str, lang_code: str) -> Any:
    """H3 station-density hexes of one province over its county outlines."""
    from geo import hexes, i18n, maps, regions

    cells, res = _station_hex_counts(data_key(), str(data_dir()), province_adcode)
    counties = regions.simplified("county", 0.005)
    outline = counties[counties["province_adcode"] == province_adcode]
    return maps.hex_map(
        cells,
        "stations",
        outline=outline,
        legend_title=i18n.t(
            "overview.legend_hex", lang_code, res=res, area=f"{hexes.average_hexagon_area_km2(res):.1f}"
        ),
        lang=lang_code,
        **_tiles(),
    )


# ---- campaign dashboard 送温暖看板 (geo.publication: one suppression for all shown together) -----
# A campaign query is a checked geo.query.Filters (frozen: it is the cache key).


@st.cache_data(show_spinner=False, max_entries=32)
def _campaign_view(
    key: str, directory: str, k: int, eng: engines.Engine, f: Filters, level: str, res: int
) -> Any:
    from geo import publication

    return publication.campaign_view(Path(directory), f, k=k, region_level=level, res=res, engine=eng)


def campaign_view(f: Filters, level: str, res: int) -> Any:
    """Every figure the dashboard shows, suppressed together (:func:`geo.publication.campaign_view`)."""
    return _campaign_view(
        data_key(), str(data_dir()), int(settings().k_anonymity), engine(), f.checked(), level, res
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _campaign_checkins(key: str, directory: str, k: int, eng: engines.Engine, f: Filters, res: int) -> Any:
    from geo import campaign, publication

    lo, hi = campaign.checkin_window()
    start, end = max(f.date_from or lo, lo), min(f.date_to or hi, hi)
    if start > end:
        return None
    return publication.checkins_view(
        Path(directory), k=k, res=res, date_from=start, date_to=end, region=f.region, engine=eng
    )


def campaign_checkins(f: Filters, res: int) -> Any:
    """Station visits per cell × day and per cell within the selection's dates, suppressed together
    (:func:`geo.publication.checkins_view`), or None when the dates miss the check-in log."""
    return _campaign_checkins(
        data_key(), str(data_dir()), int(settings().k_anonymity), engine(), f.checked(), res
    )


def campaign_child_level(region: str) -> str:
    """Region level shown inside ``region`` ("" = China → provinces; a municipality → its counties)."""
    from geo import campaign_maps

    return campaign_maps.child_level(region)


def campaign_outline(region: str) -> Any:
    """Simplified polygons of the regions shown inside ``region`` (``adcode``, ``name``, geometry)."""
    from geo import campaign_maps

    return campaign_maps.outline(region)


def campaign_map(
    frame: pd.DataFrame,
    unit: str,
    value_col: str,
    bins: list[float],
    legend_title: str,
    withheld_label: str,
    region: str,
) -> Any:
    """Map of one frame (hexes or regions) coloured with class edges shared by every frame."""
    from geo import campaign_maps

    return campaign_maps.frame_map(
        frame,
        unit,
        value_col,
        bins,
        legend_title,
        withheld_label,
        region,
        lang=lang(),
        level=campaign_child_level(region),
        **_tiles(),
    )


# ---- 找驿站 / nearest station (views/nearest.py) ---------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=4)
def _station_text(key: str, directory: str) -> Any:
    from geo import navigation

    return navigation.StationText.from_frame(table(key, directory, "stations"))


def nearest_records(request: Any, now_min: int | None = None) -> list[dict[str, Any]]:
    """Records of the nearest stations for a validated ``geo.navigation.NearestRequest``."""
    from geo import navigation

    text = _station_text(data_key(), str(data_dir()))
    return navigation.nearest_records(station_index(), text, request, now_min=now_min)


@st.cache_resource(show_spinner=False, max_entries=2)
def _gazetteer(key: str, directory: str) -> Any:
    from geo import places

    st_ = table(key, directory, "stations")
    cols = [c for c in ("name", "address", "lat", "lng") if c in st_.columns]
    return places.base_gazetteer().with_stations(pd.DataFrame(st_[cols]))


def search_places(query: str, limit: int = 8) -> pd.DataFrame:
    """Places, regions and stations matching ``query`` (Chinese, pinyin or initials)."""
    return _gazetteer(data_key(), str(data_dir())).search(query, limit)


@st.cache_data(show_spinner=False, max_entries=64)
def _county_outlines_near(lat_r: float, lng_r: float, span_deg: float) -> Any:
    from geo import regions

    counties = regions.simplified("county", 0.002)
    sel = counties.cx[lng_r - span_deg : lng_r + span_deg, lat_r - span_deg : lat_r + span_deg]
    return sel[["name", "geometry"]].reset_index(drop=True)


def nearest_map(here: tuple[float, float] | None, records: list[dict[str, Any]], lang_code: str) -> Any:
    """Map of my position, the result stations and a line to the first; outlines for context."""
    import folium

    from geo import i18n, maps, regions

    t = _tiles()
    if here is None:
        m = maps.base_map(35.0, 105.0, 4, **t)
        maps.add_boundaries(m, regions.simplified("province", 0.05), weight=0.8)
        return maps.localize_assets(m)
    lat, lng = here
    m = maps.base_map(lat, lng, 14, **t)
    outlines = _county_outlines_near(round(lat, 1), round(lng, 1), 0.6)
    maps.add_boundaries(m, outlines, weight=1.0, color="#888888")
    shift = maps.tiles_use_gcj02(t["tiles"])

    def pt(la: float, ln: float) -> list[float]:
        if not shift:
            return [la, ln]
        from geo import datums

        g = datums.wgs84_to_gcj02(la, ln)
        return [float(g[0]), float(g[1])]

    if records:
        df = pd.DataFrame(records)
        df["distance"] = [i18n.format_distance(d, lang_code) for d in df["distance_m"]]
        if shift:
            from geo import datums

            g_lat, g_lng = datums.wgs84_to_gcj02(df["lat"].to_numpy(), df["lng"].to_numpy())
            df["lat"], df["lng"] = g_lat, g_lng
        labels = {"name": i18n.t("nearest.results", lang_code), "distance": "📏", "address": "📍"}
        folium.PolyLine(
            [pt(lat, lng), pt(records[0]["lat"], records[0]["lng"])],
            color="#c8102e",
            weight=3,
            dash_array="6 6",
        ).add_to(m)
        maps.add_points(m, df, popup_cols=labels, tooltip_col="name", radius=9, cluster=False)
        m.fit_bounds(
            [pt(lat, lng), *[pt(r["lat"], r["lng"]) for r in records]], padding=(30, 30), max_zoom=16
        )
    folium.CircleMarker(
        pt(lat, lng),
        radius=9,
        color="#ffffff",
        weight=3,
        fill=True,
        fill_color="#1a73e8",
        fill_opacity=1.0,
        tooltip=maps.escape_text(i18n.t("nearest.me", lang_code)),
    ).add_to(m)
    return maps.localize_assets(m)


def submit_report(station_id: str, problem: str, text: str) -> bool:
    """Store a courier's problem report (limited per station, client address, session); False if limited."""
    import datetime as dt
    import uuid

    from geo import navigation

    problem, text = navigation.clean_report(problem, text)
    session = st.session_state.setdefault("report_session", uuid.uuid4().hex)
    ip = getattr(st.context, "ip_address", None)  # None on loopback: then the session is the client
    client = store.client_id(data_dir(), ip) if isinstance(ip, str) and ip else ""
    now = dt.datetime.now(dt.UTC)
    return store.insert_report(data_dir(), str(station_id), problem, text, session, now, client=client)


# ---- 覆盖规划 / coverage planning (views/coverage.py; geo.coverage, geo.siting, geo.planning) --
# A coverage query is a checked geo.query.CoverageQuery (frozen: it is the cache key).


def coverage_closed_ids() -> tuple[str, ...]:
    """Stations with an open 'closed' report (read fresh: couriers add reports at any time)."""
    from geo import coverage

    return tuple(coverage.reported_closed_ids(store.read_reports(data_dir(), status="open")))


def coverage_reports() -> pd.DataFrame:
    """Open station reports, newest first."""
    return store.read_reports(data_dir(), status="open")


@st.cache_resource(show_spinner=False, max_entries=12)
def _coverage_distance(key: str, directory: str, stations_q: CoverageQuery, eng: engines.Engine) -> Any:
    from geo import coverage

    return coverage.nearest_distance_m(
        table(key, directory, "workplaces"),
        _station_index(key, directory),
        **stations_q.station_filters(),
        engine=eng,
    )


def _distance(key: str, directory: str, q: CoverageQuery) -> Any:
    """Distances to the nearest qualifying station: keyed on the station filters only."""
    stations_q = CoverageQuery(1.0, q.open_at_min, q.amenities, q.kinds, (), q.exclude_ids)
    return _coverage_distance(key, directory, stations_q, engine())


@st.cache_data(show_spinner=False, max_entries=16)
def coverage_region_list(key: str, directory: str) -> pd.DataFrame:
    """Distinct (province, city, county) tags of workplaces and stations, for the region pickers."""
    cols = ["province_adcode", "province", "city_adcode", "city", "adcode", "county"]
    both = pd.concat([table(key, directory, "workplaces")[cols], table(key, directory, "stations")[cols]])
    return (
        both.dropna(subset=["adcode"]).drop_duplicates("adcode").sort_values("adcode").reset_index(drop=True)
    )


def coverage_child_level(region: str) -> str:
    """Level of the regions listed inside ``region`` ("" = China → provinces; municipalities → counties)."""
    from geo import levels

    return levels.child_level(region, coverage_region_list(data_key(), str(data_dir())))


@st.cache_data(show_spinner=False, max_entries=64)
def _coverage_summary(key: str, directory: str, q: CoverageQuery) -> dict[str, Any]:
    from geo import coverage

    return coverage.coverage_summary(
        table(key, directory, "workplaces"),
        _station_index(key, directory),
        q.radius_m,
        occupations=q.occupations,
        distance_m=_distance(key, directory, q),
        parent=q.region,
        stations=table(key, directory, "stations"),
        **q.station_filters(),
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _coverage_regions(key: str, directory: str, q: CoverageQuery) -> pd.DataFrame:
    from geo import coverage

    return coverage.region_stats(
        table(key, directory, "stations"),
        table(key, directory, "workplaces"),
        coverage_child_level(q.region or ""),
        distance_m=_distance(key, directory, q),
        radius_m=q.radius_m,
        parent=q.region,
        occupations=q.occupations,
        station_mask=coverage.qualifying_mask(_station_index(key, directory), **q.station_filters()),
    )


def coverage_figures(q: CoverageQuery) -> dict[str, Any]:
    """KPIs of the query's region and the table of the regions inside it."""
    key, directory, q = data_key(), str(data_dir()), q.checked()
    return {"summary": _coverage_summary(key, directory, q), "regions": _coverage_regions(key, directory, q)}


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_times(key: str, directory: str, q: CoverageQuery) -> pd.DataFrame:
    from geo import coverage

    rows = []
    for t in coverage.TIMES_OF_DAY_MIN:
        summary = _coverage_summary(key, directory, q.at(t))
        rows.append({"at": f"{t // 60:02d}:{t % 60:02d}", **summary})
    return pd.DataFrame(rows)


def coverage_times(q: CoverageQuery) -> pd.DataFrame:
    """Coverage of the query's region at 04:30, 12:00, 20:00 and 02:00 with the same radius and filters."""
    return _coverage_times(data_key(), str(data_dir()), q.checked())


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_gaps(
    key: str,
    directory: str,
    q: CoverageQuery,
    res: int,
    max_cells: int,
    bbox: tuple[float, ...] | None,
    min_res: int | None,
    eng: engines.Engine,
) -> tuple[pd.DataFrame, int, bool]:
    from geo import coverage

    return coverage.gap_cells_for_map(
        table(key, directory, "workplaces"),
        _distance(key, directory, q) <= q.radius_m,
        res,
        max_cells=max_cells,
        parent=q.region,
        occupations=q.occupations,
        bbox=bbox,
        min_res=min_res,
        engine=eng,
    )


def coverage_gaps(
    q: CoverageQuery,
    res: int,
    max_cells: int = 6000,
    bbox: tuple[float, float, float, float] | None = None,
    min_res: int | None = None,
) -> tuple[pd.DataFrame, int, bool]:
    """Gap cells of the region, inside ``bbox`` (west, south, east, north) if given.

    Returns (cells, resolution used, truncated).
    """
    box = None if bbox is None else tuple(float(v) for v in bbox)
    return _coverage_gaps(
        data_key(), str(data_dir()), q.checked(), int(res), int(max_cells), box, min_res, engine()
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _coverage_cell(key: str, directory: str, q: CoverageQuery, cell: str) -> pd.DataFrame:
    from geo import coverage

    wp = table(key, directory, "workplaces")
    return coverage.cell_workplaces(
        wp, _distance(key, directory, q) <= q.radius_m, cell, occupations=q.occupations
    )


def coverage_cell(q: CoverageQuery, cell: str) -> pd.DataFrame:
    """Workers of one gap cell by occupation."""
    return _coverage_cell(data_key(), str(data_dir()), q.checked(), cell)


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_sites(
    key: str, directory: str, q: CoverageQuery, sq: SitingQuery, candidates_csv: bytes | None
) -> dict[str, Any]:
    from geo import planning

    # through the importer: GBK/UTF-8, row limit, coordinate checks
    user = planning.read_candidates(candidates_csv, settings=settings()) if candidates_csv else None
    wp = table(key, directory, "workplaces")
    out = planning.site_and_recount(wp, _distance(key, directory, q), q, sq, user)
    return {**out.result.to_dict(), "recomputed": out.workers_covered_recounted}


def coverage_sites(q: CoverageQuery, sq: SitingQuery, candidates_csv: bytes | None) -> dict[str, Any]:
    """Greedy siting result (``sites`` table, before/after figures, independent ``recomputed``)."""
    return _coverage_sites(data_key(), str(data_dir()), q.checked(), sq.checked(), candidates_csv)


@st.cache_data(show_spinner=False, max_entries=8)
def _coverage_sites_access(
    key: str,
    directory: str,
    q: CoverageQuery,
    sq: SitingQuery,
    candidates_csv: bytes | None,
    seats: float | None,
    threshold: float,
) -> dict[str, Any]:
    from geo import coverage, planning

    # through the importer: GBK/UTF-8, row limit, coordinate checks
    user = planning.read_candidates(candidates_csv, settings=settings()) if candidates_csv else None
    mask = coverage.qualifying_mask(_station_index(key, directory), **q.station_filters())
    out = planning.site_access_and_recount(
        table(key, directory, "stations"),
        table(key, directory, "workplaces"),
        q,
        sq,
        threshold,
        seats_per_site=seats,
        station_mask=mask,
        user_candidates=user,
    )
    return {**out.result.to_dict(), "recomputed": out.workers_reaching_recounted}


def coverage_sites_access(
    q: CoverageQuery, sq: SitingQuery, candidates_csv: bytes | None, seats: float | None, threshold: float
) -> dict[str, Any]:
    """Siting for accessibility (``sites``, reaching before/after, solver, independent ``recomputed``).

    ``seats`` per new site (``None``: the median of the qualifying stations); ``threshold``
    in seats per 1,000 workers.
    """
    return _coverage_sites_access(
        data_key(), str(data_dir()), q.checked(), sq.checked(), candidates_csv, seats, float(threshold)
    )


def coverage_outline(region: str) -> Any:
    """Simplified polygons of the regions listed inside ``region`` (``adcode``, ``name``, geometry)."""
    from geo import regions

    level = coverage_child_level(region)
    gdf = regions.simplified(level, {"province": 0.02, "city": 0.005, "county": 0.003}[level])
    if region:
        regs = coverage_region_list(data_key(), str(data_dir()))
        col = (
            "province_adcode"
            if (regs["province_adcode"] == region).any()
            else ("city_adcode" if (regs["city_adcode"] == region).any() else "adcode")
        )
        gdf = gdf[gdf[col] == region] if col in gdf.columns else gdf[gdf["adcode"] == region]
    return gdf[["adcode", "name", "geometry"]].reset_index(drop=True)


def coverage_region_map(q: CoverageQuery, lang_code: str) -> Any:
    """Choropleth of coverage share of the regions inside the query's region."""
    from geo import i18n, maps

    outline = coverage_outline(q.region or "")
    regions_table = coverage_figures(q)["regions"]
    gdf = outline.merge(regions_table[["adcode", "share"]], on="adcode", how="left")
    gdf["share_pct"] = gdf["share"] * 100
    return maps.localize_assets(
        maps.region_map(
            gdf,
            "share_pct",
            fmt="{:.0f}%",
            legend_title=i18n.t("coverage.legend_share", lang_code),
            nodata_label=i18n.t("maps.nodata", lang_code),
            lang=lang_code,
            bins=[0, 20, 40, 60, 80, 100.0001],
            **_tiles(),
        )
    )


GAP_MAP_STATIONS_MAX = 20_000
"""Most station points on a gap or siting map (clustered, ≈ 23 bytes each: ≈ 0.5 MB)."""
STATIONS_MIN_ZOOM = 7
"""Without a region chosen, stations are drawn from this zoom on (about one province in view)."""
STATION_COLOR, SITE_COLOR = "#1a4fd8", "#7b2cbf"
"""Stations blue, proposed sites purple: neither on the red scale of the cells nor like cluster bubbles."""


def coverage_gap_map(
    q: CoverageQuery,
    res: int,
    lang_code: str,
    sites: pd.DataFrame | None = None,
    measure: bool = False,
    view: dict[str, Any] | None = None,
    min_res: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Gap hexes over region outlines, qualifying stations and proposed sites, with a legend.

    ``view`` (``bbox`` (west, south, east, north), ``lat``, ``lng``, ``zoom``) is the part of
    the map the user zoomed into: cells and stations are then taken inside it (padded) and
    the map opens there. Returns the map and what was drawn: ``res`` used, ``truncated``,
    ``cells``, ``stations_total``/``stations_shown`` and, with ``measure``, ``bytes`` (else -1).
    Cells are capped (``geo.coverage.GAP_MAX_CELLS_DEFAULT``) and stations to
    :data:`GAP_MAP_STATIONS_MAX` so the payload stays under ``geo.maps.MAX_PAYLOAD_BYTES``
    (asserted in tests/app).
    """
    from geo import coverage, i18n, maps, validate

    bbox = view["bbox"] if view else None
    cells, used_res, truncated = coverage_gaps(q, res, bbox=bbox, min_res=min_res)
    region = q.region or ""
    m = maps.hex_map(
        cells,
        "workers_uncovered",
        outline=coverage_outline(region),
        legend_title=i18n.t("coverage.gaps_legend", lang_code),
        view=(view["lat"], view["lng"], view["zoom"]) if view else None,
        lang=lang_code,
        **_tiles(),
    )
    info: dict[str, Any] = {"res": used_res, "truncated": truncated, "cells": len(cells)}
    info["stations_total"] = info["stations_shown"] = 0
    legend = []
    if region or (view and view["zoom"] >= STATIONS_MIN_ZOOM):  # 186,000 points say nothing on all China
        stations = table(data_key(), str(data_dir()), "stations")
        keep = coverage.qualifying_mask(station_index(), **q.station_filters())
        keep &= validate.region_mask(stations, region)
        if bbox:
            keep &= coverage.inside_bbox(stations, bbox, "stations")
        pts = pd.DataFrame(stations.loc[keep, ["lat", "lng"]])
        info["stations_total"] = len(pts)
        if len(pts) > GAP_MAP_STATIONS_MAX:  # a sample spread like the stations, not the first rows
            pts = pts.sample(n=GAP_MAP_STATIONS_MAX, random_state=0)
        info["stations_shown"] = len(pts)
        maps.add_points(m, pts, color=STATION_COLOR, radius=3, fill_opacity=0.9)
        legend.append((STATION_COLOR, i18n.t("coverage.legend_stations", lang_code)))
    if sites is not None and len(sites):
        shown = (
            sites[["lat", "lng", "rank"]]
            .head(maps.PLAIN_MARKERS_MAX)
            .assign(rank=lambda d: d["rank"].astype(str))
        )
        maps.add_points(
            m, shown, tooltip_col="rank", color=SITE_COLOR, radius=8, cluster=False, fill_opacity=0.95
        )
        legend.append((SITE_COLOR, i18n.t("coverage.legend_sites", lang_code)))
        if len(cells) == 0 and not view:
            m.fit_bounds([[shown["lat"].min(), shown["lng"].min()], [shown["lat"].max(), shown["lng"].max()]])
    if legend:
        maps.add_legend(m, None, legend, position="bottomleft")
    maps.localize_assets(m)
    # Rendering to measure costs as much as st_folium's own render: only when asked (tests).
    info["bytes"] = maps.payload_bytes(m) if measure else -1
    return m, info


def coverage_reports_by_region(level: str, region: str = "") -> pd.DataFrame:
    """Open station reports per region of ``level`` inside ``region`` and problem (read fresh)."""
    from geo import coverage

    return coverage.reports_by_region(coverage_reports(), stations(), level, parent=region or None)


def coverage_reports_in(region: str = "") -> pd.DataFrame:
    """Open reports of stations inside ``region``, newest first, with station name and county."""
    from geo import coverage

    return coverage.reports_with_stations(coverage_reports(), stations(), parent=region or None)


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_top_gaps(
    key: str, directory: str, q: CoverageQuery, res: int, top: int, eng: engines.Engine
) -> pd.DataFrame:
    from geo import coverage

    wp = table(key, directory, "workplaces")
    covered = _distance(key, directory, q) <= q.radius_m
    return coverage.gap_cells(
        wp, covered, res, top=top, parent=q.region, occupations=q.occupations, engine=eng
    )


def coverage_top_gaps(q: CoverageQuery, res: int, top: int = 100) -> pd.DataFrame:
    """The ``top`` gap cells of the region at exactly ``res`` (for the ranked table and exports)."""
    return _coverage_top_gaps(data_key(), str(data_dir()), q.checked(), int(res), int(top), engine())


# ---- 拥挤度 / crowding view of the coverage page (geo.access) ---------------------------------


@st.cache_resource(show_spinner=False, max_entries=6)
def _access_result(key: str, directory: str, q: CoverageQuery, method: str, eng: engines.Engine) -> Any:
    from geo import access, coverage

    mask = coverage.qualifying_mask(_station_index(key, directory), **q.station_filters())
    st_, wp = table(key, directory, "stations"), table(key, directory, "workplaces")
    return access.two_step_fca(st_, wp, q.radius_m, method=method, station_mask=mask, engine=eng)


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_access(
    key: str, directory: str, q: CoverageQuery, method: str, thr: float, crowded: float, eng: engines.Engine
) -> dict:
    from geo import access, maps

    # Occupations and region only select whose figures are summed: one computation for all of them.
    result = _access_result(key, directory, replace(q, occupations=(), region=None), method, eng)
    st_, wp = table(key, directory, "stations"), table(key, directory, "workplaces")
    kw = {"parent": q.region, "occupations": q.occupations}
    cells, res = pd.DataFrame(), 8
    for res in (8, 7, 6, 5, 4):  # the finest cells that stay a light map
        cells = access.cell_access(wp, result, res, thr, **kw)
        if len(cells) <= maps.MAX_HEX_CELLS // 2:
            break
    level = coverage_child_level(q.region or "")
    return {
        "summary": access.access_summary(st_, wp, result, thr, crowded, **kw),
        "regions": access.region_access(st_, wp, result, level, thr, crowded, **kw),
        "stations": access.station_table(st_, result, crowded, parent=q.region, top=1000),
        "cells": cells,
        "res": res,
    }


def coverage_access(q: CoverageQuery, method: str) -> dict[str, Any]:
    """2SFCA figures of the query's region: summary, regions inside it, most loaded stations, H3 cells."""
    s = settings()
    return _coverage_access(
        data_key(),
        str(data_dir()),
        q.checked(),
        method,
        s.access_threshold_seats_per_1000,
        s.crowded_workers_per_seat,
        engine(),
    )
