"""``map-export``: the overview, coverage and campaign maps as A4 PNG or PDF, no browser.

``python -m geo map-export --map overview|coverage|campaign [--region ADCODE]
[--format png|pdf] [--out PATH] [--lang zh|en] [--sites FILE]`` draws the same figures the pages show
(same functions, same parameters) with :mod:`geo.maps.reports`; campaign figures are the
published ones (small counts withheld, hatched).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from geo import campaign, coverage, engines, hours, i18n, publication, store, validate
from geo.cli import command
from geo.errors import InputError
from geo.maps import export, reports
from geo.nearest import StationIndex
from geo.schema import CATEGORIES
from geo.settings import Settings

MAPS = ("overview", "coverage", "campaign")
OVERVIEW_RADIUS_M = 1000.0  # the overview page's fixed radius (views/overview.py RADIUS_M)


_region_name = reports.region_name


def _furniture(
    args: argparse.Namespace,
    settings: Settings,
    title: str,
    legend: str,
    *,
    subtitle: str = "",
    notes: tuple[str, ...] = (),
) -> export.MapFurniture:
    source, demo = reports.dataset_note(settings.data_dir, args.lang)
    return export.MapFurniture(
        title=title,
        subtitle=subtitle,
        legend_title=legend,
        source=source,
        demo=demo,
        lang=args.lang,
        notes=notes,
    )


def _overview(args: argparse.Namespace, settings: Settings) -> Figure:
    lang, region = args.lang, args.region or ""
    stations = store.read_table(settings.data_dir, "stations")
    if region:
        if not region.endswith("0000"):
            raise InputError(f"--region {region}: the overview map shows China or one province (e.g. 440000)")
        cells, res = reports.station_hex_counts(stations, region)
        from geo import hexes

        f = _furniture(
            args,
            settings,
            i18n.t("overview.map_title_province", lang, province=_region_name(region, lang)),
            i18n.t("overview.legend_hex", lang, res=res, area=f"{hexes.average_hexagon_area_km2(res):.1f}"),
        )
        return reports.overview_province(cells, region, f)
    workplaces = store.read_table(settings.data_dir, "workplaces")
    dist = coverage.nearest_distance_m(workplaces, StationIndex.from_frame(stations))
    provinces = coverage.region_stats(
        stations, workplaces, "province", distance_m=dist, covered=dist <= OVERVIEW_RADIUS_M
    )
    f = _furniture(
        args, settings, i18n.t("overview.map_title_nation", lang), i18n.t("overview.legend_per10k", lang)
    )
    return reports.overview_nation(provinces, f)


def _coverage(args: argparse.Namespace, settings: Settings) -> Figure:
    lang, region = args.lang, args.region or ""
    radius = validate.check_radius_m(
        args.radius_m if args.radius_m is not None else settings.coverage_radius_m
    )
    stations = store.read_table(settings.data_dir, "stations", columns=coverage.STATION_COLUMNS)
    workplaces = store.read_table(settings.data_dir, "workplaces", columns=coverage.WORKPLACE_COLUMNS)
    index = StationIndex.from_frame(stations)
    filters: dict[str, Any] = {
        "amenities": tuple(args.amenity or ()),
        "kinds": tuple(args.kind or ()),
        "open_at_min": hours.parse_time_of_day(args.at) if args.at else None,
        "exclude_ids": (),
    }
    dist = coverage.nearest_distance_m(workplaces, index, **filters)
    table = coverage.region_stats(
        stations,
        workplaces,
        reports.child_level(region),
        distance_m=dist,
        radius_m=radius,
        parent=region or None,
        occupations=tuple(args.occupation or ()),
        station_mask=coverage.qualifying_mask(index, **filters),
    )
    subtitle = []
    if args.at:
        subtitle.append(args.at)
    subtitle += [*(args.amenity or ()), *(args.kind or ()), *(args.occupation or ())]
    radius_text = i18n.format_distance(radius, lang)
    f = _furniture(
        args,
        settings,
        i18n.t("maps.title_coverage", lang, region=_region_name(region, lang), radius=radius_text),
        i18n.t("coverage.legend_share", lang),
        subtitle=" · ".join(subtitle),
    )
    sites = None
    if args.sites:
        from geo import planning

        sites = planning.read_candidates(args.sites, crs=args.sites_crs, settings=settings, what="--sites")
    return reports.coverage_regions(table, region, f, sites=sites)


def _campaign(args: argparse.Namespace, settings: Settings) -> Figure:
    lang, region = args.lang, args.region or ""
    lo, hi = campaign.campaign_window(args.year)
    date_from, date_to = args.date_from or lo, args.date_to or hi
    filters = campaign.Filters(
        args.year, date_from, date_to, tuple(args.category) if args.category else None, region or None
    ).checked()
    k = settings.k_anonymity
    d = settings.data_dir
    level = "nation" if not region else ("province" if region.endswith("0000") else "county")
    res = campaign.res_for_region(level)
    unit = "hex" if args.view == "hex" else reports.child_level(region)
    day = args.day
    if day != "all":
        try:
            day_date = dt.date.fromisoformat(day)
        except ValueError:
            raise InputError(f"--day {day!r}: write a date as YYYY-MM-DD, or 'all'") from None
        if not date_from <= day_date <= date_to:
            raise InputError(f"--day {day}: outside the campaign days {date_from} to {date_to}")
    # The page's figures (views/campaign.py): the one publication step, suppressed together.
    child = reports.child_level(region)
    view = publication.campaign_view(
        d, filters, k=k, region_level=child, res=res, engine=engines.from_settings(settings)
    )
    if unit == "hex":
        frames, whole = view.hex_frames, view.cells
    else:
        frames, whole = view.region_frames, view.regions
    if day == "all":
        frame = whole
        bins = campaign.locked_bins(frame["people"])
    else:
        bins = campaign.locked_bins(frames["people"]) if len(frames) else campaign.locked_bins([])
        frame = frames[pd.to_datetime(frames["date"]) == pd.Timestamp(day)] if len(frames) else frames
    hidden = i18n.t("campaign.withheld", lang)
    f = _furniture(
        args,
        settings,
        i18n.t(
            "maps.title_campaign",
            lang,
            region=_region_name(region, lang),
            year=args.year,
            day=i18n.t("campaign.all_days", lang) if day == "all" else day,
        ),
        i18n.t("campaign.legend_people", lang),
        notes=(i18n.t("maps.withheld_note", lang, k=k),),
    )
    return reports.campaign(frame, "hex" if unit == "hex" else "region", "people", bins, region, hidden, f)


def run_map_export(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Draw the map asked for and write it; return ``{"path", "format", "bytes", "map", ...}``."""
    fmt = args.format or (args.out.suffix.lstrip(".").lower() if args.out and args.out.suffix else "png")
    if fmt not in export.FORMATS:
        raise InputError(f"--format {fmt!r}: use png or pdf (or an --out path ending in .png/.pdf)")
    build = {"overview": _overview, "coverage": _coverage, "campaign": _campaign}[args.map]
    fig = build(args, settings)
    data = export.figure_bytes(fig, fmt, dpi=args.dpi)
    out: Path = args.out or Path(f"map-{args.map}-{args.region or 'china'}.{fmt}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    width_in, height_in = export.A4_LANDSCAPE_IN
    return {
        "path": str(out),
        "format": fmt,
        "bytes": len(data),
        "map": args.map,
        "region": args.region or None,
        "lang": args.lang,
        "page": "A4 landscape",
        "pixels": [int(width_in * args.dpi), int(height_in * args.dpi)] if fmt == "png" else None,
    }


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as YYYY-MM-DD") from None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``map-export`` command."""
    p = command(
        sub,
        "map-export",
        run_map_export,
        "write the overview, coverage or campaign map as an A4 PNG/PDF (title, legend, source, "
        "scale bar, South China Sea inset), without a browser",
    )
    p.add_argument("--map", choices=MAPS, required=True, help="which page's map")
    p.add_argument(
        "--region", default=None, help="6-digit adcode: overview a province; others province or city"
    )
    p.add_argument(
        "--format", choices=export.FORMATS, default=None, help="png or pdf (default: from --out, else png)"
    )
    p.add_argument("--out", type=Path, default=None, help="output file (default map-<map>-<region>.<format>)")
    p.add_argument(
        "--lang", choices=i18n.LANGS, default=i18n.DEFAULT_LANG, help="language of the texts (default zh)"
    )
    p.add_argument(
        "--dpi", type=int, default=export.DEFAULT_DPI, help=f"PNG resolution (default {export.DEFAULT_DPI})"
    )
    g = p.add_argument_group("coverage map")
    g.add_argument("--radius-m", type=float, default=None, help="service radius, m (default: setting)")
    g.add_argument("--at", default=None, help="only stations open at HH:MM")
    g.add_argument("--amenity", action="append", help="stations must have this amenity (repeatable)")
    g.add_argument("--kind", action="append", help="station kind (repeatable)")
    g.add_argument("--occupation", action="append", help="count only workers of this occupation (repeatable)")
    g.add_argument(
        "--sites",
        type=Path,
        default=None,
        help="proposed sites to draw as numbered stars, in rank order: CSV/XLSX/GeoJSON with lat/lng "
        "(e.g. the page's proposed_sites download, or `site --json` sites saved as CSV)",
    )
    g.add_argument(
        "--sites-crs",
        choices=("wgs84", "gcj02", "bd09"),
        default="wgs84",
        help="datum of --sites coordinates (default wgs84)",
    )
    c = p.add_argument_group("campaign map")
    c.add_argument("--year", type=int, default=2025, help="campaign year (default 2025)")
    c.add_argument("--view", choices=("hex", "region"), default="hex", help="hexes or regions (default hex)")
    c.add_argument("--day", default="all", help="one day YYYY-MM-DD, or all (default)")
    c.add_argument("--category", action="append", choices=CATEGORIES.values, help="only this category")
    c.add_argument("--from", dest="date_from", type=_date, default=None, help="first day, YYYY-MM-DD")
    c.add_argument("--to", dest="date_to", type=_date, default=None, help="last day, YYYY-MM-DD")
