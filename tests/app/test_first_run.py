"""First run: with an empty data directory the app generates the demo data, then shows the overview."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo import store

ROOT = Path(__file__).parents[2]


def test_empty_data_dir_is_filled_on_first_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GEO_DEMO_SCALE", "0.002")
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    assert store.has_data(tmp_path / "data")
    m = store.read_manifest(tmp_path / "data")
    assert m["source"]["kind"] == "demo"
    assert m["row_counts"]["stations"] == round(186_100 * 0.002)
    assert at.status[0].label == "演示数据已生成"
    assert at.title[0].value == "全国概览"
