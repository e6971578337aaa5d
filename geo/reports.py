"""Live station status from couriers' reports: what a station card says about the last 48 h.

A station's status summarises its *open* reports (those a planner has not marked
resolved) of the last :data:`STATUS_WINDOW_H` hours:

* ``reports_48h`` — how many;
* ``top_problem`` — the most frequent problem (a tie goes to the most recent of them);
* ``last_at`` — when the newest was made (ISO 8601, UTC, seconds);
* ``reported_closed`` — ``True`` only when reports of problem ``closed`` came from at least
  :data:`CLOSED_MIN_CLIENTS` different clients, so one person (or one prank) cannot
  close a station on everyone's phone.

:class:`StatusBoard` keeps the summary of one data directory in memory and recomputes it
only when the reports database changed (this process at once, another within
:data:`CHANGE_CHECK_S`) or every :data:`STATUS_REFRESH_S` seconds (the window slides), so
the nearest-station answer stays a dictionary lookup.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

from geo import store

STATUS_WINDOW_H: Final = 48
"""Reports younger than this many hours make a station's status."""

CLOSED_MIN_CLIENTS: Final = 2
"""Different clients whose ``closed`` reports are needed before a station shows as reported closed."""

STATUS_REFRESH_S: Final = 30.0
"""Longest time a summary is reused although no report changed (the 48 h window moves), seconds."""

CHANGE_CHECK_S: Final = 0.5
"""How often the database is asked whether another process added a report, seconds (asking
costs ~70 µs, a tenth of a nearest-station answer; reports of this process are seen at once)."""

EMPTY_STATUS: Final[Mapping[str, Any]] = {
    "reports_48h": 0,
    "top_problem": None,
    "last_at": None,
    "reported_closed": False,
}
"""Status of a station without reports (do not modify; copy it)."""


def iso_seconds(created: str) -> str:
    """Return a stored time (microseconds) as ISO 8601 to the second, UTC."""
    t = dt.datetime.fromisoformat(created)
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.isoformat(timespec="seconds")


def station_status(reports: pd.DataFrame, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Summarise reports per station (see the module docstring).

    Parameters
    ----------
    reports : pandas.DataFrame
        Reports with ``station_id``, ``problem``, ``created`` (ISO 8601 text),
        ``status`` and ``client`` (:func:`geo.store.read_reports`); resolved ones and
        those outside the window are ignored here.
    now : datetime
        End of the window (naive means UTC).

    Returns
    -------
    dict
        ``{station_id: {"reports_48h", "top_problem", "last_at", "reported_closed"}}``
        for stations with at least one report in the window.
    """
    if reports.empty:
        return {}
    now_utc = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    created = pd.to_datetime(reports["created"], utc=True, format="ISO8601")
    keep = created > now_utc - dt.timedelta(hours=STATUS_WINDOW_H)
    if "status" in reports.columns:
        keep &= reports["status"] == "open"
    r = reports.loc[keep, ["station_id", "problem", "created", "client"]].assign(t=created[keep])
    if r.empty:
        return {}
    r["station_id"] = r["station_id"].astype(str)
    per_station = r.groupby("station_id", sort=False).agg(n=("t", "size"), last=("t", "max"))
    newest = r.loc[r.groupby("station_id", sort=False)["t"].idxmax(), ["station_id", "created"]]
    last_text = newest.set_index("station_id")["created"]
    # Most frequent problem per station; ties to the problem reported most recently.
    by_problem = (
        r.groupby(["station_id", "problem"], sort=False)
        .agg(n=("t", "size"), last=("t", "max"))
        .reset_index()
        .sort_values(["station_id", "n", "last"], ascending=[True, False, False], kind="stable")
    )
    top = by_problem.drop_duplicates("station_id").set_index("station_id")["problem"]
    closers = r[r["problem"] == "closed"].groupby("station_id")["client"].nunique()
    out: dict[str, dict[str, Any]] = {}
    for sid, n in per_station["n"].items():
        out[str(sid)] = {
            "reports_48h": int(n),
            "top_problem": str(top[sid]),
            "last_at": iso_seconds(str(last_text[sid])),
            "reported_closed": bool(closers.get(sid, 0) >= CLOSED_MIN_CLIENTS),
        }
    return out


class StatusBoard:
    """The station statuses of one data directory, kept current cheaply (thread-safe).

    Parameters
    ----------
    data_dir : Path
        The data directory whose reports database is summarised.
    clock : callable, optional
        Returns the current UTC time (tests move it).
    """

    def __init__(self, data_dir: Path, clock: Callable[[], dt.datetime] | None = None) -> None:
        """Prepare a board; nothing is read until the first :meth:`statuses` call."""
        self.data_dir = Path(data_dir)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._reader = store.ReportsReader(self.data_dir)
        self._statuses: dict[str, dict[str, Any]] = {}
        self._computed: dt.datetime | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Return ``{station_id: status}`` of stations with reports (recomputed when needed)."""
        with self._lock:
            tick = time.monotonic()
            changed = False
            if tick - self._checked > CHANGE_CHECK_S:
                changed, self._checked = self._reader.changed(), tick
            now = self._clock()
            stale = self._computed is None or abs((now - self._computed).total_seconds()) > STATUS_REFRESH_S
            if changed or stale:
                recent = self._reader.recent(now - dt.timedelta(hours=STATUS_WINDOW_H))
                self._statuses = station_status(recent, now)
                self._computed = now
            return self._statuses

    def invalidate(self) -> None:
        """Recompute on the next call (this process just stored a report)."""
        with self._lock:
            self._computed = None

    def status_of(self, station_id: str) -> dict[str, Any]:
        """Return one station's status (:data:`EMPTY_STATUS` values when it has no reports)."""
        return dict(self.statuses().get(str(station_id), EMPTY_STATUS))

    def close(self) -> None:
        """Close the database connection."""
        self._reader.close()
