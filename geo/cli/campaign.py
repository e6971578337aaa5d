"""Campaign command: ``python -m geo campaign --year 2025 --by province [--json]``.

Figures go through :func:`geo.publication.publish`: the rows, the category split and the
total are suppressed together (:mod:`geo.privacy`), so every count below the k-anonymity
threshold (setting ``GEO_K_ANONYMITY``, default 10) comes out as ``null`` with
``"withheld": true`` - as do the figures withheld so that the others cannot give a
small one away (the same flag: a reader is not told which is which).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from geo import campaign, engines, publication
from geo.cli import command
from geo.cli.engine import add_engine_options, with_engine
from geo.errors import InputError
from geo.records import records
from geo.schema import CATEGORIES
from geo.settings import Settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as YYYY-MM-DD") from None


def run_campaign(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Aggregate the campaign as asked and return ``{"total", "rows", "k", "filters"}``."""
    by = "hex" if args.by == "hex" else args.by
    if args.res is not None and by != "hex":
        raise InputError("--res only applies to --by hex")
    filters = campaign.Filters(
        year=args.year,
        date_from=args.date_from,
        date_to=args.date_to,
        categories=tuple(args.category) if args.category else None,
        region=args.region,
    ).checked()
    k = settings.k_anonymity
    out = publication.publish(
        settings.data_dir, by, filters, k=k, res=args.res or 7, engine=engines.from_settings(settings)
    )
    return {
        "total": out["total"],
        "rows": records(out["rows"], int_columns=("people", "events")),
        "k": k,
        "filters": {
            "year": filters.year,
            "from": None if filters.date_from is None else filters.date_from.isoformat(),
            "to": None if filters.date_to is None else filters.date_to.isoformat(),
            "categories": list(filters.categories or CATEGORIES.values),
            "region": filters.region,
            "by": args.by,
            "res": (args.res or 7) if by == "hex" else None,
        },
    }


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``campaign`` command."""
    p = command(
        sub,
        "campaign",
        with_engine(run_campaign),
        "送温暖 campaign figures by region, hex, day or category (small counts withheld: null)",
    )
    p.add_argument("--year", type=int, default=2025, help="campaign year (default 2025)")
    p.add_argument(
        "--by",
        choices=campaign.BY_CHOICES,
        default="province",
        help="grouping of the rows (default province)",
    )
    p.add_argument("--res", type=int, default=None, help="H3 resolution 4-9 for --by hex (default 7)")
    p.add_argument(
        "--category",
        action="append",
        choices=CATEGORIES.values,
        help="only this category (repeat for several; default all)",
    )
    p.add_argument("--region", default=None, help="adcode of a province, city or county to restrict to")
    p.add_argument("--from", dest="date_from", type=_date, default=None, help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=_date, default=None, help="last day, YYYY-MM-DD")
    add_engine_options(p)
