"""送温暖 campaign and station-visit aggregation (not suppressed: see :mod:`geo.publication`).

Two layers, kept apart so that another engine can replace the first one:

1. **Query layer** (``_sql_*`` builders, run by :func:`geo.engines.local.run_sql`): every
   SQL statement is built in this module from fixed fragments; user values (dates,
   categories, adcodes, resolutions, file paths) only ever travel as DuckDB ``$name``
   parameters. The parquet files are scanned where they lie (``read_parquet``), never
   loaded whole. On an engine that is not embedded (Dask) the same aggregations run as
   partial sums (:mod:`geo.partials`); every aggregation takes ``engine=``.
2. **Aggregations** (:func:`campaign_by`, :func:`campaign_total`, :func:`daily_yoy`,
   :func:`checkins_by_cell` ...): plain values in, small pandas frames out, *not*
   suppressed. They are for the library's own use and for tests.

Publication lives elsewhere: :mod:`geo.publication` sums these aggregations into what a
page, an export or the CLI shows, and :mod:`geo.privacy` withholds small figures — and the
figures that would give them away — across everything shown together. Nothing here is
suppressed; every output path goes through :mod:`geo.publication`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from geo import hexes, partials, store, validate
from geo.engines import LOCAL, Engine
from geo.engines.local import run_sql as _run
from geo.errors import InputError
from geo.query import REGION_GROUP_COLUMNS, Filters, as_date, spring_festival
from geo.schema import CAMPAIGN, CHECKIN_WINDOW, H3_INT_COLUMN, SPRING_FESTIVAL

__all__ = ["Filters", "spring_festival"]  # the campaign query, defined in geo.query, re-exported here

MIN_HEX_RES: Final = 4
"""Coarsest H3 resolution offered for campaign maps (cells of ~1,770 km²)."""
MAX_HEX_RES: Final = 9
"""Finest H3 resolution: the stored ``h3_9`` column itself (~0.1 km²)."""
MEASURES: Final = ("people", "events", "funds_yuan")
"""Campaign measures: people visited, visit events, funds handed out (yuan)."""
BY_CHOICES: Final = ("province", "city", "county", "hex", "category", "day", "organizer_level")
"""Groupings accepted by :func:`campaign_by`."""
MAX_MAP_CELLS: Final = 8_000
"""Most H3 cells drawn in one map frame (~250 bytes each keeps a map well under 3 MB)."""
DEFAULT_RES: Final[Mapping[str, int]] = {"nation": 5, "province": 7, "city": 8, "county": 8}
"""H3 resolution following the region shown (coarsened further when over :data:`MAX_MAP_CELLS`)."""


# ------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Sources:
    """Parquet files the aggregations scan.

    Attributes
    ----------
    campaign, targets, checkins, stations : Path
        One parquet file per table (see :mod:`geo.schema`).
    """

    campaign: Path
    targets: Path
    checkins: Path
    stations: Path

    @classmethod
    def from_data_dir(cls, data_dir: Path | str, version: str | None = None) -> Sources:
        """Return the parquet files of a dataset version (default: current) of ``data_dir``."""
        d = Path(data_dir)
        return cls(
            *(store.table_path(d, name, version) for name in ("campaign", "targets", "checkins", "stations"))
        )


DataSource = Path | str | Sources
"""A data directory or explicit :class:`Sources`."""


def _src(data: DataSource) -> Sources:
    return data if isinstance(data, Sources) else Sources.from_data_dir(data)


def _check_res(res: int) -> int:
    return validate.check_res(res, MIN_HEX_RES, MAX_HEX_RES, "campaign maps")


# ------------------------------------------------------------------------------- query layer
# Every statement of this module is assembled here from fixed fragments. Values reach
# DuckDB only as $name parameters.

# Parent of a res-9 cell string at resolution $res: set the resolution field (bits 52–55)
# and mark every finer digit unused (3 bits of 1 each), as the H3 spec defines a parent.
_H3_PARENT_INT: Final = (
    "((('0x' || h3_9)::UBIGINT & ~(15::UBIGINT << 52)) | ($res::UBIGINT << 52)"
    " | ((1::UBIGINT << (3 * (15 - $res))::UBIGINT) - 1))"
)
_H3_PARENT: Final = f"lower(hex({_H3_PARENT_INT}))"
# Cells of one resolution all print as 15 hex digits, so text order is numeric order.

_CAMPAIGN_KEYS: Final[Mapping[str, Sequence[tuple[str, str]]]] = {
    **REGION_GROUP_COLUMNS,
    "hex": ((_H3_PARENT_INT, "h3"),),  # grouped as integers, printed once per group
    "category": (("category", "category"),),
    "day": (("date", "date"),),
    "organizer_level": (("organizer_level", "organizer_level"),),
}

_CAMPAIGN_MEASURES_SQL: Final = (
    "SUM(people)::BIGINT AS people, COUNT(*)::BIGINT AS events, SUM(funds_yuan)::DOUBLE AS funds_yuan"
)

# Region filter: one adcode matches a province, a city or a county (adcodes are unique
# across levels; a municipality's city code is its province code, the same region).
_REGION_SQL: Final = "(province_adcode = $region OR city_adcode = $region OR adcode = $region)"
_STATION_REGION_SQL: Final = "(s.province_adcode = $region OR s.city_adcode = $region OR s.adcode = $region)"


def _campaign_where(f: Filters) -> tuple[str, dict[str, Any]]:
    parts: list[str] = ["year = $year"]
    params: dict[str, Any] = {"year": f.year}
    if f.date_from is not None:
        parts.append("date >= $date_from")
        params["date_from"] = f.date_from
    if f.date_to is not None:
        parts.append("date <= $date_to")
        params["date_to"] = f.date_to
    if f.categories:
        parts.append("list_contains($categories, category)")
        params["categories"] = list(f.categories)
    if f.region:
        parts.append(_REGION_SQL)
        params["region"] = f.region
    return " AND ".join(parts), params


def _sql_campaign(by: Sequence[str], f: Filters) -> tuple[str, dict[str, Any]]:
    where, params = _campaign_where(f)
    pairs = [(expr, alias) for b in by for expr, alias in _CAMPAIGN_KEYS[b]]
    select = [f"{expr} AS {alias}" for expr, alias in pairs]
    # Positions, not names: an alias such as "adcode" would otherwise bind to the column.
    group = ", ".join(str(i + 1) for i in range(len(select)))
    sql = (
        f"SELECT {', '.join([*select, _CAMPAIGN_MEASURES_SQL])} FROM read_parquet($campaign) WHERE {where}"
        + (f" GROUP BY {group}" if by else "")
    )
    if not by:
        return sql, params
    shown = ["lower(hex(h3)) AS h3" if alias == "h3" else alias for _, alias in pairs]
    return (
        f"SELECT {', '.join([*shown, 'people', 'events', 'funds_yuan'])} FROM ({sql}) ORDER BY {group}",
        params,
    )


def _sql_count_cells(f: Filters) -> tuple[str, dict[str, Any]]:
    where, params = _campaign_where(f)
    return f"SELECT COUNT(DISTINCT {_H3_PARENT_INT}) AS n FROM read_parquet($campaign) WHERE {where}", params


def _checkin_where(
    date_from: dt.date | None, date_to: dt.date | None, region: str | None
) -> tuple[str, dict[str, Any]]:
    parts: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if date_from is not None:
        parts.append("c.date >= $date_from")
        params["date_from"] = date_from
    if date_to is not None:
        parts.append("c.date <= $date_to")
        params["date_to"] = date_to
    if region:
        parts.append(_STATION_REGION_SQL)
        params["region"] = region
    return " AND ".join(parts), params


def _sql_checkins(key: str, by_day: bool, where: str) -> str:
    keys = {"station": ["s.station_id AS station_id", "s.h3_9 AS h3_9"], "cell": ["s.h3 AS h3"]}[key]
    aliases = [k.rsplit(" AS ", 1)[1] for k in keys] + (["date"] if by_day else [])
    if by_day:
        keys = [*keys, "c.date AS date"]
    group = ", ".join(str(i + 1) for i in range(len(aliases)))
    return (
        f"SELECT {', '.join(keys)}, SUM(c.visits)::BIGINT AS visits,"
        " COUNT(DISTINCT s.station_id)::BIGINT AS stations, COUNT(DISTINCT c.date)::BIGINT AS days"
        " FROM read_parquet($checkins) c JOIN ("
        # The cell of each station is worked out once per station, not once per log row.
        f"SELECT station_id, h3_9, adcode, city_adcode, province_adcode, {_H3_PARENT} AS h3"
        " FROM read_parquet($stations)) s USING (station_id)"
        f" WHERE {where} GROUP BY {group} ORDER BY {group}"
    )


_SQL_STATIONS_PER_CELL: Final = (
    f"SELECT {_H3_PARENT} AS h3, COUNT(*)::BIGINT AS stations FROM read_parquet($stations) GROUP BY h3"
)
_SQL_TARGETS: Final = (
    "SELECT province_adcode AS adcode, province AS name, SUM(target_people)::BIGINT AS target_people"
    " FROM read_parquet($targets) WHERE year = $year"
    " AND ($categories IS NULL OR list_contains($categories, category))"
    " AND ($region IS NULL OR province_adcode = substr($region, 1, 2) || '0000')"
    " GROUP BY adcode, name ORDER BY adcode"
)


# ------------------------------------------------------------------------------- cell × day in one pass
# The store keeps campaign events sorted by year, day and cell (schema ``sort_by``) with the
# cell as an integer beside its text. Within a day, events of one parent cell are then
# adjacent (an H3 parent is a prefix of its children's bits), so cell × day groups are
# runs of rows: found by comparing neighbours and summed with ``np.add.reduceat``. No
# hashing, no sorting, and no text parsed per event.


def _campaign_expr(f: Filters) -> pc.Expression:
    """:func:`_campaign_where` as an Arrow filter (same rows)."""
    e = pc.field("year") == f.year
    if f.date_from is not None:
        e &= pc.field("date") >= pa.scalar(f.date_from, pa.date32())
    if f.date_to is not None:
        e &= pc.field("date") <= pa.scalar(f.date_to, pa.date32())
    if f.categories:
        e &= pc.field("category").isin(list(f.categories))
    if f.region:
        r = f.region
        e &= (pc.field("province_adcode") == r) | (pc.field("city_adcode") == r) | (pc.field("adcode") == r)
    return e


_BATCH_ROWS: Final = 1 << 20
"""Most rows handed to one thread at a time (batches are as read, or split to this)."""


class _Runs(NamedTuple):
    """Cell × day runs of one record batch: their keys and sums."""

    days: NDArray[np.int32]
    cells: NDArray[np.uint64]
    """Parent cell of each run (an H3 index at the resolution asked for)."""
    text: NDArray[np.bytes_]
    """The parent cells' 15 hexadecimal digits."""
    people: NDArray[np.int64]
    events: NDArray[np.int64]
    funds_yuan: NDArray[np.float64]
    continues: bool
    """Whether the first run carries on the last run of the previous batch."""

    def without_first(self) -> _Runs:
        """Drop the first run (once it was added to the run it carries on)."""
        return _Runs(
            self.days[1:],
            self.cells[1:],
            self.text[1:],
            self.people[1:],
            self.events[1:],
            self.funds_yuan[1:],
            False,
        )


def _runs(batch: pa.RecordBatch, before: pa.RecordBatch | None, res: int) -> _Runs | None:
    """Find the runs of rows with the same day and parent cell in ``batch``, and sum them.

    ``batch`` has ``date``, the integer cell, ``people`` and ``funds_yuan`` of rows in
    (day, cell) order; ``before`` is the previous batch (its last row decides whether the
    first run continues); parents are at resolution ``res``. Everything per run (sums,
    parent cells and their text) is done here, so that threads share the work.

    The sums are right exactly when no (day, parent) key comes back after another: the
    keys of the runs must rise strictly, which is checked (on runs, not rows). Returns
    ``None`` if they do not: the rows are not in stored order after all.
    """
    shift = np.uint64(3 * (15 - res))  # bits of the digits finer than res
    day = batch.column(0).view(pa.int32()).to_numpy()
    cell = batch.column(1).to_numpy()
    parent = cell >> shift
    new = np.empty(len(day), dtype=bool)
    new[0] = True
    np.not_equal(parent[1:], parent[:-1], out=new[1:])
    new[1:] |= day[1:] != day[:-1]
    starts = np.flatnonzero(new)
    run_day, run_parent = day[starts], parent[starts]
    rising = (run_day[1:] > run_day[:-1]) | (
        (run_day[1:] == run_day[:-1]) & (run_parent[1:] > run_parent[:-1])
    )
    if not rising.all():
        return None
    continues = False
    if before is not None and before.num_rows:
        last = (
            before.column(0).view(pa.int32()).to_numpy()[-1],
            before.column(1).to_numpy()[-1] >> shift,
        )
        if (run_day[0], run_parent[0]) < last:
            return None
        continues = (run_day[0], run_parent[0]) == last
    cells = hexes.cells_to_parent_int(cell[starts], res)
    return _Runs(
        run_day,
        cells,
        hexes.int_to_str_bytes(cells),
        np.add.reduceat(batch.column(2).to_numpy(), starts, dtype=np.int64),
        np.diff(np.append(starts, len(day))),
        np.add.reduceat(batch.column(3).to_numpy(), starts),
        bool(continues),
    )


def _hex_days_in_order(path: Path, f: Filters, res: int, *, hex_first: bool) -> pd.DataFrame | None:
    """Run :func:`campaign_by` ``["hex", "day"]`` on a file in stored order; ``None`` if it is not."""
    cols = ["date", H3_INT_COLUMN, "people", "funds_yuan"]
    if f.categories or f.region:
        table = store.read_sorted(path, CAMPAIGN, cols, _campaign_expr(f))
    else:  # a year and a date range are one run of the file: cut out, not filtered
        dates = (f.date_from or dt.date.min, f.date_to or dt.date.max)
        table = store.read_sorted(path, CAMPAIGN, cols, leading=[("year", f.year, f.year), ("date", *dates)])
    if table is None or any(table.column(c).null_count for c in cols):
        return None
    # Batch by batch, as read (no copy into one array), two threads (numpy releases the GIL).
    batches = [b for b in table.select(cols).to_batches(max_chunksize=_BATCH_ROWS) if b.num_rows]
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(_runs, batches, [None, *batches[:-1]], [res] * len(batches)))
    done = [p for p in parts if p is not None]
    if len(done) < len(parts):
        return None  # the file says it is sorted but is not: take the general path
    # A run going on from the previous batch joins the run it goes on from.
    kept: list[_Runs] = []
    for part in done:
        if part.continues:
            last = next(k for k in reversed(kept) if len(k.days))
            last.people[-1] += part.people[0]
            last.events[-1] += part.events[0]
            last.funds_yuan[-1] += part.funds_yuan[0]
            part = part.without_first()
        kept.append(part)
    empty = _Runs(
        np.empty(0, np.int32),
        np.empty(0, np.uint64),
        np.empty(0, "S15"),
        np.empty(0, np.int64),
        np.empty(0, np.int64),
        np.empty(0, np.float64),
        False,
    )
    days, cells, text, people, events, funds = (
        np.concatenate([empty[i], *(k[i] for k in kept)]) for i in range(6)
    )
    if hex_first:  # day-major runs to cell-major: a stable sort merges the days' sorted runs
        order = np.argsort(cells, kind="stable")
        days, text, people, events, funds = (a[order] for a in (days, text, people, events, funds))
    columns = {
        "h3": hexes.str_bytes_to_arrow(text).to_pandas(),
        "date": days.astype("datetime64[D]").astype("datetime64[us]"),
        "people": people,
        "events": events,
        "funds_yuan": funds,
    }
    keys = ["h3", "date"] if hex_first else ["date", "h3"]
    return pd.DataFrame({k: columns[k] for k in [*keys, *MEASURES]}, copy=False)


# ------------------------------------------------------------------------------- aggregations


def campaign_by(
    data: DataSource,
    by: str | Sequence[str],
    filters: Filters | None = None,
    *,
    res: int = 7,
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """Sum people, events and funds by one or more groupings (not suppressed).

    Parameters
    ----------
    data : Path, str or Sources
        Data directory (current version) or explicit parquet files.
    by : str or sequence of str
        Any of :data:`BY_CHOICES`; several give a cross table (e.g. ``["hex", "day"]``).
    filters : Filters, optional
        Year, date range, categories, region; default: all of 2025.
    res : int, default 7
        H3 resolution of ``"hex"`` (4–9; parents of ``h3_9``).
    engine : geo.engines.Engine, default :data:`geo.engines.LOCAL`
        Where to aggregate (build it with :func:`geo.engines.from_settings`). Every engine
        gives the same frame.

    Returns
    -------
    pandas.DataFrame
        Key columns (``adcode``/``name`` and parent region columns for regions, ``h3``,
        ``category``, ``date`` (datetime64), ``organizer_level``) then ``people``,
        ``events`` (int64) and ``funds_yuan`` (float64, yuan). Groups with no event are
        absent.
    """
    keys = [by] if isinstance(by, str) else list(by)
    for b in keys:
        if b not in BY_CHOICES:
            raise InputError(f"cannot group by {b!r}: use one of {', '.join(BY_CHOICES)}")
    if sum(b in ("province", "city", "county") for b in keys) > 1 or len(set(keys)) < len(keys):
        raise InputError(f"group by {keys}: use each grouping once and at most one region level")
    f = (filters or Filters()).checked()
    r = _check_res(res) if "hex" in keys else 9
    if not engine.embedded:
        return partials.campaign_by(engine, _src(data).campaign, keys, f, r)
    if sorted(keys) == ["day", "hex"]:
        fast = _hex_days_in_order(_src(data).campaign, f, r, hex_first=keys[0] == "hex")
        if fast is not None:
            return fast
    sql, params = _sql_campaign(keys, f)
    params.update(campaign=str(_src(data).campaign), res=r)
    out = _run(sql, params)
    for col in ("people", "events"):
        out[col] = out[col].fillna(0).astype("int64")
    out["funds_yuan"] = out["funds_yuan"].fillna(0.0).astype("float64")
    return out


def campaign_total(
    data: DataSource, filters: Filters | None = None, *, engine: Engine = LOCAL
) -> dict[str, float]:
    """Return the (unsuppressed) totals ``{"people", "events", "funds_yuan"}`` of a selection."""
    row = campaign_by(data, [], filters, engine=engine).iloc[0]
    return {
        "people": int(row["people"]),
        "events": int(row["events"]),
        "funds_yuan": float(row["funds_yuan"]),
    }


def day_offsets(dates: pd.Series | np.ndarray, year: int) -> np.ndarray:
    """Return days to the Spring Festival of ``year`` (negative before it), shape ``(n,)``."""
    sf = np.datetime64(spring_festival(year), "D")
    return (pd.to_datetime(pd.Series(dates)).to_numpy().astype("datetime64[D]") - sf).astype("int64")


def daily_yoy(
    data: DataSource,
    filters: Filters | None = None,
    compare_year: int | None = None,
    *,
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """Daily people this year and last, aligned on days to the Spring Festival (not suppressed).

    Parameters
    ----------
    data : Path, str or Sources
        Data directory or parquet files.
    filters : Filters, optional
        Selection of the current year; the comparison year uses the same filters with
        dates moved by :meth:`Filters.shifted_to`.
    compare_year : int, optional
        Default ``filters.year - 1``.
    engine : geo.engines.Engine
        As in :func:`campaign_by`.

    Returns
    -------
    pandas.DataFrame
        One row per day offset present in either year: ``day_offset`` (days to the
        festival), ``date`` (this year's date), ``people``, ``events``, ``funds_yuan``
        and ``people_last``, ``events_last``, ``funds_yuan_last`` (0 where a year has none).
    """
    f = (filters or Filters()).checked()
    prev = f.year - 1 if compare_year is None else int(compare_year)
    cur = campaign_by(data, "day", f, engine=engine)
    cur["day_offset"] = day_offsets(cur["date"], f.year)
    frames = [cur.drop(columns="date")]
    if prev in SPRING_FESTIVAL:
        last = campaign_by(data, "day", f.shifted_to(prev), engine=engine)
        last["day_offset"] = day_offsets(last["date"], prev)
        frames.append(
            last.drop(columns="date").add_suffix("_last").rename(columns={"day_offset_last": "day_offset"})
        )
    out = frames[0]
    if len(frames) == 2:
        out = out.merge(frames[1], on="day_offset", how="outer")
    else:
        for m in MEASURES:
            out[f"{m}_last"] = 0
    out = out.fillna(0).sort_values("day_offset").reset_index(drop=True)
    for m in ("people", "events", "people_last", "events_last"):
        out[m] = out[m].astype("int64")
    sf = pd.Timestamp(spring_festival(f.year))
    out.insert(1, "date", sf + pd.to_timedelta(out["day_offset"], unit="D"))
    return out


def targets_by_province(
    data: DataSource, filters: Filters | None = None, *, engine: Engine = LOCAL
) -> pd.DataFrame:
    """Return ``adcode, name, target_people`` of the provinces with targets (empty when none).

    Targets exist per province and category; the categories of ``filters`` are summed,
    and a region filter keeps the province that contains the region. ``engine`` as in
    :func:`campaign_by`.
    """
    f = (filters or Filters()).checked()
    if not engine.embedded:
        return partials.targets_by_province(engine, _src(data).targets, f)
    params = {
        "targets": str(_src(data).targets),
        "year": f.year,
        "categories": list(f.categories) if f.categories else None,
        "region": f.region,
    }
    out = _run(_SQL_TARGETS, params)
    out["target_people"] = out["target_people"].astype("int64")
    return out


def completion_by_province(
    data: DataSource, filters: Filters | None = None, *, engine: Engine = LOCAL
) -> pd.DataFrame:
    """People visited against targets per province, laggards first (not suppressed).

    ``engine`` as in :func:`campaign_by`.

    Returns
    -------
    pandas.DataFrame
        ``adcode, name, people, events, funds_yuan, target_people, completion`` (people /
        target, 1.0 = 100 %), sorted by ``completion`` ascending (``rank`` 1 = furthest
        behind). Provinces without a target are left out.
    """
    f = (filters or Filters()).checked()
    targets = targets_by_province(data, f, engine=engine)
    region_f = Filters(
        f.year, f.date_from, f.date_to, f.categories, None if f.region is None else f.region[:2] + "0000"
    )
    actual = campaign_by(data, "province", region_f, engine=engine)
    out = targets.merge(actual.drop(columns="name"), on="adcode", how="left")
    for col in ("people", "events"):
        out[col] = out[col].fillna(0).astype("int64")
    out["funds_yuan"] = out["funds_yuan"].fillna(0.0)
    out["completion"] = out["people"] / out["target_people"].where(out["target_people"] > 0)
    out = out.sort_values(["completion", "adcode"]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def checkins_by(
    data: DataSource,
    key: str = "cell",
    *,
    res: int = 7,
    by_day: bool = False,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    region: str | None = None,
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """Station visits per station or per H3 cell, optionally per day (not suppressed).

    Parameters
    ----------
    data : Path, str or Sources
        Data directory or parquet files.
    key : {"cell", "station"}
        ``"cell"``: visits per H3 cell at ``res``; ``"station"``: per station.
    res : int, default 7
        H3 resolution of cells (4–9).
    by_day : bool
        One row per key and day.
    date_from, date_to : datetime.date, optional
        Inclusive date range (the log covers :data:`geo.schema.CHECKIN_WINDOW`).
    region : str, optional
        Adcode of a province, city or county the stations lie in.
    engine : geo.engines.Engine
        As in :func:`campaign_by`.

    Returns
    -------
    pandas.DataFrame
        Key columns (``h3`` or ``station_id, h3_9``; ``date`` when ``by_day``), ``visits``,
        ``stations`` (stations with a log row), ``days`` (days in the log) and
        ``visits_per_station_day`` = visits / (stations × days).
    """
    if key not in ("cell", "station"):
        raise InputError(f"check-ins key {key!r} is unknown: use 'cell' or 'station'")
    d_from, d_to = as_date(date_from, "date_from"), as_date(date_to, "date_to")
    reg = validate.check_adcode(region)
    r = _check_res(res)
    s = _src(data)
    if not engine.embedded:
        return partials.checkins_by(
            engine,
            s.checkins,
            s.stations,
            key,
            res=r,
            by_day=by_day,
            date_from=d_from,
            date_to=d_to,
            region=reg,
        )
    where, params = _checkin_where(d_from, d_to, reg)
    params.update(checkins=str(s.checkins), stations=str(s.stations), res=r)
    out = _run(_sql_checkins(key, by_day, where), params)
    for col in ("visits", "stations", "days"):
        out[col] = out[col].astype("int64")
    out["visits_per_station_day"] = out["visits"] / (out["stations"] * out["days"]).where(lambda x: x > 0)
    return out


def stations_per_cell(data: DataSource, res: int = 7, *, engine: Engine = LOCAL) -> pd.DataFrame:
    """Return ``h3, stations``: how many stations each H3 cell at ``res`` holds.

    ``engine`` as in :func:`campaign_by` (row order: by ``h3`` off the local engine, open on it).
    """
    r = _check_res(res)
    if not engine.embedded:
        return partials.stations_per_cell(engine, _src(data).stations, r)
    params = {"stations": str(_src(data).stations), "res": r}
    out = _run(_SQL_STATIONS_PER_CELL, params)
    out["stations"] = out["stations"].astype("int64")
    return out


def campaign_window(year: int) -> tuple[dt.date, dt.date]:
    """Return the first and last day of a campaign: 45 days before to 15 days after the festival."""
    sf = spring_festival(year)
    return sf - dt.timedelta(days=45), sf + dt.timedelta(days=15)


def checkin_window() -> tuple[dt.date, dt.date]:
    """Return the first and last day of the station check-in log."""
    return CHECKIN_WINDOW


# ------------------------------------------------------------------------------- map helpers


def locked_bins(values: np.ndarray | pd.Series, n_classes: int = 5) -> list[float]:
    """Return ``n_classes + 1`` increasing class edges shared by every frame of an animation.

    Pass the values of *all* frames (every day of the range): colours then mean the same
    on every day. Edges are quantiles of the positive values (robust to a few very busy
    cells), from 0 to the maximum, made strictly increasing.

    Parameters
    ----------
    values : array-like of float
        Values of every frame; NaN (withheld) is ignored.
    n_classes : int, default 5
        Number of colour classes.

    Returns
    -------
    list of float
        Edges; ``[0, 1, ..., n_classes]`` when there is no positive value.
    """
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return [float(i) for i in range(n_classes + 1)]
    qs = np.quantile(v, np.linspace(0, 1, n_classes + 1)[1:-1])
    edges = np.r_[0.0, np.round(qs), float(np.ceil(v.max()))]
    for i in range(1, len(edges)):  # strictly increasing even with ties
        edges[i] = max(edges[i], edges[i - 1] + 1)
    return [float(e) for e in edges]


def res_for_region(level: str) -> int:
    """Return the H3 resolution to show for a region level (nation, province, city, county)."""
    try:
        return DEFAULT_RES[level]
    except KeyError:
        raise InputError(f"region level {level!r} is unknown: use one of {', '.join(DEFAULT_RES)}") from None


def yoy_change(this: float | None, last: float | None) -> float | None:
    """Return the relative change ``this / last - 1`` (``None`` when either is missing or last is 0)."""
    if this is None or last is None or pd.isna(this) or pd.isna(last) or not last:
        return None
    return float(this) / float(last) - 1.0
