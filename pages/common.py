"""What every page shares: settings, language, dataset loading and the cached wrappers.

Caches key on plain values (data directory and dataset version key), never on
GeoDataFrames. Big read-only tables and the station index are held once per process
with ``st.cache_resource``; pages must not modify what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from geo import i18n, store
from geo.settings import Settings, load_settings


@st.cache_resource
def _settings_cached(secrets_items: tuple[tuple[str, Any], ...]) -> Settings:
    return load_settings(dict(secrets_items))


def settings() -> Settings:
    """Return the settings (env vars over ``[geo]`` in ``.streamlit/secrets.toml``)."""
    try:
        section = dict(st.secrets.get("geo", {}))
    except (FileNotFoundError, KeyError, AttributeError):
        section = {}
    return _settings_cached(tuple(sorted((k, v) for k, v in section.items() if not isinstance(v, dict))))


def data_dir() -> Path:
    """Return the data directory in use."""
    return settings().data_dir


def lang() -> str:
    """Return the UI language chosen in the sidebar (``zh`` by default)."""
    return str(st.session_state.get("lang", i18n.DEFAULT_LANG))


def tr(key: str, **fmt: Any) -> str:
    """Translate ``key`` into the current language."""
    return i18n.t(key, lang(), **fmt)


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
def _station_index(key: str, directory: str) -> Any:
    from geo.nearest import StationIndex

    return StationIndex.from_frame(table(key, directory, "stations"))


def station_index() -> Any:
    """Return the one station index of the dataset in use (built once, cached)."""
    return _station_index(data_key(), str(data_dir()))


def dataset_caption() -> None:
    """Show which dataset is in use, labelling demo data clearly (演示数据)."""
    m = manifest()
    source = m.get("source", {})
    if source.get("kind") == "demo":
        st.markdown(f":orange-badge[{tr('app.demo_short')}] {tr('app.demo_badge')}")
    else:
        st.caption(tr("app.imported_badge", file=str(source.get("file", "?"))))
    st.caption(tr("app.dataset", version=m.get("dataset_version", "?"), created=m.get("created", "?")[:16]))


def credit() -> None:
    """Show the data credits (Tianditu boundaries, GeoNames places)."""
    st.caption(tr("app.credit"))


# ---- cached wrappers of geo computations (one place for all pages) ----------------------------


@st.cache_resource(show_spinner=False, max_entries=2)
def _nearest_distance_m(key: str, directory: str) -> Any:
    from geo import coverage

    return coverage.nearest_distance_m(table(key, directory, "workplaces"), _station_index(key, directory))


def nearest_distance_m() -> Any:
    """Great-circle distance (m) from every workplace to its nearest station (any station)."""
    return _nearest_distance_m(data_key(), str(data_dir()))


@st.cache_data(show_spinner=False, max_entries=8)
def _overview_stats(key: str, directory: str, radius_m: float) -> dict[str, Any]:
    from geo import coverage

    st_ = table(key, directory, "stations")
    wp = table(key, directory, "workplaces")
    dist = _nearest_distance_m(key, directory)
    covered = dist <= radius_m
    return {
        "stations": len(st_),
        "stations_24h": int(st_["open_24h"].sum()),
        "workplaces": len(wp),
        "summary": {
            "workers_total": int(wp["workers"].sum()),
            "workers_covered": int(wp["workers"].to_numpy()[covered].sum()),
            "share": float(wp["workers"].to_numpy()[covered].sum() / max(wp["workers"].sum(), 1)),
        },
        "provinces": coverage.region_stats(st_, wp, "province", distance_m=dist, covered=covered),
        "counties": coverage.region_stats(st_, wp, "county", distance_m=dist, covered=covered),
    }


def overview_stats(radius_m: float) -> dict[str, Any]:
    """National KPIs and province/county tables for the overview page."""
    return _overview_stats(data_key(), str(data_dir()), float(radius_m))


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
        nodata_label="–",
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
            "overview.legend_hex", lang_code, res=res, area=f"{hexes.cell_area_km2(res):.1f}"
        ),
        **_tiles(),
    )
