"""Planning commands: ``coverage``, ``gaps``, ``site`` (see :mod:`geo.coverage`, :mod:`geo.siting`)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import coverage, hours, siting, store
from geo.cli import command
from geo.cli.engine import add_engine_options, with_engine
from geo.errors import GeoError, InputError
from geo.nearest import StationIndex
from geo.settings import Settings

_CHILD_LEVEL = {"nation": "province", "province": "city", "city": "county", "county": "county"}


def _clean(value: Any) -> Any:  # noqa: ANN401 - any JSON-like value
    """Non-finite floats (no station at all, no workers) become ``null`` in JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating):
        return _clean(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _load(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    stations = store.read_table(settings.data_dir, "stations", columns=coverage.STATION_COLUMNS)
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=coverage.WORKPLACE_COLUMNS)
    return stations, workplaces


def _region_level(workplaces: pd.DataFrame, stations: pd.DataFrame, adcode: str | None) -> str:
    """Level of a region code as it appears in the data (``nation`` for none)."""
    if not adcode:
        return "nation"
    for level in ("province", "city", "county"):
        col = coverage.LEVEL_KEYS[level][0]
        if (workplaces[col] == adcode).any() or (stations[col] == adcode).any():
            return level
    raise InputError(
        f"--region {adcode}: no workplace or station has this adcode; give a 6-digit province, "
        "city or county code present in the data (e.g. 420000, 420100, 420102)"
    )


def _filters(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    exclude: list[str] = []
    if getattr(args, "exclude_reported_closed", False):
        exclude = coverage.reported_closed_ids(store.read_reports(settings.data_dir, status="open"))
    return {
        "amenities": args.amenity or (),
        "kinds": args.kind or (),
        "open_at_min": hours.parse_time_of_day(args.at) if args.at else None,
        "exclude_ids": exclude,
    }


def _prepare(
    args: argparse.Namespace, settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame, StationIndex, np.ndarray, dict[str, Any], float, str]:
    radius = coverage._check_radius(
        args.radius_m if args.radius_m is not None else settings.coverage_radius_m
    )
    stations, workplaces = _load(settings)
    level = _region_level(workplaces, stations, args.region)
    index = StationIndex.from_frame(stations)
    filters = _filters(args, settings)
    distance = coverage.nearest_distance_m(workplaces, index, **filters)
    return stations, workplaces, index, distance, filters, radius, level


def _coverage(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    stations, workplaces, index, distance, filters, radius, region_level = _prepare(args, settings)
    occupations = args.occupation or ()
    summary = coverage.coverage_summary(
        workplaces,
        index,
        radius,
        occupations=occupations,
        distance_m=distance,
        parent=args.region,
        stations=stations,
        **filters,
    )
    level = args.level or _CHILD_LEVEL[region_level]
    table = coverage.region_stats(
        stations,
        workplaces,
        level,
        distance_m=distance,
        radius_m=radius,
        parent=args.region,
        occupations=occupations,
        station_mask=coverage.qualifying_mask(index, **filters),
    )
    return {
        **{k: _clean(v) for k, v in summary.items()},
        "at": args.at,
        "region": args.region,
        "level": level,
        "by_region": _records(table),
    }


def _gaps(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    _, workplaces, _, distance, _, radius, _ = _prepare(args, settings)
    cells = coverage.gap_cells(
        workplaces,
        distance <= radius,
        args.res,
        top=args.top,
        parent=args.region,
        occupations=args.occupation or (),
    )
    return _records(cells)


def _user_candidates(args: argparse.Namespace) -> pd.DataFrame | None:
    if not args.candidates:
        return None
    path = Path(args.candidates)
    if not path.is_file():
        raise InputError(f"--candidates {path}: no such file; give a CSV with columns lat,lng[,name]")
    return pd.read_csv(path, encoding="utf-8-sig")


def _site_access(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """``site --objective access``: lift the most workers to the 2SFCA accessibility threshold."""
    radius = coverage._check_radius(
        args.radius_m if args.radius_m is not None else settings.coverage_radius_m
    )
    stations = store.read_table(settings.data_dir, "stations", columns=[*coverage.STATION_COLUMNS, "seats"])
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=coverage.WORKPLACE_COLUMNS)
    _region_level(workplaces, stations, args.region)
    filters = _filters(args, settings)
    mask = coverage.qualifying_mask(StationIndex.from_frame(stations), **filters)
    threshold = settings.access_threshold_seats_per_1000 if args.threshold is None else args.threshold
    result = siting.site_for_access(
        stations,
        workplaces,
        args.new,
        radius,
        threshold,
        seats_per_site=args.seats,
        station_mask=mask,
        user_candidates=_user_candidates(args),
        only_user_candidates=args.only_candidates,
        quota=args.quota,
        quota_level=args.quota_level,
        parent=args.region,
        occupations=args.occupation or (),
    )
    # Recompute independently (a full 2SFCA over stations + sites) and report that figure.
    after = siting.reaching_with_sites(
        stations, workplaces, result.sites, radius, threshold, station_mask=mask
    )
    sel = coverage.occupation_mask(workplaces, args.occupation or ())
    if args.region:
        sel = sel & coverage._inside(workplaces, args.region)
    recomputed = int(workplaces["workers"].to_numpy(dtype=np.int64)[after & sel].sum())
    if recomputed != result.workers_reaching_after:
        raise GeoError(
            f"site: the independent 2SFCA recount lifts {recomputed} workers to the threshold but the greedy "
            f"search counted {result.workers_reaching_after}; the proposed sites were not verified, so none "
            "are printed. Report this with the command line used"
        )
    out = result.to_dict()
    out["method"] = "2sfca"
    out["sites"] = _records(result.sites)
    out["verified"] = True
    out["at"] = args.at
    out["region"] = args.region
    return {k: _clean(v) for k, v in out.items()}


def _site(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    if args.objective == "access":
        return _site_access(args, settings)
    _, workplaces, _, distance, _, radius, _ = _prepare(args, settings)
    user = _user_candidates(args)
    covered = distance <= radius
    result = siting.site_stations(
        workplaces,
        covered,
        args.new,
        radius,
        user_candidates=user,
        only_user_candidates=args.only_candidates,
        quota=args.quota,
        quota_level=args.quota_level,
        parent=args.region,
        occupations=args.occupation or (),
    )
    # Recompute independently (fresh index over the new sites) and report that figure.
    after = siting.covered_with_sites(workplaces, covered, result.sites, radius)
    sel = coverage.occupation_mask(workplaces, args.occupation or ())
    if args.region:
        sel = sel & coverage._inside(workplaces, args.region)
    recomputed = int(workplaces["workers"].to_numpy(dtype=np.int64)[after & sel].sum())
    if recomputed != result.workers_covered_after:
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
    out["sites"] = _records(result.sites)
    out["verified"] = True
    out["workers_covered_after"] = recomputed
    out["share_after"] = recomputed / result.workers_total if result.workers_total else float("nan")
    out["warnings"] = warnings
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return {k: _clean(v) for k, v in out.items()}


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
        help="stations with an open 'closed' report do not qualify",
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
