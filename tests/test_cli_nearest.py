"""``python -m geo nearest``: JSON ordered by distance, checked by brute force; errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from geo import datums
from geo.cli import main
from geo.distance import haversine_m
from geo.hours import open_at, parse_hhmm

ROOT = Path(__file__).parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["nearest", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_nearest_matches_brute_force(
    capsys: pytest.CaptureFixture[str], demo_data_dir: Path, demo_tables: dict
) -> None:
    st_ = demo_tables["stations"]
    lat, lng = float(st_["lat"].iloc[5]) + 0.01, float(st_["lng"].iloc[5]) - 0.01
    out = run(capsys, "--lat", str(lat), "--lng", str(lng), "-k", "7", "--data-dir", str(demo_data_dir))
    d = haversine_m(lat, lng, st_["lat"].to_numpy(), st_["lng"].to_numpy())
    order = np.argsort(d, kind="stable")[:7]
    assert [r["station_id"] for r in out] == st_["station_id"].to_numpy()[order].tolist()
    assert np.allclose([r["distance_m"] for r in out], d[order], atol=0.06)
    for key in (
        "station_id",
        "name",
        "lat",
        "lng",
        "distance_m",
        "walk_min",
        "ride_min",
        "open_now",
        "amenities",
    ):
        assert key in out[0]


def test_filters_and_open_at(
    capsys: pytest.CaptureFixture[str], demo_data_dir: Path, demo_tables: dict
) -> None:
    st_ = demo_tables["stations"]
    lat, lng = 31.23, 121.47
    out = run(
        capsys, "--lat", str(lat), "--lng", str(lng), "-k", "5",
        "--amenity", "hot_water", "--amenity", "toilet", "--open-at", "23:30",
        "--data-dir", str(demo_data_dir),
    )  # fmt: skip
    all_day = st_["open_24h"].to_numpy()
    opens = parse_hhmm(st_["opens"].where(st_["opens"].notna(), "00:00"))
    closes = parse_hhmm(st_["closes"].where(st_["closes"].notna(), "24:00"))
    ok = (
        open_at(opens, closes, all_day, 23 * 60 + 30)
        & st_["amenities"].map(lambda a: {"hot_water", "toilet"} <= set(a)).to_numpy()
    )
    d = np.where(ok, haversine_m(lat, lng, st_["lat"].to_numpy(), st_["lng"].to_numpy()), np.inf)
    expect = st_["station_id"].to_numpy()[np.argsort(d, kind="stable")[:5]]
    assert [r["station_id"] for r in out] == expect.tolist()
    assert all(r["open_now"] for r in out)


def test_gcj02_input(capsys: pytest.CaptureFixture[str], demo_data_dir: Path, demo_tables: dict) -> None:
    st_ = demo_tables["stations"]
    lat, lng = float(st_["lat"].iloc[0]), float(st_["lng"].iloc[0])
    g_lat, g_lng = datums.wgs84_to_gcj02(lat, lng)
    out = run(
        capsys, "--lat", f"{float(g_lat):.7f}", "--lng", f"{float(g_lng):.7f}", "-k", "1", "--crs", "gcj02",
        "--data-dir", str(demo_data_dir),
    )  # fmt: skip
    assert out[0]["station_id"] == st_["station_id"].iloc[0]
    assert out[0]["distance_m"] < 0.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lat", "39.9", "--lng", "116.4", "-k", "51"], "1 to 50"),
        (["--lat", "39.9", "--lng", "116.4", "--amenity", "sauna"], "unknown code 'sauna'"),
        (["--lat", "39.9", "--lng", "116.4", "--open-at", "7pm"], "HH:MM"),
        (["--lat", "48.85", "--lng", "2.35"], "outside China"),
    ],
)
def test_errors_exit_2(
    capsys: pytest.CaptureFixture[str], demo_data_dir: Path, args: list, message: str
) -> None:
    assert main(["nearest", *args, "--data-dir", str(demo_data_dir), "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert message in json.loads(captured.out)["error"]


def test_runs_as_a_module(demo_data_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "geo", "nearest", "--lat", "39.9087", "--lng", "116.3975", "-k", "2",
         "--data-dir", str(demo_data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "estimates" in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 3
