"""The Dask engine: partial aggregates on a Dask cluster, for logs that outgrow one machine.

Set ``GEO_ENGINE=dask`` (and ``GEO_DASK_SCHEDULER=tcp://HOST:8786`` for a real cluster), or
``--engine dask [--scheduler tcp://HOST:PORT]`` on the CLI; :func:`geo.engines.from_settings`
then returns a :class:`DaskEngine`. Every analysis gives the same frame on either engine
(tested for equality on the same data).

How the work is split (why memory stays flat as the log grows):

- Parquet partitions (files of a hive-partitioned table, row groups of a single file) are
  read on the workers; each yields a small *partial* (:mod:`geo.partials`); partials are
  merged in a tree (:data:`SPLIT_EVERY` at a time), so no process ever holds more than a
  partition and a few partials.
- Arguments wrapped in :class:`geo.engines.Broadcast` (the stations lookup, the station
  index) are sent to every worker once per call.

Dask is an optional extra (``pip install '.[dask]'``): it is imported only when a Dask
engine computes something, so the app and the CLI run without it.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from geo import store
from geo.engines.base import Broadcast
from geo.errors import InputError

INSTALL_HINT: Final = (
    "the Dask engine needs the optional packages dask and distributed: "
    "install them with `pip install '.[dask]'` (or `pip install dask distributed`), "
    "or use the default engine (--engine duckdb / GEO_ENGINE=duckdb)"
)

SPLIT_EVERY: Final = 8
"""Partials merged per task in the reduction tree."""

P = TypeVar("P")
R = TypeVar("R")

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _require_dask() -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise InputError(INSTALL_HINT) from exc


def client(scheduler: str = "") -> Any:  # noqa: ANN401 - distributed.Client (optional dependency)
    """Return a Dask client: to ``scheduler``, or to a local cluster of 2 worker processes.

    Parameters
    ----------
    scheduler : str
        Address such as ``tcp://10.0.0.5:8786``; empty for a cached
        ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (its HTTP server on a free
        port, so several can run).
        Clients are cached per address and closed when the program exits.

    Raises
    ------
    InputError
        When dask/distributed are not installed, or the scheduler cannot be reached.
    """
    _require_dask()
    from distributed import Client, LocalCluster

    with _LOCK:
        c = _CLIENTS.get(scheduler)
        if c is not None and c.status not in ("closed", "closing"):
            return c
        try:
            if scheduler:
                c = Client(scheduler, timeout="20s", set_as_default=False)
            else:
                cluster = LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                c = Client(cluster, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler {scheduler!r}: {exc}; start one with "
                "`dask scheduler` and `dask worker tcp://HOST:8786`, or leave --scheduler empty "
                "for a local cluster"
            ) from exc
        _CLIENTS[scheduler] = c
        return c


@atexit.register
def close_clients() -> None:
    """Close every cached client (and the local cluster it started)."""
    with _LOCK:
        for c in list(_CLIENTS.values()):
            cluster = getattr(c, "cluster", None)
            with contextlib.suppress(Exception):
                c.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()
        _CLIENTS.clear()


@dataclass(frozen=True)
class DaskEngine:
    """A Dask cluster at ``scheduler`` (empty: a local cluster of 2 worker processes).

    A plain value (hashable, picklable): the client is looked up per call from a cache
    kept per address (:func:`client`).
    """

    scheduler: str = ""

    @property
    def name(self) -> str:
        """``"dask"``."""
        return "dask"

    @property
    def embedded(self) -> bool:
        """Never: the work runs on the cluster's workers."""
        return False

    @property
    def parallelism(self) -> int:
        """Workers of the cluster (connects to it)."""
        return max(len(client(self.scheduler).scheduler_info().get("workers", {})), 1)

    def _shared(self, c: Any, args: Sequence[Any]) -> list[Any]:  # noqa: ANN401 - distributed.Client
        # hash=False: a fresh key per call. Equal objects scattered by consecutive calls would
        # otherwise share one key, which the release of the previous call's future can delete.
        return [
            c.scatter(a.value, broadcast=True, hash=False) if isinstance(a, Broadcast) else a for a in args
        ]

    def reduce_table(
        self,
        path: Path | str,
        columns: Sequence[str],
        partial: Callable[..., P],
        combine: Callable[[list[P]], P],
        *args: Any,  # noqa: ANN401 - passed to ``partial``
    ) -> P:
        """Apply ``partial`` to every partition on the workers, merge in a tree, compute.

        One partition per row group: the partitioned writer appends a week per row group,
        so a worker's share stays about the same however many months the log holds.
        """
        _require_dask()
        import dask
        import dask.dataframe as dd

        c = client(self.scheduler)
        ddf = dd.read_parquet(store.dataset_root(path), columns=list(columns), split_row_groups=True)
        shared = self._shared(c, args)
        level = [dask.delayed(partial)(p, *shared) for p in ddf.to_delayed()]
        while len(level) > 1:
            level = [
                dask.delayed(combine)(level[i : i + SPLIT_EVERY]) for i in range(0, len(level), SPLIT_EVERY)
            ]
        result: P = c.compute(level[0]).result()
        return result

    def map_chunks(
        self,
        func: Callable[..., R],
        chunks: Sequence[tuple[Any, ...]],
        *args: Any,  # noqa: ANN401 - passed to ``func``
    ) -> list[R]:
        """Run ``func(*chunk, *args)`` for each chunk on the workers; results in chunk order."""
        if not chunks:
            return []
        c = client(self.scheduler)
        shared = self._shared(c, args)
        futures = [c.submit(func, *chunk, *shared, pure=False) for chunk in chunks]
        out: list[R] = c.gather(futures)
        return out
