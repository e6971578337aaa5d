"""AppTest: the data page imports a messy file with a report, rolls back, and edits one station."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from geo import store

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, fresh_data_dir: Path) -> Iterator[AppTest]:
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.delenv("GEO_USERS", raising=False)
    # common.settings() is cached per process and keyed on secrets only: drop it so this
    # test's data directory is used (and dropped again so later tests do not see it).
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    yield at
    st.cache_resource.clear()
    st.cache_data.clear()


def test_demo_mode_shows_the_page(app: AppTest) -> None:
    # (the demo-mode banner comes from app.py's gate: see tests/app/test_auth.py)
    assert any("数据管理" in t.value for t in app.title)
    assert [t.label for t in app.tabs] == ["导入", "版本与回退", "单个驿站", "操作记录"]


def test_upload_report_confirm_and_rollback(app: AppTest, fresh_data_dir: Path) -> None:
    v0 = store.current_version(fresh_data_dir)
    app.file_uploader[0].upload("stations_gbk.csv", (FIXTURES / "stations_gbk.csv").read_bytes(), "text/csv")
    app.run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["数据行"], metrics["可导入"], metrics["被拒绝"]) == ("10", "5", "5")
    reasons = app.dataframe[1].value  # [0] is the file preview
    assert reasons.iloc[:, 0].tolist() == [5, 6, 7, 8, 10]
    assert any(b.label == "下载被拒绝的行(CSV)" for b in app.get("download_button"))
    confirm = next(b for b in app.button if b.label.startswith("确认导入"))
    confirm.click()
    app.run()
    assert not app.exception
    v1 = store.current_version(fresh_data_dir)
    assert v1 != v0
    assert any(v1 in s.value for s in app.success)
    m = store.read_manifest(fresh_data_dir)
    assert m["user"] == "local-demo"
    assert m["source"]["file"] == "stations_gbk.csv"
    # roll back from the versions tab
    box = next(s for s in app.selectbox if s.label == "回退到版本")
    box.set_value(v0)
    next(b for b in app.button if b.label == "回退").click()
    app.run()
    assert store.current_version(fresh_data_dir) == v0
    assert store.read_audit(fresh_data_dir).iloc[0]["action"] == "rollback"


def test_mapping_step_when_columns_are_not_recognised(app: AppTest) -> None:
    text = "站名X,东经,北纬,时段\n甲站,116.39,39.90,08:00-20:00\n".encode()
    app.file_uploader[0].upload("odd.csv", text, "text/csv")
    app.run()
    assert any("未找到必需的列" in w.value for w in app.warning)
    pick = {s.label: s for s in app.selectbox}
    pick["站名X"].set_value("name")
    pick["时段"].set_value("hours")
    app.run()
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["可导入"] == "1"


def test_add_and_close_a_station(app: AppTest, fresh_data_dir: Path) -> None:
    n0 = len(store.read_table(fresh_data_dir, "stations", columns=["station_id"]))
    form_inputs = {t.label: t for t in app.text_input}
    form_inputs["名称"].input("<b>新站</b>")
    form_inputs["开放时间(如 08:00-20:00 或 24小时)"].input("24小时")
    next(b for b in app.get("form_submit_button") if b.label == "保存(生成新版本)").click()
    app.run()
    assert not app.exception
    assert any("已保存" in s.value for s in app.success)
    st_ = store.read_table(fresh_data_dir, "stations", columns=["station_id", "name", "open_24h"])
    assert len(st_) == n0 + 1
    assert st_.set_index("name").loc["<b>新站</b>", "open_24h"]
    assert store.read_audit(fresh_data_dir).iloc[0]["action"] == "station_add"
