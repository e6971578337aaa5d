"""What the campaign page, its exports and the CLI publish: one suppression step per view.

Everything a reader sees together is computed and suppressed together
(:func:`geo.privacy.publish_together`), so that no withheld figure can be worked out
from the others:

* :func:`campaign_view` — the dashboard: cells × days (map frames), cells over the date
  range (the "all days" map), days (the trend), regions and regions × days (table,
  region map), categories, the grand total (KPIs), targets and completion; and last
  year's days and total (trend, year-on-year), a separate selection of other events.
* :func:`checkins_view` — station visits per cell × day and per cell, with the busiest
  cells.
* :func:`publish` — one grouping with its categories and total (the CLI).

Withheld figures are null with ``withheld`` true, whatever the reason (small, or
withheld to protect a small one). Targets are public plans; completion (people ÷
target) would give people away, so it is withheld whenever people is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from geo import campaign, hexes, privacy
from geo.campaign import MAX_HEX_RES, MAX_MAP_CELLS, MEASURES, MIN_HEX_RES, DataSource
from geo.engines import LOCAL, Engine
from geo.errors import InputError
from geo.query import Filters
from geo.schema import SPRING_FESTIVAL

REGION_LEVELS: Final = ("province", "city", "county")
"""Region levels a view can show inside its selection."""
_KEY_COLS: Final = {
    "province": "adcode",
    "city": "adcode",
    "county": "adcode",
    "hex": "h3",
    "day": "date",
    "category": "category",
    "organizer_level": "organizer_level",
}


@dataclass(frozen=True)
class CampaignView:
    """Every figure of the campaign dashboard for one selection, suppressed together.

    Attributes
    ----------
    hex_frames : pandas.DataFrame
        ``h3, date, people, events, funds_yuan, withheld``: people per cell per day.
    frame_res : int
        H3 resolution of ``hex_frames`` (no day holds more than the cell cap).
    cells : pandas.DataFrame
        ``h3, people, events, funds_yuan, withheld`` over the whole date range.
    cell_res : int
        H3 resolution of ``cells`` (≤ ``frame_res``: all days hold more cells than one).
    region_level : str
        Level of ``regions`` (province, city or county).
    regions : pandas.DataFrame
        ``adcode, name, people, events, funds_yuan, withheld``, and ``target_people``,
        ``completion`` (people ÷ target, null where withheld) for provinces of all China.
    region_frames : pandas.DataFrame
        ``adcode, date, people, events, funds_yuan, withheld``.
    daily : pandas.DataFrame
        ``day_offset, date, people, events, funds_yuan, withheld`` this year and
        ``people_last, events_last, funds_yuan_last, withheld_last`` last year, aligned
        on the Spring Festival (0 where a year has no event that day).
    total : dict
        ``people, events, funds_yuan`` (None when withheld), ``withheld``.
    by_category : dict
        Category code → as ``total``.
    last : dict or None
        Last year's total of the same selection (aligned on the festival), or None.
    yoy_people : float or None
        ``people / last people - 1`` when both are published.
    target_people : int or None
        Targets of the selection (provinces only), public.
    completion : float or None
        ``people / target_people`` when people is published.
    k : int
        The threshold.
    """

    hex_frames: pd.DataFrame
    frame_res: int
    cells: pd.DataFrame
    cell_res: int
    region_level: str
    regions: pd.DataFrame
    region_frames: pd.DataFrame
    daily: pd.DataFrame
    total: dict[str, Any]
    by_category: dict[str, dict[str, Any]]
    last: dict[str, Any] | None
    yoy_people: float | None
    target_people: int | None
    completion: float | None
    k: int


def _figures(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in MEASURES:
        v = row.get(m)
        out[m] = None if v is None or pd.isna(v) else (float(v) if m == "funds_yuan" else int(v))
    out["withheld"] = bool(row["withheld"])
    return out


def _coarsen(atoms: pd.DataFrame, res: int, keys: Sequence[str]) -> pd.DataFrame:
    """Re-group atoms with their cells moved up to ``res``."""
    a = atoms.assign(h3=hexes.cells_to_parent(atoms["h3"].to_numpy(), res) if len(atoms) else [])
    return a.groupby(list(keys), sort=False, as_index=False)[list(MEASURES)].sum()


def _resolutions(atoms: pd.DataFrame, res: int, max_cells: int) -> tuple[int, int]:
    """Frame and whole-range resolutions: coarsen until a day, then all days, hold ``max_cells``."""
    cells = atoms[["h3", "date"]].drop_duplicates()
    frame_res = res
    while frame_res > MIN_HEX_RES and len(cells) and int(cells.groupby("date").size().max()) > max_cells:
        frame_res -= 1
        cells = cells.assign(h3=hexes.cells_to_parent(cells["h3"].to_numpy(), frame_res)).drop_duplicates()
    whole = pd.Series(cells["h3"].unique())
    cell_res = frame_res
    while cell_res > MIN_HEX_RES and len(whole) > max_cells:
        cell_res -= 1
        whole = pd.Series(hexes.cells_to_parent(whole.to_numpy(), cell_res)).drop_duplicates()
    return frame_res, cell_res


def campaign_view(
    data: DataSource,
    filters: Filters | None = None,
    *,
    k: int = 10,
    region_level: str = "province",
    res: int = 7,
    max_cells: int = MAX_MAP_CELLS,
    engine: Engine = LOCAL,
) -> CampaignView:
    """Compute and suppress, together, every figure the campaign dashboard shows.

    Parameters
    ----------
    data : Path, str or Sources
        Data directory (current version) or explicit parquet files.
    filters : Filters, optional
        Year, date range, categories, region; default all of 2025.
    k : int, default 10
        k-anonymity threshold (``Settings.k_anonymity``).
    region_level : {"province", "city", "county"}
        Regions shown inside the selection (table, region map).
    res : int, default 7
        Finest H3 resolution of the maps (coarsened to ``max_cells`` cells).
    max_cells : int
        Most cells in one map (a day's frame, or the whole range).
    engine : geo.engines.Engine, default :data:`geo.engines.LOCAL`
        Where the aggregations run (forwarded to every :mod:`geo.campaign` call).

    Returns
    -------
    CampaignView
    """
    if region_level not in REGION_LEVELS:
        raise InputError(f"region level {region_level!r} is unknown: use one of {', '.join(REGION_LEVELS)}")
    if not MIN_HEX_RES <= int(res) <= MAX_HEX_RES:
        raise InputError(
            f"H3 resolution {res} is out of range for campaign maps: use {MIN_HEX_RES}–{MAX_HEX_RES}"
        )
    f = (filters or Filters()).checked()
    raw = campaign.campaign_by(data, ["hex", "day", region_level], f, res=int(res), engine=engine)
    names = raw.drop_duplicates("adcode")[["adcode", "name"]]
    frame_res, cell_res = _resolutions(raw, int(res), max_cells)
    atoms = raw if frame_res == res else _coarsen(raw, frame_res, ["h3", "date", "adcode"])
    whole = (
        hexes.cells_to_parent(atoms["h3"].to_numpy(), cell_res)
        if len(atoms) and cell_res < frame_res
        else atoms["h3"]
    )
    out, cats = privacy.publish_sharing_total(
        [
            (
                atoms.assign(h3w=whole),
                {
                    "hex_frames": ["h3w", "h3", "date"],
                    "cells": ["h3w"],
                    "daily": ["date"],
                    "regions": ["adcode"],
                    "region_frames": ["adcode", "date"],
                    "total": [],
                },
            ),
            # Which category a cell's or a day's people belong to is not shown: the
            # categories meet the rest only in the total.
            (
                campaign.campaign_by(data, "category", f, engine=engine),
                {"categories": ["category"], "total": []},
            ),
        ],
        k,
        measures=MEASURES,
        block="adcode",  # checked region by region: fast, and a little stricter
    )
    total = _figures(out["total"].iloc[0])
    by_category = {str(r["category"]): _figures(r) for _, r in cats["categories"].iterrows()}

    last, last_days = None, None
    if f.year - 1 in SPRING_FESTIVAL:
        prev = f.shifted_to(f.year - 1)
        last_out = privacy.publish_together(
            campaign.campaign_by(data, "day", prev, engine=engine),
            {"daily": ["date"], "total": []},
            k,
            measures=MEASURES,
        )
        last, last_days = _figures(last_out["total"].iloc[0]), last_out["daily"]
        last_days["day_offset"] = campaign.day_offsets(last_days["date"], prev.year)
    daily = _daily(out["daily"], last_days, f.year)

    regions = out["regions"].merge(names, on="adcode", how="left")
    regions = regions[["adcode", "name", *MEASURES, "withheld"]]
    targets = campaign.targets_by_province(data, f, engine=engine)
    # Targets exist per province: a city or county selection has none of its own.
    has_target = len(targets) > 0 and (f.region is None or f.region.endswith("0000"))
    target = int(targets["target_people"].sum()) if has_target else None
    if region_level == "province" and f.region is None:
        regions = regions.merge(targets[["adcode", "target_people"]], on="adcode", how="left")
        tgt = regions["target_people"].astype("Float64")
        regions["completion"] = (regions["people"].astype("Float64") / tgt.where(tgt > 0)).mask(
            regions["withheld"]
        )
    yoy = None
    if last is not None and total["people"] is not None and last["people"]:
        yoy = campaign.yoy_change(total["people"], last["people"])
    return CampaignView(
        hex_frames=out["hex_frames"][["h3", "date", *MEASURES, "withheld"]],
        frame_res=frame_res,
        cells=out["cells"].rename(columns={"h3w": "h3"}),
        cell_res=cell_res,
        region_level=region_level,
        regions=regions,
        region_frames=out["region_frames"],
        daily=daily,
        total=total,
        by_category=by_category,
        last=last,
        yoy_people=yoy,
        target_people=target,
        completion=None if target is None or total["people"] is None else total["people"] / target,
        k=int(k),
    )


def _daily(this: pd.DataFrame, last: pd.DataFrame | None, year: int) -> pd.DataFrame:
    """Put the published days of this year and last year side by side, aligned on the festival."""
    cur = this.assign(day_offset=campaign.day_offsets(this["date"], year)).drop(columns="date")
    if last is None:
        last = pd.DataFrame({"day_offset": pd.Series(dtype="int64"), "withheld": pd.Series(dtype=bool)})
        for m in MEASURES:
            last[m] = pd.Series(dtype="Int64" if m != "funds_yuan" else "Float64")
    prev = last.drop(columns=[c for c in ("date",) if c in last.columns])
    out = cur.merge(prev, on="day_offset", how="outer", suffixes=("", "_last"), indicator=True)
    only_last, only_this = out["_merge"] == "right_only", out["_merge"] == "left_only"
    for m in MEASURES:  # a day with no event in one year is a true zero there, not a withheld figure
        out[m] = out[m].mask(only_last, 0)
        out[f"{m}_last"] = out[f"{m}_last"].mask(only_this, 0)
    out["withheld"] = out["withheld"].fillna(False).astype(bool)
    out["withheld_last"] = out["withheld_last"].fillna(False).astype(bool)
    out = out.drop(columns="_merge").sort_values("day_offset").reset_index(drop=True)
    sf = pd.Timestamp(campaign.spring_festival(year))
    out.insert(1, "date", sf + pd.to_timedelta(out["day_offset"], unit="D"))
    cols = ["day_offset", "date", *MEASURES, "withheld", *(f"{m}_last" for m in MEASURES), "withheld_last"]
    return out[cols]


@dataclass(frozen=True)
class CheckinsView:
    """Station visits of one selection, suppressed together.

    Attributes
    ----------
    frames : pandas.DataFrame
        ``h3, date, visits, stations, visits_per_station_day, withheld`` per cell per day.
    cells : pandas.DataFrame
        ``h3, visits, stations, days, visits_per_station_day, withheld`` over the range.
    res : int
        H3 resolution of both.
    """

    frames: pd.DataFrame
    cells: pd.DataFrame
    res: int

    def busiest(self, top: int = 20) -> pd.DataFrame:
        """Cells where demand outruns supply: most visits per station per day, busiest first.

        Withheld cells are left out (they are small, or protect a small one).
        """
        cells = self.cells[~self.cells["withheld"]]
        return (
            cells.sort_values(["visits_per_station_day", "h3"], ascending=[False, True])
            .head(int(top))
            .reset_index(drop=True)
        )


def checkins_view(
    data: DataSource,
    *,
    k: int = 10,
    res: int = 7,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    region: str | None = None,
    engine: Engine = LOCAL,
) -> CheckinsView:
    """Station visits per H3 cell per day and over the range, suppressed together.

    Visits of 1..k-1 in a cell (or cell-day) are withheld like people counts; the station
    count of a cell is public and stays. Parameters (``engine`` too) as in
    :func:`geo.campaign.checkins_by`.
    """
    kw: dict[str, Any] = {"res": res, "date_from": date_from, "date_to": date_to, "region": region}
    atoms = campaign.checkins_by(data, "cell", by_day=True, engine=engine, **kw)
    whole = campaign.checkins_by(data, "cell", by_day=False, engine=engine, **kw)
    out = privacy.publish_together(
        atoms, {"frames": ["h3", "date"], "cells": ["h3"]}, k, count_col="visits", measures=("visits",)
    )
    frames = out["frames"].merge(atoms[["h3", "date", "stations"]], on=["h3", "date"], how="left")
    frames["visits_per_station_day"] = frames["visits"].astype("Float64") / frames["stations"]
    cells = out["cells"].merge(whole[["h3", "stations", "days"]], on="h3", how="left")
    cells["visits_per_station_day"] = cells["visits"].astype("Float64") / (cells["stations"] * cells["days"])
    return CheckinsView(
        frames=frames[["h3", "date", "visits", "stations", "visits_per_station_day", "withheld"]],
        cells=cells[["h3", "visits", "stations", "days", "visits_per_station_day", "withheld"]],
        res=int(res),
    )


def publish(
    data: DataSource,
    by: str | Sequence[str],
    filters: Filters | None = None,
    *,
    k: int = 10,
    res: int = 7,
    engine: Engine = LOCAL,
) -> dict[str, Any]:
    """Campaign figures by a grouping with their categories and total, suppressed together.

    Parameters
    ----------
    data, by, filters, res, engine
        As in :func:`geo.campaign.campaign_by`.
    k : int, default 10
        k-anonymity threshold.

    Returns
    -------
    dict
        ``{"total": {"people", "events", "funds_yuan", "withheld", "by_category": {code:
        {...}}}, "rows": DataFrame (keys, measures, withheld), "k": k}``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    f = (filters or Filters()).checked()
    raw = campaign.campaign_by(data, keys, f, res=res, engine=engine)
    row_keys = [_KEY_COLS[b] for b in keys]
    attrs = [c for c in raw.columns if c not in MEASURES and c not in row_keys]
    out, cats = privacy.publish_sharing_total(
        [
            (raw, {"rows": row_keys, "total": []}),
            (
                campaign.campaign_by(data, "category", f, engine=engine),
                {"categories": ["category"], "total": []},
            ),
        ],
        k,
        measures=MEASURES,
    )
    rows = out["rows"]
    if attrs:
        rows = rows.merge(raw.drop_duplicates(row_keys)[[*row_keys, *attrs]], on=row_keys, how="left")
        rows = rows[[*row_keys, *attrs, *MEASURES, "withheld"]]
    total = _figures(out["total"].iloc[0])
    total["by_category"] = {str(r["category"]): _figures(r) for _, r in cats["categories"].iterrows()}
    return {"total": total, "rows": rows, "k": int(k)}
