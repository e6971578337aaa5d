"""CLI data commands: generate, info, versions, rollback, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geo.cli import main

ROOT = Path(__file__).parents[1]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_generate_then_versions_then_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = run_json(capsys, "generate", "--scale", "0.002", "--seed", "1", "--data-dir", str(tmp_path))
    assert m["dataset_version"] == "v0001"
    assert m["row_counts"]["stations"] == round(186_100 * 0.002)
    assert m["source"]["kind"] == "demo"
    run_json(capsys, "generate", "--scale", "0.002", "--seed", "2", "--data-dir", str(tmp_path))
    versions = run_json(capsys, "versions", "--data-dir", str(tmp_path))
    assert [v["dataset_version"] for v in versions] == ["v0001", "v0002"]
    assert [v["current"] for v in versions] == [False, True]
    assert run_json(capsys, "rollback", "v0001", "--data-dir", str(tmp_path)) == {
        "current": "v0001",
        "from": "v0002",
    }
    assert run_json(capsys, "info", "--data-dir", str(tmp_path))["seed"] == 1


def test_missing_data_exits_2_with_a_helpful_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "python -m geo generate" in err


def test_rollback_to_unknown_version_is_refused(
    demo_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "v0099", "--data-dir", str(demo_data_dir), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert "v0099" in out["error"]


def test_module_entry_point_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "geo", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for cmd in ("generate", "versions", "rollback"):
        assert cmd in proc.stdout


def test_rollback_to_a_path_is_refused_and_writes_nothing_outside(
    fresh_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = fresh_data_dir.parent / "x"  # a complete-looking version two levels up
    outside.mkdir()
    manifest = fresh_data_dir / "versions" / "v0001" / "manifest.json"
    (outside / "manifest.json").write_text(manifest.read_text("utf-8"), "utf-8")
    assert main(["rollback", "../../x", "--data-dir", str(fresh_data_dir), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert "not a dataset version id" in out["error"]
    assert "v0001" in out["error"]  # what an id looks like
    assert (fresh_data_dir / "CURRENT").read_text() == "v0001"


def test_prune_keeps_the_newest_and_the_current_version(
    fresh_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from geo import store

    for _ in range(3):
        store.write_version(fresh_data_dir, {}, {"user": "t"})
    d = ["--data-dir", str(fresh_data_dir)]
    assert run_json(capsys, "prune", "--keep", "2", "--dry-run", *d)["would_remove"] == ["v0001", "v0002"]
    out = run_json(capsys, "prune", "--keep", "2", *d)
    assert out["removed"] == ["v0001", "v0002"]
    assert out["kept"] == ["v0003", "v0004"]
    assert main(["prune", "--keep", "0", *d]) == 2
    assert "at least 1" in capsys.readouterr().err
