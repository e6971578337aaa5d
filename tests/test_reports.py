"""Courier reports: rate limits (also across processes), pseudonymous clients, the 48 h station status."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from geo import reports, store

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).parents[1]


def add(
    data_dir: Path, station: str, client: str, at: dt.datetime, problem: str = "closed", **limits: int
) -> object:
    return store.add_report(
        data_dir, station, problem, "", client=client, now=at, limits=store.ReportLimits(**limits)
    )


def test_one_client_reports_one_station_once_an_hour(tmp_path: Path) -> None:
    assert isinstance(add(tmp_path, "S1", "ip:a", T0), dict)
    refused = add(tmp_path, "S1", "ip:a", T0 + dt.timedelta(minutes=20))
    assert isinstance(refused, store.RateLimited)
    assert refused.limit == "same_station"
    assert refused.retry_after_s == 40 * 60  # the first report leaves the hour then
    assert isinstance(add(tmp_path, "S1", "ip:a", T0 + dt.timedelta(minutes=60, seconds=1)), dict)
    assert isinstance(add(tmp_path, "S1", "ip:b", T0), dict)  # someone else may


def test_client_limit_counts_every_station_and_says_when_to_retry(tmp_path: Path) -> None:
    for i in range(3):
        assert isinstance(
            add(tmp_path, f"S{i}", "ip:a", T0 + dt.timedelta(minutes=i), client_per_hour=3), dict
        )
    refused = add(tmp_path, "S9", "ip:a", T0 + dt.timedelta(minutes=10), client_per_hour=3)
    assert isinstance(refused, store.RateLimited)
    assert refused.limit == "client"
    assert refused.retry_after_s == 50 * 60
    assert isinstance(add(tmp_path, "S9", "ip:b", T0 + dt.timedelta(minutes=10), client_per_hour=3), dict)


def test_station_limit_counts_every_client(tmp_path: Path) -> None:
    for i in range(4):
        assert isinstance(add(tmp_path, "S1", f"ip:{i}", T0, station_per_hour=4), dict)
    refused = add(tmp_path, "S1", "ip:new", T0 + dt.timedelta(seconds=30), station_per_hour=4)
    assert isinstance(refused, store.RateLimited)
    assert (refused.limit, refused.retry_after_s) == ("station", 3600 - 30)


def test_client_ids_are_keyed_pseudonyms_not_addresses(tmp_path: Path) -> None:
    a = store.client_id(tmp_path, "203.0.113.7")
    assert a == store.client_id(tmp_path, "203.0.113.7")
    assert a != store.client_id(tmp_path, "203.0.113.8")
    assert re.fullmatch(r"ip:[0-9a-f]{16}", a)
    other = tmp_path / "other"
    assert store.client_id(other, "203.0.113.7") != a  # another database, another key


def test_old_databases_gain_the_client_column_and_keep_their_reports(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / store.REPORTS_DB)
    con.execute(
        "CREATE TABLE reports (id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL,"
        " problem TEXT NOT NULL, text TEXT NOT NULL DEFAULT '', session TEXT NOT NULL,"
        " created TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open')"
    )
    con.execute(
        "INSERT INTO reports(station_id, problem, text, session, created)"
        " VALUES ('S1', 'closed', 'x', 'old', ?)",
        (T0.isoformat(),),
    )
    con.commit()
    con.close()
    store._ready_dbs.discard((tmp_path / store.REPORTS_DB).resolve())
    got = store.read_reports(tmp_path)
    assert got[["station_id", "text", "client"]].to_dict("records") == [
        {"station_id": "S1", "text": "x", "client": "session:old"}
    ]
    assert store.insert_report(tmp_path, "S1", "closed", "", "new", T0)
    assert len(store.read_reports(tmp_path)) == 2


def test_streamlit_sessions_share_the_limit_of_their_address(tmp_path: Path) -> None:
    assert store.insert_report(tmp_path, "S1", "closed", "", "sess1", T0, client="ip:x")
    assert not store.insert_report(tmp_path, "S1", "closed", "", "sess2", T0, client="ip:x")


# ---------------------------------------------------------------- status


def frame(rows: list[tuple[str, str, dt.datetime, str]], status: str = "open") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"station_id": s, "problem": p, "created": t.isoformat(), "client": c, "status": status}
            for s, p, t, c in rows
        ]
    )


def test_status_counts_the_last_48_hours_and_names_the_top_problem() -> None:
    h = dt.timedelta(hours=1)
    rows = [
        ("S1", "no_hot_water", T0 - 50 * h, "a"),  # outside the window
        ("S1", "no_hot_water", T0 - 47 * h, "a"),
        ("S1", "full", T0 - 3 * h, "b"),
        ("S1", "full", T0 - 2 * h, "c"),
        ("S1", "no_hot_water", T0 - 1 * h, "d"),
        ("S2", "moved", T0 - 5 * h, "a"),
        ("S2", "no_power", T0 - 4 * h, "a"),  # a tie: the most recent problem wins
    ]
    got = reports.station_status(frame(rows), T0)
    # S1 in the window: no_hot_water twice (latest T0-1h), full twice (latest T0-2h):
    # a tie, which the most recently reported problem wins.
    assert got["S1"] == {
        "reports_48h": 4,
        "top_problem": "no_hot_water",
        "last_at": "2026-03-02T07:00:00+00:00",
        "reported_closed": False,
    }
    assert got["S2"]["top_problem"] == "no_power"
    assert "S3" not in got


def test_reported_closed_needs_two_different_clients_within_48_hours() -> None:
    h = dt.timedelta(hours=1)
    one = frame([("S1", "closed", T0 - 2 * h, "a"), ("S1", "closed", T0 - h, "a")])
    assert reports.station_status(one, T0)["S1"]["reported_closed"] is False
    two = frame([("S1", "closed", T0 - 2 * h, "a"), ("S1", "closed", T0 - h, "b")])
    assert reports.station_status(two, T0)["S1"]["reported_closed"] is True
    stale = frame([("S1", "closed", T0 - 49 * h, "a"), ("S1", "closed", T0 - h, "b")])
    assert reports.station_status(stale, T0)["S1"]["reported_closed"] is False
    other_problem = frame([("S1", "closed", T0 - 2 * h, "a"), ("S1", "full", T0 - h, "b")])
    assert reports.station_status(other_problem, T0)["S1"]["reported_closed"] is False


def test_resolved_reports_do_not_count() -> None:
    assert reports.station_status(frame([("S1", "closed", T0, "a")], status="resolved"), T0) == {}


def test_status_board_follows_new_reports_and_the_moving_window(tmp_path: Path) -> None:
    now = [T0]
    board = reports.StatusBoard(tmp_path, clock=lambda: now[0])
    assert board.status_of("S1") == dict(reports.EMPTY_STATUS)  # no database yet
    add(tmp_path, "S1", "ip:a", T0 - dt.timedelta(hours=1))
    board.invalidate()
    assert board.status_of("S1")["reports_48h"] == 1
    add(tmp_path, "S1", "ip:b", T0 - dt.timedelta(minutes=30))
    board.invalidate()
    assert board.status_of("S1")["reported_closed"] is True
    now[0] = T0 + dt.timedelta(hours=47, minutes=10)  # the first report has left the window
    assert board.status_of("S1") == {
        "reports_48h": 1,
        "top_problem": "closed",
        "last_at": (T0 - dt.timedelta(minutes=30)).isoformat(timespec="seconds"),
        "reported_closed": False,
    }
    board.close()


def test_reader_of_a_missing_database_sees_no_change_until_a_report_arrives(tmp_path: Path) -> None:
    # Before: a missing database counted as changed on every check, so every status board
    # without reports re-read it twice a second under load.
    reader = store.ReportsReader(tmp_path)
    assert reader.changed() is True  # the first call
    assert reader.changed() is False
    assert reader.changed() is False
    add(tmp_path, "S1", "ip:a", T0)
    assert reader.changed() is True  # the database appeared
    assert reader.changed() is False
    add(tmp_path, "S2", "ip:a", T0)
    assert reader.changed() is True
    reader.close()


def test_planners_see_the_same_reports_with_the_new_column(tmp_path: Path) -> None:
    add(tmp_path, "S1", "ip:a", T0, problem="no_power")
    got = store.read_reports(tmp_path)
    assert list(got.columns) == ["id", "station_id", "problem", "text", "created", "status", "client"]
    assert got["problem"].tolist() == ["no_power"]


# ---------------------------------------------------------------- two processes

WRITER = textwrap.dedent(
    """
    import datetime as dt, sys, time
    from pathlib import Path
    from geo import store
    data_dir, tag = Path(sys.argv[1]), sys.argv[2]
    n, per_client = int(sys.argv[3]), int(sys.argv[4])
    (data_dir / f"ready-{tag}").touch()
    while len(list(data_dir.glob("ready-*"))) < 2:  # both imported: start together
        time.sleep(0.0005)
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    limits = store.ReportLimits(client_per_hour=per_client, station_per_hour=10**6)
    stored = 0
    for i in range(n):
        r = store.add_report(data_dir, f"S{tag}{i}", "full", tag, client="ip:shared", now=now, limits=limits)
        stored += isinstance(r, dict)
    print(stored)
    """
)


def run_writers(data_dir: Path, n: int, per_client: int) -> list[int]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), tag, str(n), str(per_client)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(int(stdout.strip()))
    return out


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    stored = run_writers(tmp_path, 150, per_client=10**6)
    assert stored == [150, 150]
    got = store.read_reports(tmp_path)
    assert len(got) == 300
    assert got["id"].is_unique


def test_two_processes_cannot_both_slip_under_a_limit(tmp_path: Path) -> None:
    # One client, limit 300, two processes trying 400 reports each at the same time: a
    # count-then-insert without the write lock held lets both see "299" and both insert,
    # or fails with "database is locked" when one commits between the other's two steps.
    stored = run_writers(tmp_path, 400, per_client=300)
    assert sum(stored) == 300
    assert len(store.read_reports(tmp_path)) == 300


@pytest.mark.parametrize("naive", [True, False])
def test_naive_times_are_utc(tmp_path: Path, naive: bool) -> None:
    at = T0.replace(tzinfo=None) if naive else T0
    row = add(tmp_path, "S1", "ip:a", at)
    assert isinstance(row, dict)
    assert row["created"] == "2026-03-02T08:00:00.000000+00:00"
