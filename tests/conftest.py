"""Shared fixtures: one small demo dataset (scale 0.01) per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo import store, synth

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
