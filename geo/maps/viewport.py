"""Viewport maths: zoom for a bounding box, H3 resolution for a zoom, box centres.

Every bounding box here is ``(west, south, east, north)`` in WGS-84 degrees, the order of
``GeoDataFrame.total_bounds`` (``min_lng, min_lat, max_lng, max_lat``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import h3

from geo.errors import InputError

MAX_ZOOM: Final = 18
"""Largest zoom level of every map. Leaflet.markercluster needs the map (not only a tile
layer) to have one; with ``tiles=None`` folium sets none and clustering fails."""


def _check_latlng(lat: float, lng: float, what: str) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InputError(
            f"{what} ({lat}, {lng}) is not a WGS-84 lat/lng: lat in [-90, 90], lng in [-180, 180]"
        )


def _bounds_center(bounds: Sequence[float]) -> tuple[float, float]:
    minx, miny, maxx, maxy = bounds
    return (miny + maxy) / 2, (minx + maxx) / 2


def hex_res_for_zoom(zoom: float, lat: float = 35.0, min_edge_px: float = 2.0) -> int:
    """Finest H3 resolution whose cells are still visible on a web map at ``zoom``.

    Parameters
    ----------
    zoom : float
        Leaflet zoom level (0 = the world in 256 pixels).
    lat : float, default 35.0
        Latitude of the view, degrees (Web Mercator shrinks metres per pixel by cos(lat)).
    min_edge_px : float, default 2.0
        Smallest average cell edge, in screen pixels, that still reads as a cell.

    Returns
    -------
    int
        Resolution 0–15: the finest with ``average_hexagon_edge_length >= min_edge_px``
        pixels (0 when even res-0 cells are smaller).
    """
    m_per_px = 2 * math.pi * 6_378_137.0 / 256 * math.cos(math.radians(lat)) / 2 ** float(zoom)
    best = 0
    for res in range(16):
        if h3.average_hexagon_edge_length(res, unit="m") >= min_edge_px * m_per_px:
            best = res
    return best


def zoom_for_bounds(bounds: Sequence[float], width_px: int, height_px: int, max_zoom: int = MAX_ZOOM) -> int:
    """Largest whole zoom at which ``bounds`` fit a map of the given size (Web Mercator).

    Parameters
    ----------
    bounds : sequence of float
        ``(min_lng, min_lat, max_lng, max_lat)``, WGS-84 degrees (``total_bounds`` order).
    width_px, height_px : int
        Size of the map, pixels.
    max_zoom : int, default :data:`MAX_ZOOM`
        Zoom for a single point or a tiny box.

    Returns
    -------
    int
        Zoom level 0 to ``max_zoom`` (what Leaflet's ``fitBounds`` picks without padding).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)

    def merc_y(lat: float) -> float:
        s = math.sin(math.radians(max(min(lat, 85.0511), -85.0511)))
        return 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)  # 0..1 over the world

    dx = max((maxx - minx) / 360.0, 1e-12)
    dy = max(merc_y(miny) - merc_y(maxy), 1e-12)
    zoom = math.floor(math.log2(min(width_px / (256 * dx), height_px / (256 * dy))))
    return int(min(max(zoom, 0), max_zoom))
