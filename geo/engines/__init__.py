"""Engines: where the heavy aggregations run, passed to every analysis as a value.

An engine computes *partial aggregates* and nothing else: it maps a function over the
partitions of a stored table (row groups of a file, files of a partitioned directory) or
over chunks of rows, and merges the partials. What the partials are -- sums per campaign
group, bit sets of stations seen per day, uncovered workers per H3 cell -- belongs to the
analyses (:mod:`geo.partials`); an engine knows no analysis.

===================  ================================================================
:class:`LocalEngine`  this process: the analyses scan the files in place with DuckDB and
                      Arrow (their fast paths); partials run here one after another
:class:`DaskEngine`   a Dask cluster (``pip install '.[dask]'``): partials run on the
                      workers and merge in a tree (see :mod:`geo.engines.dask`)
===================  ================================================================

Callers build the engine once from the settings -- :func:`from_settings` (``GEO_ENGINE``,
``GEO_DASK_SCHEDULER``) -- and pass it on: ``campaign.campaign_by(data, "province",
engine=engine)``. There is no engine "in effect": an analysis runs where its ``engine``
argument says (default :data:`LOCAL`).
"""

from __future__ import annotations

from typing import Final

from geo.engines.base import ROWS_PER_TASK, Broadcast, Engine, row_chunks
from geo.engines.dask import INSTALL_HINT, DaskEngine
from geo.engines.local import LocalEngine
from geo.errors import InputError
from geo.settings import Settings

__all__ = [
    "ENGINES",
    "INSTALL_HINT",
    "LOCAL",
    "ROWS_PER_TASK",
    "Broadcast",
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "by_name",
    "from_settings",
    "row_chunks",
]

ENGINES: Final = ("duckdb", "dask")
"""Engine names (settings ``engine``, ``--engine``): ``duckdb`` is :class:`LocalEngine`."""

LOCAL: Final = LocalEngine()
"""The default engine: this process, DuckDB and Arrow."""


def by_name(name: str, scheduler: str = "") -> Engine:
    """Return the engine called ``name`` (:data:`ENGINES`); ``scheduler`` is the Dask scheduler address.

    Raises
    ------
    InputError
        For an unknown name.
    """
    if name == "duckdb":
        return LOCAL
    if name == "dask":
        return DaskEngine(scheduler)
    raise InputError(f"engine {name!r} is unknown: use one of {', '.join(ENGINES)} (--engine / GEO_ENGINE)")


def from_settings(settings: Settings) -> Engine:
    """Return the engine the settings choose (``engine``, ``dask_scheduler``): the one place that decides."""
    return by_name(settings.engine, settings.dask_scheduler)
