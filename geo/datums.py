"""Conversions between WGS-84 and the Chinese map datums GCJ-02 and BD-09.

Inside :mod:`geo` every coordinate is WGS-84. Maps and data from AMap, Tencent and Tianditu
mirrors use GCJ-02 ("Mars coordinates"), Baidu uses BD-09; these functions are the only
place where either appears, at the edges (imports, tile layers, links to map apps).

All functions are vectorised: they take numpy arrays or scalars (``lat`` first, degrees)
and return a ``(lat, lng)`` pair of ``float64`` arrays of the broadcast shape (0-d for
scalars). Points outside the rough China rectangle used by every public implementation
(:func:`in_china_bbox`) are returned unchanged, as the official obfuscation does.

The GCJ-02 formula is the widely published one (Krasovsky 1940 ellipsoid, a = 6378245 m,
e² = 0.00669342162296594323); its inverse is solved by fixed-point iteration to well below
1e-7 degrees (~1 cm) rather than the common one-step approximation, which is off by up to
a few metres.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import InputError

KRASOVSKY_A_M: Final = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid used by GCJ-02, metres."""
KRASOVSKY_EE: Final = 0.00669342162296594323
"""First eccentricity squared of the Krasovsky 1940 ellipsoid."""

CHINA_BBOX: Final = (0.8293, 72.004, 55.8271, 137.8347)
"""``(lat_min, lng_min, lat_max, lng_max)`` of the rectangle inside which GCJ-02 shifts points."""

CRS_NAMES: Final = ("wgs84", "gcj02", "bd09")
"""Datum names accepted by :func:`to_wgs84` and :func:`from_wgs84`."""

INVERSE_TOL_DEG: Final = 1e-9
"""Residual (degrees) at which the iterative inverses stop; 1e-9° is about 0.1 mm."""
_MAX_ITER: Final = 30

_BD_FACTOR: Final = np.pi * 3000.0 / 180.0  # Baidu's "x_pi"
_BD_DLNG: Final = 0.0065
_BD_DLAT: Final = 0.006

LatLng = tuple[NDArray[np.float64], NDArray[np.float64]]


def _as_pair(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    la, ln = np.broadcast_arrays(np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64))
    return la.copy(), ln.copy()


def in_china_bbox(lat: ArrayLike, lng: ArrayLike) -> NDArray[np.bool_]:
    """Return whether points fall inside the rectangle where GCJ-02 applies.

    Parameters
    ----------
    lat, lng : array_like
        Degrees, broadcastable.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of the broadcast shape; ``True`` inside :data:`CHINA_BBOX` (edges
        included). This is the coarse test of the public algorithm, not a border test:
        it includes e.g. Korea and Mongolia.
    """
    la, ln = _as_pair(lat, lng)
    lat_min, lng_min, lat_max, lng_max = CHINA_BBOX
    return (la >= lat_min) & (la <= lat_max) & (ln >= lng_min) & (ln <= lng_max)


def _gcj_offset_deg(lat: NDArray[np.float64], lng: NDArray[np.float64]) -> LatLng:
    """GCJ-02 minus WGS-84 at a WGS-84 point, degrees (no rectangle test)."""
    x = lng - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlng += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlng += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A_M * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlng = (dlng * 180.0) / (KRASOVSKY_A_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlat, dlng


def _gcj_forward(lat: NDArray[np.float64], lng: NDArray[np.float64]) -> LatLng:
    dlat, dlng = _gcj_offset_deg(lat, lng)
    return lat + dlat, lng + dlng


def _bd_forward(lat: NDArray[np.float64], lng: NDArray[np.float64]) -> LatLng:
    z = np.hypot(lng, lat) + 0.00002 * np.sin(lat * _BD_FACTOR)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _BD_FACTOR)
    return z * np.sin(theta) + _BD_DLAT, z * np.cos(theta) + _BD_DLNG


def _solve_inverse(
    forward: Callable[[NDArray[np.float64], NDArray[np.float64]], LatLng],
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    guess: LatLng,
) -> LatLng:
    """Find ``(a, b)`` with ``forward(a, b) == (lat, lng)`` by fixed-point iteration.

    Both shifts change by far less than a degree per degree, so subtracting the residual
    is a contraction that gains several digits per step; points are dropped from the
    working set as soon as they converge.
    """
    w_lat, w_lng = guess
    todo = np.arange(lat.size)
    for _ in range(_MAX_ITER):
        f_lat, f_lng = forward(w_lat[todo], w_lng[todo])
        r_lat = f_lat - lat[todo]
        r_lng = f_lng - lng[todo]
        w_lat[todo] -= r_lat
        w_lng[todo] -= r_lng
        todo = todo[(np.abs(r_lat) > INVERSE_TOL_DEG) | (np.abs(r_lng) > INVERSE_TOL_DEG)]
        if todo.size == 0:
            break
    return w_lat, w_lng


def _inside_china_only(
    lat: ArrayLike, lng: ArrayLike, convert: Callable[[NDArray[np.float64], NDArray[np.float64]], LatLng]
) -> LatLng:
    """Apply ``convert`` to the points inside :data:`CHINA_BBOX`; leave the others as they are."""
    la, ln = _as_pair(lat, lng)
    inside = in_china_bbox(la, ln)
    la[inside], ln[inside] = convert(la[inside], ln[inside])
    return la, ln


def _gcj_inverse(g_lat: NDArray[np.float64], g_lng: NDArray[np.float64]) -> LatLng:
    d_lat, d_lng = _gcj_offset_deg(g_lat, g_lng)
    # The common one-step approximation (metres off) is only the starting point.
    return _solve_inverse(_gcj_forward, g_lat, g_lng, (g_lat - d_lat, g_lng - d_lng))


def _bd_inverse(b_lat: NDArray[np.float64], b_lng: NDArray[np.float64]) -> LatLng:
    # Baidu's published closed-form inverse (a few cm off), refined iteratively.
    x = b_lng - _BD_DLNG
    y = b_lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_FACTOR)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_FACTOR)
    return _solve_inverse(_bd_forward, b_lat, b_lng, (z * np.sin(theta), z * np.cos(theta)))


def wgs84_to_gcj02(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert WGS-84 coordinates to GCJ-02.

    Parameters
    ----------
    lat, lng : array_like
        WGS-84 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 ``(lat, lng)`` in degrees, ``float64``, broadcast shape. Points outside
        :data:`CHINA_BBOX` are returned unchanged. Inside China the shift is typically
        300–700 m.
    """
    return _inside_china_only(lat, lng, _gcj_forward)


def gcj02_to_wgs84(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert GCJ-02 coordinates to WGS-84 (exact iterative inverse).

    Parameters
    ----------
    lat, lng : array_like
        GCJ-02 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS-84 ``(lat, lng)`` in degrees, ``float64``, broadcast shape, such that
        :func:`wgs84_to_gcj02` maps them back to the input within :data:`INVERSE_TOL_DEG`.
        Points outside :data:`CHINA_BBOX` are returned unchanged.
    """
    return _inside_china_only(lat, lng, _gcj_inverse)


def gcj02_to_bd09(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert GCJ-02 coordinates to Baidu BD-09.

    Parameters
    ----------
    lat, lng : array_like
        GCJ-02 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        BD-09 ``(lat, lng)`` in degrees, ``float64``, broadcast shape; unchanged outside
        :data:`CHINA_BBOX`.
    """
    return _inside_china_only(lat, lng, _bd_forward)


def bd09_to_gcj02(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert Baidu BD-09 coordinates to GCJ-02.

    Parameters
    ----------
    lat, lng : array_like
        BD-09 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 ``(lat, lng)`` in degrees, ``float64``, broadcast shape; unchanged outside
        :data:`CHINA_BBOX`. Starts from Baidu's published closed-form inverse (a few cm
        off) and refines it iteratively to :data:`INVERSE_TOL_DEG`.
    """
    return _inside_china_only(lat, lng, _bd_inverse)


def wgs84_to_bd09(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert WGS-84 coordinates to Baidu BD-09 (through GCJ-02).

    Parameters
    ----------
    lat, lng : array_like
        WGS-84 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        BD-09 ``(lat, lng)`` in degrees, ``float64``, broadcast shape.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


def bd09_to_wgs84(lat: ArrayLike, lng: ArrayLike) -> LatLng:
    """Convert Baidu BD-09 coordinates to WGS-84 (through GCJ-02).

    Parameters
    ----------
    lat, lng : array_like
        BD-09 degrees, broadcastable.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS-84 ``(lat, lng)`` in degrees, ``float64``, broadcast shape.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))


def _check_crs(crs: str) -> str:
    name = str(crs).strip().lower().replace("-", "").replace("_", "")
    if name not in CRS_NAMES:
        raise InputError(f"crs={crs!r} is not a known datum; use one of {', '.join(CRS_NAMES)}")
    return name


def to_wgs84(lat: ArrayLike, lng: ArrayLike, crs: str) -> LatLng:
    """Convert coordinates given in datum ``crs`` to WGS-84.

    Parameters
    ----------
    lat, lng : array_like
        Degrees in ``crs``, broadcastable.
    crs : str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (case, ``-`` and ``_`` ignored).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS-84 ``(lat, lng)`` in degrees, ``float64``, broadcast shape.

    Raises
    ------
    geo.errors.InputError
        If ``crs`` is not one of :data:`CRS_NAMES`.
    """
    name = _check_crs(crs)
    if name == "gcj02":
        return gcj02_to_wgs84(lat, lng)
    if name == "bd09":
        return bd09_to_wgs84(lat, lng)
    return _as_pair(lat, lng)


def from_wgs84(lat: ArrayLike, lng: ArrayLike, crs: str) -> LatLng:
    """Convert WGS-84 coordinates to datum ``crs``.

    Parameters
    ----------
    lat, lng : array_like
        WGS-84 degrees, broadcastable.
    crs : str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (case, ``-`` and ``_`` ignored).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(lat, lng)`` in degrees of ``crs``, ``float64``, broadcast shape.

    Raises
    ------
    geo.errors.InputError
        If ``crs`` is not one of :data:`CRS_NAMES`.
    """
    name = _check_crs(crs)
    if name == "gcj02":
        return wgs84_to_gcj02(lat, lng)
    if name == "bd09":
        return wgs84_to_bd09(lat, lng)
    return _as_pair(lat, lng)
