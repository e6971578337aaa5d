"""The campaign dashboard's maps: one frame of hexes or regions, coloured with shared class edges.

Drawn here (not in the page) so that the page and the benchmark draw the very same map.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd

from geo import levels, maps, regions, validate


def child_level(region: str) -> str:
    """Return the level of the regions inside ``region``, read from the boundaries (see geo.levels)."""
    cities = regions.region_table("city")[["adcode", "province_adcode"]].rename(
        columns={"adcode": "city_adcode"}
    )
    return levels.child_level(region, cities)


def outline(region: str) -> gpd.GeoDataFrame:
    """Simplified polygons of the regions shown inside ``region`` (``adcode``, ``name``, geometry)."""
    level = child_level(region)
    gdf = regions.simplified(level, 0.01 if level == "province" else 0.005)
    if region:
        col = "province_adcode" if region.endswith("0000") else "city_adcode"
        gdf = gdf[gdf[col] == region]
    return gdf[["adcode", "name", "geometry"]]


def frame_map(
    frame: pd.DataFrame,
    unit: str,
    value_col: str,
    bins: list[float],
    legend_title: str,
    withheld_label: str,
    region: str,
    *,
    lang: str = "zh",
    level: str = "province",
    **tiles: Any,  # noqa: ANN401 - tile options of geo.maps.base_map
) -> Any:  # noqa: ANN401 - folium.Map
    """Map of one frame (``unit`` ``"hex"``: cells ``h3``; else regions ``adcode``) inside ``region``.

    Regions without a row are true zeros (no event); withheld values (NaN) show as
    ``withheld_label``. The map opens on the region, or on :data:`geo.validate.CHINA_BOUNDS`,
    with the official layers (boundary lines of ``level``, South China Sea inset on national
    views) captioned in ``lang``.
    """
    shapes = outline(region)
    bounds = validate.BBox(*shapes.total_bounds) if len(shapes) else validate.CHINA_BOUNDS
    m = maps.base_map((bounds.south + bounds.north) / 2, (bounds.west + bounds.east) / 2, 5, **tiles)
    values = frame[value_col].astype("float64")
    if unit == "hex":
        if len(shapes):
            maps.add_boundaries(m, shapes, color="#888888", weight=0.6)
        cells = pd.DataFrame({"h3": frame["h3"].astype(str), value_col: values})
        maps.add_hexes(m, cells, value_col, bins=bins, legend_title=legend_title, nodata_label=withheld_label)
    else:
        shown = shapes.merge(
            pd.DataFrame({"adcode": frame["adcode"], value_col: values}), on="adcode", how="left"
        )
        absent = ~shown["adcode"].isin(frame["adcode"])
        shown.loc[absent, value_col] = 0.0  # no event in the region: a true zero, not a withheld figure
        maps.add_choropleth(
            m, shown, value_col, bins=bins, legend_title=legend_title, nodata_label=withheld_label
        )
    m.fit_bounds([[bounds.south, bounds.west], [bounds.north, bounds.east]])
    maps.add_official_layers(m, tuple(bounds), lang=lang, level=level)
    return maps.localize_assets(m)
