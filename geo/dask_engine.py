"""The Dask engine: the heavy aggregations of :mod:`geo.campaign` and :mod:`geo.coverage` on a cluster.

DuckDB (embedded, one machine) is the default engine. When a national multi-year check-in
log outgrows one machine, the same analyses run on a Dask cluster with no new code:
set ``GEO_ENGINE=dask`` (and ``GEO_DASK_SCHEDULER=tcp://HOST:8786`` for a real cluster),
pass ``engine="dask"``, or ``--engine dask [--scheduler tcp://HOST:PORT]`` on the CLI.

Every public aggregation here has the *same signature and returns the same frame* as its
DuckDB twin (tested for equality on the same data):

======================================  ==============================================
:func:`campaign_by`                      :func:`geo.campaign.campaign_by`
:func:`checkins_by`                      :func:`geo.campaign.checkins_by`
:func:`stations_per_cell`                :func:`geo.campaign.stations_per_cell`
:func:`targets_by_province`              :func:`geo.campaign.targets_by_province`
:func:`nearest_distance_m`               :func:`geo.coverage.nearest_distance_m`
:func:`gap_cells`                        :func:`geo.coverage.gap_cells`
======================================  ==============================================

Everything else (totals, year-on-year, completion, publication with k-anonymity
suppression, coverage summaries, region statistics) is built on these and stays
engine-independent: suppression is applied after aggregation, on the driver.

How the work is split (why memory stays flat as the log grows):

- Parquet partitions (files of a hive-partitioned table, row groups of a single file) are
  read on the workers; each yields a small *partial* (sums per group, and which stations
  logged on which day as packed bit sets); partials are merged in a tree (8 at a time), so
  no process ever holds more than a partition and a few partials. Group counts of
  distinct stations and days are exact (bit sets merge by OR), not estimates.
- The stations table (small) and the station index (picklable) are broadcast to every
  worker once per call.

Dask is an optional extra (``pip install '.[dask]'``): it is imported only when the Dask
engine is used, so the app and the CLI run without it.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo import campaign as _cp
from geo import coverage as _cov
from geo import hexes, store
from geo.errors import InputError
from geo.settings import load_settings

ENGINES: Final = ("duckdb", "dask")
"""Engines the heavy analyses can run on."""

INSTALL_HINT: Final = (
    "the Dask engine needs the optional packages dask and distributed: "
    "install them with `pip install '.[dask]'` (or `pip install dask distributed`), "
    "or use the default engine (--engine duckdb / GEO_ENGINE=duckdb)"
)

SPLIT_EVERY: Final = 8
"""Partials merged per task in the reduction tree."""

ROWS_PER_TASK: Final = 100_000
"""Workplaces per nearest-station task."""

_ENGINE: contextvars.ContextVar[str | None] = contextvars.ContextVar("geo_engine", default=None)
_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar("geo_scheduler", default=None)
_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()
_EPOCH: Final = np.datetime64("1970-01-01", "D")


# ---------------------------------------------------------------- engine choice and client


def resolve_engine(engine: str | None = None) -> str:
    """Return the engine to use: ``engine`` if given, else :func:`using`'s, else the settings'.

    Raises
    ------
    InputError
        For an unknown engine name.
    """
    name = engine or _ENGINE.get() or load_settings().engine
    if name not in ENGINES:
        raise InputError(
            f"engine {name!r} is unknown: use one of {', '.join(ENGINES)} (--engine / GEO_ENGINE)"
        )
    return name


def resolve_scheduler(scheduler: str | None = None) -> str:
    """Return the scheduler address to use (empty: a local cluster)."""
    if scheduler is not None:
        return scheduler
    s = _SCHEDULER.get()
    return s if s is not None else load_settings().dask_scheduler


@contextlib.contextmanager
def using(engine: str | None = None, scheduler: str | None = None) -> Iterator[str]:
    """Run the enclosed analyses on ``engine`` (and Dask ``scheduler``), e.g. for one CLI command.

    ``None`` keeps the current choice (settings by default). Functions called with an
    explicit ``engine=`` still use that.

    Yields
    ------
    str
        The engine in effect.
    """
    name = resolve_engine(engine)
    t1 = _ENGINE.set(name)
    t2 = _SCHEDULER.set(scheduler if scheduler is not None else _SCHEDULER.get())
    try:
        yield name
    finally:
        _SCHEDULER.reset(t2)
        _ENGINE.reset(t1)


def _require_dask() -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise InputError(INSTALL_HINT) from exc


def client(scheduler: str = "") -> Any:  # noqa: ANN401 - distributed.Client (optional dependency)
    """Return a Dask client: to ``scheduler``, or to a local cluster of 2 worker processes.

    Parameters
    ----------
    scheduler : str
        Address such as ``tcp://10.0.0.5:8786``; empty for a cached
        ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (its HTTP server on a free
        port, so several can run).
        Clients are cached per address and closed when the program exits.

    Raises
    ------
    InputError
        When dask/distributed are not installed, or the scheduler cannot be reached.
    """
    _require_dask()
    from distributed import Client, LocalCluster

    with _LOCK:
        c = _CLIENTS.get(scheduler)
        if c is not None and c.status not in ("closed", "closing"):
            return c
        try:
            if scheduler:
                c = Client(scheduler, timeout="20s", set_as_default=False)
            else:
                cluster = LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                c = Client(cluster, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler {scheduler!r}: {exc}; start one with "
                "`dask scheduler` and `dask worker tcp://HOST:8786`, or leave --scheduler empty "
                "for a local cluster"
            ) from exc
        _CLIENTS[scheduler] = c
        return c


@atexit.register
def close_clients() -> None:
    """Close every cached client (and the local cluster it started)."""
    with _LOCK:
        for c in list(_CLIENTS.values()):
            cluster = getattr(c, "cluster", None)
            with contextlib.suppress(Exception):
                c.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()
        _CLIENTS.clear()


def _client() -> Any:  # noqa: ANN401 - distributed.Client
    return client(resolve_scheduler())


# ---------------------------------------------------------------- reading and reducing


def _read(path: Path | str, columns: list[str]) -> Any:  # noqa: ANN401 - dask DataFrame
    """Open a table file or partitioned directory as a lazy Dask frame of ``columns``."""
    _require_dask()
    import dask.dataframe as dd

    # One partition per row group: the partitioned writer appends a week per row group, so a
    # worker's share stays about the same however many months the log holds.
    return dd.read_parquet(store.dataset_root(path), columns=columns, split_row_groups=True)


def _tree_reduce(
    ddf: Any,  # noqa: ANN401 - dask DataFrame
    partial: Callable[..., Any],
    combine: Callable[[list[Any]], Any],
    *args: Any,  # noqa: ANN401 - broadcast arguments (futures) for ``partial``
) -> Any:  # noqa: ANN401 - the merged partial
    """Apply ``partial(part, *args)`` to every partition, merge ``SPLIT_EVERY`` at a time, compute."""
    import dask

    c = _client()
    # hash=False: a fresh key per call. Equal objects scattered by consecutive calls would
    # otherwise share one key, which the release of the previous call's future can delete.
    scattered = [c.scatter(a, broadcast=True, hash=False) if _big(a) else a for a in args]
    level = [dask.delayed(partial)(p, *scattered) for p in ddf.to_delayed()]
    while len(level) > 1:
        level = [dask.delayed(combine)(level[i : i + SPLIT_EVERY]) for i in range(0, len(level), SPLIT_EVERY)]
    return c.compute(level[0]).result()


def _big(obj: object) -> bool:
    return isinstance(obj, _Lookup | pd.DataFrame)


def _as_days(col: pd.Series) -> NDArray[np.int64]:
    """Dates (date32, datetime64 or ``datetime.date`` objects) as days since 1970-01-01."""
    if len(col) == 0:
        return np.empty(0, dtype=np.int64)
    values = pd.to_datetime(col).to_numpy(dtype="datetime64[D]")
    return (values - _EPOCH).astype(np.int64)


def _days_to_datetime(days: NDArray[np.int64]) -> NDArray[np.datetime64]:
    return (_EPOCH + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[us]")


def _parent_cells(h3_9: pd.Series, res: int) -> NDArray[np.object_]:
    """Parents at ``res`` of res-9 cell strings, as lower-case hex strings (DuckDB's rule)."""
    if len(h3_9) == 0:
        return np.empty(0, dtype=object)
    return hexes.int_to_h3(hexes.cells_to_parent_int(hexes.h3_to_int(h3_9.astype(str)), res))


def _region_mask(df: pd.DataFrame, region: str | None) -> NDArray[np.bool_]:
    if not region:
        return np.ones(len(df), dtype=bool)
    hit = np.zeros(len(df), dtype=bool)
    for col in ("province_adcode", "city_adcode", "adcode"):
        hit |= (df[col].astype("string") == region).to_numpy(dtype=bool, na_value=False)
    return hit


# ---------------------------------------------------------------- campaign


_REGION_KEYS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    b: tuple((col, alias) for col, alias in _cp._CAMPAIGN_KEYS[b]) for b in ("province", "city", "county")
}


def _campaign_key_columns(by: Sequence[str]) -> list[tuple[str, str]]:
    """Source column (or ``"@hex"``) and output alias of every key column, in output order."""
    out: list[tuple[str, str]] = []
    for b in by:
        if b in _REGION_KEYS:
            out += list(_REGION_KEYS[b])
        elif b == "hex":
            out.append(("@hex", "h3"))
        else:
            out.append((b if b != "day" else "date", b if b != "day" else "date"))
    return out


def _campaign_partial(
    part: pd.DataFrame, keys: list[tuple[str, str]], f: _cp.Filters, res: int
) -> pd.DataFrame:
    sel = np.array(part["year"].astype("int64") == f.year, dtype=bool)
    if f.date_from is not None or f.date_to is not None:
        d = _as_days(part["date"])
        if f.date_from is not None:
            sel &= d >= (np.datetime64(f.date_from, "D") - _EPOCH).astype(np.int64)
        if f.date_to is not None:
            sel &= d <= (np.datetime64(f.date_to, "D") - _EPOCH).astype(np.int64)
    if f.categories:
        sel &= part["category"].isin(list(f.categories)).to_numpy(dtype=bool)
    sel &= _region_mask(part, f.region)
    p = part.loc[sel]
    frame = pd.DataFrame(index=pd.RangeIndex(len(p)))
    for col, alias in keys:
        if col == "@hex":
            frame[alias] = _parent_cells(p["h3_9"], res)
        elif col == "date":
            frame[alias] = _as_days(p["date"])
        else:
            frame[alias] = p[col].astype(object).to_numpy()
    frame["people"] = p["people"].to_numpy(dtype=np.float64, na_value=np.nan)
    frame["events"] = np.ones(len(p), dtype=np.int64)
    frame["funds_yuan"] = p["funds_yuan"].to_numpy(dtype=np.float64, na_value=np.nan)
    aliases = [a for _, a in keys]
    if not aliases:
        return pd.DataFrame(
            {
                "people": [frame["people"].sum(min_count=1)],
                "events": [len(frame)],
                "funds_yuan": [frame["funds_yuan"].sum(min_count=1)],
            }
        )
    return frame.groupby(aliases, dropna=False, sort=False).sum(min_count=1)


def _sum_min1(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Merge partial sums; a group whose values are all missing stays missing (as SQL SUM)."""
    whole = pd.concat(frames)
    if whole.index.nlevels == 1 and whole.index.name is None:  # the no-key total
        return whole.sum(min_count=1).to_frame().T
    return whole.groupby(level=list(range(whole.index.nlevels)), dropna=False, sort=False).sum(min_count=1)


def campaign_by(
    data: _cp.DataSource,
    by: str | Sequence[str],
    filters: _cp.Filters | None = None,
    *,
    res: int = 7,
) -> pd.DataFrame:
    """Sum people, events and funds by groupings, on Dask (see :func:`geo.campaign.campaign_by`).

    Returns
    -------
    pandas.DataFrame
        The same frame as :func:`geo.campaign.campaign_by` (key columns, then ``people``,
        ``events`` int64 and ``funds_yuan`` float64 yuan), sorted by the keys.
    """
    keys = [by] if isinstance(by, str) else list(by)
    for b in keys:
        if b not in _cp.BY_CHOICES:
            raise InputError(f"cannot group by {b!r}: use one of {', '.join(_cp.BY_CHOICES)}")
    if sum(b in ("province", "city", "county") for b in keys) > 1 or len(set(keys)) < len(keys):
        raise InputError(f"group by {keys}: use each grouping once and at most one region level")
    f = (filters or _cp.Filters()).checked()
    r = _cp._check_res(res) if "hex" in keys else 9
    cols = _campaign_key_columns(keys)
    needed = {"year", "date", "category", "people", "funds_yuan", "province_adcode", "city_adcode", "adcode"}
    needed |= {c for c, _ in cols if not c.startswith("@")}
    if "hex" in keys:
        needed.add("h3_9")
    ddf = _read(_cp._src(data).campaign, sorted(needed))
    merged = _tree_reduce(ddf, _campaign_partial, _sum_min1, cols, f, r)
    aliases = [a for _, a in cols]
    if aliases:
        out = merged.reset_index()
        out.columns = [*aliases, "people", "events", "funds_yuan"]
    else:
        out = merged.reset_index(drop=True)
    out = out.astype({"people": "float64", "events": "float64", "funds_yuan": "float64"})
    for col in ("people", "events"):
        out[col] = out[col].fillna(0).astype("int64")
    out["funds_yuan"] = out["funds_yuan"].fillna(0.0).astype("float64")
    if "date" in aliases:
        out["date"] = _days_to_datetime(out["date"].to_numpy(dtype=np.int64))
    for a in aliases:
        if a != "date":
            out[a] = out[a].astype("str").where(out[a].notna())
    if aliases:
        out = out.sort_values(aliases, na_position="last", kind="stable").reset_index(drop=True)
    return out


def targets_by_province(data: _cp.DataSource, filters: _cp.Filters | None = None) -> pd.DataFrame:
    """Targets per province, on Dask (see :func:`geo.campaign.targets_by_province`)."""
    f = (filters or _cp.Filters()).checked()
    ddf = _read(_cp._src(data).targets, ["year", "province_adcode", "province", "category", "target_people"])
    merged = _tree_reduce(ddf, _targets_partial, _sum_min1, f)
    out = merged.reset_index()
    out.columns = ["adcode", "name", "target_people"]
    out["target_people"] = out["target_people"].astype("int64")
    for c in ("adcode", "name"):
        out[c] = out[c].astype("str")
    return out.sort_values(["adcode", "name"], kind="stable").reset_index(drop=True)


def _targets_partial(part: pd.DataFrame, f: _cp.Filters) -> pd.DataFrame:
    sel = np.array(part["year"].astype("int64") == f.year, dtype=bool)
    if f.categories:
        sel &= part["category"].isin(list(f.categories)).to_numpy(dtype=bool)
    if f.region:
        sel &= (part["province_adcode"].astype("string") == f.region[:2] + "0000").to_numpy(
            dtype=bool, na_value=False
        )
    p = part.loc[sel]
    return (
        pd.DataFrame(
            {
                "adcode": p["province_adcode"].astype(object).to_numpy(),
                "name": p["province"].astype(object).to_numpy(),
                "target_people": p["target_people"].to_numpy(dtype=np.float64),
            }
        )
        .groupby(["adcode", "name"], dropna=False, sort=False)
        .sum(min_count=1)
    )


# ---------------------------------------------------------------- check-ins


@dataclass(frozen=True)
class _Lookup:
    """The stations table reduced to what a partition needs (broadcast to every worker).

    ``group`` is the output group of each station (-1: outside the region filter).
    """

    ids: pd.Index
    group: NDArray[np.int64]
    n_groups: int
    day_from: int | None
    day_to: int | None


@dataclass
class _Partial:
    """Check-in sums of some partitions: visits per group (and day), stations present per day."""

    visits: Any  # dense int64 array per group; when by_day, (sorted keys group << 32 | day, sums)
    present: dict[int, NDArray[np.uint8]]  # day -> packed bits over stations


def _checkin_partial(part: pd.DataFrame, lk: _Lookup, by_day: bool) -> _Partial:
    st = lk.ids.get_indexer(part["station_id"].astype(object).to_numpy())
    day = _as_days(part["date"])
    keep = st >= 0
    if lk.day_from is not None:
        keep &= day >= lk.day_from
    if lk.day_to is not None:
        keep &= day <= lk.day_to
    g = np.where(keep, lk.group[np.maximum(st, 0)], -1)
    keep &= g >= 0
    st, day, g = st[keep], day[keep], g[keep]
    v = part["visits"].to_numpy(dtype=np.int64, na_value=0)[keep]
    if by_day:
        visits: Any = _sum_by_key((g.astype(np.int64) << 32) | day, v)
    else:
        visits = np.bincount(g, weights=v, minlength=lk.n_groups).astype(np.int64)
    present: dict[int, NDArray[np.uint8]] = {}
    if len(day):
        order = np.argsort(day, kind="stable")
        uniq, start = np.unique(day[order], return_index=True)
        for d, a, b in zip(uniq, start, np.r_[start[1:], len(order)], strict=True):
            bits = np.zeros(len(lk.ids), dtype=bool)
            bits[st[order[a:b]]] = True
            present[int(d)] = np.packbits(bits)
    return _Partial(visits, present)


def _sum_by_key(
    keys: NDArray[np.int64], values: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Sum ``values`` per distinct key: two flat arrays (a MultiIndex Series costs several times more)."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse.reshape(-1), weights=values, minlength=len(uniq))
    return uniq, np.rint(sums).astype(np.int64)


def _checkin_combine(parts: list[_Partial]) -> _Partial:
    if isinstance(parts[0].visits, tuple):
        visits: Any = _sum_by_key(
            np.concatenate([p.visits[0] for p in parts]), np.concatenate([p.visits[1] for p in parts])
        )
    else:
        visits = np.sum([p.visits for p in parts], axis=0)
    present: dict[int, NDArray[np.uint8]] = {}
    for p in parts:
        for d, bits in p.present.items():
            present[d] = bits | present[d] if d in present else bits
    return _Partial(visits, present)


def checkins_by(
    data: _cp.DataSource,
    key: str = "cell",
    *,
    res: int = 7,
    by_day: bool = False,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    region: str | None = None,
) -> pd.DataFrame:
    """Station visits per station or H3 cell (optionally per day), on Dask.

    Same parameters and the same frame as :func:`geo.campaign.checkins_by`: key columns
    (``h3`` or ``station_id, h3_9``; ``date`` when ``by_day``), ``visits``, ``stations``
    (stations with a log row), ``days`` (days in the log), ``visits_per_station_day``.
    Check-in rows of stations missing from the stations table are left out (an inner join).
    """
    if key not in ("cell", "station"):
        raise InputError(f"check-ins key {key!r} is unknown: use 'cell' or 'station'")
    d_from, d_to = _cp._as_date(date_from, "date_from"), _cp._as_date(date_to, "date_to")
    reg = _cp.Filters(region=region).checked().region
    r = _cp._check_res(res)
    src = _cp._src(data)
    stations = pd.read_parquet(
        store.dataset_root(src.stations),
        columns=["station_id", "h3_9", "province_adcode", "city_adcode", "adcode"],
    )
    inside = _region_mask(stations, reg)
    if key == "cell":
        cells = _parent_cells(stations["h3_9"], r)
        codes, labels = pd.factorize(pd.Series(cells, dtype=object), sort=True)
        label_frame = pd.DataFrame({"h3": np.asarray(labels, dtype=object)})
        group = np.asarray(codes, dtype=np.int64)
    else:
        group = np.arange(len(stations), dtype=np.int64)
        label_frame = pd.DataFrame(
            {
                "station_id": stations["station_id"].astype(object).to_numpy(),
                "h3_9": stations["h3_9"].astype(object).to_numpy(),
            }
        )
    group = np.where(inside, group, -1)
    n_groups = len(label_frame)

    def day_of(d: dt.date | None) -> int | None:
        return None if d is None else int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))

    lk = _Lookup(
        pd.Index(stations["station_id"].astype(object).to_numpy()),
        group,
        n_groups,
        day_of(d_from),
        day_of(d_to),
    )
    ddf = _read(src.checkins, ["station_id", "date", "visits"])
    merged: _Partial = _tree_reduce(ddf, _checkin_partial, _checkin_combine, lk, by_day)
    return _checkin_frame(merged, lk, label_frame, by_day)


def _checkin_frame(merged: _Partial, lk: _Lookup, labels: pd.DataFrame, by_day: bool) -> pd.DataFrame:
    """Turn merged partials into the :func:`geo.campaign.checkins_by` frame."""
    n_st = len(lk.ids)
    valid = lk.group >= 0
    days_sorted = sorted(merged.present)
    if by_day:
        keys, sums = merged.visits
        g, d = keys >> 32, keys & 0xFFFFFFFF
        stations = np.zeros(len(g), dtype=np.int64)
        for day in days_sorted:
            rows = np.flatnonzero(d == day)
            if not len(rows):
                continue
            bits = np.unpackbits(merged.present[day], count=n_st).astype(bool) & valid
            stations[rows] = np.bincount(lk.group[bits], minlength=lk.n_groups)[g[rows]]
        out = labels.iloc[g].reset_index(drop=True)
        out["date"] = _days_to_datetime(d)
        out["visits"] = sums
        out["stations"] = stations
        out["days"] = np.ones(len(g), dtype=np.int64)
    else:
        any_bits = np.zeros(n_st, dtype=bool)
        day_count = np.zeros(lk.n_groups, dtype=np.int64)
        for day in days_sorted:
            bits = np.unpackbits(merged.present[day], count=n_st).astype(bool) & valid
            any_bits |= bits
            day_count[np.unique(lk.group[bits])] += 1
        st_count = np.bincount(lk.group[any_bits], minlength=lk.n_groups).astype(np.int64)
        g = np.flatnonzero(st_count > 0)
        out = labels.iloc[g].reset_index(drop=True)
        out["visits"] = np.asarray(merged.visits, dtype=np.int64)[g] if len(g) else np.empty(0, np.int64)
        out["stations"] = st_count[g]
        out["days"] = day_count[g]
    for c in labels.columns:
        out[c] = out[c].astype("str")
    keys = [*labels.columns, *(["date"] if by_day else [])]
    out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    out["visits_per_station_day"] = out["visits"] / (out["stations"] * out["days"]).where(lambda x: x > 0)
    return out


def _cells_partial(part: pd.DataFrame, res: int) -> pd.DataFrame:
    cells = _parent_cells(part["h3_9"], res)
    return pd.DataFrame({"h3": cells, "stations": np.ones(len(cells), dtype=np.int64)}).groupby("h3").sum()


def stations_per_cell(data: _cp.DataSource, res: int = 7) -> pd.DataFrame:
    """Return ``h3, stations`` per H3 cell at ``res``, on Dask.

    Same frame as :func:`geo.campaign.stations_per_cell`, sorted by ``h3`` (DuckDB leaves
    the row order open).
    """
    r = _cp._check_res(res)
    ddf = _read(_cp._src(data).stations, ["h3_9"])
    merged = _tree_reduce(ddf, _cells_partial, _sum_min1, r)
    out = merged.reset_index()
    out.columns = ["h3", "stations"]
    out["h3"] = out["h3"].astype("str")
    out["stations"] = out["stations"].astype("int64")
    return out.sort_values("h3", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- coverage


def _nearest_chunk(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    index: Any,  # noqa: ANN401 - geo.nearest.StationIndex
    filters: dict[str, Any],
) -> NDArray[np.float64]:
    dist, _ = index.query_batch(lat, lng, k=1, **filters)
    return np.asarray(dist[:, 0], dtype=np.float64)


def _row_chunks(n: int, workers: int) -> list[slice]:
    pieces = max(2 * max(workers, 1), -(-n // ROWS_PER_TASK))
    edges = np.linspace(0, n, min(pieces, max(n, 1)) + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def nearest_distance_m(
    workplaces: pd.DataFrame,
    index: Any,  # noqa: ANN401 - geo.nearest.StationIndex
    *,
    amenities: str | Iterable[str] | None = (),
    kinds: str | Iterable[str] | None = (),
    open_at_min: int | None = None,
    exclude_ids: str | Iterable[str] | None = (),
    radius_m: float | None = None,
) -> NDArray[np.float64]:
    """Distance from each workplace to its nearest qualifying station, on Dask.

    The workplaces are cut into chunks of :data:`ROWS_PER_TASK`; the station index is
    broadcast to every worker once. Same result as :func:`geo.coverage.nearest_distance_m`:
    ``float64`` metres, shape ``(len(workplaces),)``, ``inf`` where none qualifies.
    """
    _cov._check_columns(workplaces, ("lat", "lng"), "workplaces")
    lat = workplaces["lat"].to_numpy(dtype=np.float64)
    lng = workplaces["lng"].to_numpy(dtype=np.float64)
    if len(lat) == 0:
        return np.empty(0, dtype=np.float64)
    c = _client()
    filters = {
        "radius_m": radius_m,
        "amenities": amenities,
        "kinds": kinds,
        "open_at_min": open_at_min,
        "exclude_ids": exclude_ids,
    }
    idx = c.scatter(index, broadcast=True, hash=False)  # fresh key per call (see _tree_reduce)
    chunks = _row_chunks(len(lat), len(c.scheduler_info().get("workers", {})))
    futures = [c.submit(_nearest_chunk, lat[s], lng[s], idx, filters, pure=False) for s in chunks]
    return np.concatenate(c.gather(futures))


def _gap_partial(
    h3_9: pd.Series, workers: NDArray[np.int64], unc: NDArray[np.bool_], rows: NDArray[np.int64], res: int
) -> pd.DataFrame:
    cells = hexes.cells_to_parent_int(hexes.h3_to_int(h3_9), res)
    frame = pd.DataFrame(
        {
            "cell": cells,
            "workers_uncovered": np.where(unc, workers, 0),
            "workplaces_uncovered": unc.astype(np.int64),
            "workers": workers,
            "first": np.where(unc, rows, np.iinfo(np.int64).max),
        }
    )
    return frame.groupby("cell").agg(
        workers_uncovered=("workers_uncovered", "sum"),
        workplaces_uncovered=("workplaces_uncovered", "sum"),
        workers=("workers", "sum"),
        first=("first", "min"),
    )


def gap_cells(
    workplaces: pd.DataFrame,
    covered: Any,  # noqa: ANN401 - array_like of bool
    res: int,
    *,
    top: int | None = None,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> pd.DataFrame:
    """H3 cells ranked by uncovered workers, on Dask (see :func:`geo.coverage.gap_cells`).

    Workplace chunks are summed per cell on the workers; the ranking, cell centres and
    region names are added on the driver. Same frame as the embedded version.
    """
    if not 0 <= int(res) <= 9:
        raise InputError(f"res={res!r}: gap cells are res 0–9 parents of the stored res-9 cells")
    _cov._check_columns(workplaces, ("h3_9", "workers"), "workplaces")
    cov = _cov._aligned(covered, len(workplaces), "covered", bool)
    assert cov is not None
    sel = _cov.occupation_mask(workplaces, occupations)
    if parent:
        sel &= _cov._inside(workplaces, parent)
    rows = np.flatnonzero(sel)
    w = workplaces["workers"].to_numpy(dtype=np.int64)[rows]
    unc = ~cov[rows]
    h3_9 = workplaces["h3_9"].iloc[rows].reset_index(drop=True)
    if len(rows):
        c = _client()
        chunks = _row_chunks(len(rows), len(c.scheduler_info().get("workers", {})))
        futures = [
            c.submit(_gap_partial, h3_9.iloc[s], w[s], unc[s], rows[s], int(res), pure=False) for s in chunks
        ]
        parts = c.gather(futures)
        agg = (
            pd.concat(parts)
            .groupby(level=0)
            .agg(
                {"workers_uncovered": "sum", "workplaces_uncovered": "sum", "workers": "sum", "first": "min"}
            )
        )
        agg = agg[agg["workplaces_uncovered"] > 0]
    else:
        agg = pd.DataFrame(columns=["workers_uncovered", "workplaces_uncovered", "workers", "first"])
    uniq = agg.index.to_numpy(dtype=np.uint64)
    workers_unc = agg["workers_uncovered"].to_numpy(dtype=np.int64)
    order = np.lexsort((uniq, -workers_unc))
    if top is not None:
        order = order[: max(int(top), 0)]
    first_row = agg["first"].to_numpy(dtype=np.int64)[order]
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1, dtype=np.int64),
            "h3": hexes.int_to_h3(uniq[order]),
            "workers_uncovered": workers_unc[order],
            "workplaces_uncovered": agg["workplaces_uncovered"].to_numpy(dtype=np.int64)[order],
            "workers": agg["workers"].to_numpy(dtype=np.int64)[order],
        }
    )
    lat, lng = (
        _cov.hexes.cells_to_latlng(out["h3"].to_numpy(dtype=object))
        if len(out)
        else (np.empty(0), np.empty(0))
    )
    out["lat"], out["lng"] = lat, lng
    for col in ("adcode", "county", "city", "province"):
        if col in workplaces.columns:
            out[col] = workplaces[col].iloc[first_row].to_numpy(dtype=object)
    return out


# ---------------------------------------------------------------- accessibility (2SFCA / E2SFCA)


def two_step_fca_arrays(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    workers: NDArray[np.float64],
    station_lat: NDArray[np.float64],
    station_lng: NDArray[np.float64],
    seats: NDArray[np.float64],
    radius_m: float,
    *,
    method: str = "2sfca",
    sigma_m: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Both steps of :func:`geo.access.two_step_fca` as partial aggregates on Dask.

    Step 1: every chunk of workplaces (:data:`ROWS_PER_TASK`) sums its workers into the
    stations in reach (:func:`geo.access.station_demand_partial`, its own tree query
    against the broadcast station arrays); the driver adds the chunks' vectors. Step 2:
    the ratios (:func:`geo.access.station_ratio`) are broadcast and each chunk computes its
    workplaces' accessibility (:func:`geo.access.accessibility_partial`).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Weighted workers in reach per station, shape ``(m,)``, and accessibility (seats per
        worker) per workplace, shape ``(n,)`` — the local results up to summation order.
    """
    from geo import access

    n, m = len(lat), len(station_lat)
    if n == 0 or m == 0:
        return np.zeros(m), np.zeros(n)
    c = _client()
    kw = {"method": method, "sigma_m": sigma_m}
    s_lat = c.scatter(np.asarray(station_lat, dtype=np.float64), broadcast=True, hash=False)
    s_lng = c.scatter(np.asarray(station_lng, dtype=np.float64), broadcast=True, hash=False)
    chunks = _row_chunks(n, len(c.scheduler_info().get("workers", {})))
    parts = [
        c.submit(
            access.station_demand_partial,
            lat[s],
            lng[s],
            workers[s],
            s_lat,
            s_lng,
            radius_m,
            **kw,
            pure=False,
        )
        for s in chunks
    ]
    demand = np.sum(np.stack(c.gather(parts)), axis=0)
    ratio = c.scatter(access.station_ratio(seats, demand), broadcast=True, hash=False)
    acc = [
        c.submit(
            access.accessibility_partial, lat[s], lng[s], s_lat, s_lng, ratio, radius_m, **kw, pure=False
        )
        for s in chunks
    ]
    return demand, np.concatenate(c.gather(acc))
