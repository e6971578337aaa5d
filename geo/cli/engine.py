"""Engine options shared by the heavy commands: ``--engine duckdb|dask`` and ``--scheduler``.

Not a command module (no ``register``): ``campaign``, ``coverage`` and ``gaps`` use it. The
options override the settings; a command then builds its engine with
:func:`geo.engines.from_settings` and passes it to the analyses.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from geo import engines
from geo.cli import Handler
from geo.settings import Settings


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` and ``--scheduler`` (defaults: settings ``engine``, ``dask_scheduler``)."""
    parser.add_argument(
        "--engine",
        choices=engines.ENGINES,
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
    """Wrap a command handler so that its settings carry ``--engine`` and ``--scheduler``.

    The handler builds the engine from them (:func:`geo.engines.from_settings`).
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace, settings: Settings) -> Any:  # noqa: ANN401 - JSON-able result
        return handler(args, settings.with_overrides(engine=args.engine, dask_scheduler=args.scheduler))

    return run
