"""Planning commands (coverage, gaps, site) on the test dataset, checked by brute force."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from geo import store
from geo.cli import main
from geo.distance import haversine_m


def run(capsys, *argv):
    code = main([*argv])
    out = capsys.readouterr()
    return code, out


def run_json(capsys, *argv):
    code, out = run(capsys, *argv, "--json")
    assert code == 0, out.err
    return json.loads(out.out)


def brute_distance_m(wp, stations):
    d = np.full(len(wp), np.inf)
    for s in range(0, len(stations), 200):
        block = stations.iloc[s : s + 200]
        m = haversine_m(
            wp["lat"].to_numpy()[:, None],
            wp["lng"].to_numpy()[:, None],
            block["lat"].to_numpy()[None, :],
            block["lng"].to_numpy()[None, :],
        ).min(axis=1)
        d = np.minimum(d, m)
    return d


@pytest.fixture(scope="module")
def brute(demo_tables):
    return brute_distance_m(demo_tables["workplaces"], demo_tables["stations"])


def test_coverage_json_has_the_documented_fields_and_exact_counts(capsys, demo_data_dir, demo_tables, brute):
    out = run_json(capsys, "coverage", "--data-dir", str(demo_data_dir), "--radius-m", "1000")
    assert {"radius_m", "workers_total", "workers_covered", "share", "by_region"} <= set(out)
    w = demo_tables["workplaces"]["workers"].to_numpy()
    assert out["workers_total"] == int(w.sum())
    assert out["workers_covered"] == int(w[brute <= 1000].sum())
    assert out["level"] == "province"
    assert sum(r["workers"] for r in out["by_region"]) == out["workers_total"]
    assert {"adcode", "name", "share", "stations_per_10k", "median_distance_m"} <= set(out["by_region"][0])


def test_coverage_of_a_region_drills_down_one_level(capsys, demo_data_dir, demo_tables, brute):
    wp = demo_tables["workplaces"]
    prov = wp["province_adcode"].value_counts().index[0]
    out = run_json(
        capsys, "coverage", "--data-dir", str(demo_data_dir), "--radius-m", "3000", "--region", prov
    )
    inside = (wp["province_adcode"] == prov).to_numpy()
    w = wp["workers"].to_numpy()
    assert out["workers_total"] == int(w[inside].sum())
    assert out["workers_covered"] == int(w[inside & (brute <= 3000)].sum())
    assert out["level"] == "city"
    assert all(r["province_adcode"] == prov for r in out["by_region"])
    county = run_json(
        capsys,
        "coverage",
        "--data-dir",
        str(demo_data_dir),
        "--region",
        prov,
        "--level",
        "county",
        "--at",
        "04:30",
    )
    assert county["level"] == "county"
    assert county["workers_covered"] <= out["workers_covered"]


def test_coverage_of_a_region_counts_only_its_stations(capsys, demo_data_dir, demo_tables):
    wp, st = demo_tables["workplaces"], demo_tables["stations"]
    prov = wp["province_adcode"].value_counts().index[0]
    city = wp.loc[wp["province_adcode"] == prov, "city_adcode"].value_counts().index[0]
    for region, col in ((prov, "province_adcode"), (city, "city_adcode")):
        out = run_json(capsys, "coverage", "--data-dir", str(demo_data_dir), "--region", region)
        n = int((st[col] == region).sum())
        workers = int(wp.loc[wp[col] == region, "workers"].sum())
        assert out["stations_qualifying"] == n
        assert out["stations_per_10k"] == pytest.approx(n * 1e4 / workers)
        assert sum(r["stations"] for r in out["by_region"]) == n
    # with a time filter the region's count still equals the sum over its sub-regions
    night = run_json(capsys, "coverage", "--data-dir", str(demo_data_dir), "--region", prov, "--at", "04:30")
    assert night["stations_qualifying"] == sum(r["stations"] for r in night["by_region"])
    assert night["stations_qualifying"] < int((st["province_adcode"] == prov).sum())


def test_coverage_of_the_nation_reports_stations_per_10k(capsys, demo_data_dir, demo_tables):
    out = run_json(capsys, "coverage", "--data-dir", str(demo_data_dir))
    workers = int(demo_tables["workplaces"]["workers"].sum())
    assert out["stations_per_10k"] == pytest.approx(len(demo_tables["stations"]) * 1e4 / workers)


def test_gaps_lists_the_top_cells(capsys, demo_data_dir, demo_tables, brute):
    out = run_json(
        capsys, "gaps", "--data-dir", str(demo_data_dir), "--radius-m", "1000", "--res", "8", "--top", "20"
    )
    assert len(out) == 20
    assert [c["rank"] for c in out] == list(range(1, 21))
    assert all({"h3", "workers_uncovered"} <= set(c) for c in out)
    assert out[0]["workers_uncovered"] >= out[-1]["workers_uncovered"]
    wp = demo_tables["workplaces"]
    total = run_json(
        capsys, "gaps", "--data-dir", str(demo_data_dir), "--radius-m", "1000", "--top", "100000"
    )
    assert sum(c["workers_uncovered"] for c in total) == int(wp["workers"].to_numpy()[brute > 1000].sum())


def test_site_adds_coverage_and_is_verified(capsys, demo_data_dir):
    out = run_json(capsys, "site", "--data-dir", str(demo_data_dir), "--new", "5", "--radius-m", "1000")
    assert len(out["sites"]) == 5
    assert {"lat", "lng", "h3", "workers_newly_covered"} <= set(out["sites"][0])
    assert out["verified"] is True
    assert out["workers_covered_after"] - out["workers_covered_before"] == sum(
        s["workers_newly_covered"] for s in out["sites"]
    )


def test_site_reports_share_after_from_the_recount(capsys, demo_data_dir):
    out = run_json(capsys, "site", "--data-dir", str(demo_data_dir), "--new", "3", "--radius-m", "1000")
    assert out["share_after"] == pytest.approx(out["workers_covered_after"] / out["workers_total"])
    assert out["warnings"] == []


def test_site_fails_when_the_recount_disagrees(capsys, demo_data_dir, monkeypatch):
    from geo import siting

    monkeypatch.setattr(siting, "covered_with_sites", lambda wp, covered, sites, r: np.asarray(covered))
    code, out = run(capsys, "site", "--data-dir", str(demo_data_dir), "--new", "3", "--json")
    assert code != 0
    assert "recount" in out.err
    assert "error" in json.loads(out.out)


def test_site_warns_about_candidates_outside_the_region(capsys, demo_data_dir, demo_tables, tmp_path):
    wp = demo_tables["workplaces"]
    prov = wp["province_adcode"].value_counts().index[0]
    inside = wp[wp["province_adcode"] == prov].head(2)
    outside = wp[wp["province_adcode"] != prov].head(1)
    csv = tmp_path / "cand.csv"
    rows = [*zip(inside.lat, inside.lng, strict=True), *zip(outside.lat, outside.lng, strict=True)]
    csv.write_text("lat,lng\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    out = run_json(
        capsys,
        "site",
        "--data-dir",
        str(demo_data_dir),
        "--new",
        "2",
        "--region",
        prov,
        "--candidates",
        str(csv),
    )
    assert len(out["warnings"]) == 1
    assert "1 of 3" in out["warnings"][0]
    assert "rows 3" in out["warnings"][0]


def test_site_reads_user_candidates(capsys, demo_data_dir, demo_tables, tmp_path):
    wp = demo_tables["workplaces"].head(3)
    csv = tmp_path / "cand.csv"
    csv.write_text(
        "lat,lng,name\n"
        + "".join(f"{a},{b},工会大楼{i}\n" for i, (a, b) in enumerate(zip(wp.lat, wp.lng, strict=True))),
        encoding="utf-8-sig",
    )
    out = run_json(
        capsys,
        "site",
        "--data-dir",
        str(demo_data_dir),
        "--new",
        "2",
        "--candidates",
        str(csv),
        "--only-candidates",
    )
    assert {s["source"] for s in out["sites"]} <= {"user"}
    assert out["candidates"] == 3


def test_reported_closed_stations_stop_qualifying(capsys, fresh_data_dir, demo_tables):
    before = run_json(capsys, "coverage", "--data-dir", str(fresh_data_dir), "--radius-m", "1000")
    ids = demo_tables["stations"]["station_id"].tolist()
    now = dt.datetime(2025, 1, 10, 8, 0)
    for i, sid in enumerate(ids[:300]):  # two different clients each (one is not enough)
        assert store.insert_report(fresh_data_dir, sid, "closed", "", f"s{i}", now, client=f"a{i}")
        assert store.insert_report(fresh_data_dir, sid, "closed", "", f"t{i}", now, client=f"b{i}")
    # one more station reported by a single client still qualifies
    assert store.insert_report(fresh_data_dir, ids[300], "closed", "", "u", now, client="c")
    after = run_json(
        capsys,
        "coverage",
        "--data-dir",
        str(fresh_data_dir),
        "--radius-m",
        "1000",
        "--exclude-reported-closed",
    )
    assert after["stations_qualifying"] == before["stations_qualifying"] - 300
    assert after["workers_covered"] < before["workers_covered"]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["coverage", "--region", "999999"], "999999"),
        (["coverage", "--at", "25:00"], "HH:MM"),
        (["coverage", "--radius-m", "-3"], "radius_m"),
        (["coverage", "--occupation", "astronaut"], "astronaut"),
        (["site", "--new", "0"], "n_new"),
        (["site", "--new", "2", "--candidates", "/nonexistent.csv"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, demo_data_dir, argv, match):
    code, out = run(capsys, *argv, "--data-dir", str(demo_data_dir), "--json")
    assert code == 2
    assert match in out.err
    assert "error" in json.loads(out.out)


def test_missing_data_dir_exits_2(capsys, tmp_path):
    code, out = run(capsys, "coverage", "--data-dir", str(tmp_path / "nothing"))
    assert code == 2
    assert "generate" in out.err
