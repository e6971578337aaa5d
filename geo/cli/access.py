"""``python -m geo access``: seats per worker within reach (2SFCA / E2SFCA) and crowded stations."""

from __future__ import annotations

import argparse
import math
from typing import Any

from geo import access, coverage, engines, levels, store
from geo.cli import command
from geo.cli.engine import add_engine_options, with_engine
from geo.cli.planning import coverage_query, region_tags
from geo.nearest import StationIndex
from geo.records import clean, records
from geo.settings import Settings

_STATION_READ = list(dict.fromkeys([*coverage.STATION_COLUMNS, *access.STATION_COLUMNS]))
_WORKPLACE_READ = list(dict.fromkeys([*coverage.WORKPLACE_COLUMNS, *access.WORKPLACE_COLUMNS]))


def _access(args: argparse.Namespace, settings: Settings) -> Any:  # noqa: ANN401 - JSON-able or text
    q = coverage_query(args, settings)
    stations = store.read_table(settings.data_dir, "stations", columns=_STATION_READ)
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=_WORKPLACE_READ)
    tags = region_tags(stations, workplaces)
    levels.region_level(q.region, tags)  # refuses a code no row carries
    mask = None
    if q.open_at_min is not None or q.amenities or q.kinds or q.exclude_ids:
        mask = coverage.qualifying_mask(StationIndex.from_frame(stations), **q.station_filters())
    result = access.two_step_fca(
        stations,
        workplaces,
        q.radius_m,
        method=args.method,
        sigma_m=args.sigma_m,
        station_mask=mask,
        engine=engines.from_settings(settings),
    )
    threshold = settings.access_threshold_seats_per_1000 if args.threshold is None else args.threshold
    crowded = settings.crowded_workers_per_seat
    summary = access.access_summary(
        stations, workplaces, result, threshold, crowded, parent=q.region, occupations=q.occupations
    )
    level = args.level or levels.child_level(q.region, tags)
    table = access.region_access(
        stations, workplaces, result, level, threshold, crowded, parent=q.region, occupations=q.occupations
    )
    top = access.station_table(stations, result, crowded, parent=q.region, top=args.top)
    out = {
        **{k: clean(v) for k, v in summary.items()},
        "at": args.at,
        "region": q.region,
        "level": level,
        "by_region": records(table),
        "stations": records(top.astype({"seats": "float64"})),
    }
    return out if args.json else _text(out)


def _num(v: float | None, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _text(out: dict[str, Any]) -> str:
    sigma = f", σ = {out['sigma_m']:.0f} m" if out["sigma_m"] else ""
    lines = [
        f"# {out['method'].upper()} within {out['radius_m']:.0f} m{sigma}"
        + (f", stations open at {out['at']}" if out["at"] else "")
        + (f", region {out['region']}" if out["region"] else ""),
        f"workers {out['workers_total']:,}  seats {out['seats_total']:,}  "
        f"stations {out['stations_qualifying']:,} ({out['stations_crowded']:,} crowded, "
        f"> {out['crowded_workers_per_seat']:g} workers per seat)",
        f"seats per 1,000 workers (worker-weighted mean) {_num(out['seats_per_1000'], '.1f')}; "
        f"below {out['threshold_seats_per_1000']:g}: {out['workers_below_threshold']:,} workers "
        f"({_num(None if out['share_below'] is None else out['share_below'] * 100, '.1f')}%), "
        f"none in reach: {out['workers_no_seat_in_reach']:,}",
        "",
        f"{'adcode':<7} {'region':<12} {'workers':>12} {'seats/1000':>10} {'below':>7} "
        f"{'stations':>8} {'crowded':>7}",
    ]
    for r in out["by_region"]:
        share = None if r["share_below"] is None else r["share_below"] * 100
        lines.append(
            f"{r['adcode']:<7} {r['name'][:12]:<12} {r['workers']:>12,} {_num(r['seats_per_1000'], '10.1f')} "
            f"{_num(share, '6.1f')}% {r['stations']:>8,} {r['stations_crowded']:>7,}"
        )
    lines += ["", f"{'station':<12} {'seats':>5} {'workers/seat':>12} {'in reach':>10}  county  name"]
    for s in out["stations"]:
        flag = " *" if s["crowded"] else ""
        lines.append(
            f"{s['station_id']:<12} {_num(s['seats'], '5.0f')} {_num(s['load_workers_per_seat'], '12.1f')} "
            f"{_num(s['workers_in_reach'], '10,.0f')}  {s.get('county') or ''}  {s.get('name') or ''}{flag}"
        )
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``access`` command."""
    p = command(
        sub,
        "access",
        with_engine(_access),
        "seats per worker within reach (2SFCA / E2SFCA), by region, and the most crowded stations",
    )
    p.add_argument(
        "--radius-m",
        type=float,
        default=None,
        help="catchment radius in metres, great-circle (default: setting coverage_radius_m)",
    )
    p.add_argument("--method", choices=access.METHODS, default="2sfca", help="2sfca (default) or e2sfca")
    p.add_argument(
        "--sigma-m",
        type=float,
        default=None,
        help="e2sfca: width of the Gaussian exp(-(d/sigma)^2/2), metres (default radius/2)",
    )
    p.add_argument(
        "--level", choices=list(coverage.LEVEL_KEYS), default=None, help="region level of by_region"
    )
    p.add_argument("--region", default=None, help="6-digit adcode of a province, city or county")
    p.add_argument("--at", default=None, help="only stations open at this time of day, HH:MM (e.g. 04:30)")
    p.add_argument("--top", type=int, default=20, help="most crowded stations to list (default 20)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="seats per 1,000 workers below which workers count as under-served "
        "(default: setting access_threshold_seats_per_1000)",
    )
    p.add_argument("--amenity", action="append", help="stations must have this amenity (repeatable)")
    p.add_argument("--kind", action="append", help="station kind (repeatable: any of them)")
    p.add_argument("--occupation", action="append", help="count only workers of this occupation (repeatable)")
    p.add_argument(
        "--exclude-reported-closed",
        action="store_true",
        help="stations with an open 'closed' report do not take part",
    )
    add_engine_options(p)
