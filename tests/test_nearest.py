"""The station index (geo.nearest), checked against brute force over every station."""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import nearest
from geo.distance import chord_to_arc_m, latlng_to_xyz
from geo.errors import InputError, SchemaError
from geo.nearest import K_MAX, RESULT_COLUMNS, StationIndex, travel_minutes
from geo.schema import AMENITIES, STATION_KINDS

R_M = 6_371_008.8
N_STATIONS = 2_000
N_QUERIES = 1_000

HOURS = [  # (opens, closes, open_24h): day, overnight, all-day, small hours only
    ("08:00", "18:00", False),
    ("22:00", "06:00", False),
    ("00:00", "24:00", True),
    ("06:00", "22:00", False),
    ("20:00", "02:00", False),
    ("01:30", "03:00", False),
    ("09:00", "17:30", False),
]


def make_stations(
    n: int, seed: int, lat: tuple[float, float] = (18, 53), lng: tuple[float, float] = (73, 135)
):
    """Synthetic stations spread uniformly over a lat/lng box, every attribute random."""
    rng = np.random.default_rng(seed)
    codes = np.array(AMENITIES.values, dtype=object)
    has = rng.random((n, len(codes))) < 0.45
    hours = rng.integers(0, len(HOURS), n)
    return pd.DataFrame(
        {
            "station_id": [f"T{seed}-{i:05d}" for i in range(n)],
            "name": [f"驿站{i}" for i in range(n)],
            "kind": np.array(STATION_KINDS.values, dtype=object)[rng.integers(0, len(STATION_KINDS), n)],
            "lat": rng.uniform(*lat, n),
            "lng": rng.uniform(*lng, n),
            "address": [f"测试路{i}号" for i in range(n)],
            "opens": [HOURS[h][0] for h in hours],
            "closes": [HOURS[h][1] for h in hours],
            "open_24h": [HOURS[h][2] for h in hours],
            "smart": rng.random(n) < 0.3,
            "amenities": [list(codes[row]) for row in has],
        }
    )


# -- independent reference -----------------------------------------------------------------


def ref_distance_m(lat: float, lng: float, st_lat: np.ndarray, st_lng: np.ndarray) -> np.ndarray:
    """Great-circle metres by the haversine formula, written out here (not geo.distance)."""
    p1, p2 = np.radians(lat), np.radians(st_lat)
    dp, dl = p2 - p1, np.radians(st_lng - lng)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_M * np.arcsin(np.sqrt(a))


def ref_is_open(opens: str, closes: str, open_24h: bool, at_min: int) -> bool:
    """Open at ``at_min`` on [opens, closes), overnight when closes < opens (plain Python)."""
    if open_24h:
        return True
    o = int(opens[:2]) * 60 + int(opens[3:])
    c = int(closes[:2]) * 60 + int(closes[3:])
    return o <= at_min < c if o < c else (at_min >= o or at_min < c)


def ref_mask(
    stations: pd.DataFrame,
    amenities: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    open_at_min: int | None = None,
    smart: bool | None = None,
    exclude_ids: tuple[str, ...] = (),
) -> np.ndarray:
    rows = stations.to_dict("records")
    return np.array(
        [
            all(a in r["amenities"] for a in amenities)
            and (not kinds or r["kind"] in kinds)
            and (open_at_min is None or ref_is_open(r["opens"], r["closes"], r["open_24h"], open_at_min))
            and (smart is None or r["smart"] == smart)
            and r["station_id"] not in exclude_ids
            for r in rows
        ],
        dtype=bool,
    )


def assert_matches_brute_force(
    got_pos: np.ndarray,
    got_d: np.ndarray,
    all_d: np.ndarray,
    mask: np.ndarray,
    k: int,
    radius_m: float = np.inf,
) -> None:
    """Same stations as brute force (ties either way) with distances within 0.5 m."""
    candidates = np.flatnonzero(mask & (all_d <= radius_m))
    expected = candidates[np.argsort(all_d[candidates], kind="stable")][:k]
    assert len(got_pos) == len(expected)
    assert mask[got_pos].all()
    # Each returned station's true distance is the expected one of its rank: a different id
    # is only allowed where two stations tie.
    np.testing.assert_allclose(all_d[got_pos], all_d[expected], atol=0.5)
    np.testing.assert_allclose(got_d, all_d[got_pos], atol=0.5)
    assert np.all(np.diff(got_d) >= 0)


@pytest.fixture(scope="module")
def stations() -> pd.DataFrame:
    return make_stations(N_STATIONS, seed=11)


@pytest.fixture(scope="module")
def index(stations: pd.DataFrame) -> StationIndex:
    return StationIndex.from_frame(stations)


@pytest.fixture(scope="module")
def queries() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    return rng.uniform(18, 53, N_QUERIES), rng.uniform(73, 135, N_QUERIES)


# -- correctness against brute force ---------------------------------------------------------


def test_nearest_five_match_brute_force_for_a_thousand_points(
    stations: pd.DataFrame, index: StationIndex, queries: tuple[np.ndarray, np.ndarray]
) -> None:
    everything = np.ones(len(stations), dtype=bool)
    same_ids = 0
    for lat, lng in zip(*queries, strict=True):
        result = index.query(lat, lng, now_min=600)
        all_d = ref_distance_m(lat, lng, stations["lat"].to_numpy(), stations["lng"].to_numpy())
        assert_matches_brute_force(
            result["position"].to_numpy(), result["distance_m"].to_numpy(), all_d, everything, 5
        )
        expected_ids = stations["station_id"].to_numpy()[np.argsort(all_d)[:5]]
        same_ids += list(result["station_id"]) == list(expected_ids)
    # Random coordinates do not tie: every list of ids is identical.
    assert same_ids == N_QUERIES


FILTERS = {
    "amenities all-of": {"amenities": ("wifi", "toilet")},
    "one kind": {"kinds": ("driver",)},
    "any of two kinds": {"kinds": ("union", "caring")},
    "open at 02:00 (overnight)": {"open_at_min": 120},
    "open at 12:00": {"open_at_min": 720},
    "smart only": {"smart": True},
    "not smart": {"smart": False},
    "everything at once": {
        "amenities": ("hot_water",),
        "kinds": ("outdoor", "warm"),
        "open_at_min": 120,
        "smart": True,
    },
}


@pytest.mark.parametrize("k", [1, 5, 12])
@pytest.mark.parametrize("name", list(FILTERS))
def test_filtered_nearest_match_brute_force(
    stations: pd.DataFrame, index: StationIndex, queries: tuple[np.ndarray, np.ndarray], name: str, k: int
) -> None:
    filters = FILTERS[name]
    mask = ref_mask(stations, **filters)
    assert 0 < mask.sum() < len(stations)
    st_lat, st_lng = stations["lat"].to_numpy(), stations["lng"].to_numpy()
    for lat, lng in zip(*queries, strict=True):
        d, pos = index.query_arrays(lat, lng, k, **filters)
        assert_matches_brute_force(pos, d, ref_distance_m(lat, lng, st_lat, st_lng), mask, k)


@pytest.mark.parametrize("name", list(FILTERS))
def test_batch_matches_brute_force(
    stations: pd.DataFrame, index: StationIndex, queries: tuple[np.ndarray, np.ndarray], name: str
) -> None:
    filters = FILTERS[name]
    mask = ref_mask(stations, **filters)
    st_lat, st_lng = stations["lat"].to_numpy(), stations["lng"].to_numpy()
    d, pos = index.query_batch(*queries, k=3, **filters)
    assert d.shape == pos.shape == (N_QUERIES, 3)
    assert pos.dtype == np.int64
    for i, (lat, lng) in enumerate(zip(*queries, strict=True)):
        assert_matches_brute_force(pos[i], d[i], ref_distance_m(lat, lng, st_lat, st_lng), mask, 3)


def test_radius_cuts_results_and_may_leave_fewer_than_k(
    stations: pd.DataFrame, index: StationIndex, queries: tuple[np.ndarray, np.ndarray]
) -> None:
    radius_m = 60_000.0
    st_lat, st_lng = stations["lat"].to_numpy(), stations["lng"].to_numpy()
    counts = set()
    mask = ref_mask(stations, smart=False)
    for lat, lng in zip(*queries, strict=True):
        all_d = ref_distance_m(lat, lng, st_lat, st_lng)
        d, pos = index.query_arrays(lat, lng, 5, radius_m=radius_m)
        assert_matches_brute_force(pos, d, all_d, np.ones(len(stations), dtype=bool), 5, radius_m)
        d, pos = index.query_arrays(lat, lng, 5, radius_m=radius_m, smart=False)
        assert_matches_brute_force(pos, d, all_d, mask, 5, radius_m)
        counts.add(len(pos))
    assert 0 in counts  # some points have nothing that close
    assert max(counts) >= 2
    batch_d, batch_pos = index.query_batch(*queries, k=5, radius_m=radius_m)
    assert np.all((batch_d <= radius_m) | (np.isinf(batch_d) & (batch_pos == -1)))


def test_matching_stations_are_found_behind_a_crowd_of_non_matching_ones() -> None:
    # 300 stations without Wi-Fi within ~1 km of the query point hide the matching ones far
    # beyond the nearest 50 (and beyond the first rounds of candidate widening).
    lat0, lng0 = 30.0, 110.0
    crowd = make_stations(300, seed=4, lat=(lat0 - 0.01, lat0 + 0.01), lng=(lng0 - 0.01, lng0 + 0.01))
    crowd["amenities"] = [["toilet"]] * len(crowd)
    rest = make_stations(N_STATIONS, seed=5)
    stations = pd.concat([crowd, rest], ignore_index=True)
    index = StationIndex.from_frame(stations)
    all_d = ref_distance_m(lat0, lng0, stations["lat"].to_numpy(), stations["lng"].to_numpy())
    mask = ref_mask(stations, amenities=("wifi",))
    assert not mask[np.argsort(all_d)[:K_MAX]].any()  # the premise: nearest 50 all lack Wi-Fi
    d, pos = index.query_arrays(lat0, lng0, 5, amenities=("wifi",))
    assert_matches_brute_force(pos, d, all_d, mask, 5)
    result = index.query(lat0, lng0, K_MAX, amenities="wifi", now_min=0)
    assert len(result) == K_MAX
    assert_matches_brute_force(
        result["position"].to_numpy(), result["distance_m"].to_numpy(), all_d, mask, K_MAX
    )
    assert not index._subtrees  # found by widening the candidate set, no fallback needed


def test_a_very_selective_filter_behind_a_large_crowd_still_matches_brute_force() -> None:
    # More non-matching neighbours than the candidate widening scans: the index falls back
    # to a tree over the matching stations only.
    lat0, lng0 = 45.0, 126.6
    crowd = make_stations(nearest._GROW_MAX_CANDIDATES + 500, seed=6, lat=(44.9, 45.1), lng=(126.5, 126.7))
    crowd["smart"] = False
    rest = make_stations(500, seed=7)
    stations = pd.concat([crowd, rest], ignore_index=True)
    index = StationIndex.from_frame(stations)
    all_d = ref_distance_m(lat0, lng0, stations["lat"].to_numpy(), stations["lng"].to_numpy())
    filters = {"smart": True, "open_at_min": 120}
    mask = ref_mask(stations, **filters)
    for k in (1, 7, K_MAX):
        d, pos = index.query_arrays(lat0, lng0, k, **filters)
        assert_matches_brute_force(pos, d, all_d, mask, k)
        assert len(index._subtrees) == 1  # the fallback was taken
        d, pos = index.query_arrays(lat0, lng0, k, radius_m=2_000_000.0, **filters)
        assert_matches_brute_force(pos, d, all_d, mask, k, 2_000_000.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.integers(1, K_MAX))
def test_any_point_on_earth_gets_k_stations_sorted_by_true_distance(
    index: StationIndex, stations: pd.DataFrame, lat: float, lng: float, k: int
) -> None:
    d, pos = index.query_arrays(lat, lng, k)
    assert len(pos) == k
    assert np.all(np.diff(d) >= 0)
    true_d = ref_distance_m(lat, lng, stations["lat"].to_numpy()[pos], stations["lng"].to_numpy()[pos])
    np.testing.assert_allclose(d, true_d, atol=0.5)


def test_batch_equals_single_queries(index: StationIndex, queries: tuple[np.ndarray, np.ndarray]) -> None:
    lats, lngs = queries[0][:200], queries[1][:200]
    for filters in ({}, FILTERS["everything at once"], {"amenities": ("meals",), "radius_m": 150_000.0}):
        batch_d, batch_pos = index.query_batch(lats, lngs, k=4, **filters)
        for i in range(len(lats)):
            d, pos = index.query_arrays(lats[i], lngs[i], 4, **filters)
            assert np.array_equal(batch_pos[i][: len(pos)], pos)
            assert np.all(batch_pos[i][len(pos) :] == -1)
            np.testing.assert_allclose(batch_d[i][: len(pos)], d, rtol=1e-12)
            assert np.all(np.isinf(batch_d[i][len(pos) :]))


def test_degree_space_nearest_picks_the_wrong_station_at_high_latitude() -> None:
    # Why the tree is on the unit sphere: at 53° N (Mohe) a degree of longitude is only
    # 0.60 of a degree of latitude on the ground. Station A lies 0.012° east (~803 m),
    # station B 0.009° north (~1001 m); in degrees B looks nearer, on the ground A is.
    lat0, lng0 = 53.0, 122.5
    frame = make_stations(2, seed=8)
    frame["lat"] = [lat0, lat0 + 0.009]
    frame["lng"] = [lng0 + 0.012, lng0]
    degree_dist = np.hypot(frame["lat"] - lat0, frame["lng"] - lng0).to_numpy()
    true_d = ref_distance_m(lat0, lng0, frame["lat"].to_numpy(), frame["lng"].to_numpy())
    assert int(np.argmin(degree_dist)) == 1  # naive: B
    assert int(np.argmin(true_d)) == 0  # truth: A
    assert true_d[0] == pytest.approx(803, abs=2)
    assert true_d[1] == pytest.approx(1001, abs=2)
    result = StationIndex.from_frame(frame).query(lat0, lng0, k=1, now_min=0)
    assert result["position"].tolist() == [0]
    assert result["distance_m"].iloc[0] == pytest.approx(true_d[0], abs=0.5)


# -- the result frame ------------------------------------------------------------------------


def test_query_returns_the_documented_columns_aligned_with_the_stations(
    stations: pd.DataFrame, index: StationIndex
) -> None:
    result = index.query(31.23, 121.47, k=7, now_min=12 * 60)
    assert tuple(result.columns) == RESULT_COLUMNS
    assert len(result) == 7
    rows = stations.iloc[result["position"].to_numpy()]
    for column in (
        "station_id",
        "name",
        "kind",
        "lat",
        "lng",
        "opens",
        "closes",
        "open_24h",
        "smart",
        "address",
    ):
        assert list(result[column]) == list(rows[column]), column
    assert [list(a) for a in result["amenities"]] == [list(a) for a in rows["amenities"]]
    expected_open = [ref_is_open(r.opens, r.closes, r.open_24h, 12 * 60) for r in rows.itertuples()]
    assert result["open_now"].tolist() == expected_open
    walk_min, ride_min = travel_minutes(result["distance_m"].to_numpy())
    np.testing.assert_allclose(result["walk_min"], walk_min)
    np.testing.assert_allclose(result["ride_min"], ride_min)


def test_open_now_follows_the_open_at_filter(index: StationIndex) -> None:
    result = index.query(40.0, 116.0, k=10, open_at_min=3 * 60, now_min=12 * 60)
    assert result["open_now"].all()


def test_travel_minutes_hand_worked() -> None:
    # 1 km × detour 1.3 = 1300 m; walking 4.5 km/h = 75 m/min → 17.33 min; riding 15 km/h
    # = 250 m/min → 5.2 min.
    walk_min, ride_min = travel_minutes(np.array([0.0, 1000.0]))
    np.testing.assert_allclose(walk_min, [0.0, 1300 / 75])
    np.testing.assert_allclose(ride_min, [0.0, 5.2])


def test_exclude_ids_skips_those_stations(index: StationIndex) -> None:
    first = index.query(35.0, 105.0, k=3, now_min=0)
    rest = index.query(35.0, 105.0, k=2, exclude_ids=[first["station_id"].iloc[0], "no-such-id"], now_min=0)
    assert rest["station_id"].tolist() == first["station_id"].tolist()[1:]
    _, pos = index.query_batch([35.0], [105.0], k=2, exclude_ids=first["station_id"].iloc[0])
    assert pos[0].tolist() == first["position"].tolist()[1:]


def test_filters_accept_lists_arrays_series_and_none(index: StationIndex) -> None:
    expected = index.query_arrays(35.0, 105.0, 3, amenities=("wifi", "meals"), kinds=("driver", "union"))
    for amenities, kinds in (
        (["wifi", "meals"], ["driver", "union"]),
        (np.array(["meals", "wifi"]), pd.Series(["union", "driver"], dtype="string")),
    ):
        got = index.query_arrays(35.0, 105.0, 3, amenities=amenities, kinds=kinds)
        assert np.array_equal(got[1], expected[1])
    unfiltered = index.query_arrays(35.0, 105.0, 3)
    got = index.query_arrays(35.0, 105.0, 3, amenities=None, kinds=None, exclude_ids=np.array([], dtype=str))
    assert np.array_equal(got[1], unfiltered[1])


def test_k_above_fifty_or_below_one_is_refused(index: StationIndex) -> None:
    assert len(index.query(35.0, 105.0, k=K_MAX, now_min=0)) == K_MAX
    for bad in (K_MAX + 1, 0, -3, 2.5, True):
        with pytest.raises(InputError, match="k="):
            index.query(35.0, 105.0, k=bad)
        with pytest.raises(InputError, match="k="):
            index.query_batch([35.0], [105.0], k=bad)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lat": 91.0}, "lat="),
        ({"lat": float("nan")}, "lat="),
        ({"lng": -181.0}, "lng="),
        ({"amenities": ("wifi", "sauna")}, "amenities: unknown code 'sauna'"),
        ({"kinds": "canteen"}, "kinds: unknown code 'canteen'"),
        ({"radius_m": -5.0}, "radius_m="),
        ({"radius_m": 0.0}, "radius_m="),
        ({"open_at_min": 1440}, "open_at_min="),
        ({"open_at_min": "02:00"}, "open_at_min="),
        ({"smart": "yes"}, "smart="),
    ],
)
def test_bad_arguments_are_input_errors_naming_the_field(
    index: StationIndex, kwargs: dict[str, object], field: str
) -> None:
    args = {"lat": 35.0, "lng": 105.0, **kwargs}
    with pytest.raises(InputError, match=field):
        index.query(**args)


def test_batch_names_missing_or_out_of_range_points(index: StationIndex) -> None:
    with pytest.raises(InputError, match=r"lats: 1 value\(s\).*position 2"):
        index.query_batch([30.0, 31.0, np.nan], [110.0, 110.0, 110.0])
    with pytest.raises(InputError, match="lngs"):
        index.query_batch([30.0], [200.0])
    with pytest.raises(InputError, match="equal length"):
        index.query_batch([30.0, 31.0], [110.0])


def test_no_matching_station_gives_empty_results(stations: pd.DataFrame) -> None:
    frame = stations.head(50).copy()
    frame["amenities"] = [[] for _ in range(len(frame))]
    index = StationIndex.from_frame(frame)
    assert index.query(35.0, 105.0, amenities="wifi", now_min=0).empty
    d, pos = index.query_batch([35.0, 36.0], [105.0, 106.0], k=2, amenities="wifi")
    assert np.isinf(d).all()
    assert (pos == -1).all()


# -- building, empty and broken input, pickling -----------------------------------------------


def test_empty_station_table_gives_an_empty_index(stations: pd.DataFrame) -> None:
    index = StationIndex.from_frame(stations.head(0))
    assert index.n_stations == 0
    result = index.query(35.0, 105.0, now_min=0)
    assert result.empty
    assert tuple(result.columns) == RESULT_COLUMNS
    d, pos = index.query_batch([35.0], [105.0], k=2)
    assert d.shape == (1, 2)
    assert (pos == -1).all()
    d, pos = index.query_batch([], [], k=3)
    assert d.shape == pos.shape == (0, 3)


def test_missing_columns_are_a_schema_error(stations: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match=r"lacks column\(s\) smart"):
        StationIndex.from_frame(stations.drop(columns=["smart"]))


def test_unknown_kind_or_bad_coordinates_are_schema_errors_naming_the_station(stations: pd.DataFrame) -> None:
    bad = stations.head(5).copy()
    bad.loc[3, "kind"] = "canteen"
    with pytest.raises(SchemaError, match=r"T11-00003 has kind 'canteen'"):
        StationIndex.from_frame(bad)
    bad = stations.head(5).copy()
    bad.loc[2, "lat"] = np.nan
    with pytest.raises(SchemaError, match="T11-00002"):
        StationIndex.from_frame(bad)


def test_bad_opening_time_is_an_input_error_naming_the_column(stations: pd.DataFrame) -> None:
    bad = stations.head(5).copy()
    bad.loc[1, "opens"] = "8点"
    with pytest.raises(InputError, match=r"stations\.opens: row 1"):
        StationIndex.from_frame(bad)


def test_all_day_stations_may_leave_hours_blank(stations: pd.DataFrame) -> None:
    frame = stations.head(3).copy()
    frame["open_24h"] = True
    frame["opens"] = pd.array([None, None, None], dtype="string")
    frame["closes"] = pd.array([None, None, None], dtype="string")
    result = StationIndex.from_frame(frame).query(35.0, 105.0, k=3, now_min=3 * 60)
    assert result["open_now"].all()


def test_geodataframe_and_non_default_index_are_accepted(stations: pd.DataFrame) -> None:
    frame = stations.head(300).set_index(np.arange(1000, 1300))
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lng"], frame["lat"]), crs="EPSG:4326")
    index = StationIndex.from_frame(gdf)
    result = index.query(35.0, 105.0, k=3, now_min=0)
    assert list(gdf["station_id"].iloc[result["position"]]) == list(result["station_id"])


def test_index_pickles_and_answers_the_same(
    index: StationIndex, queries: tuple[np.ndarray, np.ndarray]
) -> None:
    index.query_batch(*queries, k=2, smart=True)  # fill the sub-tree cache first
    clone = pickle.loads(pickle.dumps(index))
    assert clone.n_stations == index.n_stations == N_STATIONS
    for filters in ({}, {"smart": True}):
        a = index.query_batch(*queries, k=2, **filters)
        b = clone.query_batch(*queries, k=2, **filters)
        assert np.array_equal(a[0], b[0])
        assert np.array_equal(a[1], b[1])


def test_subtree_cache_stays_bounded(index: StationIndex) -> None:
    for minute in range(0, 1440, 30):  # 48 distinct filters
        index.query_batch([35.0], [105.0], open_at_min=minute)
    assert len(index._subtrees) <= nearest.SUBTREE_CACHE_SIZE


def test_times_between_the_same_opening_and_closing_minutes_share_a_subtree(stations: pd.DataFrame) -> None:
    index = StationIndex.from_frame(stations)
    # No station opens or closes between 03:00 and 06:00 in the fixture.
    for minute in (3 * 60, 4 * 60 + 17, 6 * 60 - 1):
        index.query_batch([35.0], [105.0], open_at_min=minute)
    assert len(index._subtrees) == 1
    index.query_batch([35.0], [105.0], open_at_min=6 * 60)  # overnight stations close at 06:00
    assert len(index._subtrees) == 2


def test_index_on_the_demo_dataset(demo_tables: dict[str, pd.DataFrame]) -> None:
    stations = demo_tables["stations"]
    index = StationIndex.from_frame(stations)
    assert index.n_stations == len(stations)
    lat, lng = 39.9087, 116.3975
    result = index.query(lat, lng, k=5, amenities=("hot_water",), now_min=9 * 60)
    all_d = ref_distance_m(lat, lng, stations["lat"].to_numpy(), stations["lng"].to_numpy())
    mask = np.array(["hot_water" in a for a in stations["amenities"]])
    assert_matches_brute_force(result["position"].to_numpy(), result["distance_m"].to_numpy(), all_d, mask, 5)


def test_z_order_is_a_permutation_that_groups_neighbours() -> None:
    rng = np.random.default_rng(3)
    lat, lng = rng.uniform(20, 50, 10_000), rng.uniform(75, 130, 10_000)
    order = nearest.z_order(lat, lng)
    assert np.array_equal(np.sort(order), np.arange(10_000))
    # Consecutive points on the curve are much closer than random pairs.
    step = np.hypot(np.diff(lat[order]), np.diff(lng[order]))
    assert np.median(step) < 0.2 * np.median(np.hypot(np.diff(lat), np.diff(lng)))


def test_large_batches_are_answered_in_input_order(stations: pd.DataFrame, index: StationIndex) -> None:
    # Batches from 50,000 points are queried in Z-order and put back: same answers as the
    # unsorted path, point for point (vectorised brute force over all stations).
    rng = np.random.default_rng(8)
    n = 60_000
    lat, lng = rng.uniform(20, 50, n), rng.uniform(80, 130, n)
    d, pos = index.query_batch(lat, lng, k=1)
    xyz_st = latlng_to_xyz(stations["lat"].to_numpy(), stations["lng"].to_numpy())
    for chunk in np.array_split(np.arange(n), 30):
        chord = np.linalg.norm(latlng_to_xyz(lat[chunk], lng[chunk])[:, None, :] - xyz_st[None], axis=2)
        best = chord.min(axis=1)
        assert np.allclose(d[chunk, 0], chord_to_arc_m(best), atol=0.01)
        assert np.all(chord[np.arange(len(chunk)), pos[chunk, 0]] <= best + 1e-12)
