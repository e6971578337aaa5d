"""Accessibility and crowding: two-step floating catchment area (2SFCA / E2SFCA).

Coverage (:mod:`geo.coverage`) is binary: a worker is covered when any station is near.
This module weighs *supply per demand* instead — how many seats a worker can reach,
shared with everyone else who can reach them — and the load on each station.

Definitions (``d_ij`` = great-circle metres between workplace ``i`` and station ``j``,
``d0`` = ``radius_m``, ``P_i`` = workers of workplace ``i``, ``S_j`` = seats of station ``j``):

- **2SFCA** (Luo & Wang 2003), weight ``w(d) = 1`` for ``d <= d0``, else 0:

  - station ratio ``R_j = S_j / Σ_i P_i w(d_ij)`` (seats per worker in its catchment);
  - accessibility ``A_i = Σ_j R_j w(d_ij)`` (seats per worker reachable from ``i``).

- **E2SFCA** (Luo & Qi 2009) with a Gaussian decay inside the catchment, the same
  formulas with

  ``w(d) = exp(-½ (d / σ)²)`` for ``d <= d0``, else 0,

  ``σ = sigma_m``, by default ``d0 / 2`` (so ``w(0) = 1``, ``w(d0/2) = e^-½ ≈ 0.607``,
  ``w(d0) = e^-2 ≈ 0.135``). This is PySAL ``access.weights.gaussian(σ)`` cut at ``d0``.
- **Load** of station ``j``: workers in its catchment per seat, ``Σ_i P_i w(d_ij) / S_j``
  (= ``1 / R_j``); a station is **crowded** when its load exceeds a threshold (setting
  ``crowded_workers_per_seat``).
- Both sides use the same weights, so seats are conserved: ``Σ_i P_i A_i = Σ_j S_j`` over
  the stations with any worker in reach (tested).

Undefined values are ``NaN``, never ``inf``: the load of a station with 0 or unknown
seats; the ratio of a station with unknown seats or with no worker in reach. Such
stations add nothing to anyone's accessibility. A workplace with no station in reach
has ``A = 0``. Figures for people are given as **seats per 1,000 workers**
(``A × 1000``); a worker is *below the threshold* when that is less than the setting
``access_threshold_seats_per_1000`` (:func:`reaches` allows a relative ``1e-9`` for
rounding).

Computation: one KD-tree per side on unit-sphere points (:func:`geo.distance.latlng_to_xyz`),
``sparse_distance_matrix`` gives every pair within the chord of ``d0`` at once; pairs are
cut on great-circle metres as :mod:`geo.nearest` cuts them, and the weights form a
``scipy.sparse`` CSR matrix ``W`` (workplaces × stations): demand ``= Wᵀ P``,
``A = W R``. No Python loop over rows. On an engine that does not run in this process (a Dask
cluster, :class:`geo.engines.DaskEngine`) the same two steps run as partial aggregates
over chunks of workplaces with ``engine.map_chunks``, the station arrays broadcast once
(:func:`station_demand_partial` summed, then :func:`accessibility_partial` mapped; see
:func:`two_step_arrays`).

Catchments cross region borders, so accessibility is always computed over all
workplaces and stations; regions and occupations only select whose figures are summed.

Size: one method — 2SFCA/E2SFCA, its per-chunk partials for the engines, station load and
its summaries per region, cell and station share the sparse catchment matrix and its
conventions (undefined as NaN, seat conservation); half of the length is docstrings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.spatial import cKDTree

from geo import coverage, hexes, validate
from geo.distance import arc_m_to_chord, chord_to_arc_m, latlng_to_xyz
from geo.engines import LOCAL, Broadcast, Engine, row_chunks
from geo.errors import InputError

METHODS: Final = ("2sfca", "e2sfca")
"""Accessibility methods: plain catchments, or Gaussian decay inside them."""

SIGMA_PER_RADIUS_DEFAULT: Final = 0.5
"""E2SFCA default ``σ = 0.5 · d0`` (weight ``e^-2 ≈ 0.135`` at the catchment edge)."""

PER_1000: Final = 1000.0
"""Accessibility is shown as seats per this many workers."""

REACH_RTOL: Final = 1e-9
"""Relative tolerance of :func:`reaches` (sums in another order differ in the last bits)."""

STATION_COLUMNS: Final = ["station_id", "name", "lat", "lng", "seats", *coverage.REGION_COLUMNS]
"""Station columns the summaries read (the computation itself needs ``lat``, ``lng``, ``seats``)."""

WORKPLACE_COLUMNS: Final = ["lat", "lng", "workers", "occupation", "h3_9", *coverage.REGION_COLUMNS]
"""Workplace columns the summaries read (the computation itself needs ``lat``, ``lng``, ``workers``)."""

REGION_ACCESS_COLUMNS: Final = (
    "adcode",
    "name",
    "workers",
    "workplaces",
    "seats_per_1000",
    "workers_below",
    "share_below",
    "stations",
    "seats",
    "stations_crowded",
)
"""Columns of :func:`region_access` (parent region codes/names follow for city and county)."""

STATION_TABLE_COLUMNS: Final = (
    "station_id",
    "name",
    "lat",
    "lng",
    "seats",
    "workers_in_reach",
    "load_workers_per_seat",
    "ratio",
    "crowded",
    "province",
    "city",
    "county",
    "adcode",
)
"""Columns of :func:`station_table`."""


# ---------------------------------------------------------------- checks


def check_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`METHODS`, else raise :class:`InputError`."""
    if method not in METHODS:
        raise InputError(f"method={method!r}: choose one of {', '.join(METHODS)}")
    return method


def decay_sigma_m(radius_m: float, method: str, sigma_m: float | None = None) -> float | None:
    """Return the Gaussian width σ in metres used by ``method`` (``None`` for 2SFCA).

    Parameters
    ----------
    radius_m : float
        Catchment radius ``d0``, metres.
    method : {"2sfca", "e2sfca"}
        Accessibility method.
    sigma_m : float, optional
        Width of the Gaussian, metres; default ``0.5 · radius_m``.
    """
    check_method(method)
    if method == "2sfca":
        return None
    if sigma_m is None:
        return SIGMA_PER_RADIUS_DEFAULT * float(radius_m)
    s = float(sigma_m)
    if not (s > 0 and np.isfinite(s)):
        raise InputError(f"sigma_m={sigma_m!r}: give a positive width in metres")
    return s


def gaussian_weight(distance_m: ArrayLike, sigma_m: float) -> NDArray[np.float64]:
    """E2SFCA distance weight ``exp(-½ (d / σ)²)`` (no cut; the catchment cuts at ``d0``).

    Parameters
    ----------
    distance_m : array_like
        Great-circle distances, metres.
    sigma_m : float
        Width σ of the Gaussian, metres.

    Returns
    -------
    numpy.ndarray
        ``float64`` weights in ``(0, 1]``, same shape.
    """
    d = np.asarray(distance_m, dtype=np.float64)
    return np.exp(-0.5 * (d / float(sigma_m)) ** 2)


def reaches(accessibility: ArrayLike, threshold_per_1000: float) -> NDArray[np.bool_]:
    """Return whether accessibility reaches ``threshold_per_1000`` seats per 1,000 workers.

    Parameters
    ----------
    accessibility : array_like
        ``A_i``, seats per worker.
    threshold_per_1000 : float
        Threshold, seats per 1,000 workers.

    Returns
    -------
    numpy.ndarray
        ``bool``: ``A · 1000 >= threshold · (1 − 1e-9)`` (:data:`REACH_RTOL`).
    """
    a = np.asarray(accessibility, dtype=np.float64) * PER_1000
    return a >= float(threshold_per_1000) * (1.0 - REACH_RTOL)


# ---------------------------------------------------------------- the sparse kernel (public: the partials)


def catchment_weights(
    lat: ArrayLike,
    lng: ArrayLike,
    station_lat: ArrayLike,
    station_lng: ArrayLike,
    radius_m: float,
    *,
    method: str = "2sfca",
    sigma_m: float | None = None,
) -> sparse.csr_matrix:
    """Catchment weights ``w(d_ij)`` of every workplace–station pair within ``radius_m``.

    Parameters
    ----------
    lat, lng : array_like
        Workplaces, WGS-84 degrees, shape ``(n,)``.
    station_lat, station_lng : array_like
        Stations, WGS-84 degrees, shape ``(m,)``.
    radius_m : float
        Catchment radius ``d0``, great-circle metres (a pair exactly at ``d0`` is in).
    method : {"2sfca", "e2sfca"}
        ``w = 1`` inside the catchment, or the Gaussian of :func:`gaussian_weight`.
    sigma_m : float, optional
        Gaussian width for ``e2sfca`` (default ``radius_m / 2``).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``float64``, shape ``(n, m)``; entry ``(i, j)`` is ``w(d_ij)``, absent beyond ``d0``.
    """
    r = validate.check_radius_m(radius_m)
    sigma = decay_sigma_m(r, method, sigma_m)
    xw = latlng_to_xyz(lat, lng).reshape(-1, 3)
    xs = latlng_to_xyz(station_lat, station_lng).reshape(-1, 3)
    n, m = len(xw), len(xs)
    if n == 0 or m == 0:
        return sparse.csr_matrix((n, m), dtype=np.float64)
    # A hair generous on the chord, then cut on metres as geo.nearest and geo.siting do.
    bound = float(arc_m_to_chord(r)) * (1.0 + 1e-9) + 1e-12
    pairs = cKDTree(xw).sparse_distance_matrix(cKDTree(xs), bound, output_type="ndarray")
    d = chord_to_arc_m(pairs["v"])
    keep = d <= r
    i, j, d = pairs["i"][keep], pairs["j"][keep], d[keep]
    w = np.ones(len(d)) if sigma is None else gaussian_weight(d, sigma)
    return sparse.csr_matrix((w, (i, j)), shape=(n, m))


def station_demand_partial(
    lat: ArrayLike,
    lng: ArrayLike,
    workers: ArrayLike,
    station_lat: ArrayLike,
    station_lng: ArrayLike,
    radius_m: float,
    *,
    method: str = "2sfca",
    sigma_m: float | None = None,
) -> NDArray[np.float64]:
    """Step 1 on a chunk of workplaces: weighted workers in reach of each station.

    Summing this over chunks of the workplaces gives the demand of every station
    (``Σ_i P_i w(d_ij)``); the chunks are independent (a Dask partition each).

    Parameters
    ----------
    lat, lng, workers : array_like
        The chunk's workplaces (WGS-84 degrees) and their workers, shape ``(n,)``.
    station_lat, station_lng : array_like
        All stations, shape ``(m,)``.
    radius_m, method, sigma_m
        As for :func:`catchment_weights`.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(m,)``.
    """
    w = catchment_weights(lat, lng, station_lat, station_lng, radius_m, method=method, sigma_m=sigma_m)
    p = np.asarray(workers, dtype=np.float64).reshape(-1)
    return np.asarray(w.T @ p, dtype=np.float64)


def station_ratio(seats: ArrayLike, demand_workers: ArrayLike) -> NDArray[np.float64]:
    """Station ratio ``R_j = S_j / demand_j``, seats per worker in the catchment.

    Parameters
    ----------
    seats : array_like
        Seats per station (``NaN`` = unknown), shape ``(m,)``.
    demand_workers : array_like
        Weighted workers in reach (:func:`station_demand_partial` summed), shape ``(m,)``.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(m,)``; ``NaN`` where seats are unknown or no worker is in reach.
    """
    s = np.asarray(seats, dtype=np.float64)
    dem = np.asarray(demand_workers, dtype=np.float64)
    ok = np.isfinite(s) & (dem > 0)
    return np.divide(s, dem, out=np.full(len(s), np.nan), where=ok)


def accessibility_partial(
    lat: ArrayLike,
    lng: ArrayLike,
    station_lat: ArrayLike,
    station_lng: ArrayLike,
    ratio: ArrayLike,
    radius_m: float,
    *,
    method: str = "2sfca",
    sigma_m: float | None = None,
) -> NDArray[np.float64]:
    """Step 2 on a chunk of workplaces: ``A_i = Σ_j R_j w(d_ij)``.

    Parameters
    ----------
    lat, lng : array_like
        The chunk's workplaces, WGS-84 degrees, shape ``(n,)``.
    station_lat, station_lng : array_like
        All stations, shape ``(m,)``.
    ratio : array_like
        :func:`station_ratio` of every station (``NaN`` adds nothing), shape ``(m,)``.
    radius_m, method, sigma_m
        As for :func:`catchment_weights`.

    Returns
    -------
    numpy.ndarray
        ``float64`` seats per worker, shape ``(n,)``; 0 with no station in reach.
    """
    w = catchment_weights(lat, lng, station_lat, station_lng, radius_m, method=method, sigma_m=sigma_m)
    return np.asarray(w @ np.nan_to_num(np.asarray(ratio, dtype=np.float64), nan=0.0), dtype=np.float64)


def _demand_chunk(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    workers: NDArray[np.float64],
    station_lat: NDArray[np.float64],
    station_lng: NDArray[np.float64],
    radius_m: float,
    method: str,
    sigma_m: float | None,
) -> NDArray[np.float64]:
    return station_demand_partial(
        lat, lng, workers, station_lat, station_lng, radius_m, method=method, sigma_m=sigma_m
    )


def _access_chunk(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    station_lat: NDArray[np.float64],
    station_lng: NDArray[np.float64],
    ratio: NDArray[np.float64],
    radius_m: float,
    method: str,
    sigma_m: float | None,
) -> NDArray[np.float64]:
    return accessibility_partial(
        lat, lng, station_lat, station_lng, ratio, radius_m, method=method, sigma_m=sigma_m
    )


def two_step_arrays(
    engine: Engine,
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
    """Both steps of :func:`two_step_fca` as partial aggregates over chunks of workplaces on ``engine``.

    Step 1: every chunk of workplaces (:func:`geo.engines.row_chunks`) sums its workers into
    the stations in reach (:func:`station_demand_partial`, its own tree query against the
    station arrays, broadcast once); the chunks' vectors are added. Step 2: the ratios
    (:func:`station_ratio`) are broadcast and each chunk computes its workplaces'
    accessibility (:func:`accessibility_partial`), concatenated in order.

    Parameters
    ----------
    engine : geo.engines.Engine
        Where the chunks run.
    lat, lng, workers : numpy.ndarray
        Workplaces (WGS-84 degrees) and their workers, shape ``(n,)``.
    station_lat, station_lng, seats : numpy.ndarray
        The stations taking part and their seats (``NaN`` unknown), shape ``(m,)``.
    radius_m, method, sigma_m
        As for :func:`catchment_weights`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Weighted workers in reach per station, shape ``(m,)``, and accessibility (seats per
        worker) per workplace, shape ``(n,)`` -- the local results up to summation order.
    """
    n, m = len(lat), len(station_lat)
    if n == 0 or m == 0:
        return np.zeros(m), np.zeros(n)
    s_lat = Broadcast(np.asarray(station_lat, dtype=np.float64))
    s_lng = Broadcast(np.asarray(station_lng, dtype=np.float64))
    slices = row_chunks(n, engine.parallelism)
    parts = engine.map_chunks(
        _demand_chunk, [(lat[s], lng[s], workers[s]) for s in slices], s_lat, s_lng, radius_m, method, sigma_m
    )
    demand = np.sum(np.stack(parts), axis=0)
    ratio = Broadcast(station_ratio(seats, demand))
    acc = engine.map_chunks(
        _access_chunk, [(lat[s], lng[s]) for s in slices], s_lat, s_lng, ratio, radius_m, method, sigma_m
    )
    return demand, np.concatenate(acc)


# ---------------------------------------------------------------- the analysis


@dataclass(frozen=True)
class AccessResult:
    """Station ratios, loads and worker accessibility of one run.

    Station arrays are aligned with the rows of the stations frame, workplace arrays
    with the rows of the workplaces frame.

    Attributes
    ----------
    radius_m : float
        Catchment radius ``d0``, metres.
    method : str
        ``"2sfca"`` or ``"e2sfca"``.
    sigma_m : float or None
        Gaussian width of E2SFCA, metres (``None`` for 2SFCA).
    qualifying : numpy.ndarray
        ``bool``, shape ``(m,)``: stations that took part (open at the time asked, etc.).
    seats : numpy.ndarray
        ``float64`` seats, shape ``(m,)`` (``NaN`` unknown).
    workers_in_reach : numpy.ndarray
        ``float64`` (decay-weighted) workers in each station's catchment, shape ``(m,)``;
        0 for stations that do not qualify.
    ratio : numpy.ndarray
        ``R_j`` seats per worker, shape ``(m,)``; ``NaN`` if unknown seats, no worker in
        reach or not qualifying.
    load_workers_per_seat : numpy.ndarray
        Workers in reach per seat, shape ``(m,)``; ``NaN`` with 0 or unknown seats or not qualifying.
    accessibility : numpy.ndarray
        ``A_i`` seats per worker, shape ``(n,)``; 0 with no station in reach.
    """

    radius_m: float
    method: str
    sigma_m: float | None
    qualifying: NDArray[np.bool_] = field(repr=False)
    seats: NDArray[np.float64] = field(repr=False)
    workers_in_reach: NDArray[np.float64] = field(repr=False)
    ratio: NDArray[np.float64] = field(repr=False)
    load_workers_per_seat: NDArray[np.float64] = field(repr=False)
    accessibility: NDArray[np.float64] = field(repr=False)

    @property
    def seats_per_1000(self) -> NDArray[np.float64]:
        """Accessibility of each workplace in seats per 1,000 workers, shape ``(n,)``."""
        return self.accessibility * PER_1000

    def crowded(self, workers_per_seat: float) -> NDArray[np.bool_]:
        """Stations whose load exceeds ``workers_per_seat`` (``False`` where the load is ``NaN``)."""
        load = self.load_workers_per_seat
        return np.isfinite(load) & (load > float(workers_per_seat))


def _seats(stations: pd.DataFrame) -> NDArray[np.float64]:
    validate.check_columns(stations, ("lat", "lng", "seats"), "stations")
    return np.asarray(pd.to_numeric(stations["seats"], errors="coerce"), dtype=np.float64)


def two_step_fca(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    radius_m: float,
    *,
    method: str = "2sfca",
    sigma_m: float | None = None,
    station_mask: ArrayLike | None = None,
    engine: Engine = LOCAL,
) -> AccessResult:
    """Two-step floating catchment accessibility of every workplace, and every station's load.

    Parameters
    ----------
    stations : pandas.DataFrame
        Stations with ``lat``, ``lng`` (WGS-84) and ``seats`` (missing = unknown).
    workplaces : pandas.DataFrame
        Workplaces with ``lat``, ``lng`` and ``workers``.
    radius_m : float
        Catchment radius ``d0``, great-circle metres.
    method : {"2sfca", "e2sfca"}
        Plain catchments, or Gaussian decay ``exp(-½ (d/σ)²)`` inside them (module docstring).
    sigma_m : float, optional
        Gaussian width for ``e2sfca``, metres (default ``radius_m / 2``).
    station_mask : array_like of bool, optional
        Only these stations take part, shape ``(len(stations),)`` — e.g. those open at a
        time of day: ``geo.coverage.qualifying_mask(index, open_at_min=270)``.
    engine : geo.engines.Engine
        Where it runs (default :data:`geo.engines.LOCAL`, one sparse matrix in this process);
        an engine that is not embedded (Dask) runs both steps as partial aggregates over
        chunks of workplaces (:func:`two_step_arrays`). The same figures either way (to
        rounding).

    Returns
    -------
    AccessResult
    """
    r = validate.check_radius_m(radius_m)
    check_method(method)
    sigma = decay_sigma_m(r, method, sigma_m)
    seats = _seats(stations)
    validate.check_columns(workplaces, ("lat", "lng", "workers"), "workplaces")
    qual = (
        np.ones(len(stations), dtype=bool)
        if station_mask is None
        else validate.aligned(station_mask, len(stations), "station_mask", bool)
    )
    pos = np.flatnonzero(qual)
    s_lat = stations["lat"].to_numpy(dtype=np.float64)[pos]
    s_lng = stations["lng"].to_numpy(dtype=np.float64)[pos]
    lat = workplaces["lat"].to_numpy(dtype=np.float64)
    lng = workplaces["lng"].to_numpy(dtype=np.float64)
    p = workplaces["workers"].to_numpy(dtype=np.float64)
    if engine.embedded:
        w = catchment_weights(lat, lng, s_lat, s_lng, r, method=method, sigma_m=sigma)
        dem_q = np.asarray(w.T @ p, dtype=np.float64)
        acc = np.asarray(w @ np.nan_to_num(station_ratio(seats[pos], dem_q), nan=0.0), dtype=np.float64)
    else:
        dem_q, acc = two_step_arrays(
            engine, lat, lng, p, s_lat, s_lng, seats[pos], r, method=method, sigma_m=sigma
        )
    demand = np.zeros(len(stations))
    demand[pos] = dem_q
    ratio = np.full(len(stations), np.nan)
    ratio[pos] = station_ratio(seats[pos], dem_q)
    load = np.divide(demand, seats, out=np.full(len(stations), np.nan), where=qual & (seats > 0))
    return AccessResult(
        radius_m=r,
        method=method,
        sigma_m=sigma,
        qualifying=qual,
        seats=seats,
        workers_in_reach=demand,
        ratio=ratio,
        load_workers_per_seat=load,
        accessibility=acc,
    )


# ---------------------------------------------------------------- summaries


def _selection(
    workplaces: pd.DataFrame, parent: str | None, occupations: str | Iterable[str] | None
) -> NDArray[np.bool_]:
    sel = coverage.occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & validate.region_mask(workplaces, parent)
    return sel


def _check_result(result: AccessResult, stations: pd.DataFrame | None, workplaces: pd.DataFrame) -> None:
    if len(result.accessibility) != len(workplaces):
        raise InputError(
            f"the access result has {len(result.accessibility)} workplaces but the table has "
            f"{len(workplaces)}; pass the workplaces it was computed from"
        )
    if stations is not None and len(result.seats) != len(stations):
        raise InputError(
            f"the access result has {len(result.seats)} stations but the table has {len(stations)}; "
            "pass the stations it was computed from"
        )


def access_summary(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    result: AccessResult,
    threshold_per_1000: float,
    crowded_workers_per_seat: float,
    *,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> dict[str, Any]:
    """Headline figures of a run, for the nation or one region.

    Parameters
    ----------
    stations, workplaces : pandas.DataFrame
        The frames of :func:`two_step_fca` (region tags needed with ``parent``).
    result : AccessResult
        The run.
    threshold_per_1000 : float
        Seats per 1,000 workers below which a worker counts as under-served.
    crowded_workers_per_seat : float
        Load above which a station counts as crowded.
    parent : str, optional
        Only workers and stations inside this region (adcode of any level).
    occupations : str or iterable of str, optional
        Count only workers of these occupations.

    Returns
    -------
    dict
        ``radius_m``, ``method``, ``sigma_m``, ``threshold_seats_per_1000``,
        ``crowded_workers_per_seat``, ``workers_total``, ``workplaces_total``,
        ``seats_total`` (qualifying stations), ``stations_qualifying``, ``stations_crowded``,
        ``seats_per_1000`` (worker-weighted mean accessibility; ``NaN`` with no workers),
        ``workers_below_threshold``, ``share_below`` and ``workers_no_seat_in_reach`` (A = 0).
    """
    _check_result(result, stations, workplaces)
    sel = _selection(workplaces, parent, occupations)
    p = workplaces["workers"].to_numpy(dtype=np.float64)[sel]
    a = result.accessibility[sel]
    st_sel = result.qualifying.copy()
    if parent:
        st_sel &= validate.region_mask(stations, parent)
    total = float(p.sum())
    below = float(p[~reaches(a, threshold_per_1000)].sum())
    return {
        "radius_m": result.radius_m,
        "method": result.method,
        "sigma_m": result.sigma_m,
        "threshold_seats_per_1000": float(threshold_per_1000),
        "crowded_workers_per_seat": float(crowded_workers_per_seat),
        "workers_total": int(total),
        "workplaces_total": int(sel.sum()),
        "seats_total": int(np.nansum(result.seats[st_sel])),
        "stations_qualifying": int(st_sel.sum()),
        "stations_crowded": int((result.crowded(crowded_workers_per_seat) & st_sel).sum()),
        "seats_per_1000": float((p * a).sum() / total * PER_1000) if total else float("nan"),
        "workers_below_threshold": int(below),
        "share_below": below / total if total else float("nan"),
        "workers_no_seat_in_reach": int(p[a <= 0].sum()),
    }


def region_access(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    result: AccessResult,
    level: str,
    threshold_per_1000: float,
    crowded_workers_per_seat: float,
    *,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> pd.DataFrame:
    """Summarise accessibility per province, city or county (the region levels of :mod:`geo.coverage`).

    Parameters
    ----------
    stations, workplaces : pandas.DataFrame
        The frames of :func:`two_step_fca`, with region tags.
    result : AccessResult
        The run.
    level : {"province", "city", "county"}
        Region level of the rows.
    threshold_per_1000, crowded_workers_per_seat : float
        As for :func:`access_summary`.
    parent : str, optional
        Only regions inside this region (adcode of any level).
    occupations : str or iterable of str, optional
        Count only workers of these occupations.

    Returns
    -------
    pandas.DataFrame
        One row per region with workplaces or qualifying stations, sorted by ``adcode``,
        columns :data:`REGION_ACCESS_COLUMNS`: ``seats_per_1000`` is the worker-weighted
        mean accessibility (``NaN`` with no workers), ``workers_below`` the workers under
        the threshold and ``share_below`` their share; ``stations``, ``seats`` and
        ``stations_crowded`` count qualifying stations tagged with the region. Then the
        parent columns, as in :func:`geo.coverage.region_stats`.
    """
    validate.check_level(level)
    _check_result(result, stations, workplaces)
    code_col, name_col = coverage.LEVEL_KEYS[level]
    parents = list(coverage.PARENT_COLUMNS[level])
    tags = [code_col, name_col, *parents]
    validate.check_columns(workplaces, ("workers", *tags), "workplaces")
    validate.check_columns(stations, tags, "stations")
    sel = _selection(workplaces, parent, occupations)
    p = workplaces["workers"].to_numpy(dtype=np.float64)[sel]
    a = result.accessibility[sel]
    wp = pd.DataFrame(workplaces.loc[sel, tags]).reset_index(drop=True)
    wp = wp.assign(
        workers=p,
        workplaces=1,
        weighted=p * a,
        workers_below=np.where(reaches(a, threshold_per_1000), 0.0, p),
    )
    st_sel = result.qualifying & (validate.region_mask(stations, parent) if parent else True)
    stn = pd.DataFrame(stations.loc[st_sel, tags]).reset_index(drop=True)
    stn = stn.assign(
        stations=1,
        seats=np.nan_to_num(result.seats[st_sel]),
        stations_crowded=result.crowded(crowded_workers_per_seat)[st_sel].astype(np.int64),
    )
    both = pd.concat([wp, stn], ignore_index=True)
    both = both[both[code_col].notna()]
    both[code_col] = both[code_col].astype("string")
    sums = ["workers", "workplaces", "weighted", "workers_below", "stations", "seats", "stations_crowded"]
    g = both.groupby(code_col, sort=True)
    out = g[sums].sum(min_count=0).fillna(0)
    meta = g[[name_col, *parents]].first()
    out = out.join(meta).reset_index().rename(columns={code_col: "adcode", name_col: "name"})
    workers = out["workers"].to_numpy(dtype=np.float64)
    out["seats_per_1000"] = coverage.ratio_or_nan(out["weighted"].to_numpy(np.float64) * PER_1000, workers)
    out["share_below"] = coverage.ratio_or_nan(out["workers_below"].to_numpy(np.float64), workers)
    for col in ("workers", "workplaces", "workers_below", "stations", "seats", "stations_crowded"):
        out[col] = out[col].round().astype(np.int64)
    for col in ("adcode", "name", *parents):
        out[col] = out[col].astype("string")
    return out[[*REGION_ACCESS_COLUMNS, *parents]].reset_index(drop=True)


def cell_access(
    workplaces: pd.DataFrame,
    result: AccessResult,
    res: int,
    threshold_per_1000: float,
    *,
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> pd.DataFrame:
    """Summarise accessibility per H3 cell (worker-weighted), for maps.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with ``h3_9`` and ``workers``.
    result : AccessResult
        The run.
    res : int
        Cell resolution, 0–9.
    threshold_per_1000 : float
        As for :func:`access_summary`.
    parent, occupations
        Only these workplaces.

    Returns
    -------
    pandas.DataFrame
        ``h3``, ``workers``, ``seats_per_1000`` (worker-weighted mean), ``workers_below``,
        ``share_below``, ``lat``/``lng`` (cell centre); cells with workers, ordered by ``h3``.
    """
    if not 0 <= int(res) <= 9:
        raise InputError(f"res={res!r}: cells are res 0–9 parents of the stored res-9 cells")
    _check_result(result, None, workplaces)
    validate.check_columns(workplaces, ("h3_9", "workers"), "workplaces")
    sel = _selection(workplaces, parent, occupations)
    rows = np.flatnonzero(sel)
    p = workplaces["workers"].to_numpy(dtype=np.float64)[rows]
    a = result.accessibility[rows]
    cells = hexes.cells_to_parent_int(hexes.str_to_int(workplaces["h3_9"].iloc[rows]), int(res))
    uniq, inverse = np.unique(cells, return_inverse=True)
    workers = np.bincount(inverse, weights=p, minlength=len(uniq))
    weighted = np.bincount(inverse, weights=p * a, minlength=len(uniq))
    below = np.bincount(
        inverse, weights=np.where(reaches(a, threshold_per_1000), 0.0, p), minlength=len(uniq)
    )
    keep = workers > 0
    text = hexes.int_to_str(uniq[keep])
    lat, lng = hexes.cells_to_latlng(text) if len(text) else (np.empty(0), np.empty(0))
    return pd.DataFrame(
        {
            "h3": text,
            "workers": workers[keep].round().astype(np.int64),
            "seats_per_1000": weighted[keep] / workers[keep] * PER_1000,
            "workers_below": below[keep].round().astype(np.int64),
            "share_below": below[keep] / workers[keep],
            "lat": lat,
            "lng": lng,
        }
    )


def station_table(
    stations: pd.DataFrame,
    result: AccessResult,
    crowded_workers_per_seat: float,
    *,
    parent: str | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Qualifying stations, most loaded first.

    Parameters
    ----------
    stations : pandas.DataFrame
        The stations of the run (``station_id``, ``name``, ``lat``, ``lng``, region tags).
    result : AccessResult
        The run.
    crowded_workers_per_seat : float
        Load above which ``crowded`` is set.
    parent : str, optional
        Only stations inside this region.
    top : int, optional
        Keep the ``top`` most loaded.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STATION_TABLE_COLUMNS` (those present): ``workers_in_reach``
        (decay-weighted for E2SFCA), ``load_workers_per_seat`` and ``ratio`` (``NaN`` where
        undefined, listed last), ``crowded``. Ties by ``station_id``.
    """
    if len(result.seats) != len(stations):
        raise InputError(
            f"the access result has {len(result.seats)} stations but the table has {len(stations)}; "
            "pass the stations it was computed from"
        )
    keep = result.qualifying & (validate.region_mask(stations, parent) if parent else True)
    rows = np.flatnonzero(keep)
    load = result.load_workers_per_seat[rows]
    ids = stations["station_id"].astype(str).to_numpy(dtype=object)[rows]
    order = np.lexsort((ids, -np.nan_to_num(load, nan=-np.inf)))
    if top is not None:
        order = order[: max(int(top), 0)]
    pick = rows[order]
    out = pd.DataFrame(
        {
            "station_id": ids[order],
            "seats": result.seats[pick],
            "workers_in_reach": result.workers_in_reach[pick],
            "load_workers_per_seat": result.load_workers_per_seat[pick],
            "ratio": result.ratio[pick],
            "crowded": result.crowded(crowded_workers_per_seat)[pick],
        }
    )
    for col in ("name", "lat", "lng", "province", "city", "county", "adcode"):
        if col in stations.columns:
            out[col] = stations[col].to_numpy()[pick]
    return out[[c for c in STATION_TABLE_COLUMNS if c in out.columns]]
