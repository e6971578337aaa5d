"""The maps of the overview, coverage and campaign pages as static figures (PNG/PDF).

Each function takes the figures a page shows (its published table or frame) and draws
them with :mod:`geo.maps.export`; the pages' download buttons and ``python -m geo
map-export`` both call these, so the file a user downloads holds exactly what the page
shows. Nothing here computes a figure, except :func:`station_hex_counts` (a count, the
same one the overview page draws as hexes); the campaign figures come published from
:func:`geo.publication.campaign_view`, the page's one publication step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from geo import hexes, i18n, provenance, regions, store
from geo.errors import InputError
from geo.maps.export import MapFurniture, PointLayer, hex_figure, region_figure
from geo.maps.layers import MAX_HEX_CELLS

COVERAGE_SHARE_BINS: Final = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0001)
"""Class edges (percent) of the coverage-share map, as on the coverage page."""

HEX_COUNT_RESOLUTIONS: Final = (7, 6, 5, 4)
"""Resolutions tried, finest first, for the station-density hexes of a province."""


def dataset_note(data_dir: Path, lang: str = i18n.DEFAULT_LANG) -> tuple[str, bool]:
    """Name the dataset for a map's footer and tell whether it holds demo rows.

    Parameters
    ----------
    data_dir : pathlib.Path
        Data directory.
    lang : {"zh", "en"}
        Language of the text.

    Returns
    -------
    (str, bool)
        ``"驿站图 数据集 v0003"`` and whether any table still holds demo-generator rows
        (the footer and a badge then say "演示数据").
    """
    version = store.current_version(data_dir) or "?"
    sources = provenance.table_sources(store.list_versions(data_dir), version)
    demo = any(src.demo for src in sources.values())
    return i18n.t("maps.source_dataset", lang, version=version), demo


def region_name(region: str, lang: str = i18n.DEFAULT_LANG) -> str:
    """Name of a province, city or county adcode ("" = 全国 / China) for a map title.

    Raises
    ------
    InputError
        When no region has this adcode.
    """
    if not region:
        return i18n.t("maps.china", lang)
    for level in regions.LEVELS:
        table = regions.region_table(level)
        hit = table.loc[table["adcode"] == region, "name"]
        if len(hit):
            return str(hit.iloc[0])
    raise InputError(f"region {region}: no province, city or county has this adcode (e.g. 440000, 440100)")


def child_level(region: str) -> str:
    """Level of the regions shown inside ``region`` ("" = China → provinces; municipalities → counties)."""
    if not region:
        return "province"
    if region.endswith("0000"):
        cities = regions.region_table("city")
        return "city" if (cities["province_adcode"] == region).any() else "county"
    return "county"


def child_outline(region: str) -> gpd.GeoDataFrame:
    """Polygons (``adcode``, ``name``, geometry) of the regions shown inside ``region``, for print."""
    level = child_level(region)
    gdf = regions.simplified(level, 0.01 if level == "province" else 0.003)
    if region:
        col = "province_adcode" if region.endswith("0000") else "city_adcode"
        if col not in gdf.columns or not (gdf[col] == region).any():
            col = "adcode"
        gdf = gdf[gdf[col] == region]
    return gdf[["adcode", "name", "geometry"]].reset_index(drop=True)


def station_hex_counts(stations: pd.DataFrame, province_adcode: str) -> tuple[pd.DataFrame, int]:
    """Stations per H3 cell of one province, at the finest resolution that keeps the map light.

    Parameters
    ----------
    stations : pandas.DataFrame
        The stations table (``province_adcode``, ``h3_9``).
    province_adcode : str
        6-digit province code.

    Returns
    -------
    (pandas.DataFrame, int)
        Columns ``h3``, ``stations``; and the resolution, the first of
        :data:`HEX_COUNT_RESOLUTIONS` with at most half of ``MAX_HEX_CELLS`` cells.
    """
    sel = stations.loc[stations["province_adcode"] == province_adcode, "h3_9"].to_numpy()
    counts = pd.Series(dtype="int64")
    res = HEX_COUNT_RESOLUTIONS[0]
    for res in HEX_COUNT_RESOLUTIONS:
        counts = pd.Series(hexes.cells_to_parent(sel, res)).value_counts()
        if len(counts) <= MAX_HEX_CELLS // 2:
            break
    return counts.rename_axis("h3").reset_index(name="stations"), res


def overview_nation(provinces: pd.DataFrame, furniture: MapFurniture) -> Figure:
    """Provinces coloured by stations per 10,000 workers (``provinces``: the overview's province table)."""
    gdf = regions.simplified("province", 0.01)[["adcode", "name", "geometry"]].merge(
        provinces[["adcode", "stations_per_10k"]], on="adcode", how="left"
    )
    return region_figure(gdf, "stations_per_10k", fmt="{:.2f}", furniture=furniture)


def overview_province(cells: pd.DataFrame, province_adcode: str, furniture: MapFurniture) -> Figure:
    """Station-density hexes (``cells``: ``h3``, ``stations``) over the province's counties."""
    counties = regions.simplified("county", 0.003)
    outline = counties[counties["province_adcode"] == province_adcode][["adcode", "name", "geometry"]]
    return hex_figure(cells, "stations", outline=outline, furniture=furniture)


def coverage_regions(
    table: pd.DataFrame,
    region: str,
    furniture: MapFurniture,
    outline: gpd.GeoDataFrame | None = None,
    sites: pd.DataFrame | None = None,
) -> Figure:
    """Share of workers within the radius, per region inside ``region`` (``table``: ``adcode``, ``share``).

    ``outline`` is the page's polygons of those regions (default :func:`child_outline`);
    ``sites`` (``lat``, ``lng``, in rank order), proposed stations drawn as numbered stars.
    """
    shapes = child_outline(region) if outline is None else outline[["adcode", "name", "geometry"]]
    gdf = shapes.merge(table[["adcode", "share"]], on="adcode", how="left")
    gdf["share_pct"] = gdf["share"] * 100
    points: tuple[PointLayer, ...] = ()
    if sites is not None and len(sites):
        points = (
            PointLayer(
                sites["lat"].to_numpy(dtype="float64"),
                sites["lng"].to_numpy(dtype="float64"),
                i18n.t("maps.proposed_sites", furniture.lang),
                numbered=True,
            ),
        )
    return region_figure(
        gdf, "share_pct", fmt="{:.0f}%", bins=COVERAGE_SHARE_BINS, furniture=furniture, points=points
    )


def campaign(
    frame: pd.DataFrame,
    unit: str,
    value_col: str,
    bins: list[float],
    region: str,
    withheld_label: str,
    furniture: MapFurniture,
    outline: gpd.GeoDataFrame | None = None,
) -> Figure:
    """One published campaign frame, hexes or regions, with the page's class edges.

    As on the page, a withheld figure (NaN) is hatched and labelled
    ``withheld_label``; a region absent from ``frame`` had no event and is a true zero.
    ``outline`` is the page's polygons of the regions inside ``region`` (default
    :func:`child_outline`).
    """
    outline = child_outline(region) if outline is None else outline[["adcode", "name", "geometry"]]
    values = frame[value_col].astype("float64")
    if unit == "hex":
        cells = pd.DataFrame({"h3": frame["h3"].astype(str), value_col: values})
        return hex_figure(
            cells, value_col, outline=outline, bins=bins, nodata_label=withheld_label, furniture=furniture
        )
    shown = outline.merge(
        pd.DataFrame({"adcode": frame["adcode"], value_col: values}), on="adcode", how="left"
    )
    absent = ~shown["adcode"].isin(frame["adcode"])
    shown[value_col] = np.where(absent, 0.0, shown[value_col])
    return region_figure(shown, value_col, bins=bins, nodata_label=withheld_label, furniture=furniture)
