"""The local engine: this process. Analyses scan the stored files in place with DuckDB and Arrow.

Partials (:meth:`LocalEngine.reduce_table`, :meth:`LocalEngine.map_chunks`) run here one after
another, batch by batch as Arrow reads them, so memory stays at a batch and a partial. The
analyses take their own DuckDB/Arrow paths on this engine (:attr:`LocalEngine.embedded`);
the partials path serves to check that the partials give the same answer (tests), without a
cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from geo import store
from geo.engines.base import Broadcast

P = TypeVar("P")
R = TypeVar("R")

BATCH_ROWS = 1 << 17
"""Rows per batch handed to a partial."""


def _unwrap(args: Sequence[Any]) -> list[Any]:
    return [a.value if isinstance(a, Broadcast) else a for a in args]


def run_sql(sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
    """Run one statement in a fresh in-memory DuckDB and return the result as a frame.

    Only the parameters the statement names (``$name``) are bound; values never enter the
    statement text.
    """
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        return con.execute(sql, used).df()
    finally:
        con.close()


@dataclass(frozen=True)
class LocalEngine:
    """Run in this process (DuckDB and Arrow). Use :data:`geo.engines.LOCAL`."""

    @property
    def name(self) -> str:
        """``"duckdb"``."""
        return "duckdb"

    @property
    def embedded(self) -> bool:
        """Always true: the analyses scan files in place."""
        return True

    @property
    def parallelism(self) -> int:
        """One task at a time."""
        return 1

    def reduce_table(
        self,
        path: Path | str,
        columns: Sequence[str],
        partial: Callable[..., P],
        combine: Callable[[list[P]], P],
        *args: Any,  # noqa: ANN401 - passed to ``partial``
    ) -> P:
        """Apply ``partial`` to each Arrow batch of the table and merge (see :class:`geo.engines.Engine`)."""
        import pyarrow.dataset as ds

        extra = _unwrap(args)
        data = ds.dataset(store.dataset_root(path), format="parquet", partitioning="hive")
        scanner = data.scanner(columns=list(columns), batch_size=BATCH_ROWS)
        parts = [partial(b.to_pandas(), *extra) for b in scanner.to_batches() if b.num_rows]
        if not parts:  # an empty table: one partial of no rows, as a partition would give
            empty = data.schema.empty_table().select(list(columns)).to_pandas()
            parts = [partial(empty, *extra)]
        return combine(parts)

    def map_chunks(
        self,
        func: Callable[..., R],
        chunks: Sequence[tuple[Any, ...]],
        *args: Any,  # noqa: ANN401 - passed to ``func``
    ) -> list[R]:
        """Run ``func(*chunk, *args)`` for each chunk, in order."""
        extra = _unwrap(args)
        return [func(*chunk, *extra) for chunk in chunks]
