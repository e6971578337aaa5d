"""Planning figures composed from the analyses, shared by the planner page, the overview and the CLI.

- :func:`site_and_recount`: greedy siting (:func:`geo.siting.site_stations`), then an
  independent recount of the workers covered with the proposed sites
  (:func:`geo.siting.covered_with_sites`), so a reader gets a figure checked two ways.
- :func:`read_candidates`: the user's candidate sites CSV, read once the same way.
- :func:`overview_figures`: national KPIs and the province and county tables.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geo import coverage, siting, validate
from geo.errors import InputError
from geo.nearest import StationIndex
from geo.query import CoverageQuery, SitingQuery

MAX_CANDIDATES_BYTES: Final = 20 * 2**20
"""Largest candidates CSV read (20 MiB, some 500,000 rows)."""


def read_candidates(source: Path | str | bytes) -> pd.DataFrame:
    """Read a CSV of candidate sites (``lat``, ``lng``[, ``name``]; UTF-8 with or without BOM).

    Parameters
    ----------
    source : Path, str or bytes
        A file path, or the file's bytes (an upload).

    Raises
    ------
    InputError
        When the file is missing, larger than :data:`MAX_CANDIDATES_BYTES`, or not a CSV.
    """
    if isinstance(source, bytes):
        data, name = source, "candidates"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"--candidates {path}: no such file; give a CSV with columns lat,lng[,name]")
        if path.stat().st_size > MAX_CANDIDATES_BYTES:
            raise InputError(
                f"--candidates {path}: larger than {MAX_CANDIDATES_BYTES // 2**20} MiB; split it"
            )
        data, name = path.read_bytes(), str(path)
    if len(data) > MAX_CANDIDATES_BYTES:
        raise InputError(f"{name}: larger than {MAX_CANDIDATES_BYTES // 2**20} MiB; split it")
    try:
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{name}: not a UTF-8 CSV with columns lat,lng[,name] ({exc})") from exc


@dataclass(frozen=True)
class VerifiedSiting:
    """A siting result and its independent recount.

    Attributes
    ----------
    result : geo.siting.SitingResult
        What the greedy search proposes and counts.
    workers_covered_recounted : int
        Workers (of the query's occupations, inside its region) covered once the sites
        are added, recounted with a fresh index over the sites.
    """

    result: siting.SitingResult
    workers_covered_recounted: int

    @property
    def verified(self) -> bool:
        """Whether the recount agrees with the greedy search's own count."""
        return self.workers_covered_recounted == self.result.workers_covered_after


def site_and_recount(
    workplaces: pd.DataFrame,
    distance_m: ArrayLike,
    query: CoverageQuery,
    siting_query: SitingQuery,
    user_candidates: pd.DataFrame | None = None,
) -> VerifiedSiting:
    """Propose new sites for a coverage query and recount the workers covered independently.

    Parameters
    ----------
    workplaces : pandas.DataFrame
        Workplaces (``lat``, ``lng``, ``workers``, ``h3_9``, ``occupation``, region tags).
    distance_m : array_like of float
        Distance from each workplace to its nearest qualifying station, metres
        (:func:`geo.coverage.nearest_distance_m` with the query's station filters).
    query : CoverageQuery
        Radius, occupations and region.
    siting_query : SitingQuery
        Number of sites, quota, candidates only.
    user_candidates : pandas.DataFrame, optional
        Candidate sites (:func:`read_candidates`).
    """
    q, s = query.checked(), siting_query.checked()
    dist = validate.aligned(distance_m, len(workplaces), "distance_m", np.float64)
    covered = dist <= q.radius_m
    result = siting.site_stations(
        workplaces,
        covered,
        s.n_new,
        q.radius_m,
        user_candidates=user_candidates,
        only_user_candidates=s.only_user_candidates,
        quota=s.quota,
        quota_level=s.quota_level,
        parent=q.region,
        occupations=q.occupations,
    )
    after = siting.covered_with_sites(workplaces, covered, result.sites, q.radius_m)
    sel = coverage.occupation_mask(workplaces, q.occupations) & validate.region_mask(workplaces, q.region)
    recounted = int(workplaces["workers"].to_numpy(dtype=np.int64)[after & sel].sum())
    return VerifiedSiting(result, recounted)


def overview_figures(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    index: StationIndex,
    distance_m: ArrayLike,
    radius_m: float,
) -> dict[str, Any]:
    """National KPIs and the province and county tables of the overview.

    Returns
    -------
    dict
        ``stations``, ``stations_24h``, ``workplaces`` (counts), ``summary``
        (:func:`geo.coverage.coverage_summary` of all stations and workers), ``provinces``
        and ``counties`` (:func:`geo.coverage.region_stats`).
    """
    dist = validate.aligned(distance_m, len(workplaces), "distance_m", np.float64)
    covered = dist <= validate.check_radius_m(radius_m)
    return {
        "stations": len(stations),
        "stations_24h": int(stations["open_24h"].sum()),
        "workplaces": len(workplaces),
        "summary": coverage.coverage_summary(workplaces, index, radius_m, distance_m=dist),
        "provinces": coverage.region_stats(
            stations, workplaces, "province", distance_m=dist, covered=covered
        ),
        "counties": coverage.region_stats(stations, workplaces, "county", distance_m=dist, covered=covered),
    }
