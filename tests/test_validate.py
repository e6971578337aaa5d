"""The validation boundary: each check against a hand-worked or independent answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as hs

from geo import validate
from geo.errors import InputError, SchemaError
from geo.validate import BBox

# ---------------------------------------------------------------- coordinates


def test_one_point_in_range_comes_back_as_floats() -> None:
    assert validate.check_latlng("39.9", 116) == (39.9, 116.0)
    assert validate.check_latlng(-90, 180) == (-90.0, 180.0)  # edges are valid


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [(91, 0, "lat="), (0, -180.5, "lng="), (float("nan"), 0, "lat="), ("x", 0, "decimal degrees")],
)
def test_a_bad_point_is_refused_naming_the_coordinate(lat: object, lng: object, field: str) -> None:
    with pytest.raises(InputError, match=field):
        validate.check_latlng(lat, lng)  # type: ignore[arg-type]


def test_arrays_are_refused_whole_naming_the_first_bad_position() -> None:
    lat, lng = validate.check_latlngs([1.0, 2.0], [3.0, 4.0])
    assert lat.dtype == lng.dtype == np.float64
    assert (lat.tolist(), lng.tolist()) == ([1.0, 2.0], [3.0, 4.0])
    with pytest.raises(InputError, match=r"lats: 2 value\(s\).*first at position 1"):
        validate.check_latlngs([0.0, 95.0, np.nan], [0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="equal length"):
        validate.check_latlngs([0.0], [0.0, 1.0])


@given(hs.floats(allow_nan=True, allow_infinity=True), hs.floats(allow_nan=True, allow_infinity=True))
def test_the_mask_agrees_with_the_scalar_check(lat: float, lng: float) -> None:
    try:
        validate.check_latlng(lat, lng)
        ok = True
    except InputError:
        ok = False
    assert bool(validate.valid_latlng([lat], [lng])[0]) is ok


# ---------------------------------------------------------------- bounding boxes and China


def test_a_bbox_is_west_south_east_north() -> None:
    b = validate.check_bbox([113.0, 22.0, 115.0, 23.5])
    assert b == BBox(west=113.0, south=22.0, east=115.0, north=23.5)
    # Shenzhen (22.54 N, 114.06 E) is inside, Guangzhou (23.13 N, 113.26 E) too, Wuhan not.
    inside = validate.in_bbox([22.54, 23.13, 30.59], [114.06, 113.26, 114.30], b)
    assert inside.tolist() == [True, True, False]


def test_a_bbox_in_the_other_order_is_refused() -> None:
    # (south, west, north, east) of Wuhan read as (west, south, east, north): south 114 > north 30.8.
    with pytest.raises(InputError, match=r"\(west, south, east, north\)"):
        validate.check_bbox((30.4, 114.0, 30.8, 114.6))
    with pytest.raises(InputError, match="bbox"):
        validate.check_bbox((1.0, 2.0, 3.0))


def test_china_bounds_hold_the_far_corners_of_the_mainland() -> None:
    west, south, east, north = validate.CHINA_BOUNDS
    assert (west, south, east, north) == (73.0, 18.0, 135.0, 53.6)
    # Mohe's northern tip (53.56 N, 122.35 E) is the reason for 53.6, not 53.0.
    corners = {"Mohe": (53.56, 122.35), "Sanya": (18.25, 109.51), "Kashgar": (39.47, 75.99)}
    lat, lng = np.array(list(corners.values())).T
    assert validate.in_china_bounds(lat, lng).all()
    assert not validate.in_china_bounds([35.68], [139.69]).any()  # Tokyo


def test_inside_china_uses_the_boundary_not_the_box() -> None:
    # Beijing is inside; Seoul and Ulaanbaatar are inside the box but outside China.
    got = validate.inside_china([39.9, 37.57, 47.92], [116.4, 126.98, 106.92])
    assert got.tolist() == [True, False, False]
    assert validate.in_china_bounds([37.57, 47.92], [126.98, 106.92]).all()


# ---------------------------------------------------------------- H3 and regions


def test_resolutions_are_checked_against_the_range_asked() -> None:
    assert validate.check_res(9) == 9
    assert validate.check_res("7") == 7  # type: ignore[arg-type]
    with pytest.raises(InputError, match="0–15"):
        validate.check_res(16)
    with pytest.raises(InputError, match="for campaign maps: use 4–9"):
        validate.check_res(3, 4, 9, "campaign maps")


def test_a_region_code_matches_a_province_a_city_or_a_county() -> None:
    df = pd.DataFrame(
        {
            "province_adcode": ["440000", "440000", "110000", None],
            "city_adcode": ["440300", "440100", "110000", None],
            "adcode": ["440305", "440106", "110105", None],
        }
    )
    assert validate.region_mask(df, "440000").tolist() == [True, True, False, False]
    assert validate.region_mask(df, "440300").tolist() == [True, False, False, False]
    assert validate.region_mask(df, "110105").tolist() == [False, False, True, False]
    assert validate.region_mask(df, "110000").tolist() == [False, False, True, False]
    assert validate.region_mask(df, None).tolist() == [True] * 4
    assert validate.region_mask(df[["adcode"]], "440000").tolist() == [False] * 4  # no such column


def test_adcodes_and_levels() -> None:
    assert validate.check_adcode(" 440300 ") == "440300"
    assert validate.check_adcode("") is None
    with pytest.raises(InputError, match="6-digit adcode"):
        validate.check_adcode("4403")
    assert validate.check_level("city") == "city"
    with pytest.raises(InputError, match="province, city, county"):
        validate.check_level("nation")


# ---------------------------------------------------------------- tables and scalars


def test_tables_and_per_row_values() -> None:
    df = pd.DataFrame({"lat": [1.0]})
    with pytest.raises(SchemaError, match="lacks column\\(s\\) lng"):
        validate.check_columns(df, ("lat", "lng"), "workplaces")
    assert validate.aligned([True, False], 2, "covered", bool).tolist() == [True, False]
    with pytest.raises(InputError, match="covered has 1 values but workplaces has 2 rows"):
        validate.aligned([True], 2, "covered", bool)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, "far"])
def test_a_radius_must_be_positive_and_finite(bad: object) -> None:
    with pytest.raises(InputError, match="positive distance in metres"):
        validate.check_radius_m(bad)  # type: ignore[arg-type]
    assert validate.check_radius_m("500") == 500.0  # type: ignore[arg-type]
