"""Coverage of workers by stations: who is served, per region, by time of day, and the gaps.

Definitions (the figures a planner puts in a report):

- A workplace is **covered** when its nearest *qualifying* station lies within
  ``radius_m`` metres, great-circle (:mod:`geo.distance`). Qualifying = passes the
  station filters (open at a minute of the day, amenities, kinds, not excluded), exactly
  as :meth:`geo.nearest.StationIndex.query_batch` applies them. All the workers of a
  covered workplace are covered workers.
- **Share** = covered workers / workers (workers, not workplaces).
- **Median / 90th-percentile distance** are *worker-weighted*: the distance within which
  half (90 %) of the workers have their nearest qualifying station, i.e. the inverted-CDF
  quantile of workplace distances weighted by ``workers`` (``numpy.quantile(...,
  weights=workers, method="inverted_cdf")``). ``inf`` when that many workers have no
  qualifying station at all.
- **Stations per 10,000 workers** counts the stations tagged with the region.

Distances come from the one station index (:class:`geo.nearest.StationIndex`); this module
never builds another. Workplaces without a region tag count in the totals but in no region.

Why one module of some 850 lines: summaries, region tables, gap cells and station reports
are the four tables of one coverage run and share its definitions above; the checks live in
:mod:`geo.validate`, the partial sums for other engines in :mod:`geo.partials`.

Size: one analysis — nearest distances, shares, region tables, time of day, gap cells and
the report tables all read the same coverage arrays; each part is short and they are kept
together so that the figures of one query come from one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from geo import hexes, partials, validate
from geo.engines import LOCAL, Engine
from geo.errors import InputError
from geo.nearest import REQUIRED_COLUMNS as _INDEX_COLUMNS
from geo.nearest import StationIndex
from geo.reports import CLOSED_MIN_CLIENTS
from geo.schema import OCCUPATIONS, REGION_COLUMNS

STATION_COLUMNS: Final = [*_INDEX_COLUMNS, *REGION_COLUMNS]
"""Station columns a coverage run reads: the index's and the region names and codes."""
WORKPLACE_COLUMNS: Final = ["workplace_id", "occupation", "workers", "lat", "lng", *REGION_COLUMNS, "h3_9"]
"""Workplace columns a coverage run reads."""

RADIUS_PRESETS_M: Final = (500.0, 1000.0, 3000.0)
"""Radius presets offered to planners, metres."""

TIMES_OF_DAY_MIN: Final = (270, 720, 1200, 120)
"""Default times of the time-of-day view: 04:30 (sanitation shifts start), 12:00, 20:00, 02:00."""

LEVEL_KEYS: Final[dict[str, tuple[str, str]]] = {
    "province": ("province_adcode", "province"),
    "city": ("city_adcode", "city"),
    "county": ("adcode", "county"),
}
"""For each region level, the (code, name) columns of the point tables."""

PARENT_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "province": (),
    "city": ("province_adcode", "province"),
    "county": ("province_adcode", "province", "city_adcode", "city"),
}
"""For each region level, the columns of its parent regions carried by a per-region table."""

REGION_STATS_COLUMNS: Final = (
    "adcode",
    "name",
    "workers",
    "covered",
    "uncovered",
    "share",
    "stations",
    "stations_per_10k",
    "median_distance_m",
    "p90_distance_m",
    "workplaces",
)
"""Columns of :func:`region_stats` (parent region codes/names follow for city and county)."""

GAP_MAX_CELLS_DEFAULT: Final = 6_000
"""Most gap cells sent to a map before coarsening (≈ 300 bytes each, under 3 MB)."""

_WORKPLACE_COLUMNS: Final = ("lat", "lng", "workers")


# ---------------------------------------------------------------- helpers


def _aligned(values: ArrayLike | None, n: int, name: str, dtype: Any) -> NDArray[Any] | None:  # noqa: ANN401
    return None if values is None else validate.aligned(values, n, name, dtype)


def occupation_mask(workplaces: pd.DataFrame, occupations: str | Iterable[str] | None) -> NDArray[np.bool_]:
    """Select workplaces by occupation.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with an ``occupation`` column.
    occupations : str or iterable of str, optional
        :data:`geo.schema.OCCUPATIONS` codes; empty or ``None`` selects every row.

    Returns
    -------
    numpy.ndarray
        ``bool`` array, shape ``(len(workplaces),)``.
    """
    items = (occupations,) if isinstance(occupations, str) else tuple(occupations or ())
    if not items:
        return np.ones(len(workplaces), dtype=bool)
    unknown = [o for o in items if o not in OCCUPATIONS]
    if unknown:
        raise InputError(
            f"occupations: unknown code(s) {unknown}; choose from {', '.join(OCCUPATIONS.values)}"
        )
    validate.check_columns(workplaces, ["occupation"], "workplaces")
    return np.array(workplaces["occupation"].isin(list(items)).to_numpy(dtype=bool, na_value=False))


def weighted_quantile_by_group(
    values: ArrayLike, weights: ArrayLike, group: ArrayLike, n_groups: int, qs: Sequence[float]
) -> NDArray[np.float64]:
    """Inverted-CDF weighted quantiles of ``values`` within each group, vectorised.

    Parameters
    ----------
    values : array_like
        ``float`` values (may be ``inf``), shape ``(n,)``.
    weights : array_like
        Non-negative integer weights (workers), shape ``(n,)``.
    group : array_like
        Group code ``0 .. n_groups-1`` of each value, shape ``(n,)``.
    n_groups : int
        Number of groups.
    qs : sequence of float
        Quantiles in ``(0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(len(qs), n_groups)``: for each ``q`` the smallest value ``v``
        of the group such that the weight of values ``<= v`` is at least ``q`` times the
        group weight (what ``numpy.quantile(values, q, weights=weights,
        method="inverted_cdf")`` gives); ``NaN`` for groups with no weight.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.int64)
    g = np.asarray(group, dtype=np.int64)
    out = np.full((len(qs), n_groups), np.nan)
    keep = w > 0
    v, w, g = v[keep], w[keep], g[keep]
    if len(v) == 0:
        return out
    # Sort by value, then stably by group: values ascend within each group.
    order = np.argsort(v, kind="stable")
    if n_groups > 1:
        order = order[np.argsort(g[order], kind="stable")]
    v, w, g = v[order], w[order], g[order]
    cum = np.cumsum(w)
    total = np.bincount(g, weights=w, minlength=n_groups).astype(np.int64)
    start = np.cumsum(total) - total
    has = total > 0
    for i, q in enumerate(qs):
        # ceil(q * total) in integers, so that 0.9 * 10 is 9, not 9.000000000000002.
        frac = Fraction(repr(float(q))).limit_denominator(10**6)
        need = -((-frac.numerator * total) // frac.denominator)
        idx = np.searchsorted(cum, start + np.maximum(need, 1), side="left")
        out[i, has] = v[np.minimum(idx[has], len(v) - 1)]
    return out


# ---------------------------------------------------------------- distances and coverage


def nearest_distance_m(
    workplaces: pd.DataFrame,
    index: StationIndex,
    *,
    amenities: str | Iterable[str] | None = (),
    kinds: str | Iterable[str] | None = (),
    open_at_min: int | None = None,
    exclude_ids: str | Iterable[str] | None = (),
    radius_m: float | None = None,
    engine: Engine = LOCAL,
) -> NDArray[np.float64]:
    """Great-circle distance from each workplace to its nearest qualifying station.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Rows with ``lat``/``lng`` (WGS-84 degrees).
    index : geo.nearest.StationIndex
        The station index.
    amenities, kinds, open_at_min, exclude_ids
        Station filters, as for :meth:`geo.nearest.StationIndex.query_batch`.
    radius_m : float, optional
        Search no farther than this (faster); farther distances come back as ``inf``.
    engine : geo.engines.Engine, default :data:`geo.engines.LOCAL`
        Where to query: off the local engine, chunks of workplaces go to the workers (the
        index broadcast to them once). The same distances on every engine.

    Returns
    -------
    numpy.ndarray
        ``float64`` metres, shape ``(len(workplaces),)``; ``inf`` where no qualifying
        station exists (within ``radius_m``).
    """
    validate.check_columns(workplaces, ("lat", "lng"), "workplaces")
    lat = workplaces["lat"].to_numpy(dtype=np.float64)
    lng = workplaces["lng"].to_numpy(dtype=np.float64)
    filters: dict[str, Any] = {
        "radius_m": radius_m,
        "amenities": amenities,
        "kinds": kinds,
        "open_at_min": open_at_min,
        "exclude_ids": exclude_ids,
    }
    if not engine.embedded:
        return partials.nearest_distance_m(engine, lat, lng, index, filters)
    dist, _ = index.query_batch(lat, lng, k=1, **filters)
    return np.asarray(dist[:, 0], dtype=np.float64)


def coverage_summary(
    workplaces: pd.DataFrame,
    index: StationIndex,
    radius_m: float,
    *,
    occupations: str | Iterable[str] | None = (),
    amenities: str | Iterable[str] | None = (),
    kinds: str | Iterable[str] | None = (),
    open_at_min: int | None = None,
    exclude_ids: str | Iterable[str] | None = (),
    distance_m: ArrayLike | None = None,
    parent: str | None = None,
    stations: pd.DataFrame | None = None,
    engine: Engine = LOCAL,
) -> dict[str, Any]:
    """Count the workers covered by qualifying stations within ``radius_m``.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces (``lat``, ``lng``, ``workers``; ``occupation`` when filtering by it).
    index : geo.nearest.StationIndex
        The station index.
    radius_m : float
        Service radius, great-circle metres (a workplace exactly at the radius is covered).
    occupations : str or iterable of str, optional
        Count only workplaces of these :data:`geo.schema.OCCUPATIONS`.
    amenities, kinds, open_at_min, exclude_ids
        Which stations qualify (see :meth:`geo.nearest.StationIndex.query_batch`).
    distance_m : array_like, optional
        Precomputed :func:`nearest_distance_m` for *all* rows of ``workplaces`` with the
        same station filters (saves the index query); the occupation filter is applied to it.
    parent : str, optional
        Only workplaces and stations inside this region (adcode of any level); needs
        ``stations``. Without it the figures are for every row (the nation).
    stations : pandas.DataFrame, optional
        The stations of ``index``, same rows and order, with region tags
        (``province_adcode``, ``city_adcode``, ``adcode``); needed with ``parent`` to count
        the qualifying stations inside the region.
    engine : geo.engines.Engine
        Where to compute the distances when ``distance_m`` is not given (see
        :func:`nearest_distance_m`).

    Returns
    -------
    dict
        ``radius_m``, ``workers_total``, ``workers_covered``, ``workers_uncovered``,
        ``share`` (``NaN`` when there are no workers), ``workplaces_total``,
        ``workplaces_covered``, ``median_distance_m``, ``p90_distance_m`` (worker-weighted,
        ``inf`` when too few workers have any qualifying station, ``NaN`` with no workers),
        ``stations_qualifying`` (inside ``parent`` when given) and ``stations_per_10k``
        (qualifying stations per 10,000 counted workers, ``NaN`` with no workers).
    """
    r = validate.check_radius_m(radius_m)
    validate.check_columns(workplaces, _WORKPLACE_COLUMNS, "workplaces")
    if parent and stations is None:
        raise InputError(f"parent={parent!r}: pass the stations table too, to count the stations inside it")
    if stations is not None and len(stations) != index.n_stations:
        raise InputError(
            f"stations has {len(stations)} rows but the index has {index.n_stations}; "
            "pass the frame the index was built from"
        )
    sel = occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & validate.region_mask(workplaces, parent)
    if distance_m is not None:
        dist = validate.aligned(distance_m, len(workplaces), "distance_m", np.float64)
    else:
        dist = nearest_distance_m(
            workplaces,
            index,
            amenities=amenities,
            kinds=kinds,
            open_at_min=open_at_min,
            exclude_ids=exclude_ids,
            engine=engine,
        )
    d = dist[sel]
    w = workplaces["workers"].to_numpy(dtype=np.int64)[sel]
    covered = d <= r
    total = int(w.sum())
    n_cov = int(w[covered].sum())
    zeros = np.zeros(len(d), dtype=np.int64)
    median, p90 = weighted_quantile_by_group(d, w, zeros, 1, (0.5, 0.9))[:, 0]
    qualifying = qualifying_mask(
        index, amenities=amenities, kinds=kinds, open_at_min=open_at_min, exclude_ids=exclude_ids
    )
    if parent and stations is not None:
        qualifying = qualifying & validate.region_mask(stations, parent)
    n_stations = int(qualifying.sum())
    return {
        "radius_m": r,
        "workers_total": total,
        "workers_covered": n_cov,
        "workers_uncovered": total - n_cov,
        "share": n_cov / total if total else float("nan"),
        "workplaces_total": int(sel.sum()),
        "workplaces_covered": int(covered.sum()),
        "median_distance_m": float(median),
        "p90_distance_m": float(p90),
        "stations_qualifying": n_stations,
        "stations_per_10k": n_stations * 1e4 / total if total else float("nan"),
    }


def qualifying_count(
    index: StationIndex,
    *,
    amenities: str | Iterable[str] | None = (),
    kinds: str | Iterable[str] | None = (),
    open_at_min: int | None = None,
    exclude_ids: str | Iterable[str] | None = (),
) -> int:
    """Return how many stations of ``index`` pass the filters."""
    return int(
        qualifying_mask(
            index, amenities=amenities, kinds=kinds, open_at_min=open_at_min, exclude_ids=exclude_ids
        ).sum()
    )


def qualifying_mask(
    index: StationIndex,
    *,
    amenities: str | Iterable[str] | None = (),
    kinds: str | Iterable[str] | None = (),
    open_at_min: int | None = None,
    exclude_ids: str | Iterable[str] | None = (),
) -> NDArray[np.bool_]:
    """Return which stations (rows of the index's frame) pass the filters, shape ``(n_stations,)``."""
    f = index._filter(amenities, kinds, open_at_min, None, exclude_ids)
    if f.is_empty:
        return np.ones(index.n_stations, dtype=bool)
    return np.asarray(index._matches(f), dtype=bool)


def coverage_by_time(
    workplaces: pd.DataFrame,
    index: StationIndex,
    radius_m: float,
    times_min: Sequence[int] = TIMES_OF_DAY_MIN,
    **filters: Any,  # noqa: ANN401 - occupations, amenities, kinds, exclude_ids
) -> pd.DataFrame:
    """Coverage at several times of day, side by side (night gaps show).

    Parameters
    ----------
    workplaces, index, radius_m
        As for :func:`coverage_summary`.
    times_min : sequence of int
        Minutes of the day (default 04:30, 12:00, 20:00, 02:00).
    **filters
        ``occupations``, ``amenities``, ``kinds``, ``exclude_ids`` (not ``open_at_min``).

    Returns
    -------
    pandas.DataFrame
        One row per time: ``at`` (``"HH:MM"``), ``open_at_min`` and the fields of
        :func:`coverage_summary`.
    """
    filters.pop("open_at_min", None)
    rows = []
    for t in times_min:
        s = coverage_summary(workplaces, index, radius_m, open_at_min=int(t), **filters)
        rows.append({"at": f"{int(t) // 60:02d}:{int(t) % 60:02d}", "open_at_min": int(t), **s})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- regions


def region_stats(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    level: str,
    distance_m: ArrayLike | None = None,
    covered: ArrayLike | None = None,
    *,
    radius_m: float | None = None,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
    station_mask: ArrayLike | None = None,
) -> pd.DataFrame:
    """Coverage figures per province, city or county.

    Parameters
    ----------
    stations : pandas.DataFrame
        Stations with region tags (``adcode``, ``province_adcode``, ``city_adcode``, names).
    workplaces : pandas.DataFrame
        Workplaces with ``workers`` and region tags.
    level : {"province", "city", "county"}
        Region level of the rows.
    distance_m : array_like, optional
        Nearest qualifying station per workplace, metres, shape ``(len(workplaces),)``
        (:func:`nearest_distance_m`); without it the distance columns are ``NaN``.
    covered : array_like of bool, optional
        Whether each workplace is covered; default ``distance_m <= radius_m`` when both are
        given, else the covered columns are ``NaN``.
    radius_m : float, optional
        Radius used to derive ``covered`` from ``distance_m``.
    parent : str, optional
        Only regions inside this region (its adcode, of any level), for drill-down.
    occupations : str or iterable of str, optional
        Count only workplaces of these occupations.
    station_mask : array_like of bool, optional
        Count only these stations (e.g. the qualifying ones), shape ``(len(stations),)``.

    Returns
    -------
    pandas.DataFrame
        One row per region that has workplaces or stations, sorted by ``adcode``, columns
        :data:`REGION_STATS_COLUMNS` (``workers``/``covered``/``uncovered``/``stations``/
        ``workplaces`` integers, ``share`` in [0, 1] or ``NaN`` with no workers,
        ``stations_per_10k``, worker-weighted ``median_distance_m``/``p90_distance_m``)
        followed by the parent columns (``province_adcode``, ``province`` for cities and
        counties; also ``city_adcode``, ``city`` for counties).
    """
    validate.check_level(level)
    code_col, name_col = LEVEL_KEYS[level]
    parents = PARENT_COLUMNS[level]
    validate.check_columns(workplaces, ("workers", code_col, name_col, *parents), "workplaces")
    validate.check_columns(stations, (code_col, name_col, *parents), "stations")
    n = len(workplaces)
    dist = _aligned(distance_m, n, "distance_m", np.float64)
    cov = _aligned(covered, n, "covered", bool)
    if cov is None and dist is not None and radius_m is not None:
        cov = dist <= validate.check_radius_m(radius_m)
    sel = occupation_mask(workplaces, occupations)
    st_sel = _aligned(station_mask, len(stations), "station_mask", bool)
    wp = workplaces.loc[sel, [code_col, name_col, *parents]]
    stn = stations[[code_col, name_col, *parents]]
    if st_sel is not None:
        stn = stn.loc[st_sel]
    if parent:
        wp = wp.loc[validate.region_mask(wp, parent)]
        stn = stn.loc[validate.region_mask(stn, parent)]
        sel_idx = np.flatnonzero(sel)[validate.region_mask(workplaces.loc[sel], parent)]
    else:
        sel_idx = np.flatnonzero(sel)
    workers = workplaces["workers"].to_numpy(dtype=np.int64)[sel_idx]

    # One code per region across both tables; rows without a tag belong to no region.
    codes = pd.concat([wp[code_col], stn[code_col]], ignore_index=True).astype("string")
    region_code, uniques = pd.factorize(codes, sort=True, use_na_sentinel=True)
    n_regions = len(uniques)
    wp_code = region_code[: len(wp)]
    st_code = region_code[len(wp) :]
    in_wp, in_st = wp_code >= 0, st_code >= 0
    out = pd.DataFrame({"adcode": pd.array(np.asarray(uniques, dtype=object), dtype="string")})
    # Names and parents: first row of each region (workplaces first, then stations).
    meta = pd.concat([wp[[name_col, *parents]], stn[[name_col, *parents]]], ignore_index=True)
    first = (
        pd.Series(np.arange(len(region_code)))[region_code >= 0]
        .groupby(region_code[region_code >= 0])
        .first()
    )
    meta_rows = meta.iloc[first.to_numpy()].reset_index(drop=True)
    out["name"] = meta_rows[name_col].astype("string").to_numpy()
    out["workers"] = np.bincount(wp_code[in_wp], weights=workers[in_wp], minlength=n_regions).astype(np.int64)
    out["workplaces"] = np.bincount(wp_code[in_wp], minlength=n_regions).astype(np.int64)
    if cov is not None:
        c = cov[sel_idx] & in_wp
        out["covered"] = np.bincount(wp_code[c], weights=workers[c], minlength=n_regions).astype(np.int64)
        out["uncovered"] = out["workers"] - out["covered"]
        out["share"] = ratio_or_nan(out["covered"].to_numpy(np.float64), out["workers"].to_numpy(np.float64))
    else:
        out["covered"] = np.nan
        out["uncovered"] = np.nan
        out["share"] = np.nan
    out["stations"] = np.bincount(st_code[in_st], minlength=n_regions).astype(np.int64)
    out["stations_per_10k"] = ratio_or_nan(
        out["stations"].to_numpy(np.float64) * 1e4, out["workers"].to_numpy(np.float64)
    )
    if dist is not None:
        d = dist[sel_idx][in_wp]
        qd = weighted_quantile_by_group(d, workers[in_wp], wp_code[in_wp], n_regions, (0.5, 0.9))
        out["median_distance_m"], out["p90_distance_m"] = qd[0], qd[1]
    else:
        out["median_distance_m"] = np.nan
        out["p90_distance_m"] = np.nan
    for col in parents:
        out[col] = meta_rows[col].astype("string").to_numpy()
    return out[[*REGION_STATS_COLUMNS, *parents]].reset_index(drop=True)


def ratio_or_nan(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return ``num / den``, ``NaN`` where ``den`` is 0 (a share of nobody is unknown, not 0)."""
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)


# ---------------------------------------------------------------- gaps


def gap_cells(
    workplaces: pd.DataFrame,
    covered: ArrayLike,
    res: int,
    *,
    top: int | None = None,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """H3 cells ranked by uncovered workers.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with ``h3_9`` (res-9 cells), ``workers``, ``lat``/``lng`` and region tags.
    covered : array_like of bool
        Whether each workplace is covered, shape ``(len(workplaces),)``.
    res : int
        Cell resolution, 0–9 (7 ≈ 5.2 km², 8 ≈ 0.74 km²).
    top : int, optional
        Keep only the ``top`` cells with the most uncovered workers.
    parent : str, optional
        Only workplaces inside this region (adcode of any level).
    occupations : str or iterable of str, optional
        Only workplaces of these occupations.
    engine : geo.engines.Engine, default :data:`geo.engines.LOCAL`
        As in :func:`nearest_distance_m` (off the local engine, workplace chunks are summed
        per cell on the workers; the ranking is the same code either way).

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 = most uncovered workers), ``h3``, ``workers_uncovered``,
        ``workplaces_uncovered``, ``workers`` (all workers in the cell), ``lat``/``lng``
        (cell centre), ``adcode``/``county``/``city``/``province`` (of the cell's first
        uncovered workplace in table order; a cell on a border may hold workplaces of two counties).
        Only cells with uncovered workers; ties ordered by ``h3``.
    """
    validate.check_res(res, 0, 9, "gap cells (parents of the stored res-9 cells)")
    validate.check_columns(workplaces, ("h3_9", "workers"), "workplaces")
    cov = validate.aligned(covered, len(workplaces), "covered", bool)
    sel = occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & validate.region_mask(workplaces, parent)
    rows = np.flatnonzero(sel)
    w = workplaces["workers"].to_numpy(dtype=np.int64)[rows]
    unc = ~cov[rows]
    if not engine.embedded:
        h3_9 = workplaces["h3_9"].iloc[rows].reset_index(drop=True)
        uniq, sums = partials.gap_sums(engine, h3_9, w, unc, rows, int(res))
    else:
        uniq, sums = _gap_sums(workplaces["h3_9"].iloc[rows], w, unc, rows, int(res))
    return _rank_gap_cells(workplaces, uniq, sums, top)


def _gap_sums(
    h3_9: pd.Series, w: NDArray[np.int64], unc: NDArray[np.bool_], rows: NDArray[np.int64], res: int
) -> tuple[NDArray[np.uint64], dict[str, NDArray[np.int64]]]:
    """Per-cell gap sums in this process, as :func:`geo.partials.gap_sums` gives them."""
    cells = hexes.cells_to_parent_int(hexes.str_to_int(h3_9), res)
    # Cells holding uncovered workplaces; np.unique also gives each cell's first such row.
    uniq, first, inverse = np.unique(cells[unc], return_index=True, return_inverse=True)
    workers_unc = np.bincount(inverse, weights=w[unc], minlength=len(uniq)).astype(np.int64)
    workplaces_unc = np.bincount(inverse, minlength=len(uniq)).astype(np.int64)
    pos = np.minimum(np.searchsorted(uniq, cells), max(len(uniq) - 1, 0))
    hit = (uniq[pos] == cells) if len(uniq) else np.zeros(len(cells), dtype=bool)
    workers_all = np.bincount(pos[hit], weights=w[hit], minlength=len(uniq)).astype(np.int64)
    return uniq, {
        "workers_uncovered": workers_unc,
        "workplaces_uncovered": workplaces_unc,
        "workers": workers_all,
        "first": rows[np.flatnonzero(unc)[first]],
    }


def _rank_gap_cells(
    workplaces: pd.DataFrame,
    cells: NDArray[np.uint64],
    sums: dict[str, NDArray[np.int64]],
    top: int | None,
) -> pd.DataFrame:
    """Rank cells by their sums (:data:`geo.partials.GAP_SUMS`) into the :func:`gap_cells` frame."""
    # Same-length hex strings sort like their integers, so ties go by the h3 text.
    order = np.lexsort((cells, -sums["workers_uncovered"]))
    if top is not None:
        order = order[: max(int(top), 0)]
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1, dtype=np.int64),
            "h3": hexes.int_to_str(cells[order]),
            "workers_uncovered": sums["workers_uncovered"][order],
            "workplaces_uncovered": sums["workplaces_uncovered"][order],
            "workers": sums["workers"][order],
        }
    )
    lat, lng = (
        hexes.cells_to_latlng(out["h3"].to_numpy(dtype=object)) if len(out) else (np.empty(0), np.empty(0))
    )
    out["lat"], out["lng"] = lat, lng
    first_row = sums["first"][order]
    for col in ("adcode", "county", "city", "province"):
        if col in workplaces.columns:
            out[col] = workplaces[col].iloc[first_row].to_numpy(dtype=object)
    return out


def gap_cells_for_map(
    workplaces: pd.DataFrame,
    covered: ArrayLike,
    res: int,
    *,
    max_cells: int = GAP_MAX_CELLS_DEFAULT,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
    bbox: Sequence[float] | None = None,
    min_res: int | None = None,
    engine: Engine = LOCAL,
) -> tuple[pd.DataFrame, int, bool]:
    """Gap cells small enough to draw: coarser resolutions if needed, then the top cells.

    Parameters
    ----------
    workplaces, covered, res, parent, occupations
        As for :func:`gap_cells`.
    max_cells : int
        Most cells to return (:data:`GAP_MAX_CELLS_DEFAULT` keeps a map under 3 MB).
    bbox : sequence of float, optional
        ``(west, south, east, north)`` WGS-84 degrees (:class:`geo.validate.BBox`): only
        workplaces inside it (the map's view), so a zoomed-in map can show the chosen resolution.
    min_res : int, optional
        Coarsen one level at a time, no further than this resolution (default ``res - 1``).
    engine : geo.engines.Engine
        As in :func:`gap_cells`.

    Returns
    -------
    (pandas.DataFrame, int, bool)
        The :func:`gap_cells` table; the resolution used (``res``, or the finest coarser
        one, down to ``min_res``, with at most ``max_cells`` cells); and whether cells
        beyond the top ``max_cells`` were left out.
    """
    r = int(res)
    wp = workplaces
    cov = validate.aligned(covered, len(workplaces), "covered", bool)
    if bbox is not None:
        keep = inside_bbox(workplaces, bbox, "workplaces")
        wp, cov = workplaces.loc[keep], cov[keep]
    cells = gap_cells(wp, cov, r, parent=parent, occupations=occupations, engine=engine)
    floor = max(int(res) - 1 if min_res is None else int(min_res), 0)
    while len(cells) > max_cells and r > floor:
        r -= 1
        cells = gap_cells(wp, cov, r, parent=parent, occupations=occupations, engine=engine)
    truncated = len(cells) > max_cells
    return cells.head(max_cells).reset_index(drop=True), r, truncated


def inside_bbox(df: pd.DataFrame, bbox: Sequence[float], what: str = "points") -> NDArray[np.bool_]:
    """Return which rows of ``df`` (``lat``, ``lng``) lie in ``bbox`` = (west, south, east, north)."""
    box = validate.check_bbox(bbox)
    validate.check_columns(df, ("lat", "lng"), what)
    return validate.in_bbox(df["lat"].to_numpy(dtype=np.float64), df["lng"].to_numpy(dtype=np.float64), box)


def bbox_of_view(bbox: Sequence[float], pad: float = 0.0) -> validate.BBox:
    """Pad a map view's bounds by ``pad`` times its size on each side, clipped to the globe.

    Parameters
    ----------
    bbox : sequence of float
        The view, ``(west, south, east, north)`` WGS-84 degrees.
    pad : float
        Share of the view's width (height) added on the west and east (south and north).

    Returns
    -------
    geo.validate.BBox
        ``(west, south, east, north)``, WGS-84 degrees.
    """
    b = validate.check_bbox(bbox)
    dlat, dlng = (b.north - b.south) * pad, (b.east - b.west) * pad
    return validate.BBox(
        max(b.west - dlng, -validate.LNG_MAX),
        max(b.south - dlat, -validate.LAT_MAX),
        min(b.east + dlng, validate.LNG_MAX),
        min(b.north + dlat, validate.LAT_MAX),
    )


def cell_workplaces(
    workplaces: pd.DataFrame,
    covered: ArrayLike,
    cell: str,
    *,
    occupations: str | Iterable[str] | None = (),
) -> pd.DataFrame:
    """Workers of one H3 cell by occupation, covered and not.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with ``h3_9``, ``occupation``, ``workers``.
    covered : array_like of bool
        Whether each workplace is covered.
    cell : str
        An H3 cell of resolution 0–9.
    occupations : str or iterable of str, optional
        Only workplaces of these occupations (as the gap map counts them).

    Returns
    -------
    pandas.DataFrame
        One row per occupation present: ``occupation``, ``workplaces``, ``workers``,
        ``workers_uncovered``; most uncovered first.
    """
    cov = validate.aligned(covered, len(workplaces), "covered", bool)
    try:
        res = hexes.cell_resolution(cell)
    except Exception as exc:  # h3 raises its own error types for malformed cells
        raise InputError(f"cell {cell!r} is not an H3 cell") from exc
    if res > 9:
        raise InputError(f"cell {cell!r} is finer than the stored res-9 cells; choose a cell of res 0–9")
    parents = hexes.cells_to_parent_int(hexes.str_to_int(workplaces["h3_9"]), res)
    inside = (parents == np.uint64(int(cell, 16))) & occupation_mask(workplaces, occupations)
    w = workplaces["workers"].to_numpy(dtype=np.int64)[inside]
    frame = pd.DataFrame(
        {
            "occupation": workplaces["occupation"].to_numpy(dtype=object)[inside],
            "workers": w,
            "workers_uncovered": np.where(cov[inside], 0, w),
        }
    )
    out = frame.groupby("occupation", as_index=False).agg(
        workplaces=("workers", "size"),
        workers=("workers", "sum"),
        workers_uncovered=("workers_uncovered", "sum"),
    )
    return out.sort_values(["workers_uncovered", "occupation"], ascending=[False, True]).reset_index(
        drop=True
    )


# ---------------------------------------------------------------- station reports


def reported_closed_ids(reports: pd.DataFrame, min_clients: int = CLOSED_MIN_CLIENTS) -> list[str]:
    """Station ids reported closed by at least ``min_clients`` different clients (sorted, unique).

    The same rule as a station card's ``reported_closed`` (:mod:`geo.reports`): one person
    (or one prank) cannot take a station out of the figures. Only open reports count.

    Parameters
    ----------
    reports : pandas.DataFrame
        Reports as from :func:`geo.store.read_reports` (``station_id``, ``problem``,
        ``status``, ``client``).
    min_clients : int, default :data:`geo.reports.CLOSED_MIN_CLIENTS`
        Different clients whose ``closed`` reports are needed.
    """
    if reports.empty:
        return []
    r = reports
    if "status" in r.columns:
        r = r[r["status"] == "open"]
    r = r[r["problem"] == "closed"]
    clients = r.groupby(r["station_id"].astype(str))["client"].nunique()
    return sorted(clients.index[clients >= min_clients])


def reports_with_stations(
    reports: pd.DataFrame, stations: pd.DataFrame, parent: str | None = None
) -> pd.DataFrame:
    """Open reports with their station's name and region, optionally inside one region.

    Parameters
    ----------
    reports : pandas.DataFrame
        Reports (``station_id``, ``problem``, ``status``, ...), in the order to keep.
    stations : pandas.DataFrame
        Stations with ``station_id``, ``name`` and region tags.
    parent : str, optional
        Only reports of stations inside this region (adcode of any level).

    Returns
    -------
    pandas.DataFrame
        The open reports of known stations, in their input order, with ``station_name``,
        ``county``, ``city``, ``province`` and the region codes added.
    """
    cols = ["station_id", "name", *REGION_COLUMNS]
    validate.check_columns(stations, cols, "stations")
    r = reports
    if "status" in r.columns:
        r = r[r["status"] == "open"]
    tags = stations[cols].astype({"station_id": "string"}).rename(columns={"name": "station_name"})
    j = r.astype({"station_id": "string"}).merge(tags, on="station_id", how="inner", sort=False)
    if parent:
        j = j.loc[validate.region_mask(j, parent)]
    return j.reset_index(drop=True)


def reports_by_region(
    reports: pd.DataFrame, stations: pd.DataFrame, level: str, parent: str | None = None
) -> pd.DataFrame:
    """Open station reports per region and problem.

    Parameters
    ----------
    reports : pandas.DataFrame
        Reports (``station_id``, ``problem``, ``status``).
    stations : pandas.DataFrame
        Stations with ``station_id`` and region tags.
    level : {"province", "city", "county"}
        Region level.
    parent : str, optional
        Only regions inside this region (adcode of any level).

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, one integer column per problem code present, ``reports``
        (total), ``stations_reported`` (distinct stations); most reports first. Reports of
        unknown stations are left out.
    """
    validate.check_level(level)
    code_col, name_col = LEVEL_KEYS[level]
    if reports.empty:
        return pd.DataFrame(columns=["adcode", "name", "reports", "stations_reported"])
    r = reports
    if "status" in r.columns:
        r = r[r["status"] == "open"]
    tag_cols = list(
        dict.fromkeys(["station_id", code_col, name_col, "province_adcode", "city_adcode", "adcode"])
    )
    tags = stations[[c for c in tag_cols if c in stations.columns]].astype({"station_id": "string"})
    j = r.astype({"station_id": "string"}).merge(tags, on="station_id", how="inner")
    if parent:
        j = j.loc[validate.region_mask(j, parent)]
    if j.empty:
        return pd.DataFrame(columns=["adcode", "name", "reports", "stations_reported"])
    wide = pd.crosstab([j[code_col], j[name_col]], j["problem"])
    wide["reports"] = wide.sum(axis=1)
    wide["stations_reported"] = j.groupby([code_col, name_col])["station_id"].nunique()
    wide = wide.reset_index().rename(columns={code_col: "adcode", name_col: "name"})
    wide.columns.name = None
    return wide.sort_values(["reports", "adcode"], ascending=[False, True]).reset_index(drop=True)
