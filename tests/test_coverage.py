"""Coverage figures (geo.coverage), checked against brute force, numpy and h3-py."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import coverage, hexes
from geo.errors import InputError, SchemaError
from geo.nearest import StationIndex

R_M = 6_371_008.8


def brute_distance_m(wp: pd.DataFrame, stations: pd.DataFrame) -> np.ndarray:
    """Nearest-station great-circle distance by a full haversine matrix (in chunks)."""
    if len(stations) == 0:
        return np.full(len(wp), np.inf)
    la2 = np.radians(stations["lat"].to_numpy(float))[None, :]
    ln2 = np.radians(stations["lng"].to_numpy(float))[None, :]
    out = np.empty(len(wp))
    lat, lng = np.radians(wp["lat"].to_numpy(float)), np.radians(wp["lng"].to_numpy(float))
    for s in range(0, len(wp), 500):
        la1, ln1 = lat[s : s + 500, None], lng[s : s + 500, None]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((ln2 - ln1) / 2) ** 2
        out[s : s + 500] = (2 * R_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))).min(axis=1)
    return out


def is_open(opens: str, closes: str, all_day: bool, at_min: int) -> bool:
    """Plain-Python opening-hours rule: [opens, closes), overnight when closes < opens."""
    if all_day:
        return True
    o = int(opens[:2]) * 60 + int(opens[3:])
    c = int(closes[:2]) * 60 + int(closes[3:])
    return o <= at_min < c if o <= c else (at_min >= o or at_min < c)


@pytest.fixture(scope="module")
def tables(demo_tables):
    return demo_tables["stations"], demo_tables["workplaces"]


@pytest.fixture(scope="module")
def index(tables):
    return StationIndex.from_frame(tables[0])


@pytest.fixture(scope="module")
def brute(tables):
    return brute_distance_m(tables[1], tables[0])


# ---------------------------------------------------------------- coverage_summary


@pytest.mark.parametrize("radius_m", [500.0, 1000.0, 3000.0])
def test_covered_workers_equal_brute_force_count(tables, index, brute, radius_m):
    _, wp = tables
    s = coverage.coverage_summary(wp, index, radius_m)
    w = wp["workers"].to_numpy()
    assert s["workers_total"] == int(w.sum())
    assert s["workers_covered"] == int(w[brute <= radius_m].sum())
    assert s["workers_uncovered"] == s["workers_total"] - s["workers_covered"]
    assert s["share"] == pytest.approx(w[brute <= radius_m].sum() / w.sum(), abs=0)
    assert s["workplaces_covered"] == int((brute <= radius_m).sum())
    assert s["median_distance_m"] == pytest.approx(
        np.quantile(brute, 0.5, weights=w, method="inverted_cdf"), rel=1e-9
    )
    assert s["p90_distance_m"] == pytest.approx(
        np.quantile(brute, 0.9, weights=w, method="inverted_cdf"), rel=1e-9
    )


def test_only_stations_open_at_the_time_qualify(tables, index):
    stations, wp = tables
    at = 4 * 60 + 30
    open_ = [
        is_open(o, c, a, at)
        for o, c, a in zip(
            stations["opens"].fillna(""), stations["closes"].fillna(""), stations["open_24h"], strict=True
        )
    ]
    d = brute_distance_m(wp, stations[np.array(open_)])
    s = coverage.coverage_summary(wp, index, 1000, open_at_min=at)
    w = wp["workers"].to_numpy()
    assert s["workers_covered"] == int(w[d <= 1000].sum())
    assert s["stations_qualifying"] == int(np.sum(open_))
    assert s["stations_qualifying"] < len(stations)


def test_amenity_kind_and_occupation_filters_match_brute_force(tables, index):
    stations, wp = tables
    ok = stations["amenities"].map(lambda a: "hot_water" in list(a)) & stations["kind"].isin(
        ["union", "caring"]
    )
    d = brute_distance_m(wp, stations[ok.to_numpy()])
    sel = wp["occupation"].isin(["sanitation", "courier"]).to_numpy()
    s = coverage.coverage_summary(
        wp,
        index,
        1000,
        amenities=["hot_water"],
        kinds=["union", "caring"],
        occupations=["sanitation", "courier"],
    )
    w = wp["workers"].to_numpy()
    assert s["workers_total"] == int(w[sel].sum())
    assert s["workers_covered"] == int(w[sel & (d <= 1000)].sum())


def test_excluded_stations_do_not_qualify(tables, index):
    stations, wp = tables
    gone = stations["station_id"].iloc[::3].tolist()
    d = brute_distance_m(wp, stations[~stations["station_id"].isin(gone)])
    s = coverage.coverage_summary(wp, index, 1000, exclude_ids=gone)
    assert s["workers_covered"] == int(wp["workers"].to_numpy()[d <= 1000].sum())


def test_hand_worked_example():
    # One station at the origin; workplaces due north at 500 m, 999 m and 1,001 m.
    stations = pd.DataFrame(
        {
            "station_id": ["S1"],
            "name": ["a"],
            "kind": ["union"],
            "lat": [30.0],
            "lng": [110.0],
            "opens": ["08:00"],
            "closes": ["18:00"],
            "open_24h": [False],
            "smart": [False],
            "amenities": [["hot_water"]],
        }
    )
    dlat = np.degrees(np.array([500.0, 999.0, 1001.0]) / R_M)
    wp = pd.DataFrame({"lat": 30.0 + dlat, "lng": [110.0] * 3, "workers": [10, 20, 30]})
    idx = StationIndex.from_frame(stations)
    s = coverage.coverage_summary(wp, idx, 1000)
    assert (s["workers_covered"], s["workers_total"]) == (30, 60)
    assert s["share"] == pytest.approx(0.5)
    # worker-weighted median: 30 of 60 workers are within 999 m
    assert s["median_distance_m"] == pytest.approx(999.0, abs=1e-3)
    assert s["p90_distance_m"] == pytest.approx(1001.0, abs=1e-3)
    # at 20:00 the only station is closed: nobody is covered, distances are infinite
    night = coverage.coverage_summary(wp, idx, 1000, open_at_min=20 * 60)
    assert night["workers_covered"] == 0
    assert night["stations_qualifying"] == 0
    assert night["median_distance_m"] == np.inf


def test_summary_of_a_region_counts_its_workers_and_stations_with_brute_force(tables, index, brute):
    stations, wp = tables
    city = wp["city_adcode"].value_counts().index[0]
    at = 270
    s = coverage.coverage_summary(wp, index, 1000, parent=city, stations=stations, open_at_min=at)
    inside = (wp["city_adcode"] == city).to_numpy()
    w = wp["workers"].to_numpy()
    open_now = np.array(
        [
            is_open(o, c, a, at)
            for o, c, a in zip(stations["opens"], stations["closes"], stations["open_24h"], strict=True)
        ]
    )
    n = int((open_now & (stations["city_adcode"] == city).to_numpy()).sum())
    d = brute_distance_m(wp[inside], stations[open_now])
    assert s["workers_total"] == int(w[inside].sum())
    assert s["workers_covered"] == int(w[inside][d <= 1000].sum())
    assert s["stations_qualifying"] == n
    assert s["stations_per_10k"] == pytest.approx(n * 1e4 / w[inside].sum())
    nation = coverage.coverage_summary(wp, index, 1000)
    assert nation["stations_per_10k"] == pytest.approx(len(stations) * 1e4 / w.sum())


def test_summary_of_a_region_needs_the_stations(tables, index):
    with pytest.raises(InputError, match="stations"):
        coverage.coverage_summary(tables[1], index, 1000, parent="420000")


def test_empty_workplaces_give_zero_workers_and_no_share(index, tables):
    wp = tables[1].iloc[:0]
    s = coverage.coverage_summary(wp, index, 1000)
    assert s["workers_total"] == 0
    assert s["workers_covered"] == 0
    assert np.isnan(s["share"])
    assert np.isnan(s["median_distance_m"])


@pytest.mark.parametrize("radius", [0, -5, float("nan"), float("inf"), "far"])
def test_bad_radius_is_refused(tables, index, radius):
    with pytest.raises(InputError, match="radius_m"):
        coverage.coverage_summary(tables[1], index, radius)


def test_unknown_occupation_is_refused_with_choices(tables, index):
    with pytest.raises(InputError, match="sanitation"):
        coverage.coverage_summary(tables[1], index, 1000, occupations=["astronaut"])


def test_precomputed_distance_of_wrong_length_is_refused(tables, index):
    with pytest.raises(InputError, match="one per workplace"):
        coverage.coverage_summary(tables[1], index, 1000, distance_m=np.zeros(3))


def test_workplaces_without_workers_column_is_a_schema_error(tables, index):
    with pytest.raises(SchemaError, match="workers"):
        coverage.coverage_summary(tables[1].drop(columns="workers"), index, 1000)


def test_time_of_day_view_has_one_row_per_time_and_night_is_not_better_than_noon(tables, index):
    df = coverage.coverage_by_time(tables[1], index, 1000)
    assert df["at"].tolist() == ["04:30", "12:00", "20:00", "02:00"]
    by = df.set_index("at")["workers_covered"]
    assert by["02:00"] <= by["12:00"]
    assert (
        by["04:30"] == coverage.coverage_summary(tables[1], index, 1000, open_at_min=270)["workers_covered"]
    )


# ---------------------------------------------------------------- region_stats


@pytest.mark.parametrize("level", ["province", "city", "county"])
def test_region_stats_equal_a_pandas_groupby(tables, brute, level):
    stations, wp = tables
    code_col = coverage.LEVEL_KEYS[level][0]
    got = coverage.region_stats(stations, wp, level, distance_m=brute, radius_m=1000).set_index("adcode")
    frame = pd.DataFrame(
        {"code": wp[code_col].astype(object), "w": wp["workers"], "d": brute, "c": brute <= 1000}
    ).dropna(subset=["code"])
    for code, g in frame.groupby("code"):
        row = got.loc[code]
        w = g["w"].to_numpy()
        assert row["workers"] == w.sum()
        assert row["covered"] == w[g["c"].to_numpy()].sum()
        assert row["uncovered"] == row["workers"] - row["covered"]
        assert row["median_distance_m"] == np.quantile(g["d"], 0.5, weights=w, method="inverted_cdf")
        assert row["p90_distance_m"] == np.quantile(g["d"], 0.9, weights=w, method="inverted_cdf")
    n_st = stations[code_col].value_counts()
    assert len(n_st) > 0
    assert (got["stations"].reindex(n_st.index.astype(str)).to_numpy() == n_st.to_numpy()).all()
    with_workers = got[got["workers"] > 0]
    np.testing.assert_allclose(with_workers["share"], with_workers["covered"] / with_workers["workers"])
    np.testing.assert_allclose(
        with_workers["stations_per_10k"], with_workers["stations"] * 1e4 / with_workers["workers"]
    )
    assert got["workers"].sum() == wp.loc[wp[code_col].notna(), "workers"].sum()
    assert list(got.reset_index().columns[: len(coverage.REGION_STATS_COLUMNS)]) == list(
        coverage.REGION_STATS_COLUMNS
    )


def test_county_rows_carry_their_province_and_city(tables, brute):
    stations, wp = tables
    got = coverage.region_stats(stations, wp, "county", distance_m=brute, radius_m=1000)
    ref = wp.drop_duplicates("adcode").set_index("adcode")
    sample = got[got["adcode"].isin(ref.index)].head(50)
    for _, row in sample.iterrows():
        assert row["province_adcode"] == ref.loc[row["adcode"], "province_adcode"]
        assert row["city_adcode"] == ref.loc[row["adcode"], "city_adcode"]
        assert row["name"] == ref.loc[row["adcode"], "county"]


def test_drill_down_to_one_province_keeps_only_its_cities(tables, brute):
    stations, wp = tables
    prov = wp["province_adcode"].value_counts().index[0]
    got = coverage.region_stats(stations, wp, "city", distance_m=brute, radius_m=1000, parent=prov)
    assert len(got) > 0
    assert (got["province_adcode"] == prov).all()
    assert got["workers"].sum() == wp.loc[wp["province_adcode"] == prov, "workers"].sum()


def test_covered_argument_wins_over_radius_and_missing_distances_give_nan(tables, brute):
    stations, wp = tables
    everyone = np.ones(len(wp), dtype=bool)
    got = coverage.region_stats(stations, wp, "province", covered=everyone)
    assert (got["workers"] > 0).any()
    assert (got.loc[got["workers"] > 0, "share"] == 1.0).all()
    assert got["median_distance_m"].isna().all()
    bare = coverage.region_stats(stations, wp, "province")
    assert bare["share"].isna().all()
    assert bare["workers"].sum() > 0


def test_region_with_stations_but_no_workers_has_no_share(tables):
    stations, wp = tables
    prov = stations["province_adcode"].iloc[0]
    wp_other = wp[wp["province_adcode"] != prov]
    got = coverage.region_stats(
        stations, wp_other, "province", distance_m=np.zeros(len(wp_other)), radius_m=1
    )
    row = got.set_index("adcode").loc[prov]
    assert row["workers"] == 0
    assert row["stations"] > 0
    assert np.isnan(row["share"])
    assert np.isnan(row["stations_per_10k"])


def test_empty_tables_give_an_empty_table_with_the_columns(tables):
    stations, wp = tables
    got = coverage.region_stats(
        stations.iloc[:0], wp.iloc[:0], "county", distance_m=np.zeros(0), radius_m=1000
    )
    assert got.empty
    assert list(got.columns[:11]) == list(coverage.REGION_STATS_COLUMNS)


def test_unknown_level_is_refused(tables):
    with pytest.raises(InputError, match="province, city, county"):
        coverage.region_stats(*tables, "township")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 5000, allow_nan=False), st.integers(0, 50), st.integers(0, 3)),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from([0.1, 0.25, 0.5, 0.9, 0.99, 1.0]),
)
def test_weighted_quantile_agrees_with_numpy(rows, q):
    v, w, g = (np.array(x) for x in zip(*rows, strict=True))
    got = coverage.weighted_quantile_by_group(v, w, g, 4, (q,))[0]
    for k in range(4):
        m = (g == k) & (w > 0)
        if not m.any():
            assert np.isnan(got[k])
        else:
            assert got[k] == np.quantile(v[m], q, weights=w[m], method="inverted_cdf")


# ---------------------------------------------------------------- gaps


@pytest.mark.parametrize("res", [7, 8])
def test_gap_cells_sum_uncovered_workers_per_parent_cell(tables, brute, res):
    _, wp = tables
    covered = brute <= 1000
    got = coverage.gap_cells(wp, covered, res)
    parent = [h3.cell_to_parent(c, res) for c in wp["h3_9"]]
    ref = (
        pd.DataFrame({"h3": parent, "wu": np.where(covered, 0, wp["workers"]), "w": wp["workers"]})
        .groupby("h3")
        .sum()
    )
    ref = ref[ref["wu"] > 0]
    assert len(got) == len(ref) > 0
    g = got.set_index("h3")
    assert (g["workers_uncovered"] == ref["wu"].reindex(g.index)).all()
    assert (g["workers"] == ref["w"].reindex(g.index)).all()
    assert got["workers_uncovered"].sum() == wp["workers"].to_numpy()[~covered].sum()
    assert got["workers_uncovered"].is_monotonic_decreasing
    assert got["rank"].tolist() == list(range(1, len(got) + 1))
    lat, lng = h3.cell_to_latlng(got["h3"].iloc[0])
    assert (got["lat"].iloc[0], got["lng"].iloc[0]) == pytest.approx((lat, lng))


def test_top_gaps_are_the_head_of_the_full_ranking(tables, brute):
    _, wp = tables
    full = coverage.gap_cells(wp, brute <= 1000, 8)
    top = coverage.gap_cells(wp, brute <= 1000, 8, top=100)
    assert len(top) == 100
    pd.testing.assert_frame_equal(top, full.head(100))


def test_gap_cells_of_a_province_hold_only_its_workplaces(tables, brute):
    _, wp = tables
    prov = wp["province_adcode"].value_counts().index[0]
    got = coverage.gap_cells(wp, brute <= 1000, 7, parent=prov)
    assert (
        got["workers_uncovered"].sum()
        == wp["workers"].to_numpy()[(brute > 1000) & (wp["province_adcode"] == prov)].sum()
    )


def test_gap_cells_when_everyone_is_covered_is_empty(tables):
    _, wp = tables
    got = coverage.gap_cells(wp, np.ones(len(wp), dtype=bool), 8, top=100)
    assert got.empty
    assert {"h3", "workers_uncovered", "lat", "lng"} <= set(got.columns)


def test_gap_map_coarsens_then_truncates(tables, brute):
    _, wp = tables
    n8 = len(coverage.gap_cells(wp, brute <= 1000, 8))
    cells, res, truncated = coverage.gap_cells_for_map(wp, brute <= 1000, 8, max_cells=n8)
    assert (res, truncated, len(cells)) == (8, False, n8)
    cells, res, truncated = coverage.gap_cells_for_map(wp, brute <= 1000, 8, max_cells=10)
    assert (res, truncated, len(cells)) == (7, True, 10)


def test_gap_map_coarsens_as_far_as_allowed_until_the_cells_fit(tables, brute):
    _, wp = tables
    n6 = len(coverage.gap_cells(wp, brute <= 1000, 6))
    assert n6 < len(coverage.gap_cells(wp, brute <= 1000, 7))
    cells, res, truncated = coverage.gap_cells_for_map(wp, brute <= 1000, 8, max_cells=n6, min_res=4)
    assert (res, truncated, len(cells)) == (6, False, n6)
    cells, res, truncated = coverage.gap_cells_for_map(wp, brute <= 1000, 8, max_cells=1, min_res=6)
    assert (res, truncated, len(cells)) == (6, True, 1)


def test_gap_map_of_a_view_keeps_only_workplaces_inside_it(tables, brute):
    _, wp = tables
    box = (114.0, 30.4, 114.6, 30.8)  # around Wuhan: west, south, east, north
    inside = wp["lat"].between(box[1], box[3]) & wp["lng"].between(box[0], box[2])
    assert inside.any()
    unc = wp["workers"].to_numpy()[inside.to_numpy() & (brute > 1000)].sum()
    assert unc > 0
    cells, res, truncated = coverage.gap_cells_for_map(wp, brute <= 1000, 8, bbox=box, max_cells=100_000)
    assert (res, truncated) == (8, False)
    assert len(cells) > 0
    assert cells["workers_uncovered"].sum() == unc
    assert cells["lat"].between(box[1] - 0.01, box[3] + 0.01).all()
    assert cells["lng"].between(box[0] - 0.01, box[2] + 0.01).all()
    with pytest.raises(InputError, match="bbox"):
        coverage.gap_cells_for_map(wp, brute <= 1000, 8, bbox=(114, 31, 115, 30))  # south above north


def test_a_view_is_padded_in_the_one_bbox_order() -> None:
    padded = coverage.bbox_of_view((114.0, 30.0, 115.0, 32.0), pad=0.5)
    assert padded == (113.5, 29.0, 115.5, 33.0)
    assert (padded.west, padded.south, padded.east, padded.north) == padded
    assert coverage.bbox_of_view((-179.0, -89.0, 179.0, 89.0), pad=1.0) == (-180.0, -90.0, 180.0, 90.0)


def test_gap_map_payload_stays_under_3_mb(tables, brute):
    from geo import maps

    _, wp = tables
    cells, _, _ = coverage.gap_cells_for_map(wp, brute <= 1000, 8)
    m = maps.hex_map(cells, "workers_uncovered")
    assert maps.payload_bytes(m) <= maps.MAX_PAYLOAD_BYTES


def test_gap_map_payload_at_the_cell_cap_stays_under_3_mb():
    from geo import maps

    # The worst case the page can send: GAP_MAX_CELLS_DEFAULT cells.
    rng = np.random.default_rng(1)
    lat, lng = rng.uniform(22, 45, 20_000), rng.uniform(100, 120, 20_000)
    cells = pd.unique(hexes.latlng_to_cells(lat, lng, 8))[: coverage.GAP_MAX_CELLS_DEFAULT]
    df = pd.DataFrame({"h3": cells, "workers_uncovered": rng.integers(1, 5000, len(cells))})
    m = maps.hex_map(df, "workers_uncovered")
    assert maps.payload_bytes(m) <= maps.MAX_PAYLOAD_BYTES


def test_cell_workplaces_by_occupation(tables, brute):
    _, wp = tables
    covered = brute <= 1000
    cell = coverage.gap_cells(wp, covered, 7).iloc[0]
    got = coverage.cell_workplaces(wp, covered, cell["h3"])
    inside = np.array([h3.cell_to_parent(c, 7) == cell["h3"] for c in wp["h3_9"]])
    assert got["workers"].sum() == wp["workers"].to_numpy()[inside].sum()
    assert got["workers_uncovered"].sum() == cell["workers_uncovered"]
    assert got["workplaces"].sum() == inside.sum()
    with pytest.raises(InputError, match="H3"):
        coverage.cell_workplaces(wp, covered, "not-a-cell")


def test_cell_workplaces_count_only_the_chosen_occupations(tables, brute):
    _, wp = tables
    covered = brute <= 1000
    cell = coverage.gap_cells(wp, covered, 6, occupations=["sanitation"]).iloc[0]
    got = coverage.cell_workplaces(wp, covered, cell["h3"], occupations=["sanitation"])
    assert got["occupation"].tolist() == ["sanitation"]
    inside = np.array([h3.cell_to_parent(c, 6) == cell["h3"] for c in wp["h3_9"]])
    sanit = inside & (wp["occupation"] == "sanitation").to_numpy()
    assert got["workers"].sum() == wp["workers"].to_numpy()[sanit].sum()
    assert got["workers_uncovered"].sum() == cell["workers_uncovered"]


def test_gap_res_out_of_range_is_refused(tables, brute):
    with pytest.raises(InputError, match="res"):
        coverage.gap_cells(tables[1], brute <= 1000, 10)


# ---------------------------------------------------------------- reports


def test_reported_closed_ids_and_reports_by_region(tables):
    stations, _ = tables
    ids = stations["station_id"].tolist()
    reports = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7, 8],
            "station_id": [ids[0], ids[0], ids[0], ids[1], ids[1], ids[2], ids[2], "NOPE"],
            "problem": ["closed", "no_hot_water", "closed", "closed", "closed", "closed", "closed", "closed"],
            "text": ["", "=cmd()", "", "", "", "", "", ""],
            "created": ["2025-01-01"] * 8,
            "status": ["open", "open", "open", "open", "open", "open", "resolved", "open"],
            "client": ["a", "b", "b", "a", "a", "a", "b", "a"],
        }
    )
    # ids[0]: two clients said closed; ids[1]: one client twice; ids[2]: the second report was
    # resolved; "NOPE": one client. Only ids[0] is reported closed (one person cannot close one).
    assert coverage.reported_closed_ids(reports) == [str(ids[0])]
    assert coverage.reported_closed_ids(reports, min_clients=1) == sorted({ids[0], ids[1], ids[2], "NOPE"})
    by = coverage.reports_by_region(reports, stations, "province")
    assert by["reports"].sum() == 6  # resolved and unknown-station reports left out
    assert coverage.reported_closed_ids(reports.iloc[:0]) == []
    assert coverage.reports_by_region(reports.iloc[:0], stations, "county").empty


def test_reports_of_a_region_leave_out_stations_elsewhere(tables):
    stations, _ = tables
    hubei = stations[stations["province_adcode"] == "420000"]
    beijing = stations[stations["province_adcode"] == "110000"]
    city = hubei["city_adcode"].iloc[0]
    in_city = hubei[hubei["city_adcode"] == city]
    ids = [in_city["station_id"].iloc[0], beijing["station_id"].iloc[0], hubei["station_id"].iloc[-1]]
    reports = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "station_id": ids,
            "problem": ["closed", "closed", "no_hot_water"],
            "text": ["", "", ""],
            "created": ["2025-01-03", "2025-01-02", "2025-01-01"],
            "status": ["open", "open", "open"],
        }
    )
    by = coverage.reports_by_region(reports, stations, "county", parent=city)
    assert by["reports"].sum() == 1
    assert set(by["adcode"]) == {in_city["adcode"].iloc[0]}
    assert coverage.reports_by_region(reports, stations, "city", parent="420000")["reports"].sum() == 2
    latest = coverage.reports_with_stations(reports, stations, parent="420000")
    assert latest["station_id"].tolist() == [ids[0], ids[2]]  # input order (newest first) kept
    assert latest["station_name"].iloc[0] == in_city["name"].iloc[0]
    assert latest["county"].iloc[0] == in_city["county"].iloc[0]
    assert len(coverage.reports_with_stations(reports, stations)) == 3
