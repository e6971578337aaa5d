"""2SFCA / E2SFCA accessibility and station load, checked against a brute-force O(n·m)
reference, against PySAL ``access`` and against invariants (seats are conserved)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import access, coverage, engines
from geo.distance import haversine_m
from geo.engines import LOCAL
from geo.engines import base as engines_base
from geo.errors import InputError
from geo.nearest import StationIndex
from tests.partials import PartialsHere


def random_instance(
    seed: int, n: int = 300, m: int = 60, span_deg: float = 0.12
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    lat0, lng0 = 30.5, 114.3  # Wuhan
    stations = pd.DataFrame(
        {
            "station_id": [f"S{i:04d}" for i in range(m)],
            "lat": lat0 + rng.uniform(0, span_deg, m),
            "lng": lng0 + rng.uniform(0, span_deg, m),
            "seats": rng.integers(1, 40, m).astype(np.float64),
        }
    )
    workplaces = pd.DataFrame(
        {
            "lat": lat0 + rng.uniform(0, span_deg, n),
            "lng": lng0 + rng.uniform(0, span_deg, n),
            "workers": rng.integers(1, 500, n),
        }
    )
    return stations, workplaces


def brute_force(
    stations: pd.DataFrame, workplaces: pd.DataFrame, radius_m: float, sigma_m: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense O(n·m) 2SFCA with plain loops over stations: (demand, ratio, accessibility)."""
    d = haversine_m(
        workplaces["lat"].to_numpy()[:, None],
        workplaces["lng"].to_numpy()[:, None],
        stations["lat"].to_numpy()[None, :],
        stations["lng"].to_numpy()[None, :],
    )
    w = (d <= radius_m).astype(float)
    if sigma_m is not None:
        w = w * np.exp(-(d**2) / (2 * sigma_m**2))
    p = workplaces["workers"].to_numpy(dtype=float)
    s = stations["seats"].to_numpy(dtype=float)
    demand = np.array([sum(p[i] * w[i, j] for i in range(len(p))) for j in range(len(s))])
    ratio = np.array([s[j] / demand[j] if demand[j] > 0 else np.nan for j in range(len(s))])
    acc = np.array([sum(ratio[j] * w[i, j] for j in range(len(s)) if demand[j] > 0) for i in range(len(p))])
    return demand, ratio, acc


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("radius_m", [400.0, 1000.0])
def test_2sfca_matches_a_brute_force_reference(seed: int, radius_m: float) -> None:
    stations, workplaces = random_instance(seed)
    demand, ratio, acc = brute_force(stations, workplaces, radius_m)
    r = access.two_step_fca(stations, workplaces, radius_m)
    np.testing.assert_allclose(r.workers_in_reach, demand, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(r.ratio, ratio, rtol=1e-12, atol=1e-15)  # NaN in the same places
    np.testing.assert_allclose(r.accessibility, acc, rtol=1e-12, atol=1e-15)
    assert (acc == 0).any()
    assert (acc > 0).any()


@pytest.mark.parametrize("seed", [3, 4])
def test_e2sfca_matches_a_brute_force_reference_with_the_stated_gaussian(seed: int) -> None:
    stations, workplaces = random_instance(seed)
    demand, _ratio, acc = brute_force(stations, workplaces, 1000.0, sigma_m=500.0)
    r = access.two_step_fca(stations, workplaces, 1000.0, method="e2sfca")  # default σ = d0 / 2
    assert r.sigma_m == 500.0
    # Distances from the chord and from haversine differ by ~1e-9 m; the Gaussian passes that on.
    np.testing.assert_allclose(r.workers_in_reach, demand, rtol=1e-10)
    np.testing.assert_allclose(r.accessibility, acc, rtol=1e-10, atol=1e-15)
    r2 = access.two_step_fca(stations, workplaces, 1000.0, method="e2sfca", sigma_m=300.0)
    _, _, acc2 = brute_force(stations, workplaces, 1000.0, sigma_m=300.0)
    np.testing.assert_allclose(r2.accessibility, acc2, rtol=1e-10, atol=1e-15)


def test_gaussian_weight_is_the_documented_function() -> None:
    w = access.gaussian_weight([0.0, 500.0, 1000.0], 500.0)
    np.testing.assert_allclose(w, [1.0, np.exp(-0.5), np.exp(-2.0)], rtol=1e-15)


def pysal_access(stations: pd.DataFrame, workplaces: pd.DataFrame, radius_m: float, sigma_m: float | None):
    pysal = pytest.importorskip("access")
    wp = workplaces.assign(geoid=[f"W{i}" for i in range(len(workplaces))])
    st = stations.rename(columns={"station_id": "geoid"})[["geoid", "seats"]]
    d = haversine_m(
        wp["lat"].to_numpy()[:, None],
        wp["lng"].to_numpy()[:, None],
        stations["lat"].to_numpy()[None, :],
        stations["lng"].to_numpy()[None, :],
    )
    i, j = np.nonzero(d <= radius_m * 1.5)  # more than the catchment: max_cost must cut it
    cost = pd.DataFrame(
        {"origin": wp["geoid"].to_numpy()[i], "dest": st["geoid"].to_numpy()[j], "cost": d[i, j]}
    )
    a = pysal.Access(
        demand_df=wp[["geoid", "workers"]],
        demand_index="geoid",
        demand_value="workers",
        supply_df=st,
        supply_index="geoid",
        supply_value="seats",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    if sigma_m is None:
        out = a.two_stage_fca(name="x", max_cost=radius_m)
    else:
        out = a.enhanced_two_stage_fca(name="x", max_cost=radius_m, weight_fn=pysal.weights.gaussian(sigma_m))
    # PySAL leaves workplaces with no station in reach as NaN; here they have A = 0.
    return out["x_seats"].reindex(wp["geoid"]).fillna(0.0).to_numpy()


# PySAL access 1.1 calls pandas with the deprecated inplace= keyword; not ours to fix.
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
@pytest.mark.parametrize(("method", "sigma_m"), [("2sfca", None), ("e2sfca", 500.0)])
def test_agrees_with_pysal_access_to_1e9(method: str, sigma_m: float | None) -> None:
    stations, workplaces = random_instance(7, n=400, m=80)
    want = pysal_access(stations, workplaces, 1000.0, sigma_m)
    got = access.two_step_fca(stations, workplaces, 1000.0, method=method, sigma_m=sigma_m).accessibility
    assert np.count_nonzero(want) > 100
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("method", access.METHODS)
def test_seats_are_conserved(method: str) -> None:
    stations, workplaces = random_instance(11, n=500, m=100)
    r = access.two_step_fca(stations, workplaces, 800.0, method=method)
    p = workplaces["workers"].to_numpy(dtype=float)
    reached = r.workers_in_reach > 0
    assert (~reached).any()  # some stations have nobody in reach: their seats serve no one
    assert (p * r.accessibility).sum() == pytest.approx(r.seats[reached].sum(), rel=1e-12)


def test_load_is_workers_in_reach_per_seat_and_undefined_without_seats() -> None:
    stations, workplaces = random_instance(5)
    stations.loc[0, "seats"] = 0
    stations.loc[1, "seats"] = np.nan  # unknown
    r = access.two_step_fca(stations, workplaces, 1000.0)
    assert np.isnan(r.load_workers_per_seat[:2]).all()
    assert not np.isinf(r.load_workers_per_seat).any()
    assert np.isnan(r.ratio[1])  # unknown seats: no ratio
    ok = np.isfinite(r.load_workers_per_seat)
    np.testing.assert_allclose(r.load_workers_per_seat[ok], r.workers_in_reach[ok] / stations["seats"][ok])
    # the unknown-seat station adds nothing; the zero-seat one adds 0: same as removing both
    rest = access.two_step_fca(stations.iloc[2:], workplaces, 1000.0)
    np.testing.assert_allclose(r.accessibility, rest.accessibility, rtol=1e-12)
    crowded = r.crowded(50.0)
    assert not crowded[:2].any()
    assert (crowded == (ok & (r.load_workers_per_seat > 50))).all()


def test_workplaces_out_of_reach_have_zero_access_and_empty_inputs_work() -> None:
    stations, workplaces = random_instance(6)
    far = pd.DataFrame({"lat": [45.0], "lng": [126.0], "workers": [100]})
    r = access.two_step_fca(stations, pd.concat([workplaces, far], ignore_index=True), 1000.0)
    assert r.accessibility[-1] == 0.0
    none = access.two_step_fca(stations.iloc[:0], workplaces, 1000.0)
    assert (none.accessibility == 0).all()
    assert len(none.ratio) == 0
    empty = access.two_step_fca(stations, workplaces.iloc[:0], 1000.0)
    assert len(empty.accessibility) == 0
    assert np.isnan(empty.ratio).all()


def test_station_mask_is_the_same_as_leaving_the_stations_out() -> None:
    stations, workplaces = random_instance(8)
    mask = np.arange(len(stations)) % 3 != 0
    r = access.two_step_fca(stations, workplaces, 1000.0, station_mask=mask)
    sub = access.two_step_fca(stations[mask], workplaces, 1000.0)
    np.testing.assert_allclose(r.accessibility, sub.accessibility, rtol=1e-12)
    np.testing.assert_allclose(r.ratio[mask], sub.ratio, rtol=1e-12)
    assert np.isnan(r.ratio[~mask]).all()
    assert np.isnan(r.load_workers_per_seat[~mask]).all()


def test_bad_options_are_refused_with_the_choices() -> None:
    stations, workplaces = random_instance(0, n=5, m=5)
    with pytest.raises(InputError, match="2sfca, e2sfca"):
        access.two_step_fca(stations, workplaces, 1000.0, method="3sfca")
    with pytest.raises(InputError, match="radius_m"):
        access.two_step_fca(stations, workplaces, -1.0)
    with pytest.raises(InputError, match="sigma_m"):
        access.two_step_fca(stations, workplaces, 1000.0, method="e2sfca", sigma_m=0.0)
    with pytest.raises(InputError, match="station_mask"):
        access.two_step_fca(stations, workplaces, 1000.0, station_mask=[True])


def test_reaches_allows_only_rounding_below_the_threshold() -> None:
    assert access.reaches([0.01, 0.01 * (1 - 1e-12), 0.0099], 10.0).tolist() == [True, True, False]


# ---------------------------------------------------------------- summaries on the demo data


@pytest.fixture(scope="module")
def demo(demo_tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, access.AccessResult]:
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    return st, wp, access.two_step_fca(st, wp, 3000.0)


def test_region_table_sums_to_the_national_summary(demo) -> None:
    st, wp, r = demo
    summary = access.access_summary(st, wp, r, 10.0, 100.0)
    table = access.region_access(st, wp, r, "province", 10.0, 100.0)
    assert table["workers"].sum() == summary["workers_total"] == wp["workers"].sum()
    assert table["workers_below"].sum() == summary["workers_below_threshold"]
    assert table["stations"].sum() == len(st) == summary["stations_qualifying"]
    assert table["seats"].sum() == summary["seats_total"] == st["seats"].sum()
    # worker-weighted mean, by hand for one province
    prov = table.iloc[int(np.argmax(table["workers"]))]
    sel = (wp["province_adcode"] == prov["adcode"]).to_numpy()
    p = wp["workers"].to_numpy(float)[sel]
    a = r.accessibility[sel] * 1000
    assert prov["seats_per_1000"] == pytest.approx((p * a).sum() / p.sum(), rel=1e-12)
    assert prov["workers_below"] == p[a < 10.0].sum()
    assert prov["share_below"] == pytest.approx(p[a < 10.0].sum() / p.sum())


def test_region_drill_down_and_occupations(demo) -> None:
    st, wp, r = demo
    city = wp["city_adcode"].value_counts().index[0]
    counties = access.region_access(st, wp, r, "county", 10.0, 100.0, parent=city, occupations="courier")
    sel = (wp["city_adcode"] == city) & (wp["occupation"] == "courier")
    assert counties["workers"].sum() == wp.loc[sel, "workers"].sum()
    assert set(counties["city_adcode"]) == {city}
    s = access.access_summary(st, wp, r, 10.0, 100.0, parent=city, occupations="courier")
    assert s["workers_total"] == counties["workers"].sum()
    assert s["stations_qualifying"] == (st["city_adcode"] == city).sum()


def test_cells_and_station_table(demo) -> None:
    st, wp, r = demo
    cells = access.cell_access(wp, r, 7, 10.0)
    assert cells["workers"].sum() == wp["workers"].sum()
    assert (
        cells["workers_below"].sum()
        == access.access_summary(st, wp, r, 10.0, 100.0)["workers_below_threshold"]
    )
    top = access.station_table(st, r, 100.0, top=20)
    assert len(top) == 20
    assert top["load_workers_per_seat"].is_monotonic_decreasing
    assert top["load_workers_per_seat"].iloc[0] == np.nanmax(r.load_workers_per_seat)
    assert (top["crowded"] == (top["load_workers_per_seat"] > 100)).all()


def test_time_of_day_uses_the_stations_open_then(demo_tables: dict[str, pd.DataFrame]) -> None:
    st, wp = demo_tables["stations"], demo_tables["workplaces"]
    index = StationIndex.from_frame(st)
    mask = coverage.qualifying_mask(index, open_at_min=270)
    assert 0 < mask.sum() < len(st)
    r = access.two_step_fca(st, wp, 3000.0, station_mask=mask)
    sub = access.two_step_fca(st[mask], wp, 3000.0)
    np.testing.assert_allclose(r.accessibility, sub.accessibility, rtol=1e-12)


# ---------------------------------------------------------------- engines: local vs partials (Dask)

pytest.importorskip("distributed")


@pytest.fixture
def partial_engine(partials_engine: engines.Engine) -> engines.Engine:
    """An engine that runs access by partials (see tests/conftest.py)."""
    return partials_engine


@pytest.mark.parametrize("method", access.METHODS)
def test_partials_give_the_same_figures(
    demo, partial_engine: engines.Engine, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    st, wp, _ = demo
    monkeypatch.setattr(engines_base, "ROWS_PER_TASK", 700)  # several chunks even on test data
    assert len(engines.row_chunks(len(wp), partial_engine.parallelism)) > 2
    calls: list[int] = []
    real = access.station_demand_partial

    def counted(*args: object, **kw: object) -> np.ndarray:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    if isinstance(partial_engine, PartialsHere):  # the partials path is really taken, chunk by chunk
        monkeypatch.setattr(access, "station_demand_partial", counted)
    local = access.two_step_fca(st, wp, 3000.0, method=method, engine=LOCAL)
    dist = access.two_step_fca(st, wp, 3000.0, method=method, engine=partial_engine)
    if isinstance(partial_engine, PartialsHere):
        assert len(calls) == len(engines.row_chunks(len(wp), partial_engine.parallelism))
    np.testing.assert_allclose(dist.workers_in_reach, local.workers_in_reach, rtol=1e-12)
    np.testing.assert_allclose(dist.ratio, local.ratio, rtol=1e-12)
    np.testing.assert_allclose(dist.accessibility, local.accessibility, rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(dist.crowded(100.0), local.crowded(100.0))
