"""Great-circle distances and unit-sphere chords (geo.distance)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.distance import (
    EARTH_RADIUS_M,
    MAX_ARC_M,
    arc_m_to_chord,
    chord_to_arc_m,
    haversine_m,
    latlng_to_xyz,
)

lats = st.floats(-90, 90, allow_nan=False)
lngs = st.floats(-180, 180, allow_nan=False)


def vincenty_sphere_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Independent reference: the atan2 (Vincenty) form of the central angle on a sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    num = math.hypot(
        math.cos(p2) * math.sin(dl), math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    )
    den = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_M * math.atan2(num, den)


def test_one_degree_of_latitude_is_r_times_pi_over_180() -> None:
    # Hand-worked: 6 371 008.8 m × π / 180 = 111 195.08 m.
    assert float(haversine_m(30.0, 110.0, 31.0, 110.0)) == pytest.approx(111_195.08, abs=0.01)


def test_quarter_and_half_circumference() -> None:
    assert float(haversine_m(0.0, 0.0, 0.0, 90.0)) == pytest.approx(math.pi / 2 * EARTH_RADIUS_M, rel=1e-12)
    assert float(haversine_m(0.0, 0.0, 0.0, 180.0)) == pytest.approx(MAX_ARC_M, rel=1e-12)
    assert float(haversine_m(90.0, 0.0, -90.0, 0.0)) == pytest.approx(MAX_ARC_M, rel=1e-12)


def test_distance_along_a_parallel_shrinks_with_cos_latitude() -> None:
    # 0.001° of longitude at 60° N is half as long as at the equator (short enough to be ~flat).
    at_equator = float(haversine_m(0.0, 100.0, 0.0, 100.001))
    at_60n = float(haversine_m(60.0, 100.0, 60.0, 100.001))
    assert at_60n == pytest.approx(at_equator / 2, rel=1e-6)


def test_haversine_broadcasts_one_point_against_many() -> None:
    d = haversine_m(39.9, 116.4, np.array([39.9, 31.2, 22.5]), np.array([116.4, 121.5, 114.1]))
    assert d.shape == (3,)
    assert d[0] == 0.0
    assert np.all(d[1:] > 1e6)


def test_empty_input_gives_empty_output() -> None:
    assert haversine_m(np.array([]), np.array([]), np.array([]), np.array([])).shape == (0,)
    assert latlng_to_xyz(np.array([]), np.array([])).shape == (0, 3)


@given(lats, lngs, lats, lngs)
def test_haversine_matches_an_independent_formula(lat1: float, lng1: float, lat2: float, lng2: float) -> None:
    expected = vincenty_sphere_m(lat1, lng1, lat2, lng2)
    # Haversine is well conditioned except near antipodes (arcsin is flat at 1).
    tolerance_m = 1e-3 if expected < 0.95 * MAX_ARC_M else 1.0
    assert float(haversine_m(lat1, lng1, lat2, lng2)) == pytest.approx(expected, abs=tolerance_m)


@given(lats, lngs, lats, lngs)
def test_haversine_is_symmetric_and_bounded(lat1: float, lng1: float, lat2: float, lng2: float) -> None:
    d = float(haversine_m(lat1, lng1, lat2, lng2))
    assert d == float(haversine_m(lat2, lng2, lat1, lng1))
    assert 0.0 <= d <= MAX_ARC_M


@given(lats, lngs)
def test_xyz_points_lie_on_the_unit_sphere(lat: float, lng: float) -> None:
    assert float(np.linalg.norm(latlng_to_xyz(lat, lng))) == pytest.approx(1.0, abs=1e-12)


@given(lats, lngs, lats, lngs)
def test_chord_between_xyz_points_converts_to_the_great_circle_distance(
    lat1: float, lng1: float, lat2: float, lng2: float
) -> None:
    chord = float(np.linalg.norm(latlng_to_xyz(lat1, lng1) - latlng_to_xyz(lat2, lng2)))
    # Chord→arc loses precision only near antipodes (arcsin is flat at 1); 1 cm elsewhere.
    assert float(chord_to_arc_m(chord)) == pytest.approx(
        vincenty_sphere_m(lat1, lng1, lat2, lng2), abs=0.01 if chord < 1.99 else 100.0
    )


@given(st.floats(0.0, MAX_ARC_M))
def test_arc_and_chord_round_trip(distance_m: float) -> None:
    back = float(chord_to_arc_m(arc_m_to_chord(distance_m)))
    assert back == pytest.approx(distance_m, abs=1e-6 if distance_m < 1e7 else 1.0)


def test_chord_conversion_handles_the_extremes() -> None:
    assert float(arc_m_to_chord(1e9)) == 2.0  # longer than half the Earth: the diameter
    assert float(chord_to_arc_m(np.inf)) == np.inf
    assert float(arc_m_to_chord(0.0)) == 0.0
