"""The import and add-user commands as a user runs them: ``python -m geo ... --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from geo import auth, store

ROOT = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def geo(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geo", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "USER": "county-office"},
    )


def test_import_prints_the_report_and_writes_a_version(fresh_data_dir: Path) -> None:
    p = geo(
        "import", "stations", str(FIXTURES / "stations_gbk.csv"), "--data-dir", str(fresh_data_dir), "--json"
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"rows_in", "accepted", "rejected", "rejections", "warnings", "version"} <= set(out)
    assert out["accepted"] + out["rejected"] == out["rows_in"] == 10
    assert all(set(r) == {"row", "field", "reason", "code", "params"} for r in out["rejections"])
    assert store.current_version(fresh_data_dir) == out["version"]
    m = store.read_manifest(fresh_data_dir)
    assert m["user"] == "county-office"
    assert m["source"]["file"] == "stations_gbk.csv"
    assert m["source"]["encoding"] == "gbk"
    versions = json.loads(geo("versions", "--data-dir", str(fresh_data_dir), "--json").stdout)
    assert [v["current"] for v in versions] == [False, True]
    p = geo("rollback", versions[0]["dataset_version"], "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 0
    assert store.current_version(fresh_data_dir) == versions[0]["dataset_version"]


def test_import_options_crs_map_mode_sheet_dry_run(fresh_data_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "gcj.csv"
    f.write_text("站名,X坐标,Y坐标,时间\n甲站,116.4039,39.9151,24小时\n", encoding="utf-8")
    args = [
        "import",
        "stations",
        str(f),
        "--crs",
        "gcj02",
        "--map",
        "站名=name",
        "--map",
        "X坐标=lng",
        "--map",
        "Y坐标=lat",
        "--map",
        "时间=hours",
        "--mode",
        "append",
        "--data-dir",
        str(fresh_data_dir),
    ]
    before = store.list_version_ids(fresh_data_dir)
    dry = json.loads(geo(*args, "--dry-run", "--json").stdout)
    assert dry["accepted"] == 1
    assert dry["version"] is None
    assert store.list_version_ids(fresh_data_dir) == before
    out = json.loads(geo(*args, "--json").stdout)
    assert out["accepted"] == 1
    assert out["crs"] == "gcj02"
    assert out["mode"] == "append"
    st_ = store.read_table(fresh_data_dir, "stations", columns=["name", "lat", "lng"]).set_index("name")
    assert abs(st_.loc["甲站", "lat"] - 39.9151) > 1e-4  # shifted back from GCJ-02
    p = geo(
        "import",
        "stations",
        str(FIXTURES / "stations.xlsx"),
        "--sheet",
        "没有这页",
        "--data-dir",
        str(fresh_data_dir),
        "--json",
    )
    assert p.returncode == 2
    assert "驿站名录" in json.loads(p.stdout)["error"]


def test_import_of_a_broken_file_exits_2_with_a_report(fresh_data_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "broken.xlsx"
    f.write_bytes((FIXTURES / "stations.xlsx").read_bytes()[:700])
    p = geo("import", "stations", str(f), "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 2
    out = json.loads(p.stdout)
    assert out["error"]
    assert out["version"] is None
    assert out["rows_in"] == 0
    p = geo("import", "stations", str(tmp_path / "missing.csv"), "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 2
    assert "no such file" in p.stderr


def test_add_user_prints_a_hash_never_the_password() -> None:
    p = geo(
        "add-user",
        "wang_li",
        "--role",
        "planner",
        "--role",
        "leader",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert p.returncode == 0, p.stderr
    assert "correct horse" not in p.stdout + p.stderr
    assert p.stdout.count("[auth.users.wang_li]") == 1
    assert 'roles = ["leader", "planner"]' in p.stdout
    import tomllib

    doc = tomllib.loads(p.stdout)
    entry = doc["auth"]["users"]["wang_li"]
    assert auth.verify_password(entry["password_hash"], "correct horse battery")
    users = auth.load_users(doc["auth"]["users"], env={})
    assert users["wang_li"].roles == {"planner", "leader"}
    short = geo("add-user", "x", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least" in short.stderr


def test_import_picks_the_sheet_and_rollback_audits_the_os_user(fresh_data_dir: Path, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为驿站名录,请勿修改表头"])
    ws = wb.create_sheet("驿站名录")
    ws.append(["名称", "经度", "纬度", "开放时间"])
    ws.append(["甲站", 116.40, 39.90, "24小时"])
    wb.save(tmp_path / "two.xlsx")
    before = store.current_version(fresh_data_dir)
    p = geo("import", "stations", str(tmp_path / "two.xlsx"), "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert (out["sheet"], out["accepted"]) == ("驿站名录", 1)
    p = geo("rollback", str(before), "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 0, p.stderr
    audit = store.read_audit(fresh_data_dir).iloc[0]
    assert (audit["action"], audit["user"]) == ("rollback", "county-office")
    assert json.loads(audit["detail"]) == {"from": out["version"], "version": before}


def test_import_with_no_recognised_column_says_how_to_map(fresh_data_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "odd.csv"
    f.write_text("站点全称,X坐标,Y坐标,服务时段\n甲站,116.39,39.90,08:00-20:00\n", encoding="utf-8")
    p = geo("import", "stations", str(f), "--data-dir", str(fresh_data_dir), "--json")
    assert p.returncode == 2
    out = json.loads(p.stdout)
    assert out["error_code"] == "file_no_columns"
    assert "--map 源列=field" in out["error"]
    assert "站点全称" in out["error"]
