"""Reports and audit (SQLite): one WAL database per data directory, shared by every process."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from geo.store.atomic import REPORTS_DB

# One SQLite file per data directory, in WAL mode: readers never block the writer, and
# every process (several uvicorn workers, the CLI) shares it. A report's rate limits are
# checked and the report inserted in one ``BEGIN IMMEDIATE`` transaction, which takes the
# database's write lock before counting: two processes cannot both count "9 of 10" and
# both insert.

REPORTS_BUSY_TIMEOUT_MS: Final = 10_000
"""How long a connection waits for another process's write lock, milliseconds."""

REPORT_WINDOW_S: Final = 3600.0
"""Length of the rate-limit window for reports, seconds."""

_REPORT_COLUMNS: Final = ("id", "station_id", "problem", "text", "created", "status", "client")
_ready_dbs: set[Path] = set()


def _utc_iso(t: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds always written, so stored times sort as text."""
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.isoformat(timespec="microseconds")


def _connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): transactions are opened explicitly where needed.
    con = sqlite3.connect(
        path,
        timeout=REPORTS_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    con.execute(f"PRAGMA busy_timeout={REPORTS_BUSY_TIMEOUT_MS}")
    return con


def _create_schema(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS reports ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL,"
        " problem TEXT NOT NULL, text TEXT NOT NULL DEFAULT '', session TEXT NOT NULL,"
        " created TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open')"
    )
    columns = {row[1] for row in con.execute("PRAGMA table_info(reports)")}
    if "client" not in columns:  # databases written before reports were limited per client
        con.execute("ALTER TABLE reports ADD COLUMN client TEXT NOT NULL DEFAULT ''")
    con.execute("CREATE INDEX IF NOT EXISTS reports_station ON reports(station_id, session, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_station_created ON reports(station_id, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_client ON reports(client, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_created ON reports(created)")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('client_key', ?)", (secrets.token_hex(32),))
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, user TEXT NOT NULL,"
        " action TEXT NOT NULL, detail TEXT NOT NULL)"
    )


def _switch_to_wal(con: sqlite3.Connection) -> None:
    """Put the database in WAL mode (persistent; not allowed inside a transaction).

    Changing the journal mode takes an exclusive lock without SQLite's busy handler, so two
    processes opening a new database at once can meet "database is locked": retry for up
    to :data:`REPORTS_BUSY_TIMEOUT_MS` (once the file is in WAL mode the pragma is a no-op).
    """
    deadline = time.monotonic() + REPORTS_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(con.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked: the reports database stayed busy")
        time.sleep(0.01)


@contextlib.contextmanager
def _db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open the reports database (created and migrated on first use per process)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    path = (Path(data_dir) / REPORTS_DB).resolve()
    fresh = path not in _ready_dbs or not path.exists()
    con = _connect(path)
    try:
        if fresh:
            _switch_to_wal(con)
            con.execute("BEGIN IMMEDIATE")  # one process migrates at a time
            try:
                _create_schema(con)
            finally:
                con.execute("COMMIT")
            _ready_dbs.add(path)
        yield con
    finally:
        con.close()


_client_keys: dict[Path, bytes] = {}


def client_id(data_dir: Path, address: str) -> str:
    """Return the pseudonym reports store for a client address: ``"ip:<16 hex digits>"``.

    An HMAC-SHA-256 of the address under a random key kept in the reports database, so
    per-client limits and "two different clients" work while the database (and the
    planners' report tab) never holds an address, and an address cannot be found again
    by hashing all 2^32 of them without the key.
    """
    path = (Path(data_dir) / REPORTS_DB).resolve()
    key = _client_keys.get(path)
    if key is None:
        with _db(data_dir) as con:
            (value,) = con.execute("SELECT value FROM meta WHERE key='client_key'").fetchone()
        key = _client_keys[path] = bytes.fromhex(value)
    return "ip:" + hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class ReportLimits:
    """How many reports are accepted per :data:`REPORT_WINDOW_S` (see :func:`add_report`).

    Attributes
    ----------
    client_per_hour : int
        Reports from one client (address, or session when there is no address), any station.
    station_per_hour : int
        Reports about one station, from everyone.
    same_station_per_hour : int
        Reports about one station from one client.
    """

    client_per_hour: int = 10
    station_per_hour: int = 20
    same_station_per_hour: int = 1


@dataclass(frozen=True)
class RateLimited:
    """A report refused by a limit: which one, and when to try again."""

    limit: str
    """``"client"``, ``"station"`` or ``"same_station"``."""
    retry_after_s: int
    """Seconds until the report would be accepted (at least 1)."""


def _retry_after_s(
    con: sqlite3.Connection,
    where: str,
    params: tuple[Any, ...],
    since: str,
    n: int,
    limit: int,
    now: dt.datetime,
) -> int:
    """Seconds until ``n - limit + 1`` reports of the window have left it."""
    (oldest,) = con.execute(
        f"SELECT created FROM reports WHERE {where} AND created>? ORDER BY created LIMIT 1 OFFSET ?",
        (*params, since, max(n - limit, 0)),
    ).fetchone()
    leaves = dt.datetime.fromisoformat(oldest) + dt.timedelta(seconds=REPORT_WINDOW_S)
    now_utc = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now
    return max(1, int(np.ceil((leaves - now_utc).total_seconds())))


def add_report(
    data_dir: Path,
    station_id: str,
    problem: str,
    text: str,
    *,
    client: str,
    now: dt.datetime,
    session: str = "",
    limits: ReportLimits = ReportLimits(),
) -> dict[str, Any] | RateLimited:
    """Store a report unless a rate limit refuses it; limits hold across processes.

    Parameters
    ----------
    data_dir : Path
        The data directory (the reports database is :data:`REPORTS_DB` in it).
    station_id, problem, text : str
        The report, already validated (:func:`geo.navigation.clean_report`).
    client : str
        Who reports, for the per-client limits and for "reported closed by two clients":
        e.g. ``"ip:203.0.113.7"`` (the API) or ``"session:<id>"``.
    now : datetime
        Time of the report (naive means UTC).
    session : str, optional
        Browser session id (the Streamlit page), stored beside ``client``.
    limits : ReportLimits
        Limits per :data:`REPORT_WINDOW_S`.

    Returns
    -------
    dict or RateLimited
        The stored report (``id``, ``station_id``, ``problem``, ``text``, ``created``,
        ``status``), or which limit refused it and for how long.
    """
    created = _utc_iso(now)
    since = _utc_iso(now - dt.timedelta(seconds=REPORT_WINDOW_S))
    checks = (
        ("same_station", "station_id=? AND client=?", (station_id, client), limits.same_station_per_hour),
        ("client", "client=?", (client,), limits.client_per_hour),
        ("station", "station_id=?", (station_id,), limits.station_per_hour),
    )
    with _db(data_dir) as con:
        con.execute("BEGIN IMMEDIATE")  # the write lock first: counts stay true until COMMIT
        try:
            for name, where, params, limit in checks:
                (n,) = con.execute(
                    f"SELECT COUNT(*) FROM reports WHERE {where} AND created>?",
                    (*params, since),
                ).fetchone()
                if n >= limit:
                    wait = _retry_after_s(con, where, params, since, n, limit, now)
                    con.execute("ROLLBACK")
                    return RateLimited(name, wait)
            cur = con.execute(
                "INSERT INTO reports(station_id, problem, text, session, created, client)"
                " VALUES (?,?,?,?,?,?)",
                (station_id, problem, text, session, created, client),
            )
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    return {
        "id": int(cur.lastrowid or 0),
        "station_id": station_id,
        "problem": problem,
        "text": text,
        "created": created,
        "status": "open",
    }


def insert_report(
    data_dir: Path,
    station_id: str,
    problem: str,
    text: str,
    session: str,
    now: dt.datetime,
    *,
    client: str = "",
    per_hour: int = 1,
    limits: ReportLimits | None = None,
) -> bool:
    """Store a report from a browser session (the Streamlit page) unless limited.

    One report per station and client per hour (``per_hour``), and the per-client and
    per-station limits of ``limits``. The client is ``client`` (e.g. ``"ip:<address>"``)
    when known, else the session.

    Returns
    -------
    bool
        ``True`` when stored, ``False`` when rate-limited.
    """
    base = limits or ReportLimits()
    lim = ReportLimits(base.client_per_hour, base.station_per_hour, per_hour)
    who = client or f"session:{session}"
    return not isinstance(
        add_report(data_dir, station_id, problem, text, client=who, now=now, session=session, limits=lim),
        RateLimited,
    )


def read_reports(
    data_dir: Path, status: str | None = "open", since: dt.datetime | None = None
) -> pd.DataFrame:
    """Return reports as a DataFrame, newest first.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    status : str or None, default "open"
        Only reports with this status; ``None`` for all.
    since : datetime, optional
        Only reports created after this time (naive means UTC).

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``station_id``, ``problem``, ``text``, ``created`` (ISO 8601 UTC
        text), ``status``, ``client`` (who reported, see :func:`add_report`).
    """
    if not (Path(data_dir) / REPORTS_DB).exists():
        return pd.DataFrame(columns=list(_REPORT_COLUMNS))
    with _db(data_dir) as con:
        return _select_reports(con, status, since)


def _select_reports(con: sqlite3.Connection, status: str | None, since: dt.datetime | None) -> pd.DataFrame:
    # Reports written before the client column count each session as one client.
    q = (
        "SELECT id, station_id, problem, text, created, status,"
        " CASE WHEN client='' THEN 'session:' || session ELSE client END AS client FROM reports WHERE 1=1"
    )
    params: list[Any] = []
    if status is not None:
        q += " AND status=?"
        params.append(status)
    if since is not None:
        q += " AND created>?"
        params.append(_utc_iso(since))
    return pd.read_sql_query(q + " ORDER BY created DESC, id DESC", con, params=params)


class ReportsReader:
    """A connection kept open to the reports database that notices writes cheaply.

    :meth:`changed` asks SQLite's ``PRAGMA data_version``, which changes when any other
    connection (of this or another process) commits: a few microseconds, no query. The
    database need not exist yet. Thread-safe.
    """

    def __init__(self, data_dir: Path) -> None:
        """Prepare a reader of ``data_dir``'s reports (opened on first use)."""
        self.path = (Path(data_dir) / REPORTS_DB).resolve()
        self._con: sqlite3.Connection | None = None
        self._version: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection | None:
        if self._con is None and self.path.exists():
            with _db(self.path.parent):  # the columns this reader selects exist from here on
                pass
            self._con = _connect(self.path, check_same_thread=False)
        return self._con

    def changed(self) -> bool:
        """Return whether the reports changed since the last call (``True`` on the first)."""
        with self._lock:
            con = self._open()
            version = -1 if con is None else int(con.execute("PRAGMA data_version").fetchone()[0])
            # A missing database (-1) is no change until it appears (then its version differs).
            changed = version != self._version
            self._version = version
            return changed

    def recent(self, since: dt.datetime, status: str | None = "open") -> pd.DataFrame:
        """Return the reports created after ``since`` (see :func:`read_reports`)."""
        with self._lock:
            con = self._open()
            if con is None:
                return pd.DataFrame(columns=list(_REPORT_COLUMNS))
            return _select_reports(con, status, since)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def set_report_status(data_dir: Path, report_id: int, status: str) -> None:
    """Mark a report (e.g. ``"resolved"``)."""
    with _db(data_dir) as con:
        con.execute("UPDATE reports SET status=? WHERE id=?", (status, int(report_id)))


def append_audit(data_dir: Path, user: str, action: str, detail: Mapping[str, Any]) -> None:
    """Append one line to the audit log (who did what to the data, when)."""
    with _db(data_dir) as con:
        con.execute(
            "INSERT INTO audit(created, user, action, detail) VALUES (?,?,?,?)",
            (
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                user,
                action,
                json.dumps(dict(detail), ensure_ascii=False, default=str),
            ),
        )


def read_audit(data_dir: Path) -> pd.DataFrame:
    """Return the audit log, newest first."""
    if not (Path(data_dir) / REPORTS_DB).exists():
        return pd.DataFrame(columns=["created", "user", "action", "detail"])
    with _db(data_dir) as con:
        return pd.read_sql_query("SELECT created, user, action, detail FROM audit ORDER BY id DESC", con)
