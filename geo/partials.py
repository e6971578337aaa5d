"""Partial aggregates of the campaign, check-in and coverage analyses, for engines that split the work.

An engine (:mod:`geo.engines`) maps a function over the partitions of a stored table, or
over chunks of rows, and merges the results; this module holds those functions and the
step that turns the merged partial into the analysis' frame. The analyses
(:mod:`geo.campaign`, :mod:`geo.coverage`) call them when the engine is not embedded
(:attr:`geo.engines.Engine.embedded`), and give the same frame as their DuckDB/Arrow path.

Each partial is small: sums per group, which stations logged on which day as packed bit
sets (so distinct counts merge exactly, by OR), uncovered workers per H3 cell.
Inputs arrive validated (a checked :class:`geo.query.Filters`, a checked resolution).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo import hexes, store, validate
from geo.engines import Broadcast, Engine, row_chunks
from geo.nearest import StationIndex
from geo.query import REGION_GROUP_COLUMNS, Filters

_EPOCH: Final = np.datetime64("1970-01-01", "D")


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
    return hexes.int_to_str(hexes.cells_to_parent_int(hexes.str_to_int(h3_9.astype(str)), res))


# ---------------------------------------------------------------- campaign


def _campaign_key_columns(by: Sequence[str]) -> list[tuple[str, str]]:
    """Source column (or ``"@hex"``) and output alias of every key column, in output order."""
    out: list[tuple[str, str]] = []
    for b in by:
        if b in REGION_GROUP_COLUMNS:
            out += list(REGION_GROUP_COLUMNS[b])
        elif b == "hex":
            out.append(("@hex", "h3"))
        else:
            out.append((b if b != "day" else "date", b if b != "day" else "date"))
    return out


def _campaign_partial(part: pd.DataFrame, keys: list[tuple[str, str]], f: Filters, res: int) -> pd.DataFrame:
    sel = np.array(part["year"].astype("int64") == f.year, dtype=bool)
    if f.date_from is not None or f.date_to is not None:
        d = _as_days(part["date"])
        if f.date_from is not None:
            sel &= d >= (np.datetime64(f.date_from, "D") - _EPOCH).astype(np.int64)
        if f.date_to is not None:
            sel &= d <= (np.datetime64(f.date_to, "D") - _EPOCH).astype(np.int64)
    if f.categories:
        sel &= part["category"].isin(list(f.categories)).to_numpy(dtype=bool)
    sel &= validate.region_mask(part, f.region)
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


def campaign_by(engine: Engine, path: Path | str, keys: Sequence[str], f: Filters, res: int) -> pd.DataFrame:
    """:func:`geo.campaign.campaign_by` as partial sums on ``engine`` (the campaign table at ``path``).

    ``keys`` are validated groupings, ``f`` checked filters, ``res`` a checked resolution
    (9 when ``"hex"`` is not among the keys).
    """
    cols = _campaign_key_columns(keys)
    needed = {"year", "date", "category", "people", "funds_yuan", "province_adcode", "city_adcode", "adcode"}
    needed |= {c for c, _ in cols if not c.startswith("@")}
    if "hex" in keys:
        needed.add("h3_9")
    merged = engine.reduce_table(path, sorted(needed), _campaign_partial, _sum_min1, cols, f, res)
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


def _targets_partial(part: pd.DataFrame, f: Filters) -> pd.DataFrame:
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


def targets_by_province(engine: Engine, path: Path | str, f: Filters) -> pd.DataFrame:
    """:func:`geo.campaign.targets_by_province` as partial sums on ``engine`` (targets table at ``path``)."""
    cols = ["year", "province_adcode", "province", "category", "target_people"]
    merged = engine.reduce_table(path, cols, _targets_partial, _sum_min1, f)
    out = merged.reset_index()
    out.columns = ["adcode", "name", "target_people"]
    out["target_people"] = out["target_people"].astype("int64")
    for c in ("adcode", "name"):
        out[c] = out[c].astype("str")
    return out.sort_values(["adcode", "name"], kind="stable").reset_index(drop=True)


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
    engine: Engine,
    checkins: Path | str,
    stations_path: Path | str,
    key: str,
    *,
    res: int,
    by_day: bool,
    date_from: dt.date | None,
    date_to: dt.date | None,
    region: str | None,
) -> pd.DataFrame:
    """:func:`geo.campaign.checkins_by` as partials on ``engine`` (inputs validated by the caller).

    Check-in rows of stations missing from the stations table are left out (an inner join).
    """
    # The stations table is small: read here, broadcast to the workers.
    stations = pd.read_parquet(
        store.dataset_root(stations_path),
        columns=["station_id", "h3_9", "province_adcode", "city_adcode", "adcode"],
    )
    inside = validate.region_mask(stations, region)
    if key == "cell":
        cells = _parent_cells(stations["h3_9"], res)
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

    def day_of(d: dt.date | None) -> int | None:
        return None if d is None else int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))

    lk = _Lookup(
        pd.Index(stations["station_id"].astype(object).to_numpy()),
        group,
        len(label_frame),
        day_of(date_from),
        day_of(date_to),
    )
    merged: _Partial = engine.reduce_table(
        checkins, ["station_id", "date", "visits"], _checkin_partial, _checkin_combine, Broadcast(lk), by_day
    )
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


def stations_per_cell(engine: Engine, stations_path: Path | str, res: int) -> pd.DataFrame:
    """:func:`geo.campaign.stations_per_cell` as partial counts on ``engine``, sorted by ``h3``."""
    merged = engine.reduce_table(stations_path, ["h3_9"], _cells_partial, _sum_min1, res)
    out = merged.reset_index()
    out.columns = ["h3", "stations"]
    out["h3"] = out["h3"].astype("str")
    out["stations"] = out["stations"].astype("int64")
    return out.sort_values("h3", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- coverage


def _nearest_chunk(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    index: StationIndex,
    filters: dict[str, Any],
) -> NDArray[np.float64]:
    dist, _ = index.query_batch(lat, lng, k=1, **filters)
    return np.asarray(dist[:, 0], dtype=np.float64)


def nearest_distance_m(
    engine: Engine,
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    index: StationIndex,
    filters: dict[str, Any],
) -> NDArray[np.float64]:
    """:func:`geo.coverage.nearest_distance_m` in chunks of rows on ``engine``, the index broadcast once."""
    if len(lat) == 0:
        return np.empty(0, dtype=np.float64)
    chunks = [(lat[s], lng[s]) for s in row_chunks(len(lat), engine.parallelism)]
    return np.concatenate(engine.map_chunks(_nearest_chunk, chunks, Broadcast(index), filters))


GAP_SUMS: Final = ("workers_uncovered", "workplaces_uncovered", "workers", "first")
"""Per-cell sums of the gap ranking (``first``: the first uncovered row, a minimum)."""


def _gap_partial(
    h3_9: pd.Series, workers: NDArray[np.int64], unc: NDArray[np.bool_], rows: NDArray[np.int64], res: int
) -> pd.DataFrame:
    cells = hexes.cells_to_parent_int(hexes.str_to_int(h3_9), res)
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


def gap_sums(
    engine: Engine,
    h3_9: pd.Series,
    workers: NDArray[np.int64],
    uncovered: NDArray[np.bool_],
    rows: NDArray[np.int64],
    res: int,
) -> tuple[NDArray[np.uint64], dict[str, NDArray[np.int64]]]:
    """Per-cell gap sums of the selected workplaces, in chunks on ``engine``.

    Returns
    -------
    (numpy.ndarray, dict)
        The ``uint64`` cells at ``res`` holding uncovered workplaces (ascending), and for
        each of :data:`GAP_SUMS` an ``int64`` array aligned with them (``first`` is the
        workplace row of each cell's first uncovered workplace).
    """
    agg = pd.DataFrame(columns=list(GAP_SUMS))
    if len(rows):
        chunks = [
            (h3_9.iloc[s], workers[s], uncovered[s], rows[s], res)
            for s in row_chunks(len(rows), engine.parallelism)
        ]
        parts = engine.map_chunks(_gap_partial, chunks)
        agg = (
            pd.concat(parts)
            .groupby(level=0)
            .agg(
                {"workers_uncovered": "sum", "workplaces_uncovered": "sum", "workers": "sum", "first": "min"}
            )
        )
        agg = agg[agg["workplaces_uncovered"] > 0]
    return agg.index.to_numpy(dtype=np.uint64), {c: agg[c].to_numpy(dtype=np.int64) for c in GAP_SUMS}
