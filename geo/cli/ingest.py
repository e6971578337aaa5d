"""Import command: ``python -m geo import stations|workplaces|campaign|checkins FILE``.

Prints the import report (``rows_in``, ``accepted``, ``rejected``, ``rejections``,
``warnings``, ``version``); exits with status 2 when nothing was imported.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from geo import ingest
from geo.cli import command, print_result
from geo.errors import InputError
from geo.settings import Settings


def _import(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    limit = settings.max_upload_mb * 1024 * 1024
    if path.stat().st_size > limit:
        raise InputError(
            f"{path}: {path.stat().st_size / 1048576:.1f} MB is over the {settings.max_upload_mb} MB limit "
            "(GEO_MAX_UPLOAD_MB); split the file and import the parts with --mode append"
        )
    report = ingest.import_bytes(
        settings.data_dir,
        path.read_bytes(),
        path.name,
        args.table,
        user=args.user,
        dry_run=args.dry_run,
        crs=args.crs,
        encoding=args.encoding,
        sheet=args.sheet,
        mapping=args.map or None,
        mode=args.mode,
        max_rows=settings.max_import_rows,
        max_bytes=limit,
    )
    out = report.to_dict()
    if report.error is not None or (report.version is None and not args.dry_run):
        print_result(out, args.json)
        raise SystemExit(2)
    return out


def os_user() -> str:
    """Return the operating-system user (``$USER``), recorded as who changed the data."""
    try:
        return os.environ.get("USER") or getpass.getuser() or "cli"
    except (KeyError, OSError):  # no passwd entry (a container with an arbitrary uid)
        return "cli"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``import`` command."""
    p = command(
        sub, "import", _import, "import a CSV / XLSX / GeoJSON / GeoParquet file as a new dataset version"
    )
    p.add_argument("table", choices=ingest.IMPORT_TABLES, help="table to import into")
    p.add_argument("file", help="the file to import")
    p.add_argument(
        "--crs",
        default="wgs84",
        choices=("wgs84", "gcj02", "bd09"),
        help="datum of the coordinates: wgs84 (GPS), gcj02 (AMap/Tencent), bd09 (Baidu)",
    )
    p.add_argument("--encoding", default="auto", choices=ingest.ENCODINGS, help="CSV text encoding")
    p.add_argument(
        "--sheet",
        default=None,
        help="XLSX sheet name (default: the sheet whose headers name the most known fields)",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="源列=field",
        help="map a source column to a field (repeatable; 源列= ignores the column)",
    )
    p.add_argument(
        "--mode", default="replace", choices=ingest.MODES, help="replace the table or append to it"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the file and print the report; write nothing"
    )
    p.add_argument(
        "--user",
        default=os_user(),
        help="who imports (recorded in the manifest and audit log; default $USER)",
    )
