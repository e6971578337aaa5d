"""``python -m geo nearest``: the nearest stations to a point, as JSON or a table."""

from __future__ import annotations

import argparse
from typing import Any

from geo import navigation, store
from geo.cli import command
from geo.datums import CRS_NAMES
from geo.nearest import K_MAX, StationIndex
from geo.schema import AMENITIES, STATION_KINDS
from geo.settings import Settings


def nearest(args: argparse.Namespace, settings: Settings) -> Any:  # noqa: ANN401 - JSON-able
    """Answer one query; the result is a list of records ordered by distance."""
    request = navigation.parse_request(
        args.lat,
        args.lng,
        k=args.k,
        amenities=args.amenity,
        kinds=args.kind,
        open_at=args.open_at,
        crs=args.crs,
        radius_m=args.radius_m,
        require_china=not args.anywhere,
    )
    stations = store.read_table(settings.data_dir, "stations")
    index = StationIndex.from_frame(stations)
    records = navigation.nearest_records(
        index, navigation.StationText.from_frame(stations), request, links=not args.no_links
    )
    if args.json:
        return records
    if not records:
        return "no station matches"
    lines = [f"# {navigation.ESTIMATE_NOTE}"]
    for r in records:
        state = "open" if r["open_now"] else "closed" if r["open_now"] is False else "?"
        hours_text = "24h" if r["open_24h"] else f"{r['opens']}-{r['closes']}" if r["opens"] else "hours ?"
        lines.append(
            f"{r['distance_m']:>9.0f} m  walk ~{r['walk_min']:.0f} min  ride ~{r['ride_min']:.0f} min  "
            f"{state:<6} {hours_text:<11} {r['station_id']}  {r['name']}  {r['address']}"
        )
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``nearest`` command."""
    p = command(sub, "nearest", nearest, "nearest stations to a point (open now / at a time, with filters)")
    p.add_argument("--lat", required=True, help="latitude, decimal degrees (datum: --crs)")
    p.add_argument("--lng", required=True, help="longitude, decimal degrees (datum: --crs)")
    p.add_argument("-k", type=int, default=5, help=f"how many stations, 1-{K_MAX} (default 5)")
    p.add_argument(
        "--amenity",
        action="append",
        default=[],
        help=f"required amenity (repeat for all of several): {', '.join(AMENITIES.values)}",
    )
    p.add_argument(
        "--kind",
        action="append",
        default=[],
        help=f"station kind (any of): {', '.join(STATION_KINDS.values)}",
    )
    p.add_argument("--open-at", default=None, help="only stations open at HH:MM (Beijing time)")
    p.add_argument("--crs", default="wgs84", help=f"datum of --lat/--lng: {', '.join(CRS_NAMES)}")
    p.add_argument("--radius-m", default=None, help="only stations within this many metres")
    p.add_argument("--no-links", action="store_true", help="leave out the Amap/Baidu/OSM links")
    p.add_argument("--anywhere", action="store_true", help="accept points outside China")
