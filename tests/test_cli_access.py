"""``python -m geo access`` on the test dataset, checked against a dense 2SFCA computed here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo import coverage, hours
from geo.cli import main
from geo.distance import haversine_m
from geo.nearest import StationIndex


def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def dense_2sfca(wp, st, radius_m):
    """Accessibility (seats per worker) and load from the full distance matrix."""
    d = haversine_m(
        wp["lat"].to_numpy()[:, None],
        wp["lng"].to_numpy()[:, None],
        st["lat"].to_numpy(),
        st["lng"].to_numpy(),
    )
    w = d <= radius_m
    p = wp["workers"].to_numpy(float)
    demand = p @ w
    seats = st["seats"].to_numpy(float)
    ratio = np.where(demand > 0, seats / np.where(demand > 0, demand, 1), 0.0)
    return w @ ratio, demand / seats


@pytest.fixture(scope="module")
def dense(demo_tables):
    return dense_2sfca(demo_tables["workplaces"], demo_tables["stations"], 1000.0)


def test_json_has_the_documented_fields_and_exact_figures(capsys, demo_data_dir, demo_tables, dense):
    out = run_json(capsys, "access", "--data-dir", str(demo_data_dir), "--radius-m", "1000", "--top", "7")
    wanted = {
        "radius_m",
        "method",
        "workers_total",
        "seats_total",
        "by_region",
        "stations",
        "workers_below_threshold",
    }
    assert wanted <= set(out)
    acc, load = dense
    wp, st = demo_tables["workplaces"], demo_tables["stations"]
    p = wp["workers"].to_numpy()
    assert out["method"] == "2sfca"
    assert out["radius_m"] == 1000.0
    assert out["workers_total"] == p.sum()
    assert out["seats_total"] == st["seats"].sum()
    assert out["workers_below_threshold"] == p[acc * 1000 < 10.0].sum()
    assert out["seats_per_1000"] == pytest.approx((p * acc).sum() / p.sum() * 1000, rel=1e-12)
    assert out["level"] == "province"
    assert sum(r["workers_below"] for r in out["by_region"]) == out["workers_below_threshold"]
    stations = out["stations"]
    assert len(stations) == 7
    assert {"station_id", "seats", "load_workers_per_seat", "ratio", "crowded"} <= set(stations[0])
    top = np.sort(load)[::-1][:7]
    np.testing.assert_allclose([s["load_workers_per_seat"] for s in stations], top, rtol=1e-12)
    assert all(s["crowded"] == (s["load_workers_per_seat"] > 100) for s in stations)
    assert all(s["ratio"] == pytest.approx(1 / s["load_workers_per_seat"]) for s in stations)


def test_region_time_of_day_and_e2sfca(capsys, demo_data_dir, demo_tables):
    wp, st = demo_tables["workplaces"], demo_tables["stations"]
    prov = wp["province_adcode"].value_counts().index[0]
    out = run_json(
        capsys,
        *("access", "--data-dir", str(demo_data_dir), "--radius-m", "2000", "--region", prov),
        *("--at", "04:30", "--method", "e2sfca", "--level", "county"),
    )
    assert out["sigma_m"] == 1000.0
    assert out["level"] == "county"
    assert out["workers_total"] == wp.loc[wp["province_adcode"] == prov, "workers"].sum()
    open_now = coverage.qualifying_mask(
        StationIndex.from_frame(st), open_at_min=hours.parse_time_of_day("04:30")
    )
    in_prov = (st["province_adcode"] == prov).to_numpy()
    assert out["stations_qualifying"] == (open_now & in_prov).sum()
    assert {r["province_adcode"] for r in out["by_region"]} == {prov}
    assert all(s["station_id"] in set(st.loc[open_now & in_prov, "station_id"]) for s in out["stations"])


def test_text_output_is_a_table(capsys, demo_data_dir):
    assert main(["access", "--data-dir", str(demo_data_dir), "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# 2SFCA within 1000 m")
    assert "seats/1000" in text
    assert "workers/seat" in text


def test_bad_method_and_region_are_refused(capsys, demo_data_dir):
    with pytest.raises(SystemExit):
        main(["access", "--data-dir", str(demo_data_dir), "--method", "3sfca"])
    assert main(["access", "--data-dir", str(demo_data_dir), "--region", "999999"]) == 2
    assert "999999" in capsys.readouterr().err


def test_site_with_the_access_objective_is_verified_by_a_recount(capsys, demo_data_dir, demo_tables):
    out = run_json(
        capsys,
        "site",
        "--data-dir",
        str(demo_data_dir),
        "--objective",
        "access",
        "--new",
        "5",
        "--radius-m",
        "1000",
    )
    assert out["objective"] == "access"
    assert out["verified"] is True
    assert out["seats_per_site"] == float(np.median(demo_tables["stations"]["seats"]))
    assert len(out["sites"]) == 5
    assert out["workers_reaching_after"] > out["workers_reaching_before"]
    # the before figure, recomputed here with the dense 2SFCA
    acc, _ = dense_2sfca(demo_tables["workplaces"], demo_tables["stations"], 1000.0)
    p = demo_tables["workplaces"]["workers"].to_numpy()
    assert out["workers_reaching_before"] == p[acc * 1000 >= 10.0].sum()
    plain = run_json(capsys, "site", "--data-dir", str(demo_data_dir), "--new", "2")
    assert "workers_covered_after" in plain  # the coverage objective stays the default


def test_site_for_access_reads_candidates_through_the_importer(capsys, demo_data_dir, demo_tables, tmp_path):
    from geo import datums

    wp = demo_tables["workplaces"].head(3)
    g_lat, g_lng = datums.wgs84_to_gcj02(wp["lat"].to_numpy(), wp["lng"].to_numpy())
    csv = tmp_path / "cand.csv"
    rows = "".join(f"{a},{b},工会大楼{i}\n" for i, (a, b) in enumerate(zip(g_lat, g_lng, strict=True)))
    csv.write_bytes(("lat,lng,name\n" + rows).encode("gbk"))  # GBK and GCJ-02: the importer's job
    out = run_json(
        capsys,
        "site",
        "--data-dir",
        str(demo_data_dir),
        "--objective",
        "access",
        "--new",
        "2",
        "--radius-m",
        "1000",
        "--candidates",
        str(csv),
        "--candidates-crs",
        "gcj02",
        "--only-candidates",
    )
    assert out["verified"] is True
    assert out["candidates"] == 3
    assert out["sites"]
    assert {s["source"] for s in out["sites"]} <= {"user"}
    for s in out["sites"]:  # back on WGS-84: within a metre of a workplace
        assert min(haversine_m(s["lat"], s["lng"], a, b) for a, b in zip(wp.lat, wp.lng, strict=True)) < 1.0
