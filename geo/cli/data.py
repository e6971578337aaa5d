"""Data commands: ``generate``, ``info``, ``versions``, ``rollback``, ``prune``."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pandas as pd

from geo import ingest, store, synth
from geo.cli import command, interactive, progress_bar
from geo.cli.ingest import os_user
from geo.errors import InputError
from geo.schema import CHECKINS
from geo.settings import Settings


def generate_demo(settings: Settings, scale: float, seed: int, show_progress: bool = False) -> str:
    """Generate the demo dataset into ``settings.data_dir`` as a new version; return its id."""
    draw = progress_bar(show_progress)
    started = time.perf_counter()
    tables = synth.generate(scale=scale, seed=seed, progress=lambda f, m: draw(0.85 * f, m))
    draw(0.9, "writing")
    version = store.write_version(
        settings.data_dir,
        tables,
        {
            "source": {"kind": "demo", "generator": "geo.synth", "label": "演示数据 / demo data"},
            "seed": seed,
            "scale": scale,
            "user": "generate",
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    draw(1.0, "done")
    return version


def generate_long_log(
    settings: Settings,
    scale: float,
    seed: int,
    checkins_days: int | None,
    partitioned: bool,
    show_progress: bool = False,
) -> str:
    """Generate the demo dataset with a check-in log of ``checkins_days`` days, optionally partitioned.

    The log is drawn and written one month at a time (:func:`geo.synth.checkin_chunks`,
    :func:`geo.store.write_partitioned`), so memory holds the stations, the workplaces and
    one month of rows whatever the length (186,100 rows a day at ``scale=1.0``). Without
    ``checkins_days`` the usual demo log is stored partitioned.
    """
    draw = progress_bar(show_progress)
    started = time.perf_counter()
    tables = synth.generate(
        scale=scale, seed=seed, progress=lambda f, m: draw(0.3 * f, m), checkins=checkins_days is None
    )
    stations = tables["stations"]
    if checkins_days is None:
        log = tables.pop("checkins")
        prov = stations.set_index(stations["station_id"].astype(str))["province_adcode"]
        chunks: Any = [log.assign(province_adcode=log["station_id"].astype(str).map(prov).to_numpy())]
        n_chunks = 1
    else:
        chunks = synth.checkin_chunks(stations, tables["workplaces"], checkins_days, scale=scale, seed=seed)
        n_chunks = max(1, round(checkins_days / 30.4))

    def tracked(frames: Any) -> Any:  # noqa: ANN401 - iterator of frames
        for i, frame in enumerate(frames):
            draw(0.3 + 0.65 * min(1.0, i / n_chunks), f"checkins {i + 1}/{n_chunks}")
            yield frame

    manifest = {
        "source": {"kind": "demo", "generator": "geo.synth", "label": "演示数据 / demo data"},
        "seed": seed,
        "scale": scale,
        "checkins_days": checkins_days,
        "user": "generate",
    }
    if partitioned:
        version = store.write_partitioned(
            settings.data_dir, "checkins", tracked(chunks), tables=tables, manifest=manifest
        )
    else:
        cols = list(CHECKINS.columns)
        log = pd.concat([c[cols] for c in tracked(chunks)], ignore_index=True)
        tables["checkins"] = log.assign(date=pd.to_datetime(log["date"]).dt.date)  # stored as a date
        version = store.write_version(settings.data_dir, tables, manifest)
    draw(1.0, f"done in {time.perf_counter() - started:.0f} s")
    return version


def _generate(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    show = interactive() and not args.json
    if args.checkins_days is not None or args.partitioned:
        version = generate_long_log(
            settings, args.scale, args.seed, args.checkins_days, args.partitioned, show_progress=show
        )
    else:
        version = generate_demo(settings, args.scale, args.seed, show_progress=show)
    return store.read_manifest(settings.data_dir, version)


def _info(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return store.read_manifest(settings.data_dir)


def _versions(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    return [
        {
            k: m.get(k)
            for k in ("dataset_version", "created", "current", "source", "user", "row_counts", "import")
        }
        for m in store.list_versions(settings.data_dir)
    ]


def _rollback(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    before = store.current_version(settings.data_dir)
    now = ingest.rollback(settings.data_dir, args.version, args.user)
    return {"current": now, "from": before}


def _prune(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    keep = args.keep if args.keep is not None else settings.keep_versions
    if keep < 1:
        raise InputError(f"--keep {keep}: keep at least 1 version (or set GEO_KEEP_VERSIONS)")
    removed = store.prune_versions(settings.data_dir, keep, dry_run=args.dry_run)
    return {
        "removed" if not args.dry_run else "would_remove": removed,
        "kept": store.list_version_ids(settings.data_dir) if not args.dry_run else None,
        "protected": sorted(store.protected_versions(settings.data_dir)),
    }


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the data commands."""
    p = command(sub, "generate", _generate, "generate the deterministic national demo dataset")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of national size (default 1.0)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--checkins-days",
        type=int,
        default=None,
        metavar="N",
        help="make a check-in log of N days from 2025-01-01 (186,100 rows a day at scale 1.0), "
        "drawn a week at a time; default: the 59-day demo window",
    )
    p.add_argument(
        "--partitioned",
        action="store_true",
        help="store check-ins as hive-partitioned parquet (year/month/province), written chunk by "
        "chunk with bounded memory (for national multi-year logs; both engines read it)",
    )
    command(sub, "info", _info, "show the manifest of the dataset in use")
    command(sub, "versions", _versions, "list dataset versions")
    p = command(sub, "rollback", _rollback, "make an earlier dataset version current")
    p.add_argument("version", help="version id, e.g. v0001 (see `versions`)")
    p.add_argument(
        "--user", default=os_user(), help="who rolls back (recorded in the audit log; default $USER)"
    )
    p = command(
        sub,
        "prune",
        _prune,
        "remove old dataset versions (never the current one, its base, or one listed in PINNED)",
    )
    p.add_argument(
        "--keep",
        type=int,
        default=None,
        metavar="N",
        help="keep the newest N versions (default: keep_versions)",
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
