"""H3: the vectorised indexing agrees with h3-py cell for cell."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import hexes
from geo.errors import InputError

lats = st.floats(min_value=-85, max_value=85, allow_nan=False)
lngs = st.floats(min_value=-180, max_value=179.999, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(lat=lats, lng=lngs, res=st.integers(min_value=0, max_value=15))
def test_cells_match_h3py(lat: float, lng: float, res: int) -> None:
    assert hexes.latlng_to_cells([lat], [lng], res)[0] == h3.latlng_to_cell(lat, lng, res)


def test_a_sample_across_china_matches_h3py_at_res9_and_parents() -> None:
    rng = np.random.default_rng(1)
    lat = rng.uniform(18, 53, 2000)
    lng = rng.uniform(73, 135, 2000)
    cells = hexes.latlng_to_cells(lat, lng, 9)
    assert list(cells) == [h3.latlng_to_cell(a, b, 9) for a, b in zip(lat, lng, strict=True)]
    for res in (4, 7, 8):
        parents = hexes.cells_to_parent(cells, res)
        assert list(parents) == [h3.cell_to_parent(c, res) for c in cells]


def test_cell_centres_round_trip_into_their_cell() -> None:
    cells = hexes.latlng_to_cells([39.9, 31.2, 23.1], [116.4, 121.5, 113.3], 9)
    lat, lng = hexes.cells_to_latlng(cells)
    assert list(hexes.latlng_to_cells(lat, lng, 9)) == list(cells)
    ref = [h3.cell_to_latlng(c) for c in cells]
    assert np.allclose(np.c_[lat, lng], ref)


def test_polygons_are_closed_hexagons_around_the_centre() -> None:
    cell = h3.latlng_to_cell(39.9, 116.4, 7)
    (poly,) = hexes.cells_to_polygons([cell])
    assert len(poly.exterior.coords) == 7  # 6 vertices + closing point
    lat, lng = h3.cell_to_latlng(cell)
    assert poly.contains(__import__("shapely").Point(lng, lat))
    assert hexes.average_hexagon_area_km2(7) == pytest.approx(h3.average_hexagon_area(7, unit="km^2"))


def test_empty_input_and_bad_resolution() -> None:
    assert len(hexes.latlng_to_cells([], [], 9)) == 0
    with pytest.raises(InputError, match="resolution 16"):
        hexes.latlng_to_cells([1.0], [1.0], 16)


@settings(max_examples=100, deadline=None)
@given(
    lats=st.lists(lats, min_size=1, max_size=50),
    lngs=st.lists(lngs, min_size=50, max_size=50),
    res=st.integers(min_value=0, max_value=15),
)
def test_integer_cells_round_trip_and_parents_match_h3py(
    lats: list[float], lngs: list[float], res: int
) -> None:
    cells = hexes.latlng_to_cells(lats, lngs[: len(lats)], 15)
    ints = hexes.str_to_int(cells)
    assert [h3.str_to_int(c) for c in cells] == ints.tolist()
    assert list(hexes.int_to_str(ints)) == list(cells)
    assert hexes.int_to_str_arrow(ints).to_pylist() == list(cells)
    parents = hexes.int_to_str(hexes.cells_to_parent_int(ints, res))
    assert list(parents) == [h3.cell_to_parent(c, res) for c in cells]


def test_integer_cells_of_nothing_and_of_missing_cells() -> None:
    assert hexes.int_to_str(np.empty(0, dtype=np.uint64)).shape == (0,)
    assert hexes.int_to_str_arrow([]).to_pylist() == []
    assert hexes.str_to_int(np.array(["8940d4208bbffff", None], dtype=object)).tolist() == [
        0x8940D4208BBFFFF,
        0,
    ]
    with pytest.raises(InputError):
        hexes.cells_to_parent_int(np.zeros(1, dtype=np.uint64), 16)
