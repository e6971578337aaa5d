"""Data commands: ``generate``, ``info``, ``versions``, ``rollback``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from geo import store, synth
from geo.cli import command, interactive, progress_bar
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


def _generate(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    version = generate_demo(settings, args.scale, args.seed, show_progress=interactive() and not args.json)
    return store.read_manifest(settings.data_dir, version)


def _info(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return store.read_manifest(settings.data_dir)


def _versions(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    return [
        {k: m.get(k) for k in ("dataset_version", "created", "current", "source", "user", "row_counts")}
        for m in store.list_versions(settings.data_dir)
    ]


def _rollback(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    store.set_current(settings.data_dir, args.version)
    store.append_audit(settings.data_dir, args.user, "rollback", {"version": args.version})
    return {"current": store.current_version(settings.data_dir)}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the data commands."""
    p = command(sub, "generate", _generate, "generate the deterministic national demo dataset")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of national size (default 1.0)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    command(sub, "info", _info, "show the manifest of the dataset in use")
    command(sub, "versions", _versions, "list dataset versions")
    p = command(sub, "rollback", _rollback, "make an earlier dataset version current")
    p.add_argument("version", help="version id, e.g. v0001")
    p.add_argument("--user", default="cli", help="who rolls back (recorded in the audit log)")
