"""Engine options shared by the heavy commands: ``--engine duckdb|dask`` and ``--scheduler``.

Not a command module (no ``register``): ``campaign``, ``coverage`` and ``gaps`` use it.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from geo import dask_engine
from geo.cli import Handler
from geo.settings import Settings


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` and ``--scheduler`` (defaults: settings ``engine``, ``dask_scheduler``)."""
    parser.add_argument(
        "--engine",
        choices=dask_engine.ENGINES,
        default=None,
        help="where the aggregation runs: duckdb (embedded, default) or dask (needs pip install '.[dask]'); "
        "default: $GEO_ENGINE",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Dask scheduler address for --engine dask (default: $GEO_DASK_SCHEDULER, else a local "
        "cluster of 2 worker processes)",
    )


def with_engine(handler: Handler) -> Handler:
    """Wrap a command handler so that everything it computes runs on the engine asked for."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, settings: Settings) -> Any:  # noqa: ANN401 - JSON-able result
        s = settings.with_overrides(engine=args.engine, dask_scheduler=args.scheduler)
        with dask_engine.using(s.engine, s.dask_scheduler):
            return handler(args, s)

    return run
