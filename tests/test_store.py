"""Storage: round trips, versions, crash safety, schema checks, reports."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geo import store
from geo.errors import DataMissingError, InputError, SchemaError
from geo.schema import H3_INT_COLUMN, OPTIONAL_COLUMNS, TABLES


def test_round_trip_keeps_every_table_and_column(demo_data_dir: Path, demo_tables: dict) -> None:
    for name, original in demo_tables.items():
        back = store.read_table(demo_data_dir, name)
        assert len(back) == len(original), name
        expected = [*TABLES[name].columns, *OPTIONAL_COLUMNS.get(name, {})]
        assert expected == [c for c in back.columns if c != "geometry"], name
    st = store.read_table(demo_data_dir, "stations")
    assert isinstance(st, gpd.GeoDataFrame)
    assert st.crs.to_epsg() == 4326
    # geometry agrees with lat/lng (x = lng, y = lat)
    assert (st.geometry.x - st["lng"]).abs().max() < 1e-9
    assert (st.geometry.y - st["lat"]).abs().max() < 1e-9
    assert list(st["amenities"].iloc[0]) == list(demo_tables["stations"]["amenities"].iloc[0])


def test_empty_directory_says_how_to_get_data(tmp_path: Path) -> None:
    assert not store.has_data(tmp_path)
    with pytest.raises(DataMissingError, match="python -m geo generate"):
        store.read_table(tmp_path, "stations")


def test_new_version_links_unchanged_tables_and_rollback_restores(fresh_data_dir: Path) -> None:
    st = store.read_table(fresh_data_dir, "stations").iloc[:10]
    v2 = store.write_version(
        fresh_data_dir, {"stations": pd.DataFrame(st.drop(columns="geometry"))}, {"user": "t"}
    )
    assert v2 == "v0002"
    assert store.current_version(fresh_data_dir) == "v0002"
    assert len(store.read_table(fresh_data_dir, "stations")) == 10
    # the unchanged workplaces file is the same inode (hard link), not a copy
    a = store.table_path(fresh_data_dir, "workplaces", "v0001").stat()
    b = store.table_path(fresh_data_dir, "workplaces", "v0002").stat()
    assert a.st_ino == b.st_ino
    m = store.read_manifest(fresh_data_dir)
    assert m["row_counts"]["stations"] == 10
    assert m["row_counts"]["workplaces"] == len(
        store.read_table(fresh_data_dir, "workplaces", columns=["workplace_id"])
    )
    key2 = store.dataset_key(fresh_data_dir)
    store.set_current(fresh_data_dir, "v0001")
    assert store.current_version(fresh_data_dir) == "v0001"
    assert len(store.read_table(fresh_data_dir, "stations")) > 10
    assert store.dataset_key(fresh_data_dir) != key2
    assert [v["dataset_version"] for v in store.list_versions(fresh_data_dir)] == ["v0001", "v0002"]


def test_failure_mid_write_leaves_previous_version_current(fresh_data_dir: Path, monkeypatch) -> None:
    before = store.read_table(fresh_data_dir, "stations")
    calls = {"n": 0}
    real = store.tables._write_table

    def flaky(df, table, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(df, table, path)

    monkeypatch.setattr(store.tables, "_write_table", flaky)
    tables = {
        "stations": pd.DataFrame(before.drop(columns="geometry")),
        "targets": store.read_table(fresh_data_dir, "targets"),
    }
    with pytest.raises(OSError, match="disk full"):
        store.write_version(fresh_data_dir, tables, {})
    assert store.current_version(fresh_data_dir) == "v0001"
    assert store.list_version_ids(fresh_data_dir) == ["v0001"]
    assert not [p for p in (fresh_data_dir / "versions").iterdir() if p.name.startswith(".tmp")]
    assert len(store.read_table(fresh_data_dir, "stations")) == len(before)


def test_process_killed_mid_write_leaves_previous_version_readable(fresh_data_dir: Path) -> None:
    """A real crash (SIGKILL) while a large version is being written."""
    script = textwrap.dedent(
        f"""
        import sys, pandas as pd
        from geo import store
        from pathlib import Path
        d = Path({str(fresh_data_dir)!r})
        ck = store.read_table(d, "checkins")
        big = pd.concat([ck] * 40, ignore_index=True)
        print("writing", flush=True)
        store.write_version(d, {{"checkins": big}}, {{}})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[1]
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert store.current_version(fresh_data_dir) == "v0001"
    for name in TABLES:
        assert len(store.read_table(fresh_data_dir, name)) > 0
    assert store.clean_temporaries(fresh_data_dir) in (0, 1)
    assert not [p for p in (fresh_data_dir / "versions").iterdir() if p.name.startswith(".tmp")]


def test_other_schema_version_is_refused_with_a_fix(fresh_data_dir: Path) -> None:
    mpath = store.version_dir(fresh_data_dir) / store.MANIFEST_FILE
    m = json.loads(mpath.read_text())
    m["schema_version"] = 999
    mpath.write_text(json.dumps(m))
    with pytest.raises(SchemaError, match="schema version 999"):
        store.read_table(fresh_data_dir, "stations")


def test_missing_file_and_missing_columns_are_named(fresh_data_dir: Path) -> None:
    store.table_path(fresh_data_dir, "targets").unlink()
    with pytest.raises(SchemaError, match=r"targets\.parquet is missing"):
        store.read_table(fresh_data_dir, "targets")
    bad = pd.DataFrame({"station_id": ["x"]})
    with pytest.raises(SchemaError, match="lacks column"):
        store.write_version(fresh_data_dir, {"stations": bad}, {})
    with pytest.raises(InputError, match="unknown table"):
        store.write_version(fresh_data_dir, {"nope": bad}, {})


def test_atomic_write_bytes_replaces_whole_file(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    store.atomic_write_bytes(p, b"one")
    store.atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert [q.name for q in tmp_path.iterdir()] == ["x.txt"]


def test_reports_are_rate_limited_per_station_and_session(tmp_path: Path) -> None:
    now = dt.datetime(2025, 1, 20, 8, 0)
    assert store.insert_report(tmp_path, "S1", "closed", "locked", "sess", now)
    assert not store.insert_report(tmp_path, "S1", "closed", "again", "sess", now + dt.timedelta(minutes=30))
    assert store.insert_report(tmp_path, "S1", "closed", "later", "sess", now + dt.timedelta(minutes=61))
    assert store.insert_report(tmp_path, "S1", "closed", "other person", "sess2", now)
    assert store.insert_report(tmp_path, "S2", "no_hot_water", "", "sess", now)
    open_reports = store.read_reports(tmp_path)
    assert len(open_reports) == 4
    store.set_report_status(tmp_path, int(open_reports["id"].iloc[0]), "resolved")
    assert len(store.read_reports(tmp_path)) == 3
    assert len(store.read_reports(tmp_path, status=None)) == 4
    mode = (
        __import__("sqlite3")
        .connect(tmp_path / store.REPORTS_DB)
        .execute("PRAGMA journal_mode")
        .fetchone()[0]
    )
    assert mode == "wal"


def test_audit_log_records_who_did_what(tmp_path: Path) -> None:
    assert store.read_audit(tmp_path).empty
    store.append_audit(tmp_path, "alice", "rollback", {"version": "v0001"})
    log = store.read_audit(tmp_path)
    assert log.iloc[0]["user"] == "alice"
    assert json.loads(log.iloc[0]["detail"]) == {"version": "v0001"}


def test_campaign_is_stored_by_year_day_cell_with_the_cell_as_an_integer(demo_data_dir: Path) -> None:
    table = TABLES["campaign"]
    path = store.table_path(demo_data_dir, "campaign")
    stored = store.read_sorted(path, table, ["year", "date", "h3_9", H3_INT_COLUMN])
    assert stored is not None
    df = stored.to_pandas()
    assert df[H3_INT_COLUMN].tolist() == [int(c, 16) for c in df["h3_9"]]
    key = list(zip(df["year"], df["date"], df["h3_9"], strict=True))
    assert key == sorted(key)
    # The integer is a stored extra, not a column of the table.
    assert H3_INT_COLUMN not in store.read_table(demo_data_dir, "campaign").columns
    # Measure columns are stored plain (decoding is the cost of every aggregation), the rest zstd.
    import pyarrow.parquet as pq

    group = pq.ParquetFile(path).metadata.row_group(0)
    kinds = {group.column(i).path_in_schema: group.column(i).compression for i in range(group.num_columns)}
    assert {kinds[c] for c in table.plain} == {"UNCOMPRESSED"}
    assert kinds["event_id"] == kinds["province"] == "ZSTD"


def test_read_sorted_declines_files_that_do_not_record_the_order(
    fresh_data_dir: Path, tmp_path: Path
) -> None:
    table = TABLES["campaign"]
    path = store.table_path(fresh_data_dir, "campaign")
    plain = tmp_path / "plain.parquet"
    pd.read_parquet(path).to_parquet(plain)  # same rows, written elsewhere: no order recorded
    assert store.read_sorted(plain, table, ["date"]) is None
    assert store.read_sorted(path, table, ["date", "no_such_column"]) is None
    assert store.read_sorted(tmp_path / "missing.parquet", table, ["date"]) is None
    assert store.read_sorted(path, TABLES["stations"], ["lat"]) is None  # stations record no order


def test_a_writer_waits_for_the_lock_and_refuses_a_stale_base(fresh_data_dir: Path) -> None:
    import threading

    base = store.current_version(fresh_data_dir)
    stations = store.read_table(fresh_data_dir, "stations", columns=list(TABLES["stations"].columns))
    done: list[str] = []

    def write() -> None:
        done.append(store.write_version(fresh_data_dir, {"stations": stations}, {}, base_version=base))

    with store.write_lock(fresh_data_dir):
        t = threading.Thread(target=write)
        t.start()
        time.sleep(0.5)
        assert not done  # held off while another writer has the lock
    t.join(timeout=60)
    assert done == [store.current_version(fresh_data_dir)]
    with pytest.raises(store.StaleBaseError, match="changed since you opened it"):
        store.write_version(fresh_data_dir, {"stations": stations}, {}, base_version=base, check_base=True)
    assert store.current_version(fresh_data_dir) == done[0]
    with pytest.raises(store.StaleBaseError):
        store.set_current(fresh_data_dir, base or "", expect_current=base)


def test_writing_a_version_removes_what_a_killed_writer_left(fresh_data_dir: Path) -> None:
    stale = fresh_data_dir / "versions" / ".tmp-abc"
    stale.mkdir()
    store.write_version(fresh_data_dir, {}, {"source": {"kind": "test"}})
    assert not stale.exists()


def test_read_sorted_cuts_a_leading_range_out_as_the_filter_would(demo_data_dir: Path) -> None:
    import pyarrow.compute as pc

    table = TABLES["campaign"]
    path = store.table_path(demo_data_dir, "campaign")
    cols = ["year", "date", H3_INT_COLUMN, "people"]
    d0, d1 = dt.date(2024, 1, 20), dt.date(2024, 2, 1)
    for leading, where in [
        ([("year", 2024, 2024)], pc.field("year") == 2024),
        (
            [("year", 2024, 2024), ("date", d0, d1)],
            (pc.field("year") == 2024) & (pc.field("date") >= d0) & (pc.field("date") <= d1),
        ),
        ([("year", 2030, 2030)], pc.field("year") == 2030),
    ]:
        cut = store.read_sorted(path, table, cols, leading=leading)
        filtered = store.read_sorted(path, table, cols, where)
        assert cut is not None
        assert filtered is not None
        assert cut.equals(filtered), leading
    with pytest.raises(InputError, match="sort order"):
        store.read_sorted(path, table, cols, leading=[("date", d0, d1)])
    with pytest.raises(InputError, match="sort order"):
        store.read_sorted(path, table, cols, leading=[("year", 2023, 2024), ("date", d0, d1)])


# ---------------------------------------------------------------- durability, ids, pruning


def test_every_file_and_directory_is_flushed_before_current_switches(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[str] = []
    switched: list[int] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == store.CURRENT_FILE:
            switched.append(len(flushed))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    targets = store.read_table(fresh_data_dir, "targets")
    v = store.write_version(fresh_data_dir, {"targets": targets}, {"user": "t"})
    vdir = fresh_data_dir / "versions" / v
    assert len(switched) == 1
    before_switch = set(flushed[: switched[0]])
    for f in vdir.iterdir():  # written and hard-linked tables, the manifest
        # the version was flushed under its temporary name, then renamed: compare names only
        assert any(Path(p).name == f.name for p in before_switch), f.name
    assert str(fresh_data_dir / "versions") in before_switch  # the rename into place
    assert str(fresh_data_dir) in set(flushed[switched[0] :])  # CURRENT's own rename


@pytest.mark.parametrize("bad", ["../../x", "v0001/../../x", "/etc", "", "v1", "v0001\n", "CURRENT"])
def test_a_version_id_that_is_not_one_is_refused_everywhere(fresh_data_dir: Path, bad: str) -> None:
    outside = fresh_data_dir.parent / "x"
    outside.mkdir(exist_ok=True)
    (outside / store.MANIFEST_FILE).write_text(
        (fresh_data_dir / "versions" / "v0001" / store.MANIFEST_FILE).read_text("utf-8"), "utf-8"
    )
    for call in (
        lambda: store.set_current(fresh_data_dir, bad),
        lambda: store.read_manifest(fresh_data_dir, bad or "''"),
        lambda: store.version_dir(fresh_data_dir, bad or "''"),
        lambda: store.read_table(fresh_data_dir, "stations", bad or "''"),
    ):
        with pytest.raises(InputError, match="not a dataset version id"):
            call()
    assert (fresh_data_dir / store.CURRENT_FILE).read_text() == "v0001"


def test_prune_keeps_the_newest_the_current_its_base_and_pinned_versions(fresh_data_dir: Path) -> None:
    for _ in range(5):
        store.write_version(fresh_data_dir, {}, {"user": "t"})  # v0002 … v0006, each based on the last
    store.set_current(fresh_data_dir, "v0003")  # rolled back: v0003 (base v0002) in use
    (fresh_data_dir / store.PINNED_FILE).write_text("v0001\n")
    assert store.prune_versions(fresh_data_dir, 2, dry_run=True) == ["v0004"]
    assert store.list_version_ids(fresh_data_dir) == [f"v000{i}" for i in range(1, 7)]
    assert store.prune_versions(fresh_data_dir, 2) == ["v0004"]
    assert store.list_version_ids(fresh_data_dir) == ["v0001", "v0002", "v0003", "v0005", "v0006"]
    assert store.current_version(fresh_data_dir) == "v0003"
    for v in store.list_version_ids(fresh_data_dir):  # hard links: removing v0004 freed no shared file
        assert len(store.read_table(fresh_data_dir, "stations", v)) > 0
    (fresh_data_dir / store.PINNED_FILE).unlink()
    assert store.prune_versions(fresh_data_dir, 1) == ["v0001", "v0005"]
    assert store.list_version_ids(fresh_data_dir) == ["v0002", "v0003", "v0006"]
    with pytest.raises(InputError, match="at least 1"):
        store.prune_versions(fresh_data_dir, 0)


def test_the_audit_entry_is_written_inside_the_version_before_it_is_current(fresh_data_dir: Path) -> None:
    v = store.write_version(
        fresh_data_dir,
        {},
        {"user": "ann"},
        audit={"user": "ann", "action": "import", "detail": {"file": "a.csv"}},
    )
    entry = json.loads((fresh_data_dir / "versions" / v / store.AUDIT_FILE).read_text("utf-8"))
    assert entry["user"] == "ann"
    assert entry["action"] == "import"
    assert entry["detail"] == {"file": "a.csv", "version": v, "base_version": "v0001"}
    assert store.read_version_audit(fresh_data_dir) == [entry]


def test_a_full_disk_gives_a_clear_error_and_keeps_the_previous_version(fresh_data_dir: Path) -> None:
    """The file-size limit of a child process stands in for a full disk (writes fail with EFBIG)."""
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        import pandas as pd
        from geo import store
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill the process
        d = Path({str(fresh_data_dir)!r})
        big = pd.concat([store.read_table(d, "checkins")] * 3, ignore_index=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        try:
            store.write_version(d, {{"checkins": big}}, {{}})
        except store.WriteError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "disk may be full" in proc.stdout
    assert "version v0001 is still in use" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert store.current_version(fresh_data_dir) == "v0001"
    assert store.list_version_ids(fresh_data_dir) == ["v0001"]
    assert not [p for p in (fresh_data_dir / "versions").iterdir() if p.name.startswith(".tmp")]
    for name in TABLES:
        assert len(store.read_table(fresh_data_dir, name)) > 0
