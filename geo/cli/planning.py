"""Planning commands: ``coverage``, ``gaps``, ``site`` (see :mod:`geo.coverage`, :mod:`geo.siting`).

:func:`coverage_query` and :func:`region_tags` are shared with the ``access`` command (:mod:`geo.cli.access`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from geo import coverage, engines, hours, levels, planning, siting, store
from geo.cli import command
from geo.cli.engine import add_engine_options, with_engine
from geo.errors import GeoError
from geo.nearest import StationIndex
from geo.query import CoverageQuery, SitingQuery
from geo.records import clean, records
from geo.settings import Settings


def _load(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    stations = store.read_table(settings.data_dir, "stations", columns=coverage.STATION_COLUMNS)
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=coverage.WORKPLACE_COLUMNS)
    return stations, workplaces


def region_tags(stations: pd.DataFrame, workplaces: pd.DataFrame) -> pd.DataFrame:
    """Region codes of every workplace and station: what decides a region's level."""
    cols = list(levels.LEVEL_CODE_COLUMNS.values())
    return pd.concat([workplaces[cols], stations[cols]], ignore_index=True)


def coverage_query(args: argparse.Namespace, settings: Settings) -> CoverageQuery:
    """Return the coverage query of the command line (radius default: setting ``coverage_radius_m``)."""
    exclude: list[str] = []
    if getattr(args, "exclude_reported_closed", False):
        exclude = coverage.reported_closed_ids(store.read_reports(settings.data_dir, status="open"))
    return CoverageQuery(
        args.radius_m if args.radius_m is not None else settings.coverage_radius_m,
        hours.parse_time_of_day(args.at) if args.at else None,
        tuple(args.amenity or ()),
        tuple(args.kind or ()),
        tuple(args.occupation or ()),
        tuple(exclude),
        args.region,
    ).checked()


def _prepare(
    args: argparse.Namespace, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame, StationIndex, np.ndarray, CoverageQuery]:
    q = coverage_query(args, settings)
    stations, workplaces = _load(settings)
    levels.region_level(q.region, region_tags(stations, workplaces))  # refuses a code no row carries
    index = StationIndex.from_frame(stations)
    distance = coverage.nearest_distance_m(
        workplaces, index, **q.station_filters(), engine=engines.from_settings(settings)
    )
    return stations, workplaces, index, distance, q


def _coverage(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    stations, workplaces, index, distance, q = _prepare(args, settings)
    summary = coverage.coverage_summary(
        workplaces,
        index,
        q.radius_m,
        occupations=q.occupations,
        distance_m=distance,
        parent=q.region,
        stations=stations,
        **q.station_filters(),
    )
    level = args.level or levels.child_level(q.region, region_tags(stations, workplaces))
    table = coverage.region_stats(
        stations,
        workplaces,
        level,
        distance_m=distance,
        radius_m=q.radius_m,
        parent=q.region,
        occupations=q.occupations,
        station_mask=coverage.qualifying_mask(index, **q.station_filters()),
    )
    return {
        **{k: clean(v) for k, v in summary.items()},
        "at": args.at,
        "region": args.region,
        "level": level,
        "by_region": records(table),
    }


def _gaps(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    _, workplaces, _, distance, q = _prepare(args, settings)
    cells = coverage.gap_cells(
        workplaces,
        distance <= q.radius_m,
        args.res,
        top=args.top,
        parent=q.region,
        occupations=q.occupations,
        engine=engines.from_settings(settings),
    )
    return records(cells)


def _user_candidates(args: argparse.Namespace, settings: Settings) -> pd.DataFrame | None:
    """``--candidates``, read through the importer: GBK/UTF-8, row limit, coordinate checks, datum."""
    if not args.candidates:
        return None
    return planning.read_candidates(args.candidates, crs=args.candidates_crs, settings=settings)


def _site_access(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """``site --objective access``: lift the most workers to the 2SFCA accessibility threshold."""
    q = coverage_query(args, settings)
    sq = SitingQuery(args.new, args.quota, args.quota_level, args.only_candidates).checked()
    stations = store.read_table(settings.data_dir, "stations", columns=[*coverage.STATION_COLUMNS, "seats"])
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=coverage.WORKPLACE_COLUMNS)
    levels.region_level(q.region, region_tags(stations, workplaces))  # refuses a code no row carries
    mask = coverage.qualifying_mask(StationIndex.from_frame(stations), **q.station_filters())
    threshold = settings.access_threshold_seats_per_1000 if args.threshold is None else args.threshold
    # Recounted independently (a full 2SFCA over stations + sites); that figure is reported.
    verified = planning.site_access_and_recount(
        stations,
        workplaces,
        q,
        sq,
        threshold,
        seats_per_site=args.seats,
        station_mask=mask,
        user_candidates=_user_candidates(args, settings),
    )
    result, recomputed = verified.result, verified.workers_reaching_recounted
    if not verified.verified:
        raise GeoError(
            f"site: the independent 2SFCA recount lifts {recomputed} workers to the threshold but the siting "
            f"search counted {result.workers_reaching_after}; the proposed sites were not verified, so none "
            "are printed. Report this with the command line used"
        )
    out = result.to_dict()
    out["method"] = "2sfca"
    out["sites"] = records(result.sites)
    out["verified"] = True
    out["at"] = args.at
    out["region"] = q.region
    return {k: clean(v) for k, v in out.items()}


def _site(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    if args.objective == "access":
        return _site_access(args, settings)
    _, workplaces, _, distance, q = _prepare(args, settings)
    user = _user_candidates(args, settings)
    sq = SitingQuery(args.new, args.quota, args.quota_level, args.only_candidates)
    verified = planning.site_and_recount(workplaces, distance, q, sq, user)
    result, recomputed = verified.result, verified.workers_covered_recounted
    if not verified.verified:
        raise GeoError(
            f"site: the independent recount covers {recomputed} workers but the greedy search counted "
            f"{result.workers_covered_after}; the proposed sites were not verified, so none are printed. "
            "Report this with the command line used"
        )
    warnings: list[str] = []
    if user is not None and args.region:
        outside = siting.candidates_outside(user, args.region)
        if outside.any():
            rows = ", ".join(str(i + 1) for i in np.flatnonzero(outside)[:10])
            warnings.append(
                f"--candidates: {int(outside.sum())} of {len(user)} candidate(s) lie outside region "
                f"{args.region} (data rows {rows}{', ...' if outside.sum() > 10 else ''}); "
                "they may still be chosen and then cover workers inside it"
            )
    out = result.to_dict()
    out["sites"] = records(result.sites)
    out["verified"] = True
    out["workers_covered_after"] = recomputed
    out["share_after"] = recomputed / result.workers_total if result.workers_total else float("nan")
    out["warnings"] = warnings
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return {k: clean(v) for k, v in out.items()}


def _add_filters(p: argparse.ArgumentParser, *, radius_required: bool = False) -> None:
    p.add_argument(
        "--radius-m",
        type=float,
        default=None,
        required=radius_required,
        help="service radius in metres, great-circle (default: setting coverage_radius_m)",
    )
    p.add_argument("--at", default=None, help="only stations open at this time of day, HH:MM (e.g. 04:30)")
    p.add_argument("--region", default=None, help="6-digit adcode of a province, city or county")
    p.add_argument("--amenity", action="append", help="stations must have this amenity (repeatable)")
    p.add_argument("--kind", action="append", help="station kind (repeatable: any of them)")
    p.add_argument("--occupation", action="append", help="count only workers of this occupation (repeatable)")
    p.add_argument(
        "--exclude-reported-closed",
        action="store_true",
        help="stations with open 'closed' reports from at least two different clients do not qualify",
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the planning commands."""
    p = command(
        sub,
        "coverage",
        with_engine(_coverage),
        "workers covered by qualifying stations, in total and by region",
    )
    _add_filters(p)
    add_engine_options(p)
    p.add_argument(
        "--level", choices=list(coverage.LEVEL_KEYS), default=None, help="region level of by_region"
    )

    p = command(sub, "gaps", with_engine(_gaps), "H3 cells ranked by uncovered workers")
    _add_filters(p)
    add_engine_options(p)
    p.add_argument("--res", type=int, choices=[6, 7, 8, 9], default=8, help="H3 resolution (default 8)")
    p.add_argument("--top", type=int, default=100, help="number of cells (default 100)")

    p = command(sub, "site", _site, "propose sites for new stations (greedy maximal covering)")
    _add_filters(p)
    p.add_argument("--new", type=int, required=True, help="number of new stations to site")
    p.add_argument("--quota", type=int, default=None, help="at most this many sites per region")
    p.add_argument("--quota-level", choices=list(coverage.LEVEL_KEYS), default="province")
    p.add_argument("--candidates", default=None, help="CSV of extra candidate sites (lat,lng[,name])")
    p.add_argument(
        "--candidates-crs", default="wgs84", choices=("wgs84", "gcj02", "bd09"), help="datum of --candidates"
    )
    p.add_argument("--only-candidates", action="store_true", help="choose among --candidates only")
    p.add_argument(
        "--objective",
        choices=siting.OBJECTIVES,
        default="coverage",
        help="coverage: most workers newly within the radius (default); access: most workers lifted to the "
        "2SFCA accessibility threshold (seats per 1,000 workers within the radius)",
    )
    p.add_argument(
        "--seats",
        type=float,
        default=None,
        help="--objective access: seats of each new station (default: median seats of the stations)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="--objective access: seats per 1,000 workers to reach (default: setting "
        "access_threshold_seats_per_1000)",
    )
