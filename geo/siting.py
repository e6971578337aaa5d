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

from geo import coverage, hexes
from geo.distance import arc_m_to_chord, chord_to_arc_m, latlng_to_xyz
from geo.errors import InputError, SchemaError

MAX_NEW_SITES: Final = 5_000
"""Most sites one run may propose."""

SITE_COLUMNS: Final = (
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
    ints = hexes.h3_to_int(workplaces["h3_9"].iloc[rows])
    cells, first = np.unique(ints, return_index=True)
    h3_text = hexes.int_to_h3(cells)
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
    bad = ~((np.abs(lat) <= 90) & (np.abs(lng) <= 180))
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
    return ~coverage._inside(_user_candidates(user_candidates), parent)


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
    r = coverage._check_radius(radius_m)
    if isinstance(n_new, bool) or not isinstance(n_new, int | np.integer) or not 1 <= n_new <= MAX_NEW_SITES:
        raise InputError(f"n_new={n_new!r}: ask for a whole number of sites from 1 to {MAX_NEW_SITES}")
    if quota is not None and (isinstance(quota, bool) or int(quota) < 1):
        raise InputError(f"quota={quota!r}: give at least 1 site per region, or no quota")
    coverage._check_level(quota_level)
    coverage._check_columns(workplaces, ("lat", "lng", "workers", "h3_9"), "workplaces")
    cov = np.asarray(covered, dtype=bool).reshape(-1)
    if len(cov) != len(workplaces):
        raise InputError(f"covered has {len(cov)} values but workplaces has {len(workplaces)} rows")
    sel = coverage.occupation_mask(workplaces, occupations)
    if parent:
        sel = sel & coverage._inside(workplaces, parent)
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
