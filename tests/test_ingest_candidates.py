"""Siting candidates go through the importer: encodings, limits, coordinate checks, datums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo import datums, ingest
from geo.cli import main


def test_a_gbk_candidates_file_is_read_checked_and_reported() -> None:
    text = "名称,纬度,经度\n工会大楼,39.9087,116.3975\n,31.2304,121.4737\n坏点,abc,116.4\n海外,48.85,2.35\n"
    sites, report = ingest.read_candidates(text.encode("gbk"), "候选点.csv")
    assert report.encoding == "gbk"
    assert (report.rows_in, report.accepted, report.rejected) == (4, 2, 2)
    assert [x["row"] for x in report.rejections] == [4, 5]
    assert sites["name"].tolist() == ["工会大楼", "候选点 3"]  # a missing name is named after its row
    np.testing.assert_allclose(sites[["lat", "lng"]].to_numpy(), [[39.9087, 116.3975], [31.2304, 121.4737]])


def test_candidates_from_amap_are_converted_and_limits_apply() -> None:
    lat, lng = datums.wgs84_to_gcj02(39.9087, 116.3975)
    text = f"lng,lat\n{float(lng)},{float(lat)}\n"
    sites, _ = ingest.read_candidates(text.encode(), "a.csv", crs="gcj02")
    assert abs(sites["lat"].iloc[0] - 39.9087) < 1e-5
    assert abs(sites["lng"].iloc[0] - 116.3975) < 1e-5
    many = "lat,lng\n" + "39.9,116.4\n" * 200
    with pytest.raises(ingest.ImportFileError) as exc:
        ingest.read_candidates(many.encode(), "a.csv", max_rows=100)
    assert exc.value.code == "file_rows"
    with pytest.raises(ingest.InputError, match="no usable candidate"):
        ingest.read_candidates(b"lat,lng\n0,0\n", "a.csv")
    with pytest.raises(ingest.ImportFileError) as exc:
        ingest.read_candidates(b"a,b\n1,2\n", "a.csv")
    assert exc.value.code == "file_no_columns"


def test_the_site_command_reads_a_gbk_candidates_file(
    capsys: pytest.CaptureFixture[str],
    demo_data_dir: Path,
    demo_tables: dict[str, pd.DataFrame],
    tmp_path: Path,
) -> None:
    wp = demo_tables["workplaces"].head(3)
    path = tmp_path / "候选点.csv"
    rows = "".join(f"工会大楼{i},{a},{b}\n" for i, (a, b) in enumerate(zip(wp.lat, wp.lng, strict=True)))
    path.write_bytes(("名称,纬度,经度\n" + rows).encode("gbk"))
    argv = ["site", "--data-dir", str(demo_data_dir), "--new", "2", "--candidates", str(path)]
    assert main([*argv, "--only-candidates", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["candidates"] == 3
    assert {s["source"] for s in out["sites"]} <= {"user"}
