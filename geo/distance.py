"""Great-circle distances on the mean Earth sphere, and the unit-sphere geometry behind them.

Everything here takes and returns numpy arrays (scalars broadcast), ``lat`` before ``lng``,
degrees in and metres out. The station index (:mod:`geo.nearest`), coverage and siting all
measure with these functions so that every distance in the project uses one radius.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius (IUGG, R1 = (2a + b) / 3) in metres."""

MAX_ARC_M: Final = float(np.pi * EARTH_RADIUS_M)
"""Longest possible great-circle distance (half the circumference), metres."""


def haversine_m(lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance between two sets of points on the mean Earth sphere.

    Parameters
    ----------
    lat1, lng1 : array_like
        First points in degrees (WGS-84); any shapes that broadcast with the second points.
    lat2, lng2 : array_like
        Second points in degrees (WGS-84).

    Returns
    -------
    numpy.ndarray
        ``float64`` distances in metres, shape of the broadcast inputs (0-d for scalars).
    """
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lng2, dtype=np.float64) - np.asarray(lng1, dtype=np.float64))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    # Rounding can push h a hair outside [0, 1] for antipodal points; arcsin would give NaN.
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def latlng_to_xyz(lat: ArrayLike, lng: ArrayLike) -> NDArray[np.float64]:
    """Convert degrees to Cartesian points on the unit sphere.

    Parameters
    ----------
    lat, lng : array_like
        Latitudes and longitudes in degrees, broadcastable to shape ``S``.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``S + (3,)``: ``x`` towards (0°, 0°), ``y`` towards
        (0°, 90° E), ``z`` towards the North Pole. Straight-line (chord) distances between
        these points rank exactly like great-circle distances, which is why the KD-tree of
        :mod:`geo.nearest` is built on them rather than on degrees.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lmb = np.radians(np.asarray(lng, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.stack(np.broadcast_arrays(cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)), axis=-1)


def chord_to_arc_m(chord: ArrayLike) -> NDArray[np.float64]:
    """Convert unit-sphere chord lengths to great-circle distances.

    Parameters
    ----------
    chord : array_like
        Straight-line distances between points of :func:`latlng_to_xyz` (0 to 2;
        ``inf`` stays ``inf``).

    Returns
    -------
    numpy.ndarray
        ``float64`` great-circle distances in metres, same shape: ``2 R asin(chord / 2)``.
    """
    c = np.asarray(chord, dtype=np.float64)
    arc = 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(c, 2.0) / 2.0)
    return np.where(np.isinf(c), np.inf, arc)


def arc_m_to_chord(distance_m: ArrayLike) -> NDArray[np.float64]:
    """Convert great-circle distances to unit-sphere chord lengths.

    Parameters
    ----------
    distance_m : array_like
        Great-circle distances in metres; values beyond half the circumference give the
        diameter (2), since no two points are farther apart.

    Returns
    -------
    numpy.ndarray
        ``float64`` chord lengths on the unit sphere, same shape: ``2 sin(d / 2R)``.
    """
    d = np.minimum(np.asarray(distance_m, dtype=np.float64), MAX_ARC_M)
    return 2.0 * np.sin(d / (2.0 * EARTH_RADIUS_M))
