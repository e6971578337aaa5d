"""AppTest: the data page imports a messy file with a report, rolls back, and edits one station."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from geo import store

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def admin_users() -> str:
    from geo import auth

    return json.dumps({"boss": {"password_hash": auth.hash_password("boss-pass-1"), "roles": ["admin"]}})


def signed_in(at: AppTest, user: str) -> None:
    """Sign ``user`` in for the session (data management needs a signed-in admin or planner)."""
    import time

    for k, v in {"auth_user": user, "auth_since": time.time(), "auth_seen": time.time()}.items():
        at.session_state[k] = v


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, fresh_data_dir: Path, admin_users: str) -> Iterator[AppTest]:
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.setenv("GEO_USERS", admin_users)
    # common.settings() is cached per process and keyed on secrets only: drop it so this
    # test's data directory is used (and dropped again so later tests do not see it).
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    signed_in(at, "boss")
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    yield at
    st.cache_resource.clear()
    st.cache_data.clear()


def test_an_admin_sees_the_page(app: AppTest) -> None:
    # (demo mode keeps this page closed: see tests/app/test_auth.py)
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
    assert reasons.iloc[:, 0].tolist() == ["5", "6", "7", "8", "10"]
    assert any(b.label == "下载被拒绝的行(CSV)" for b in app.get("download_button"))
    # appending is the default: the national table keeps its rows
    confirm = next(b for b in app.button if b.label == "确认追加导入 5 行")
    confirm.click()
    app.run()
    assert not app.exception
    v1 = store.current_version(fresh_data_dir)
    assert v1 != v0
    assert any(v1 in s.value for s in app.success)
    m = store.read_manifest(fresh_data_dir)
    assert m["user"] == "boss"
    assert m["source"]["file"] == "stations_gbk.csv"
    assert m["source"]["mode"] == "append"
    assert (
        m["row_counts"]["stations"] == store.read_manifest(fresh_data_dir, v0)["row_counts"]["stations"] + 5
    )
    # the upload is cleared: no second click can write the file again
    assert not any(b.label.startswith("确认") for b in app.button)
    app.run()
    assert store.list_version_ids(fresh_data_dir)[-1] == v1
    # roll back from the versions tab, after confirming
    box = next(s for s in app.selectbox if s.label == "回退到版本")
    box.set_value(v0)
    app.run()
    rollback = next(b for b in app.button if b.label == "回退")
    assert rollback.disabled
    next(c for c in app.checkbox if c.label.startswith("我确认回退到版本")).check()
    app.run()
    next(b for b in app.button if b.label == "回退").click()
    app.run()
    assert not app.exception
    assert store.current_version(fresh_data_dir) == v0
    audit = store.read_audit(fresh_data_dir).iloc[0]
    assert audit["action"] == "rollback"
    assert json.loads(audit["detail"])["from"] == v1
    # the audit tab is readable, the versions table speaks Chinese
    shown = app.dataframe[-1].value
    assert list(shown.columns) == ["时间(UTC)", "操作人", "操作", "内容"]
    assert shown.iloc[0]["操作"] == "回退"
    assert f"从版本 {v1} 回退到 {v0}" in shown.iloc[0]["内容"]
    versions = next(d.value for d in app.dataframe if "版本" in d.value.columns)
    assert set(versions["来源"]) == {"导入", "演示数据"}
    assert "None" not in versions.astype(str).to_numpy()


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


def test_replace_needs_an_explicit_confirmation_naming_the_rows_removed(
    app: AppTest, fresh_data_dir: Path
) -> None:
    n0 = store.read_manifest(fresh_data_dir)["row_counts"]["stations"]
    next(s for s in app.selectbox if s.label == "方式").set_value("replace")
    app.file_uploader[0].upload("stations_gbk.csv", (FIXTURES / "stations_gbk.csv").read_bytes(), "text/csv")
    app.run()
    assert any(f"全部 {n0:,} 行" in w.value for w in app.warning)
    button = next(b for b in app.button if b.label.startswith("确认替换"))
    assert button.label == f"确认替换:删除现有 {n0:,} 行,导入 5 行"
    assert button.disabled
    before = store.list_version_ids(fresh_data_dir)
    next(c for c in app.checkbox if c.label.startswith("我确认删除")).check()
    app.run()
    button = next(b for b in app.button if b.label.startswith("确认替换"))
    assert not button.disabled
    button.click()
    app.run()
    assert len(store.list_version_ids(fresh_data_dir)) == len(before) + 1
    assert store.read_manifest(fresh_data_dir)["row_counts"]["stations"] == 5


def test_unrecognised_headers_open_the_column_mapper(app: AppTest) -> None:
    text = "站点全称,X坐标,Y坐标,服务时段\n甲站,116.39,39.90,08:00-20:00\n".encode()
    app.file_uploader[0].upload("odd.csv", text, "text/csv")
    app.run()
    assert not app.exception
    assert any("没有识别出任何列" in e.value for e in app.error)
    assert not any("--map" in e.value.replace("\\", "") for e in app.error)  # (Markdown-escaped)
    pick = {s.label: s for s in app.selectbox}
    for col, fld in (("站点全称", "name"), ("X坐标", "lng"), ("Y坐标", "lat"), ("服务时段", "hours")):
        pick[col].set_value(fld)
    app.run()
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["可导入"] == "1"


def test_the_sheet_with_the_registry_is_chosen_and_can_be_changed(app: AppTest) -> None:
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为驿站名录"])
    ws = wb.create_sheet("驿站名录")
    ws.append(["名称", "经度", "纬度", "开放时间"])
    ws.append(["甲站", 116.40, 39.90, None])
    ws.append(["乙站", 116.50, 39.90, "24小时"])
    wb.save(buf)
    app.file_uploader[0].upload("two.xlsx", buf.getvalue(), "application/octet-stream")
    app.run()
    assert not app.exception
    sheet = next(s for s in app.selectbox if s.label == "工作表")
    assert sheet.value == "驿站名录"
    assert {m.label: m.value for m in app.metric}["可导入"] == "2"  # 甲站's blank hours: unknown, kept
    preview = app.dataframe[0].value
    assert preview.index.tolist() == [2, 3]  # the rows as numbered in the sheet
    assert "None" not in preview.astype(str).to_numpy()
    sheet.set_value("说明")
    app.run()
    assert any("工作表“说明”中没有识别出任何列" in e.value for e in app.error)


def test_an_old_xls_is_refused_in_chinese(app: AppTest) -> None:
    app.file_uploader[0].upload("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "application/vnd.ms-excel")
    app.run()
    assert not app.exception
    assert any(
        "旧版 .xls" in e.value.replace("\\", "") and "另存为" in e.value for e in app.error
    )  # Markdown-escaped


def test_editing_a_station_keeps_what_the_form_does_not_show(app: AppTest, fresh_data_dir: Path) -> None:
    st0 = store.read_table(fresh_data_dir, "stations", columns=["station_id", "name", "opened_on", "lat"])
    sid, name = st0.iloc[0]["station_id"], st0.iloc[0]["name"]
    next(t for t in app.text_input if t.label == "查找驿站(编号或名称)").input(sid)
    app.run()
    next(s for s in app.selectbox if s.label == "选择驿站(或新建)").set_value(sid)
    app.run()
    next(t for t in app.text_input if t.label == "名称").input(name + "(新址)")
    next(b for b in app.get("form_submit_button") if b.label == "保存(生成新版本)").click()
    app.run()
    assert not app.exception
    assert any("已保存" in s.value for s in app.success)
    after = store.read_table(fresh_data_dir, "stations", columns=["station_id", "name", "opened_on", "lat"])
    row = after.set_index("station_id").loc[sid]
    assert row["name"] == name + "(新址)"
    assert row["opened_on"] == st0.iloc[0]["opened_on"]
    assert row["lat"] == st0.iloc[0]["lat"]
    detail = json.loads(store.read_audit(fresh_data_dir).iloc[0]["detail"])
    assert detail["changes"] == {"name": {"before": name, "after": name + "(新址)"}}
    # closing needs a confirmation
    close = next(b for b in app.button if b.label == "关闭此驿站")
    assert close.disabled
    next(c for c in app.checkbox if c.label.startswith("我确认关闭")).check()
    app.run()
    next(b for b in app.button if b.label == "关闭此驿站").click()
    app.run()
    assert not app.exception
    assert any("已关闭" in s.value for s in app.success)
    assert sid not in set(store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"])


def test_a_rerun_does_not_check_the_file_again(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    from geo import ingest

    app.file_uploader[0].upload("stations_gbk.csv", (FIXTURES / "stations_gbk.csv").read_bytes(), "text/csv")
    app.run()
    calls: list[object] = []
    real = ingest.prepare
    monkeypatch.setattr(ingest, "prepare", lambda *a, **k: calls.append(a) or real(*a, **k))
    app.run()  # any widget interaction reruns the page
    assert calls == []
    assert {m.label: m.value for m in app.metric}["可导入"] == "5"
    next(s for s in app.selectbox if s.label == "坐标系").set_value("gcj02")
    app.run()
    assert len(calls) == 1  # a new option is a new check


def test_a_planner_sees_only_the_single_station_tab(
    monkeypatch: pytest.MonkeyPatch, fresh_data_dir: Path
) -> None:
    from geo import auth

    users = {"plan": {"password_hash": auth.hash_password("plan-pass-1"), "roles": ["planner"]}}
    monkeypatch.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    monkeypatch.setenv("GEO_USERS", json.dumps(users))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    signed_in(at, "plan")
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["单个驿站"]
    assert any(t.label == "名称" for t in at.text_input)
    st.cache_resource.clear()
    st.cache_data.clear()


def test_a_full_disk_during_the_import_is_a_message_and_the_data_stays(
    app: AppTest, fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.tables, "_write_table", full)
    app.file_uploader[0].upload("stations_gbk.csv", (FIXTURES / "stations_gbk.csv").read_bytes(), "text/csv")
    app.run()
    next(b for b in app.button if b.label == "确认追加导入 5 行").click()
    app.run()
    assert not app.exception
    shown = " ".join(e.value for e in app.error)
    assert "磁盘可能已满" in shown
    assert "No space left on device" in shown
    assert "v0001" in shown  # the version still in use
    assert store.list_version_ids(fresh_data_dir) == ["v0001"]
    assert store.current_version(fresh_data_dir) == "v0001"


def test_uploads_per_session_are_bounded(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    from geo import ingest

    monkeypatch.setattr(ingest, "SESSION_MAX_UPLOADS", 1)
    first = (FIXTURES / "stations_gbk.csv").read_bytes()
    app.file_uploader[0].upload("a.csv", first, "text/csv")
    app.run()
    assert {m.label: m.value for m in app.metric}["可导入"] == "5"
    app.file_uploader[0].upload("b.csv", (FIXTURES / "stations_utf8_bom.csv").read_bytes(), "text/csv")
    app.run()
    assert not app.exception
    assert any("达到上限" in e.value and "1 个文件" in e.value for e in app.error)
    assert not app.metric  # the second file was not checked
    app.file_uploader[0].upload("a.csv", first, "text/csv")  # a file already checked is free
    app.run()
    assert {m.label: m.value for m in app.metric}["可导入"] == "5"
