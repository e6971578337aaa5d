"""Where to put the next stations: greedy maximal covering with the existing network fixed.

The problem (MCLP, Church & ReVelle 1974): choose ``n`` new sites among candidates to
maximise the workers newly covered — workers whose workplace is not yet within
``radius_m`` of a qualifying station but is within ``radius_m`` of a new site
(great-circle). Existing stations stay as they are.

- **Candidates** are the centres of the res-9 H3 cells (≈ 0.1 km²) holding uncovered
  workplaces, plus optional user candidates (e.g. union buildings).
- **Coverage sets**: a KD-tree on unit-sphere points (:func:`geo.distance.latlng_to_xyz`)
  gives every (candidate, uncovered workplace) pair within the chord of ``radius_m`` in
  one vectorised call; pairs are cut on great-circle metres exactly as the station index
  cuts them.
- **Lazy greedy (CELF)**: coverage is submodular, so a candidate's gain can only shrink
  as sites are added. Stale gains are upper bounds; the best bound is re-evaluated and
  taken once it is fresh. Same picks as plain greedy, a few re-evaluations per site.
  Greedy is within ``1 − 1/e`` (≈ 63 %) of the optimum in theory, and close to it in
  practice (``tests/test_siting.py`` compares with an exact ILP from spopt/CBC).
- **Quota**: at most ``quota`` sites per province, city or county (of the candidate).

:func:`covered_with_sites` recomputes coverage independently (a fresh station index over
the new sites), so the figures can be checked rather than trusted.

A second objective, :func:`site_for_access`, lifts the most workers to a 2SFCA
accessibility threshold (seats per 1,000 workers within reach, :mod:`geo.access`) with
:func:`greedy_access`; :func:`reaching_with_sites` recounts it with a full 2SFCA.

Size: one algorithm family — the lazy greedy for coverage and the greedy with bundles for
access share candidate generation, incremental gain updates and the quota logic; split
apart they would pass that state between modules.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.spatial import cKDTree

from geo import access, coverage, hexes, validate
from geo.distance import arc_m_to_chord, chord_to_arc_m, latlng_to_xyz
from geo.errors import InputError, SchemaError

MAX_NEW_SITES: Final = 5_000
"""Most sites one run may propose."""

SWAP_PASSES: Final = 4
"""Most passes of the access siting's swap local search over the chosen sites."""

_SITE_PLACE_COLUMNS: Final = (
    "rank",
    "lat",
    "lng",
    "h3",
    "source",
    "name",
    "province_adcode",
    "province",
    "city_adcode",
    "city",
    "adcode",
    "county",
)
"""Where a proposed site is and what it is: the first columns of every siting result table."""

SITE_COLUMNS: Final = (
    *_SITE_PLACE_COLUMNS,
    "workers_newly_covered",
    "workers_covered_cum",
    "share_cum",
)
"""Columns of :attr:`SitingResult.sites`."""

_TAGS: Final = ("province_adcode", "province", "city_adcode", "city", "adcode", "county")


@dataclass(frozen=True)
class SitingResult:
    """Proposed sites and the coverage before and after them.

    Attributes
    ----------
    sites : pandas.DataFrame
        One row per proposed site in the order chosen, columns :data:`SITE_COLUMNS`:
        ``lat``/``lng`` (WGS-84), ``h3`` (res-9 cell of the site), ``source`` (``"cell"``
        for a cell centre, ``"user"`` for a user candidate), region tags,
        ``workers_newly_covered`` by this site (not counting workers an earlier site
        took), ``workers_covered_cum`` and ``share_cum`` after adding it.
    radius_m : float
        Service radius, metres.
    workers_total : int
        Workers counted (after the region and occupation filters).
    workers_covered_before, workers_covered_after : int
        Covered workers without and with the new sites.
    candidates : int
        Number of candidate sites considered.
    newly_covered : numpy.ndarray
        ``bool`` per row of the workplaces frame: covered by a new site and not before.
    """

    sites: pd.DataFrame
    radius_m: float
    workers_total: int
    workers_covered_before: int
    workers_covered_after: int
    candidates: int
    newly_covered: NDArray[np.bool_] = field(repr=False)

    @property
    def share_before(self) -> float:
        """Covered share before the new sites (``NaN`` with no workers)."""
        return self.workers_covered_before / self.workers_total if self.workers_total else float("nan")

    @property
    def share_after(self) -> float:
        """Covered share with the new sites (``NaN`` with no workers)."""
        return self.workers_covered_after / self.workers_total if self.workers_total else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (the CLI's ``site --json`` output)."""
        return {
            "radius_m": self.radius_m,
            "workers_total": self.workers_total,
            "workers_covered_before": self.workers_covered_before,
            "workers_covered_after": self.workers_covered_after,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "candidates": self.candidates,
            "sites": self.sites,
        }


# ---------------------------------------------------------------- candidates


def candidate_sites(
    workplaces: pd.DataFrame,
    uncovered: ArrayLike,
    *,
    user_candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Candidate sites: centres of res-9 cells with uncovered workplaces, plus user sites.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with ``h3_9`` and region tags.
    uncovered : array_like of bool
        Which workplaces are uncovered, shape ``(len(workplaces),)``.
    user_candidates : pandas.DataFrame, optional
        Extra sites with ``lat``/``lng`` (WGS-84) and optionally ``name``.

    Returns
    -------
    pandas.DataFrame
        ``lat``, ``lng``, ``h3``, ``source``, ``name`` and the region tags of each
        candidate (a cell takes the tags of its first uncovered workplace; a user
        candidate is tagged by its location). Cells come first, ordered by ``h3``.
    """
    unc = np.asarray(uncovered, dtype=bool)
    rows = np.flatnonzero(unc)
    ints = hexes.str_to_int(workplaces["h3_9"].iloc[rows])
    cells, first = np.unique(ints, return_index=True)
    h3_text = hexes.int_to_str(cells)
    lat, lng = hexes.cells_to_latlng(h3_text) if len(cells) else (np.empty(0), np.empty(0))
    out = pd.DataFrame({"lat": lat, "lng": lng, "h3": h3_text, "source": "cell", "name": ""})
    tag_rows = rows[first]
    for col in _TAGS:
        out[col] = (
            workplaces[col].iloc[tag_rows].to_numpy(dtype=object) if col in workplaces.columns else None
        )
    if user_candidates is not None and len(user_candidates):
        out = pd.concat([out, _user_candidates(user_candidates)], ignore_index=True)
    return out


def _user_candidates(df: pd.DataFrame) -> pd.DataFrame:
    from geo import regions

    if not {"lat", "lng"} <= set(df.columns):
        raise SchemaError("candidate sites need columns lat and lng (WGS-84 degrees)")
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=np.float64)
    lng = pd.to_numeric(df["lng"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~validate.valid_latlng(lat, lng)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"candidate sites: {int(bad.sum())} row(s) lack valid lat/lng, first row {row + 1}; "
            "give WGS-84 decimal degrees"
        )
    name = df["name"].astype(str).to_numpy(dtype=object) if "name" in df.columns else [""] * len(df)
    out = pd.DataFrame(
        {"lat": lat, "lng": lng, "h3": hexes.latlng_to_cells(lat, lng, 9), "source": "user", "name": name}
    )
    tags = regions.tag_points(lat, lng)
    for col in _TAGS:
        out[col] = tags[col].to_numpy(dtype=object)
    return out


def candidates_outside(user_candidates: pd.DataFrame, parent: str) -> NDArray[np.bool_]:
    """Which user candidates lie outside a region (by their location's region tags).

    Parameters
    ----------
    user_candidates : pandas.DataFrame
        Sites with ``lat``/``lng`` (WGS-84 degrees), as for :func:`candidate_sites`.
    parent : str
        Adcode of a province, city or county.

    Returns
    -------
    numpy.ndarray
        ``bool``, shape ``(len(user_candidates),)``: ``True`` where the site is not inside
        ``parent`` (including sites outside every known region).
    """
    if len(user_candidates) == 0:
        return np.zeros(0, dtype=bool)
    return ~validate.region_mask(_user_candidates(user_candidates), parent)


# ---------------------------------------------------------------- coverage sets and greedy


def coverage_sets(
    cand_lat: ArrayLike,
    cand_lng: ArrayLike,
    lat: ArrayLike,
    lng: ArrayLike,
    radius_m: float,
) -> sparse.csr_matrix:
    """Which points each candidate covers (great-circle distance ``<= radius_m``).

    Parameters
    ----------
    cand_lat, cand_lng : array_like
        Candidate sites, WGS-84 degrees, shape ``(m,)``.
    lat, lng : array_like
        Demand points (workplaces), WGS-84 degrees, shape ``(n,)``.
    radius_m : float
        Service radius, metres.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``bool``, shape ``(m, n)``: entry ``(i, j)`` set when point ``j`` lies within
        ``radius_m`` of candidate ``i``.
    """
    m, n = len(np.asarray(cand_lat)), len(np.asarray(lat))
    if m == 0 or n == 0:
        return sparse.csr_matrix((m, n), dtype=bool)
    tc = cKDTree(latlng_to_xyz(cand_lat, cand_lng).reshape(-1, 3))
    tw = cKDTree(latlng_to_xyz(lat, lng).reshape(-1, 3))
    # A hair generous on the chord, then cut on metres as geo.nearest does.
    bound = float(arc_m_to_chord(radius_m)) * (1.0 + 1e-9) + 1e-12
    pairs = tc.sparse_distance_matrix(tw, bound, output_type="ndarray")
    keep = chord_to_arc_m(pairs["v"]) <= radius_m
    # The structured output keeps zero distances (a site exactly on a workplace).
    i, j = pairs["i"][keep], pairs["j"][keep]
    return sparse.csr_matrix((np.ones(len(i), dtype=bool), (i, j)), shape=(m, n))


def greedy_max_cover(
    sets: sparse.csr_matrix,
    weights: ArrayLike,
    n_sites: int,
    *,
    group: ArrayLike | None = None,
    quota: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Lazy-greedy (CELF) weighted maximal covering.

    Parameters
    ----------
    sets : scipy.sparse.csr_matrix
        ``(m, n)`` coverage sets (:func:`coverage_sets`).
    weights : array_like of int
        Weight (workers) of each point, shape ``(n,)``, non-negative.
    n_sites : int
        Most sites to choose.
    group : array_like of int, optional
        Group code of each candidate (e.g. its province), shape ``(m,)``; ``-1`` = none.
    quota : int, optional
        Most sites per group (needs ``group``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Chosen candidate positions in order of choice and the weight each newly covers.
        Stops early when no candidate covers any further weight.
    """
    csr = sparse.csr_matrix(sets)
    indptr, indices = csr.indptr, csr.indices
    w = np.asarray(weights, dtype=np.int64)
    m = csr.shape[0]
    covered = np.zeros(csr.shape[1], dtype=bool)
    rows = np.repeat(np.arange(m), np.diff(indptr))
    bound = np.bincount(rows, weights=w[indices], minlength=m).astype(np.int64)
    fresh = np.ones(m, dtype=bool)  # every bound is exact before the first pick
    grp = None if group is None else np.asarray(group, dtype=np.int64)
    if quota is not None and grp is None:
        raise InputError("a quota needs a region for every candidate")
    used: dict[int, int] = {}
    chosen: list[int] = []
    gains: list[int] = []
    while m and len(chosen) < n_sites:
        c = int(np.argmax(bound))
        if bound[c] <= 0:
            break
        if not fresh[c]:
            cols = indices[indptr[c] : indptr[c + 1]]
            bound[c] = int(w[cols][~covered[cols]].sum())
            fresh[c] = True
            continue
        cols = indices[indptr[c] : indptr[c + 1]]
        chosen.append(c)
        gains.append(int(bound[c]))
        covered[cols] = True
        bound[c] = -1  # never again
        fresh[:] = False
        if quota is not None and grp is not None and grp[c] >= 0:
            used[int(grp[c])] = used.get(int(grp[c]), 0) + 1
            if used[int(grp[c])] >= quota:
                bound[grp == grp[c]] = -1
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains, dtype=np.int64)


# ---------------------------------------------------------------- the planner's call


def site_stations(
    workplaces: pd.DataFrame,
    covered: ArrayLike,
    n_new: int,
    radius_m: float,
    *,
    user_candidates: pd.DataFrame | None = None,
    only_user_candidates: bool = False,
    quota: int | None = None,
    quota_level: str = "province",
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> SitingResult:
    """Propose ``n_new`` sites that cover the most uncovered workers.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces (``lat``, ``lng``, ``workers``, ``h3_9``, region tags).
    covered : array_like of bool
        Whether each workplace is already covered by a qualifying station within
        ``radius_m`` (:func:`geo.coverage.nearest_distance_m` ``<= radius_m``).
    n_new : int
        Number of sites to propose (1 to :data:`MAX_NEW_SITES`).
    radius_m : float
        Service radius, great-circle metres.
    user_candidates : pandas.DataFrame, optional
        Extra candidate sites (``lat``, ``lng``, optional ``name``).
    only_user_candidates : bool
        Choose among the user candidates only.
    quota : int, optional
        At most this many sites per region of ``quota_level``.
    quota_level : {"province", "city", "county"}
        Region level of the quota.
    parent : str, optional
        Only workplaces (and cell candidates) inside this region (adcode of any level).
    occupations : str or iterable of str, optional
        Count only workers of these occupations.

    Returns
    -------
    SitingResult
        The sites and before/after figures (fewer sites than ``n_new`` when no candidate
        covers anyone further).
    """
    r = validate.check_radius_m(radius_m)
    if isinstance(n_new, bool) or not isinstance(n_new, int | np.integer) or not 1 <= n_new <= MAX_NEW_SITES:
        raise InputError(f"n_new={n_new!r}: ask for a whole number of sites from 1 to {MAX_NEW_SITES}")
    if quota is not None and (isinstance(quota, bool) or int(quota) < 1):
        raise InputError(f"quota={quota!r}: give at least 1 site per region, or no quota")
    validate.check_level(quota_level)
    validate.check_columns(workplaces, ("lat", "lng", "workers", "h3_9"), "workplaces")
    cov = np.asarray(covered, dtype=bool).reshape(-1)
    if len(cov) != len(workplaces):
        raise InputError(f"covered has {len(cov)} values but workplaces has {len(workplaces)} rows")
    sel = coverage.occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & validate.region_mask(workplaces, parent)
    w_all = workplaces["workers"].to_numpy(dtype=np.int64)
    total = int(w_all[sel].sum())
    before = int(w_all[sel & cov].sum())
    unc_rows = np.flatnonzero(sel & ~cov)

    cands = candidate_sites(workplaces, sel & ~cov, user_candidates=user_candidates)
    if only_user_candidates:
        cands = cands[cands["source"] == "user"].reset_index(drop=True)
    sets = coverage_sets(
        cands["lat"].to_numpy(),
        cands["lng"].to_numpy(),
        workplaces["lat"].to_numpy(dtype=np.float64)[unc_rows],
        workplaces["lng"].to_numpy(dtype=np.float64)[unc_rows],
        r,
    )
    group = None
    if quota is not None:
        code_col = coverage.LEVEL_KEYS[quota_level][0]
        codes, _ = pd.factorize(pd.Series(cands[code_col], dtype="string"), use_na_sentinel=True)
        group = codes
    chosen, gains = greedy_max_cover(sets, w_all[unc_rows], n_new, group=group, quota=quota)

    sites = cands.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(sites) + 1, dtype=np.int64))
    sites["workers_newly_covered"] = gains
    sites["workers_covered_cum"] = before + np.cumsum(gains)
    sites["share_cum"] = sites["workers_covered_cum"] / total if total else np.nan
    newly = np.zeros(len(workplaces), dtype=bool)
    if len(chosen):
        newly[unc_rows[np.flatnonzero(np.asarray(sets[chosen].sum(axis=0)).ravel() > 0)]] = True
    return SitingResult(
        sites=sites[list(SITE_COLUMNS)],
        radius_m=r,
        workers_total=total,
        workers_covered_before=before,
        workers_covered_after=before + int(gains.sum()),
        candidates=len(cands),
        newly_covered=newly,
    )


def covered_with_sites(
    workplaces: pd.DataFrame,
    covered: ArrayLike,
    sites: pd.DataFrame,
    radius_m: float,
) -> NDArray[np.bool_]:
    """Recompute coverage after adding sites, independently of the siting arithmetic.

    Builds a fresh :class:`geo.nearest.StationIndex` over the sites (as all-day stations)
    and asks it for the nearest site of every workplace.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces with ``lat``/``lng``.
    covered : array_like of bool
        Coverage by the existing qualifying stations.
    sites : pandas.DataFrame
        New sites with ``lat``/``lng``.
    radius_m : float
        Service radius, metres.

    Returns
    -------
    numpy.ndarray
        ``bool`` per workplace: covered by an existing station or a new site.
    """
    from geo.nearest import StationIndex

    cov = np.asarray(covered, dtype=bool).copy()
    if len(sites) == 0:
        return cov
    stations = pd.DataFrame(
        {
            "station_id": [f"NEW{i:05d}" for i in range(len(sites))],
            "name": "",
            "kind": "union",
            "lat": sites["lat"].to_numpy(dtype=np.float64),
            "lng": sites["lng"].to_numpy(dtype=np.float64),
            "opens": "00:00",
            "closes": "24:00",
            "open_24h": True,
            "smart": False,
            "amenities": [[] for _ in range(len(sites))],
        }
    )
    dist = coverage.nearest_distance_m(workplaces, StationIndex.from_frame(stations), radius_m=radius_m)
    return cov | (dist <= radius_m)


# ---------------------------------------------------------------- objective: accessibility (2SFCA)

OBJECTIVES: Final = ("coverage", "access")
"""Siting objectives: workers newly covered (MCLP), or workers lifted to an accessibility threshold."""

ACCESS_SITE_COLUMNS: Final = (
    *_SITE_PLACE_COLUMNS,
    "seats",
    "workers_in_reach",
    "workers_newly_reaching",
    "workers_reaching_cum",
    "share_cum",
)
"""Columns of :attr:`AccessSitingResult.sites`."""


@dataclass(frozen=True)
class AccessSitingResult:
    """Proposed sites and the workers reaching the accessibility threshold before and after.

    Attributes
    ----------
    sites : pandas.DataFrame
        One row per site in the order chosen, columns :data:`ACCESS_SITE_COLUMNS`: ``seats``
        of the new station, ``workers_in_reach`` (all workers within the radius: its 2SFCA
        demand), ``workers_newly_reaching`` the threshold thanks to it (not counting earlier
        sites), ``workers_reaching_cum`` and ``share_cum`` after adding it.
    radius_m : float
        Catchment radius, metres.
    threshold_per_1000 : float
        Accessibility threshold, seats per 1,000 workers.
    seats_per_site : float
        Seats of each new station.
    workers_total : int
        Workers counted (after the region and occupation filters).
    workers_reaching_before, workers_reaching_after : int
        Counted workers whose 2SFCA accessibility reaches the threshold without / with the sites.
    candidates : int
        Candidate sites considered.
    solver : str
        ``"exact"`` when the sites come from the MILP solved by HiGHS (small instances,
        :data:`EXACT_MAX_PAIRS`), ``"greedy"`` when from :func:`greedy_access` (with its
        local search).
    proven_optimal : bool
        HiGHS proved the sites optimal (no other choice of ``n_new`` candidates lifts more).
    """

    sites: pd.DataFrame
    radius_m: float
    threshold_per_1000: float
    seats_per_site: float
    workers_total: int
    workers_reaching_before: int
    workers_reaching_after: int
    candidates: int
    solver: str = "greedy"
    proven_optimal: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (the CLI's ``site --objective access --json`` output)."""
        total = self.workers_total
        return {
            "objective": "access",
            "radius_m": self.radius_m,
            "threshold_seats_per_1000": self.threshold_per_1000,
            "seats_per_site": self.seats_per_site,
            "workers_total": total,
            "workers_reaching_before": self.workers_reaching_before,
            "workers_reaching_after": self.workers_reaching_after,
            "share_before": self.workers_reaching_before / total if total else float("nan"),
            "share_after": self.workers_reaching_after / total if total else float("nan"),
            "candidates": self.candidates,
            "solver": self.solver,
            "proven_optimal": self.proven_optimal,
            "sites": self.sites,
        }


def _access_scores(
    sets: sparse.csr_matrix,
    rows: NDArray[np.int64],
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    denom: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Workers a candidate lifts over the threshold, and its fractional progress, for ``rows``.

    ``need`` is what each workplace still lacks (seats per worker, ``<= 0`` once reached);
    candidate ``c`` adds ``add[c]`` to every workplace in its set. Progress counts each
    workplace's workers times the part of its need that the candidate fills (0–1), or
    the seats per worker it fills divided by ``denom`` (per workplace) when given.
    """
    sub = sets[rows]
    owner = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
    cols = sub.indices
    a = add[rows][owner]
    nd = need[cols]
    alive = nd > 0
    safe = np.where(alive, nd, 1.0)
    lifted = alive & (a >= nd)
    progress = np.where(alive, np.minimum(a, safe) / (safe if denom is None else denom[cols]), 0.0)
    p = workers[cols]
    gain = np.bincount(owner, weights=p * lifted, minlength=len(rows)).astype(np.float64)
    prog = np.bincount(owner, weights=p * progress, minlength=len(rows)).astype(np.float64)
    return gain, prog


def greedy_access(
    sets: sparse.csr_matrix,
    add_per_worker: ArrayLike,
    need: ArrayLike,
    workers: ArrayLike,
    n_sites: int,
    *,
    group: ArrayLike | None = None,
    quota: int | None = None,
    swap_passes: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Greedy threshold covering: each step lifts the most workers to the threshold.

    Parameters
    ----------
    sets : scipy.sparse.csr_matrix
        ``(m, n)`` bool: workplaces (below the threshold) within reach of each candidate.
    add_per_worker : array_like
        Accessibility a candidate adds to each workplace in its set, seats per worker
        (its 2SFCA ratio ``seats / workers in reach``), shape ``(m,)``.
    need : array_like
        Accessibility each workplace lacks, seats per worker (``> 0``), shape ``(n,)``.
    workers : array_like
        Workers per workplace, shape ``(n,)``.
    n_sites : int
        Most sites to choose.
    group, quota
        At most ``quota`` sites per group code (``-1`` = none), as in :func:`greedy_max_cover`.
    swap_passes : int, optional
        Passes of the swap local search after the greedy (:func:`_improve_by_swaps`, then
        :func:`_improve_by_pairs`); 0 = none, default :data:`SWAP_PASSES`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Chosen candidates in order and the workers each lifted over the threshold, in
        that order (a site that helps lift workers only together with later ones counts 0).

    Notes
    -----
    The score is the workers lifted, ties (notably when no single site lifts anyone)
    broken by fractional progress (workers × share of their remaining need filled), so
    several sites can together lift a workplace no single one could. The objective is not
    submodular, so lazy evaluation does not apply; instead the update is *incremental*:
    a pick changes the need of its own workplaces only, so only the candidates sharing a
    workplace with it (within ``2 · d0``) are re-scored. Stops when no candidate helps anyone.
    A swap local search then replaces chosen sites while that lifts more workers.
    """
    csr = sparse.csr_matrix(sets, dtype=bool)
    csc = csr.tocsc()
    add = np.asarray(add_per_worker, dtype=np.float64)
    need0 = np.asarray(need, dtype=np.float64)
    nd = need0.copy()
    p = np.asarray(workers, dtype=np.float64)
    m = csr.shape[0]
    if quota is not None and group is None:
        raise InputError("a quota needs a region for every candidate")
    grp = None if group is None else np.asarray(group, dtype=np.int64)
    gain, prog = _access_scores(csr, np.arange(m), add, nd, p)
    dead = np.zeros(m, dtype=bool)
    used: dict[int, int] = {}
    chosen: list[int] = []
    gains: list[int] = []

    def take(c: int) -> None:
        cols = _cols(csr, c)
        chosen.append(c)
        gains.append(round(gain[c]))
        nd[cols] -= add[c]
        dead[c] = True
        if quota is not None and grp is not None and grp[c] >= 0:
            used[int(grp[c])] = used.get(int(grp[c]), 0) + 1
            if used[int(grp[c])] >= quota:
                dead[grp == grp[c]] = True
        # Only candidates sharing a workplace with the pick (within 2 · d0 of it) change.
        touched = np.unique(csc[:, cols].indices)
        touched = touched[~dead[touched]]
        if len(touched):
            gain[touched], prog[touched] = _access_scores(csr, touched, add, nd, p)

    while m and len(chosen) < n_sites:
        # Lexicographic (gain, progress): the progress term stays below one worker.
        score = np.where(dead, -1.0, gain + prog / (prog.max() + 1.0))
        c = int(np.argmax(score))
        if score[c] <= 0:
            break
        if quota is None and n_sites - len(chosen) >= 2:
            per_site, bundle = _best_bundle(
                csr, csc, np.where(dead, -1.0, prog), add, nd, p, n_sites - len(chosen)
            )
            if per_site > gain[c]:
                for b in bundle:
                    take(b)
                continue
        take(c)
    passes = SWAP_PASSES if swap_passes is None else swap_passes
    if passes:
        chosen = _improve_by_swaps(csr, csc, add, need0, p, chosen, group=grp, quota=quota, passes=passes)
        if quota is None:
            chosen = _improve_by_pairs(csr, csc, add, need0, p, chosen, rounds=2 * passes)
        gains = list(_marginal_lifts(csr, add, need0, p, chosen))
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains, dtype=np.int64)


BUNDLE_SHORTLIST: Final = 24
"""Seeds from which :func:`greedy_access` grows bundles."""

BUNDLE_POOL: Final = 2_000
"""Candidates of most progress among which :func:`greedy_access` looks for bundle seeds."""

BUNDLE_MAX_SITES: Final = 6
"""Most sites in one bundle of :func:`greedy_access`."""


def _best_bundle(
    csr: sparse.csr_matrix,
    csc: sparse.csc_matrix,
    progress: NDArray[np.float64],
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    budget: int,
) -> tuple[float, list[int]]:
    """Most workers lifted per site by a small bundle of neighbouring candidates.

    Sites that lift no one alone may together (accessibility adds up), which a one-step
    greedy never sees. Seeds are the :data:`BUNDLE_SHORTLIST` candidates that could lift
    the most workers per site if their partners were like them; from each seed a bundle
    grows greedily among the candidates sharing a workplace with it (most workers lifted,
    then most progress), up to :data:`BUNDLE_MAX_SITES` and ``budget`` sites.

    Returns
    -------
    (float, list of int)
        Workers lifted per site of the best bundle, and its candidates in order.
    """
    alive = np.flatnonzero(progress > 0)
    # Seeds come from the candidates of most progress (all of them on a small instance).
    alive = np.sort(alive[np.argsort(-progress[alive], kind="stable")[:BUNDLE_POOL]])
    top_k = min(budget, BUNDLE_MAX_SITES)
    if len(alive) < 2 or top_k < 2:
        return 0.0, []
    eff = np.zeros(len(alive))
    for copies in range(2, top_k + 1):
        lifted_k, _ = _access_scores(csr, alive, add * copies, need, workers)
        eff = np.maximum(eff, lifted_k / copies)
    seeds = alive[np.lexsort((-progress[alive], -eff))[:BUNDLE_SHORTLIST]]
    seeds = seeds[eff[np.searchsorted(alive, seeds)] > 0]
    best, best_sites = 0.0, []
    for seed in seeds.tolist():
        own = _cols(csr, seed)
        neigh = np.unique(csc[:, own].indices)
        neigh = neigh[progress[neigh] > 0]
        cols = own  # only the seed's workplaces: the bundle lifts them together
        contrib = csr[neigh][:, cols].toarray() * add[neigh][:, None]
        nd, p = need[cols], workers[cols]
        open_ = nd > 0
        safe = np.where(open_, nd, 1.0)
        at = int(np.searchsorted(neigh, seed))
        cur, sites, used = contrib[at].copy(), [seed], np.zeros(len(neigh), dtype=bool)
        used[at] = True
        for size in range(2, top_k + 1):
            tot = cur[None, :] + contrib
            lifted = ((tot >= nd) & open_).astype(np.float64) @ p
            prog = (np.minimum(tot, safe) / safe * open_) @ p
            score = np.where(used, -1.0, lifted + prog / (prog.max() + 1.0))
            nxt = int(np.argmax(score))
            if score[nxt] <= 0:
                break
            used[nxt] = True
            cur += contrib[nxt]
            sites.append(int(neigh[nxt]))
            if lifted[nxt] / size > best:
                best, best_sites = float(lifted[nxt] / size), list(sites)
    return best, best_sites


def _improve_by_swaps(
    csr: sparse.csr_matrix,
    csc: sparse.csc_matrix,
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    chosen: list[int],
    *,
    group: NDArray[np.int64] | None = None,
    quota: int | None = None,
    passes: int,
) -> list[int]:
    """Local search after the greedy: swap a chosen site for another while that helps.

    The objective is lexicographic: workers lifted to the threshold, then *progress*
    ``Σ_i P_i · min(A_i, need_i) / need_i`` (how far the workplaces below the threshold got),
    so that a swap which lifts no one yet but moves a group of workplaces closer to the
    threshold can open the way for the next swap. Every accepted swap strictly improves
    the objective, so the search ends. A swap keeps the quota (the new site's region has
    room, or is the old site's). Each chosen site is tried once per pass, the best
    replacement among all candidates found incrementally: removing a site changes the
    score of the candidates sharing a workplace with it only.

    Returns
    -------
    list of int
        The chosen candidates, a swapped-in site taking the place of the one it replaced.
    """
    chosen = list(chosen)
    m = csr.shape[0]
    if not chosen or len(chosen) >= m:
        return chosen
    scale = float(workers.sum()) + 1.0  # progress / scale < 1: lifted workers come first
    resid = _residual(csr, add, need, chosen)
    is_in = np.zeros(m, dtype=bool)
    is_in[chosen] = True
    used: dict[int, int] = {}
    if quota is not None and group is not None:
        for c in chosen:
            if group[c] >= 0:
                used[int(group[c])] = used.get(int(group[c]), 0) + 1

    def scores(rows: NDArray[np.int64]) -> NDArray[np.float64]:
        gain, prog = _access_scores(csr, rows, add, resid, workers, denom=np.where(need > 0, need, 1.0))
        return np.where(is_in[rows], -np.inf, gain + prog / scale)

    score = scores(np.arange(m))
    for _ in range(passes):
        improved = False
        for k in range(len(chosen)):
            c = chosen[k]
            cols = _cols(csr, c)
            before = _objective(resid, need, workers, scale, cols)
            resid[cols] += add[c]
            loss = before - _objective(resid, need, workers, scale, cols)
            touched = np.unique(csc[:, cols].indices)
            is_in[c] = False
            fresh = scores(touched)
            is_in[c] = True
            old = score[touched]
            score[touched] = -np.inf
            allowed = score
            if quota is not None and group is not None:
                full = np.isin(group, [g for g, n in used.items() if n >= quota and g != group[c]])
                allowed = np.where(full, -np.inf, score)
                fresh = np.where(full[touched], -np.inf, fresh)
            far = int(np.argmax(allowed))
            near = int(np.argmax(fresh))
            new, best = (touched[near], fresh[near]) if fresh[near] >= allowed[far] else (far, allowed[far])
            score[touched] = old
            if best - loss > 1e-9 and new != c:
                new = int(new)
                chosen[k] = new
                is_in[c], is_in[new] = False, True
                resid[_cols(csr, new)] -= add[new]
                if quota is not None and group is not None:
                    for g, d in ((group[c], -1), (group[new], 1)):
                        if g >= 0:
                            used[int(g)] = used.get(int(g), 0) + d
                changed = np.union1d(touched, np.unique(csc[:, _cols(csr, new)].indices))
                score[changed] = scores(changed)
                improved = True
            else:
                resid[cols] -= add[c]
        if not improved:
            break
    return chosen


PAIR_TRIES: Final = 28
"""Pairs of chosen sites :func:`_improve_by_pairs` tries to replace in one round (all pairs of 8)."""

PAIR_POOL: Final = 200
"""Candidates of best score, besides those near the removed pair, offered to a pair's refill."""


def _improve_by_pairs(
    csr: sparse.csr_matrix,
    csc: sparse.csc_matrix,
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    chosen: list[int],
    *,
    rounds: int,
) -> list[int]:
    """Local search: drop two chosen sites and refill both slots by the greedy with bundles.

    One-for-one swaps cannot reach a pair of sites that lifts workers only together; this
    move can. Each round tries the pairs among the :data:`PAIR_TRIES`-pair pool of sites
    whose removal loses least (the objective of :func:`_improve_by_swaps`), refilling from
    the candidates sharing a workplace with the removed pair plus the :data:`PAIR_POOL`
    best-scoring others, and keeps the first refill that improves the objective.
    """
    chosen = list(chosen)
    m = csr.shape[0]
    if len(chosen) < 2 or len(chosen) + 2 > m:
        return chosen
    scale = float(workers.sum()) + 1.0
    n_pool = int((1 + np.sqrt(1 + 8 * PAIR_TRIES)) / 2)

    def value(resid: NDArray[np.float64]) -> float:
        return _objective(resid, need, workers, scale)

    resid = _residual(csr, add, need, chosen)
    for _ in range(rounds):
        current = value(resid)
        losses = []
        for c in chosen:
            resid[_cols(csr, c)] += add[c]
            losses.append(current - value(resid))
            resid[_cols(csr, c)] -= add[c]
        pool = [chosen[k] for k in np.argsort(losses, kind="stable")[:n_pool]]
        is_in = np.zeros(m, dtype=bool)
        is_in[chosen] = True
        gain, prog = _access_scores(csr, np.arange(m), add, resid, workers)
        best_far = np.flatnonzero(~is_in)[
            np.argsort(-(gain + prog / scale)[~is_in], kind="stable")[:PAIR_POOL]
        ]
        better = None
        for a_i in range(len(pool)):
            for b_i in range(a_i + 1, len(pool)):
                out = [pool[a_i], pool[b_i]]
                trial = resid.copy()
                for c in out:
                    trial[_cols(csr, c)] += add[c]
                near = np.unique(csc[:, np.concatenate([_cols(csr, c) for c in out])].indices)
                rows = np.union1d(near, best_far)
                rows = rows[~is_in[rows] | np.isin(rows, out)]
                picked, _ = greedy_access(csr[rows], add[rows], trial, workers, 2, swap_passes=0)
                refill = [int(rows[r]) for r in picked]
                after = _residual(csr, add, trial, refill)
                pair = _best_pair(csr, rows, add, trial, workers, need, scale)
                if pair is not None:
                    pair_after = _residual(csr, add, trial, list(pair))
                    if value(pair_after) > value(after):
                        refill, after = list(pair), pair_after
                trial = after
                if sorted(refill) != sorted(out) and value(trial) - current > 1e-9:
                    better = (out, refill, trial)
                    break
            if better:
                break
        if better is None:
            break
        out, refill, resid = better
        slots = [chosen.index(c) for c in out]
        for k, c in zip(slots, refill, strict=False):
            chosen[k] = c
        chosen = [c for k, c in enumerate(chosen) if k not in slots[len(refill) :]]
    return chosen


PAIR_SHORTLIST: Final = 30
"""Candidates of most score, and as many of most progress, among which :func:`_best_pair` looks."""


def _best_pair(
    csr: sparse.csr_matrix,
    rows: NDArray[np.int64],
    add: NDArray[np.float64],
    resid: NDArray[np.float64],
    workers: NDArray[np.float64],
    need: NDArray[np.float64],
    scale: float,
) -> tuple[int, int] | None:
    """Find the two candidates of ``rows`` that together do best (lifted, then progress), exactly.

    Among the :data:`PAIR_SHORTLIST` candidates of most score and as many of most progress
    alone, every pair is scored on the union of their workplaces (a dense block).
    """
    gain, prog = _access_scores(csr, rows, add, resid, workers, denom=np.where(need > 0, need, 1.0))
    live = np.flatnonzero(gain + prog > 0)
    if len(live) < 2:
        return None
    by_score = live[np.argsort(-(gain + prog / scale)[live], kind="stable")[:PAIR_SHORTLIST]]
    by_prog = live[np.argsort(-prog[live], kind="stable")[:PAIR_SHORTLIST]]
    pool = rows[np.union1d(by_score, by_prog)]
    block = csr[pool]
    cols = np.unique(block.indices)
    contrib = block[:, cols].toarray() * add[pool][:, None]
    r = resid[cols]
    alive = r > 0
    p = workers[cols] * alive
    w = workers[cols] / np.where(need[cols] > 0, need[cols], 1.0) * alive
    best, pair = -np.inf, None
    for a in range(len(pool) - 1):
        tot = contrib[a] + contrib[a + 1 :]
        score = ((tot >= r) @ p) + (np.minimum(tot, np.where(alive, r, 0.0)) @ w) / scale
        b = int(np.argmax(score))
        if score[b] > best:
            best, pair = float(score[b]), (int(pool[a]), int(pool[a + 1 + b]))
    return pair


EXACT_MAX_PAIRS: Final = 20_000
"""Largest access siting (candidate–workplace pairs) also solved exactly as a MILP."""

EXACT_NODE_LIMIT: Final = 2_000
"""Branch-and-bound nodes of the exact solve; past them the better of its incumbent and the
greedy is kept. A node limit, not a time limit, so the answer does not depend on the load of
the machine (measured: small instances need at most ~600 nodes)."""

EXACT_TIME_LIMIT_S: Final = 10.0
"""Safety limit of the exact solve's time (the node limit normally ends it first)."""


@contextlib.contextmanager
def _c_stdout_to_stderr() -> Iterator[None]:
    """Send what C code prints to stdout to stderr instead, for the duration of the block.

    HiGHS 1.12 prints a stray line (``HighsMipSolverData::transformNewIntegerFeasibleSolution``,
    ERGO-Code/HiGHS#2783) to the process's stdout whatever its output options, which would
    spoil ``--json`` output. The C library's buffer is flushed before file descriptor 1 is
    restored, so nothing printed inside leaks out later.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    libc = ctypes.CDLL(None)
    try:
        os.dup2(2, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


def _exact_access(
    csr: sparse.csr_matrix,
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    n_sites: int,
    *,
    group: NDArray[np.int64] | None = None,
    quota: int | None = None,
) -> tuple[list[int], bool]:
    """Solve the access siting MILP with HiGHS (:func:`scipy.optimize.milp`).

    Maximise ``Σ_i P_i y_i`` over binary ``x`` (candidates) and ``y`` (workplaces below the
    threshold) subject to ``Σ_c add_c x_c [i ∈ c] >= need_i y_i``, ``Σ x_c <= n`` and the
    quota per group. Returns the chosen candidates (empty when the solver found no
    solution) and whether HiGHS proved them optimal within :data:`EXACT_NODE_LIMIT` nodes
    (and :data:`EXACT_TIME_LIMIT_S`).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    m, n = csr.shape
    # Each workplace's row divided by its need: Σ_c min(add_c / need_i, 1) x_c >= y_i. Better
    # scaled, and capping at 1 (one site alone lifts it) keeps every integer solution but
    # tightens the LP relaxation.
    cover = sparse.csr_matrix(sparse.diags(1.0 / need) @ csr.T.astype(np.float64) @ sparse.diags(add))
    cover.data = np.minimum(cover.data, 1.0)
    rows = [sparse.hstack([cover, -sparse.identity(n, format="csr")])]
    lower, upper = [np.zeros(n)], [np.full(n, np.inf)]
    rows.append(sparse.hstack([sparse.csr_matrix(np.ones((1, m))), sparse.csr_matrix((1, n))]))
    lower.append(np.zeros(1))
    upper.append(np.full(1, float(n_sites)))
    if quota is not None and group is not None:
        codes = np.unique(group[group >= 0])
        if len(codes):
            member = sparse.csr_matrix(
                (
                    np.ones(int((group >= 0).sum())),
                    (np.searchsorted(codes, group[group >= 0]), np.flatnonzero(group >= 0)),
                ),
                shape=(len(codes), m),
            )
            rows.append(sparse.hstack([member, sparse.csr_matrix((len(codes), n))]))
            lower.append(np.zeros(len(codes)))
            upper.append(np.full(len(codes), float(quota)))
    with _c_stdout_to_stderr():
        res = milp(
            c=np.concatenate([np.zeros(m), -workers]),
            constraints=LinearConstraint(
                sparse.vstack(rows).tocsr(), np.concatenate(lower), np.concatenate(upper)
            ),
            integrality=np.ones(m + n),
            bounds=Bounds(0, 1),
            options={"time_limit": EXACT_TIME_LIMIT_S, "node_limit": EXACT_NODE_LIMIT, "disp": False},
        )
    if res.x is None:
        return [], False
    return np.flatnonzero(res.x[:m] > 0.5).tolist(), bool(res.status == 0)


def _in_greedy_order(
    csr: sparse.csr_matrix,
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    chosen: list[int],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rank a set of sites as the greedy would add them; also return each one's workers lifted."""
    picked, _ = greedy_access(csr[chosen], add[chosen], need, workers, len(chosen), swap_passes=0)
    taken = set(picked.tolist())
    order = [chosen[k] for k in picked] + [c for k, c in enumerate(chosen) if k not in taken]
    return np.asarray(order, dtype=np.int64), _marginal_lifts(csr, add, need, workers, order)


def _cols(csr: sparse.csr_matrix, c: int) -> NDArray[np.int32]:
    """Workplaces in the set of candidate ``c``."""
    return csr.indices[csr.indptr[c] : csr.indptr[c + 1]]


def _residual(
    csr: sparse.csr_matrix, add: NDArray[np.float64], need: NDArray[np.float64], sites: list[int]
) -> NDArray[np.float64]:
    """Return what each workplace still lacks once ``sites`` are added (a new array; ``<= 0``: reached)."""
    resid = need.copy()
    for c in sites:
        resid[_cols(csr, c)] -= add[c]
    return resid


def _objective(
    resid: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    scale: float,
    cols: NDArray[np.int32] | slice = slice(None),
) -> float:
    """Score the local search's objective over ``cols``: workers lifted, then progress / ``scale``.

    Progress is ``Σ_i P_i · min(A_i, need_i) / need_i`` with ``A_i = need_i − resid_i`` the
    accessibility the sites add; ``scale`` above the total of workers keeps it below one worker.
    """
    r, nd, p = resid[cols], need[cols], workers[cols]
    return float(p @ (r <= 0) + (p / np.where(nd > 0, nd, 1.0)) @ np.clip(nd - r, 0.0, nd) / scale)


def _marginal_lifts(
    csr: sparse.csr_matrix,
    add: NDArray[np.float64],
    need: NDArray[np.float64],
    workers: NDArray[np.float64],
    chosen: list[int],
) -> NDArray[np.int64]:
    """Workers each site lifts over the threshold when the sites are added in order."""
    resid = need.copy()
    out = np.zeros(len(chosen), dtype=np.int64)
    for k, c in enumerate(chosen):
        cols = _cols(csr, c)
        was = resid[cols] > 0
        resid[cols] -= add[c]
        out[k] = round(float(workers[cols] @ (was & (resid[cols] <= 0))))
    return out


def site_for_access(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    n_new: int,
    radius_m: float,
    threshold_per_1000: float,
    *,
    seats_per_site: float | None = None,
    station_mask: ArrayLike | None = None,
    user_candidates: pd.DataFrame | None = None,
    only_user_candidates: bool = False,
    quota: int | None = None,
    quota_level: str = "province",
    parent: str | None = None,
    occupations: str | Iterable[str] | None = (),
) -> AccessSitingResult:
    """Propose ``n_new`` stations that lift the most workers to an accessibility threshold.

    Accessibility is 2SFCA (:func:`geo.access.two_step_fca`). Adding a station ``c`` with
    ``s`` seats leaves every existing ratio ``R_j`` unchanged (a ratio depends only on the
    demand around its own station) and adds ``R_c = s / D_c`` to the accessibility of
    each workplace within ``radius_m`` of ``c`` (``D_c`` = all workers within the radius).
    The problem is therefore linear — choose ``x_c ∈ {0, 1}``, ``Σ x_c <= n`` to maximise
    ``Σ_i P_i y_i`` subject to ``A_i + Σ_c R_c x_c [d_ic <= d0] >= τ y_i`` — an exact MILP
    that ``tests/test_siting.py`` solves with PuLP/CBC to compare. When the instance is
    small (at most :data:`EXACT_MAX_PAIRS` candidate–workplace pairs, e.g. a county) this
    function first solves the MILP exactly with HiGHS (:func:`scipy.optimize.milp`,
    :data:`EXACT_NODE_LIMIT`); unless that proves its answer optimal it also runs
    :func:`greedy_access` (greedy with bundles, then swap local search) and keeps whichever
    lifts more workers.

    Parameters
    ----------
    stations : pandas.DataFrame
        Existing stations (``lat``, ``lng``, ``seats``).
    workplaces : pandas.DataFrame
        Workplaces (``lat``, ``lng``, ``workers``, ``h3_9``, region tags).
    n_new : int
        Number of sites (1 to :data:`MAX_NEW_SITES`).
    radius_m : float
        Catchment radius ``d0``, great-circle metres.
    threshold_per_1000 : float
        Seats per 1,000 workers a worker should reach (setting ``access_threshold_seats_per_1000``).
    seats_per_site : float, optional
        Seats of each new station; default the median seats of the qualifying stations.
    station_mask : array_like of bool, optional
        Existing stations that take part (e.g. open at a time of day).
    user_candidates, only_user_candidates, quota, quota_level, parent, occupations
        As for :func:`site_stations`; the candidate cells are those holding counted
        workplaces below the threshold.

    Returns
    -------
    AccessSitingResult
        Fewer sites than ``n_new`` when no candidate helps any counted worker further.
    """
    r = validate.check_radius_m(radius_m)
    if isinstance(n_new, bool) or not isinstance(n_new, int | np.integer) or not 1 <= n_new <= MAX_NEW_SITES:
        raise InputError(f"n_new={n_new!r}: ask for a whole number of sites from 1 to {MAX_NEW_SITES}")
    if quota is not None and (isinstance(quota, bool) or int(quota) < 1):
        raise InputError(f"quota={quota!r}: give at least 1 site per region, or no quota")
    tau = float(threshold_per_1000)
    if not (tau > 0 and np.isfinite(tau)):
        raise InputError(f"threshold_per_1000={threshold_per_1000!r}: give a positive number of seats")
    validate.check_level(quota_level)
    validate.check_columns(workplaces, ("lat", "lng", "workers", "h3_9"), "workplaces")
    base = access.two_step_fca(stations, workplaces, r, station_mask=station_mask)
    if seats_per_site is None:
        known = base.seats[base.qualifying & np.isfinite(base.seats)]
        seats_per_site = float(np.median(known)) if len(known) else 1.0
    seats = float(seats_per_site)
    if not (seats > 0 and np.isfinite(seats)):
        raise InputError(f"seats_per_site={seats_per_site!r}: give a positive number of seats")
    sel = coverage.occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & validate.region_mask(workplaces, parent)
    reached = access.reaches(base.accessibility, tau)
    p_all = workplaces["workers"].to_numpy(dtype=np.float64)
    total = int(p_all[sel].sum())
    before = int(p_all[sel & reached].sum())
    below = np.flatnonzero(sel & ~reached)

    cands = candidate_sites(workplaces, sel & ~reached, user_candidates=user_candidates)
    if only_user_candidates:
        cands = cands[cands["source"] == "user"].reset_index(drop=True)
    c_lat, c_lng = cands["lat"].to_numpy(dtype=np.float64), cands["lng"].to_numpy(dtype=np.float64)
    lat, lng = workplaces["lat"].to_numpy(dtype=np.float64), workplaces["lng"].to_numpy(dtype=np.float64)
    # Each candidate's 2SFCA demand counts every worker in reach, counted or not.
    demand = access.station_demand_partial(lat, lng, p_all, c_lat, c_lng, r)
    add = np.nan_to_num(access.station_ratio(np.full(len(cands), seats), demand), nan=0.0)
    sets = coverage_sets(c_lat, c_lng, lat[below], lng[below], r)
    need = tau / access.PER_1000 * (1.0 - access.REACH_RTOL) - base.accessibility[below]
    group = None
    if quota is not None:
        group, _ = pd.factorize(pd.Series(cands[coverage.LEVEL_KEYS[quota_level][0]], dtype="string"))
    exact: list[int] = []
    optimal = False
    if sets.nnz <= EXACT_MAX_PAIRS and len(cands):
        exact, optimal = _exact_access(sets, add, need, p_all[below], n_new, group=group, quota=quota)
    solver = "exact"
    if optimal:  # proven: the greedy could not do better, so it is not run
        chosen, gains = _in_greedy_order(sets, add, need, p_all[below], exact)
    else:
        chosen, gains = greedy_access(sets, add, need, p_all[below], n_new, group=group, quota=quota)
        if exact and _marginal_lifts(sets, add, need, p_all[below], exact).sum() > gains.sum():
            chosen, gains = _in_greedy_order(sets, add, need, p_all[below], exact)
        else:
            solver = "greedy"
    # Sites at the end that lift no one, even with all the others in place, are no use.
    keep = len(gains) - int(np.argmax(gains[::-1] > 0)) if (gains > 0).any() else 0
    chosen, gains = chosen[:keep], gains[:keep]

    sites = cands.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(sites) + 1, dtype=np.int64))
    sites["seats"] = seats
    sites["workers_in_reach"] = demand[chosen].round().astype(np.int64)
    sites["workers_newly_reaching"] = gains
    sites["workers_reaching_cum"] = before + np.cumsum(gains)
    sites["share_cum"] = sites["workers_reaching_cum"] / total if total else np.nan
    return AccessSitingResult(
        sites=sites[list(ACCESS_SITE_COLUMNS)],
        radius_m=r,
        threshold_per_1000=tau,
        seats_per_site=seats,
        workers_total=total,
        workers_reaching_before=before,
        workers_reaching_after=before + int(gains.sum()),
        candidates=len(cands),
        solver=solver,
        proven_optimal=optimal and solver == "exact",
    )


def reaching_with_sites(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    sites: pd.DataFrame,
    radius_m: float,
    threshold_per_1000: float,
    *,
    station_mask: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Recompute who reaches the threshold with the new sites, from scratch.

    A full :func:`geo.access.two_step_fca` over the existing stations plus the sites (with
    their ``seats``, taking part at any time), independent of the greedy arithmetic.

    Returns
    -------
    numpy.ndarray
        ``bool`` per workplace: accessibility reaches ``threshold_per_1000``.
    """
    mask = (
        np.ones(len(stations), dtype=bool) if station_mask is None else np.asarray(station_mask, dtype=bool)
    )
    both = pd.concat(
        [
            pd.DataFrame(
                {
                    "lat": stations["lat"].to_numpy(dtype=np.float64),
                    "lng": stations["lng"].to_numpy(dtype=np.float64),
                    "seats": pd.to_numeric(stations["seats"], errors="coerce").to_numpy(dtype=np.float64),
                }
            ),
            pd.DataFrame(
                {
                    "lat": sites["lat"].to_numpy(dtype=np.float64),
                    "lng": sites["lng"].to_numpy(dtype=np.float64),
                    "seats": sites["seats"].to_numpy(dtype=np.float64),
                }
            ),
        ],
        ignore_index=True,
    )
    full_mask = np.concatenate([mask, np.ones(len(sites), dtype=bool)])
    result = access.two_step_fca(both, workplaces, radius_m, station_mask=full_mask)
    return access.reaches(result.accessibility, threshold_per_1000)
