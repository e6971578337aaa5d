"""CLI ``campaign``: JSON shape, filters, withheld figures as null + flag, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from geo.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_by_province_totals_match_pandas(
    demo_data_dir: Path, demo_tables: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_json(capsys, "campaign", "--year", "2025", "--by", "province", "--data-dir", str(demo_data_dir))
    ev = demo_tables["campaign"]
    ev = ev[ev["year"].astype(int) == 2025]
    assert out["total"]["people"] == int(ev["people"].sum())
    assert out["total"]["events"] == len(ev)
    assert out["total"]["funds_yuan"] == pytest.approx(float(ev["funds_yuan"].sum()))
    want = ev.groupby("category")["people"].sum()
    assert {c: v["people"] for c, v in out["total"]["by_category"].items()} == want.to_dict()
    assert {"adcode", "name", "people", "events", "funds_yuan", "withheld"} <= set(out["rows"][0])
    published = [r for r in out["rows"] if not r["withheld"]]
    by_prov = ev.groupby("province_adcode")["people"].sum()
    for r in published:
        assert r["people"] == by_prov[r["adcode"]]


def test_hex_with_filters_and_withheld_rows_as_null(
    demo_data_dir: Path, demo_tables: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_json(
        capsys,
        "campaign",
        "--year",
        "2025",
        "--by",
        "hex",
        "--res",
        "6",
        "--category",
        "hardship",
        "--from",
        "2025-01-10",
        "--to",
        "2025-02-10",
        "--data-dir",
        str(demo_data_dir),
    )
    ev = demo_tables["campaign"]
    d = pd.to_datetime(ev["date"].astype(str))
    sel = ev[
        (ev["year"].astype(int) == 2025)
        & (ev["category"] == "hardship")
        & (d >= "2025-01-10")
        & (d <= "2025-02-10")
    ]
    assert out["total"]["people"] == int(sel["people"].sum())
    assert list(out["total"]["by_category"]) == ["hardship"]
    assert out["filters"]["res"] == 6
    hidden = [r for r in out["rows"] if r["withheld"]]
    assert hidden, "the demo has small cells at res 6"
    assert all(r["people"] is None and r["events"] is None and r["funds_yuan"] is None for r in hidden)
    assert all(r["people"] >= 10 for r in out["rows"] if not r["withheld"])
    assert len(hidden) != 1
    assert all(len(r["h3"]) == 15 for r in out["rows"])


def test_day_rows_have_iso_dates(demo_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        capsys,
        "campaign",
        "--by",
        "day",
        "--from",
        "2025-01-20",
        "--to",
        "2025-01-22",
        "--data-dir",
        str(demo_data_dir),
    )
    assert [r["date"] for r in out["rows"]] == ["2025-01-20", "2025-01-21", "2025-01-22"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--by", "province", "--res", "6"], "--res"),
        (["--by", "hex", "--res", "12"], "resolution"),
        (["--region", "44'; DROP TABLE x"], "adcode"),
        (["--year", "2019"], "year"),
        (["--from", "2025-02-10", "--to", "2025-01-10"], "empty"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    demo_data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["campaign", *argv, "--data-dir", str(demo_data_dir), "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "error" in json.loads(captured.out)


def test_bad_date_is_an_argparse_error(demo_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["campaign", "--from", "2025-1-x", "--data-dir", str(demo_data_dir)])
    assert exc.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
