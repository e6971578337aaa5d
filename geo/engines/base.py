"""The engine protocol and what every engine shares (no engine, no analysis imported here)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

ROWS_PER_TASK: Final = 100_000
"""Rows per task when a table in memory is cut into chunks (:func:`row_chunks`)."""

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Broadcast(Generic[T]):
    """An argument sent once to every worker (a lookup table, the station index), not per task."""

    value: T


@runtime_checkable
class Engine(Protocol):
    """What every engine offers: partial aggregates over partitions or chunks, merged."""

    @property
    def name(self) -> str:
        """Engine name, one of :data:`ENGINES`."""
        ...

    @property
    def embedded(self) -> bool:
        """Whether it runs in this process: analyses may then scan files in place (DuckDB, Arrow)."""
        ...

    @property
    def parallelism(self) -> int:
        """How many tasks run at once (workers); used to cut tables into enough chunks."""
        ...

    def reduce_table(
        self,
        path: Path | str,
        columns: Sequence[str],
        partial: Callable[..., P],
        combine: Callable[[list[P]], P],
        *args: Any,  # noqa: ANN401 - passed to ``partial`` after the partition
    ) -> P:
        """Apply ``partial(frame, *args)`` to every partition of a stored table and merge with ``combine``.

        Parameters
        ----------
        path : Path or str
            A table path as from :func:`geo.store.table_path` (a file, or a partitioned
            table's glob).
        columns : sequence of str
            Columns to read (each partition arrives as a pandas frame of these).
        partial : callable
            ``partial(frame, *args) -> P``; must accept an empty frame.
        combine : callable
            Merges a list of partials into one (associative: it may be applied in a tree).
        *args
            Further arguments of ``partial``; wrap big ones in :class:`Broadcast`.
        """
        ...

    def map_chunks(
        self,
        func: Callable[..., R],
        chunks: Sequence[tuple[Any, ...]],
        *args: Any,  # noqa: ANN401 - passed to ``func`` after each chunk's own arguments
    ) -> list[R]:
        """Return ``[func(*chunk, *args) for chunk in chunks]`` (in order), run where the engine runs."""
        ...


def row_chunks(n: int, parallelism: int) -> list[slice]:
    """Cut ``n`` rows into slices of at most about :data:`ROWS_PER_TASK`, at least two per worker.

    Returns
    -------
    list of slice
        Consecutive, non-empty slices covering ``0 .. n`` (none when ``n`` is 0).
    """
    pieces = max(2 * max(parallelism, 1), -(-n // ROWS_PER_TASK))
    edges = np.linspace(0, n, min(pieces, max(n, 1)) + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]
