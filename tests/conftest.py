"""Shared fixtures: one small demo dataset (scale 0.01) per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from geo import engines, store, synth
from tests.partials import PartialsHere

TEST_SCALE = 0.01
TEST_SEED = 42


@pytest.fixture(scope="session")
def demo_tables() -> dict[str, pd.DataFrame]:
    """The demo tables at test scale (generated once; do not modify them in tests)."""
    return synth.generate(scale=TEST_SCALE, seed=TEST_SEED)


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory, demo_tables: dict[str, pd.DataFrame]) -> Path:
    """A data directory holding the test-scale demo dataset as version v0001 (read-only use)."""
    d = tmp_path_factory.mktemp("demo-data")
    store.write_version(
        d,
        demo_tables,
        {"source": {"kind": "demo", "generator": "geo.synth"}, "seed": TEST_SEED, "scale": TEST_SCALE},
    )
    return d


@pytest.fixture
def fresh_data_dir(tmp_path: Path, demo_data_dir: Path) -> Path:
    """A writable copy of the demo data directory, for tests that import, edit or roll back."""
    import shutil

    d = tmp_path / "data"
    shutil.copytree(demo_data_dir, d)
    return d


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Address of a 2-worker local Dask cluster (threads) shared by one test module."""
    distributed = pytest.importorskip("distributed")
    from geo.engines import dask as dask_engine

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    try:
        yield cluster.scheduler_address
    finally:
        dask_engine.close_clients()
        cluster.close()


@pytest.fixture(params=["dask", "partials-here"])
def partials_engine(request: pytest.FixtureRequest) -> engines.Engine:
    """An engine that works by partials: on the Dask cluster, or here one chunk after another."""
    if request.param == "dask":
        return engines.DaskEngine(request.getfixturevalue("scheduler"))
    return PartialsHere()
