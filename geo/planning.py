"""Planning figures composed from the analyses, shared by the planner page, the overview and the CLI.

- :func:`site_and_recount`: greedy siting (:func:`geo.siting.site_stations`), then an
  independent recount of the workers covered with the proposed sites
  (:func:`geo.siting.covered_with_sites`), so a reader gets a figure checked two ways.
- :func:`site_access_and_recount`: the same for the accessibility objective
  (:func:`geo.siting.site_for_access`, recounted by a full 2SFCA with
  :func:`geo.siting.reaching_with_sites`).
- :func:`read_candidates`: the user's candidate sites file, read through the importer
  (:func:`geo.ingest.read_candidates`) for the page and the CLI alike.
- :func:`overview_figures`: national KPIs and the province and county tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geo import coverage, ingest, siting, validate
from geo.errors import InputError
from geo.nearest import StationIndex
from geo.query import CoverageQuery, SitingQuery
from geo.settings import Settings


def read_candidates(
    source: Path | str | bytes,
    *,
    crs: str = "wgs84",
    max_rows: int = ingest.DEFAULT_MAX_ROWS,
    max_bytes: int = ingest.DEFAULT_MAX_BYTES,
    settings: Settings | None = None,
    what: str = "--candidates",
) -> pd.DataFrame:
    """Read a file of candidate sites (``lat``, ``lng``[, ``name``]) through the importer.

    The importer's reader, header mapping and coordinate checks apply (CSV in UTF-8/GBK,
    XLSX, GeoJSON, GeoParquet; size and row limits; swapped or non-Chinese coordinates;
    GCJ-02/BD-09 converted to WGS-84): see :func:`geo.ingest.read_candidates`.

    Parameters
    ----------
    source : Path, str or bytes
        A file path, or the file's bytes (an upload).
    crs : {"wgs84", "gcj02", "bd09"}
        Datum of the file's coordinates.
    max_rows, max_bytes : int
        Limits, as for an import.
    settings : Settings, optional
        Take the limits from these settings instead (``max_import_rows``, ``max_upload_mb``).
    what : str
        How messages name the file's option (``--candidates``, ``--sites``).

    Returns
    -------
    pandas.DataFrame
        Accepted candidates: ``name``, ``lat``, ``lng`` (WGS-84).

    Raises
    ------
    InputError
        When the file is missing or too large, or no row is usable (naming rows and reasons).
    """
    if settings is not None:
        max_rows, max_bytes = settings.max_import_rows, settings.max_upload_mb * 1024 * 1024
    if isinstance(source, bytes):
        data, name = source, "candidates.csv"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{what} {path}: no such file; give a CSV with columns lat,lng[,name]")
        if path.stat().st_size > max_bytes:
            raise InputError(f"{what} {path}: larger than {max_bytes // 2**20} MiB; split it")
        data, name = path.read_bytes(), path.name
    return ingest.read_candidates(data, name, crs=crs, max_rows=max_rows, max_bytes=max_bytes)[0]


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


@dataclass(frozen=True)
class VerifiedAccessSiting:
    """An accessibility siting result and its independent recount.

    Attributes
    ----------
    result : geo.siting.AccessSitingResult
        What the search proposes and counts.
    workers_reaching_recounted : int
        Workers (of the query's occupations, inside its region) whose 2SFCA accessibility
        reaches the threshold once the sites are added, from a full 2SFCA over stations + sites.
    """

    result: siting.AccessSitingResult
    workers_reaching_recounted: int

    @property
    def verified(self) -> bool:
        """Whether the recount agrees with the search's own count."""
        return self.workers_reaching_recounted == self.result.workers_reaching_after


def site_access_and_recount(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    query: CoverageQuery,
    siting_query: SitingQuery,
    threshold_per_1000: float,
    *,
    seats_per_site: float | None = None,
    station_mask: ArrayLike | None = None,
    user_candidates: pd.DataFrame | None = None,
) -> VerifiedAccessSiting:
    """Propose sites that lift the most workers to an accessibility threshold, and recount.

    Parameters
    ----------
    stations : pandas.DataFrame
        Stations (``lat``, ``lng``, ``seats``).
    workplaces : pandas.DataFrame
        Workplaces (``lat``, ``lng``, ``workers``, ``h3_9``, ``occupation``, region tags).
    query : CoverageQuery
        Radius (the 2SFCA catchment), occupations and region.
    siting_query : SitingQuery
        Number of sites, quota, candidates only.
    threshold_per_1000 : float
        Seats per 1,000 workers a worker should reach.
    seats_per_site : float, optional
        Seats of each new station; default the median of the qualifying stations.
    station_mask : array_like of bool, optional
        Stations that qualify under the query's filters (:func:`geo.coverage.qualifying_mask`).
    user_candidates : pandas.DataFrame, optional
        Candidate sites (:func:`read_candidates`).
    """
    q, s = query.checked(), siting_query.checked()
    result = siting.site_for_access(
        stations,
        workplaces,
        s.n_new,
        q.radius_m,
        threshold_per_1000,
        seats_per_site=seats_per_site,
        station_mask=station_mask,
        user_candidates=user_candidates,
        only_user_candidates=s.only_user_candidates,
        quota=s.quota,
        quota_level=s.quota_level,
        parent=q.region,
        occupations=q.occupations,
    )
    after = siting.reaching_with_sites(
        stations, workplaces, result.sites, q.radius_m, result.threshold_per_1000, station_mask=station_mask
    )
    sel = coverage.occupation_mask(workplaces, q.occupations) & validate.region_mask(workplaces, q.region)
    recounted = int(workplaces["workers"].to_numpy(dtype=np.int64)[after & sel].sum())
    return VerifiedAccessSiting(result, recounted)


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
