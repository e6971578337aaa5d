"""WGS-84 ⇄ GCJ-02 ⇄ BD-09 conversions (geo.datums)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo import datums
from geo.datums import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_bbox,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.distance import haversine_m
from geo.errors import InputError

# Points well inside the rectangle where GCJ-02 applies: the shift (< 0.01°) must not carry a
# point across the edge, where the official algorithm itself is discontinuous.
china_lats = st.floats(1.0, 55.6, allow_nan=False)
china_lngs = st.floats(72.2, 137.6, allow_nan=False)

# WGS-84 → GCJ-02 reference pairs from googollee/eviltransform, python/test.py (TESTS), which
# its Go, C and JS ports share; their test asserts 6 decimals.
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# Conversions of the point (lat 45, lng 123) from hujiulong/gcoord, test/unit/crs/*.spec.ts
# (given there as [lng, lat]; checked with toBeCloseTo(·, 5), i.e. |error| < 5e-6°).
GCOORD_AT_45_123 = [
    (wgs84_to_gcj02, 45.00197815, 123.00607541),  # WGS84.spec.ts "WGS84 to GCJ02"
    (wgs84_to_bd09, 45.0083293, 123.0124491),  # WGS84.spec.ts "WGS84 to BD09"
    (gcj02_to_wgs84, 44.99804071, 122.99395597),  # GCJ02.spec.ts "GCJ02 to WGS84"
    (gcj02_to_bd09, 45.00636899, 123.00636499),  # GCJ02.spec.ts "GCJ02 to BD09"
    (bd09_to_gcj02, 44.99365430, 122.99363304),  # BD09.spec.ts "BD09 to GCJ02"
    (bd09_to_wgs84, 44.99171540, 122.98762210),  # BD09.spec.ts "BD09 to WGS84"
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_published_reference_points(
    wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float
) -> None:
    lat, lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
    assert float(lat) == pytest.approx(gcj_lat, abs=1e-7)
    assert float(lng) == pytest.approx(gcj_lng, abs=1e-7)


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_recovers_published_points_within_a_centimetre(
    wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float
) -> None:
    # eviltransform's own exact inverse is only asked to get within 0.5 m.
    lat, lng = gcj02_to_wgs84(gcj_lat, gcj_lng)
    assert float(haversine_m(lat, lng, wgs_lat, wgs_lng)) < 0.01


@pytest.mark.parametrize(("convert", "lat_expected", "lng_expected"), GCOORD_AT_45_123)
def test_all_conversions_match_gcoord_at_a_reference_point(
    convert: Callable[..., tuple[np.ndarray, np.ndarray]], lat_expected: float, lng_expected: float
) -> None:
    lat, lng = convert(45.0, 123.0)
    assert float(lat) == pytest.approx(lat_expected, abs=5e-6)
    assert float(lng) == pytest.approx(lng_expected, abs=5e-6)


def test_tiananmen_shifts_to_its_well_known_gcj02_position() -> None:
    # The often quoted pair: Tiananmen WGS-84 (39.9087, 116.3975) → GCJ-02 ≈ (39.91010, 116.40374).
    lat, lng = wgs84_to_gcj02(39.9087, 116.3975)
    assert float(lat) == pytest.approx(39.91010, abs=1e-5)
    assert float(lng) == pytest.approx(116.40374, abs=1e-5)


@given(china_lats, china_lngs)
def test_wgs_gcj_wgs_round_trip_is_within_a_metre(lat: float, lng: float) -> None:
    back_lat, back_lng = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lng))
    assert float(haversine_m(lat, lng, back_lat, back_lng)) < 1.0


@given(china_lats, china_lngs)
def test_wgs_bd_wgs_round_trip_is_within_a_metre(lat: float, lng: float) -> None:
    back_lat, back_lng = bd09_to_wgs84(*wgs84_to_bd09(lat, lng))
    assert float(haversine_m(lat, lng, back_lat, back_lng)) < 1.0


@given(china_lats, china_lngs)
def test_gcj02_inverse_is_exact_not_the_one_step_approximation(lat: float, lng: float) -> None:
    # Forward of the inverse must land on the input to < 1e-7° (about 1 cm).
    g_lat, g_lng = wgs84_to_gcj02(*gcj02_to_wgs84(lat, lng))
    assert abs(float(g_lat) - lat) < 1e-7
    assert abs(float(g_lng) - lng) < 1e-7


@given(china_lats, china_lngs)
def test_bd09_inverse_lands_back_on_the_input(lat: float, lng: float) -> None:
    b_lat, b_lng = gcj02_to_bd09(*bd09_to_gcj02(lat, lng))
    assert abs(float(b_lat) - lat) < 1e-7
    assert abs(float(b_lng) - lng) < 1e-7


outside = st.one_of(
    st.tuples(st.floats(-90, 0.8), st.floats(-180, 180)),
    st.tuples(st.floats(55.9, 90), st.floats(-180, 180)),
    st.tuples(st.floats(-90, 90), st.floats(-180, 72.0)),
    st.tuples(st.floats(-90, 90), st.floats(137.9, 180)),
)


@given(outside)
def test_points_outside_china_are_left_unchanged(point: tuple[float, float]) -> None:
    lat, lng = point
    for convert in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        out_lat, out_lng = convert(lat, lng)
        assert (float(out_lat), float(out_lng)) == (lat, lng)


def test_gcj02_offset_is_a_few_hundred_metres_across_china() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(18.0, 53.0, 20_000)
    lng = rng.uniform(73.0, 135.0, 20_000)
    offset_m = haversine_m(lat, lng, *wgs84_to_gcj02(lat, lng))
    assert 300.0 <= float(np.median(offset_m)) <= 700.0
    assert float(offset_m.max()) < 800.0
    # Baidu adds roughly another 0.0065° east and 0.006° north (~500–900 m more).
    bd_offset_m = haversine_m(lat, lng, *wgs84_to_bd09(lat, lng))
    assert float(np.median(bd_offset_m)) > float(np.median(offset_m))


def test_conversions_are_vectorised_and_keep_lat_lng_order() -> None:
    lat = np.array([[39.9087, 31.2304], [22.5431, 0.0]])
    lng = np.array([[116.3975, 121.4737], [114.0579, 0.0]])
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    assert g_lat.shape == g_lng.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            one_lat, one_lng = wgs84_to_gcj02(lat[i, j], lng[i, j])
            assert (g_lat[i, j], g_lng[i, j]) == (float(one_lat), float(one_lng))
    assert (g_lat[1, 1], g_lng[1, 1]) == (0.0, 0.0)  # (0, 0) is outside China
    # Inputs are not modified in place.
    assert lat[0, 0] == 39.9087


def test_scalar_input_gives_zero_dimensional_arrays() -> None:
    lat, lng = gcj02_to_wgs84(39.91, 116.40)
    assert isinstance(lat, np.ndarray)
    assert lat.shape == lng.shape == ()


def test_empty_and_missing_input() -> None:
    lat, lng = gcj02_to_wgs84(np.array([]), np.array([]))
    assert lat.shape == (0,)
    lat, lng = wgs84_to_gcj02(np.array([np.nan, 39.9]), np.array([116.4, np.nan]))
    assert np.isnan(lat[0])
    assert np.isnan(lng[1])


def test_bbox_edges_are_inside() -> None:
    lat_min, lng_min, lat_max, lng_max = datums.CHINA_BBOX
    assert in_china_bbox([lat_min, lat_max, 30.0, 30.0], [100.0, 100.0, lng_min, lng_max]).all()
    assert not in_china_bbox(lat_min - 1e-9, 100.0)
    assert not in_china_bbox(30.0, lng_max + 1e-9)


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09", "GCJ-02", "BD_09", "WGS84"])
def test_dispatchers_round_trip(crs: str) -> None:
    lat, lng = np.array([39.9087, 30.6]), np.array([116.3975, 104.07])
    back_lat, back_lng = to_wgs84(*from_wgs84(lat, lng, crs), crs)
    assert np.all(haversine_m(lat, lng, back_lat, back_lng) < 0.01)


def test_dispatchers_pick_the_named_conversion() -> None:
    assert np.allclose(from_wgs84(39.9, 116.4, "gcj02"), wgs84_to_gcj02(39.9, 116.4))
    assert np.allclose(from_wgs84(39.9, 116.4, "bd09"), wgs84_to_bd09(39.9, 116.4))
    assert np.allclose(to_wgs84(39.9, 116.4, "bd09"), bd09_to_wgs84(39.9, 116.4))
    assert np.allclose(to_wgs84(39.9, 116.4, "wgs84"), (39.9, 116.4))


@pytest.mark.parametrize("crs", ["epsg:4326", "mars", ""])
def test_unknown_datum_is_an_input_error_naming_it(crs: str) -> None:
    with pytest.raises(InputError, match="crs="):
        to_wgs84(39.9, 116.4, crs)
    with pytest.raises(InputError, match="wgs84, gcj02, bd09"):
        from_wgs84(39.9, 116.4, crs)
