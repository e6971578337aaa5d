"""AppTest: sign-in gates, demo mode, roles, rate limit, session expiry — through views/auth_ui.py.

Note: pages live in ``views/`` and are routed by app.py (st.navigation), so AppTest runs app.py;
so app.py's gate is exercised here through :func:`auth_ui.gate` in a small script, and the
data page's own :func:`auth_ui.enforce` (the guard against exactly that direct run) through
``switch_page``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo import auth

ROOT = Path(__file__).parents[2]


def gated_script() -> None:
    import os
    import sys

    sys.path.insert(0, os.environ["GEO_TEST_ROOT"])
    import streamlit as st

    from views import auth_ui

    auth_ui.sidebar()
    need = st.session_state.get("need", "planner")
    if auth_ui.gate(tuple(need) if isinstance(need, list) else need):
        st.markdown("SECRET CONTENT")


@pytest.fixture(scope="module")
def users_env() -> str:
    return json.dumps(
        {
            "plan": {"password_hash": auth.hash_password("plan-pass-1"), "roles": ["planner"]},
            "lead": {"password_hash": auth.hash_password("lead-pass-1"), "roles": ["leader"]},
            "boss": {"password_hash": auth.hash_password("boss-pass-1"), "roles": ["admin"]},
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, demo_data_dir: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("GEO_DATA_DIR", str(demo_data_dir))
    monkeypatch.setenv("GEO_TEST_ROOT", str(ROOT))
    monkeypatch.delenv("GEO_USERS", raising=False)
    from views import auth_ui

    monkeypatch.delenv("GEO_DEMO_ADMIN", raising=False)
    auth_ui._GUARD.clear()  # counts are per process: start each test clean
    return monkeypatch


def run(need: object, **state: object) -> AppTest:
    at = AppTest.from_function(gated_script, default_timeout=60)
    at.session_state["need"] = need
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception
    return at


def content(at: AppTest) -> bool:
    return any("SECRET CONTENT" in m.value for m in at.markdown)


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()  # the form's submit button
    return at.run()


def signed_in_state(user: str, age_s: float = 0.0, idle_s: float = 0.0) -> dict[str, object]:
    """Session state of a password sign-in made ``age_s`` ago and last used ``idle_s`` ago."""
    import time

    now = time.time()
    return {"auth_user": user, "auth_since": now - age_s, "auth_seen": now - idle_s}


LOOPBACK = ("127.0.0.1", [("host", "localhost:8501")])


def test_demo_mode_closes_data_management_and_says_how_to_open_it(env: pytest.MonkeyPatch) -> None:
    # AppTest has no network peer, like a Unix socket or a proxy: that must not count as local
    for need in ("admin", ["planner", "admin"]):
        at = run(need)
        assert not content(at)
        text = " ".join(w.value for w in at.warning)
        assert "数据管理已关闭" in text
        assert "python -m geo add-user" in text
        assert "GEO_DEMO_ADMIN=local" in text
    from views import auth_ui

    assert not auth_ui.has_role(("planner", "admin"))  # what the data page's own check asks
    assert not auth_ui.has_role("admin")


def test_demo_mode_opens_planning_pages_read_only_on_demo_data(env: pytest.MonkeyPatch) -> None:
    for need in ("planner", "leader"):
        at = run(need)
        assert content(at)
        assert any("演示模式:未配置用户,本页面基于演示数据只读开放" in i.value for i in at.info)
    at = run(None)
    assert content(at)
    assert not at.info  # public pages carry no banner


def test_demo_mode_closes_planning_pages_once_real_data_is_in(
    env: pytest.MonkeyPatch, fresh_data_dir: Path
) -> None:
    from geo import ingest, store

    sid = store.read_table(fresh_data_dir, "stations", columns=["station_id"])["station_id"].iloc[0]
    ingest.close_station(fresh_data_dir, sid, "cli", "closed for the test")
    env.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    for need in ("planner", "leader"):
        at = run(need)
        assert not content(at)
        assert any("已导入真实数据但尚未配置用户" in w.value for w in at.warning)


@pytest.mark.parametrize(
    ("opt_in", "peer", "allowed"),
    [
        ("local", LOOPBACK, True),
        ("local", (None, [("host", "localhost:8501")]), False),  # no peer known: Unix socket, proxy
        ("local", ("127.0.0.1", [("host", "localhost"), ("x-forwarded-for", "127.0.0.1")]), False),
        ("local", ("127.0.0.1", [("host", "localhost"), ("x-real-ip", "127.0.0.1")]), False),
        ("local", ("192.168.1.9", [("host", "localhost:8501")]), False),
        ("", LOOPBACK, False),  # a real loopback peer, but nobody opted in
    ],
)
def test_local_demo_opt_in_needs_a_real_loopback_peer(
    env: pytest.MonkeyPatch, opt_in: str, peer: tuple, allowed: bool
) -> None:
    from views import auth_ui

    if opt_in:
        env.setenv("GEO_DEMO_ADMIN", opt_in)
    env.setattr(auth_ui, "_peer", lambda: peer)
    at = run(["planner", "admin"])
    assert content(at) is allowed
    if allowed:
        assert any("GEO_DEMO_ADMIN=local" in i.value and "local-demo" in i.value for i in at.info)
        assert auth_ui.user_name() == "local-demo"
    else:
        assert any("数据管理已关闭" in w.value for w in at.warning)


def test_local_demo_opt_in_opens_the_data_page(env: pytest.MonkeyPatch, fresh_data_dir: Path) -> None:
    from views import auth_ui

    env.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    env.setenv("GEO_DEMO_ADMIN", "local")
    env.setattr(auth_ui, "_peer", lambda: LOOPBACK)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["导入", "版本与回退", "单个驿站", "操作记录"]
    env.setattr(auth_ui, "_peer", lambda: (None, []))  # the same session seen without a peer
    at.run()
    assert not at.tabs


def test_the_data_page_is_closed_in_demo_mode(env: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    assert not at.tabs
    assert not at.file_uploader
    assert any("数据管理已关闭" in w.value for w in [*at.warning, *at.error])


@pytest.mark.parametrize(
    "section",
    [
        {  # no cookie_secret
            "redirect_uri": "http://localhost:8501/oauth2callback",
            "client_id": "id",
            "client_secret": "s",
            "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        },
        {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32},  # no provider
        {"cookie_secret": "c" * 32, "corp": {"client_id": "id"}},
    ],
)
def test_a_partial_auth_section_stops_the_app(env: pytest.MonkeyPatch, section: dict) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = section
    at.run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # shown Markdown-escaped
    assert "登录配置有误,应用已停止" in errors
    assert "auth.redirect_uri" in errors or "auth.cookie_secret" in errors or "auth.client_id" in errors
    assert not at.title  # no page ran, not even a public one
    at = AppTest.from_function(gated_script, default_timeout=60)
    at.secrets["auth"] = section
    at.session_state["need"] = "planner"
    at.run()
    assert not content(at)  # never the demo-mode fall-back


def test_a_partial_auth_section_stops_the_server_at_start_up(tmp_path: Path, demo_data_dir: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\nclient_id = "id"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GEO_DATA_DIR": str(demo_data_dir)}
    env.pop("GEO_USERS", None)
    done = subprocess.run(
        [sys.executable, "-c", "import asgi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "cannot start" in done.stderr
    for key in ("auth.cookie_secret", "auth.client_secret", "auth.server_metadata_url"):
        assert key in done.stderr


def test_the_server_says_its_mode_at_start_up(tmp_path: Path, demo_data_dir: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT), "GEO_DATA_DIR": str(demo_data_dir)}
    env.pop("GEO_USERS", None)
    env.pop("GEO_DEMO_ADMIN", None)
    done = subprocess.run(
        [sys.executable, "-c", "import asgi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "DEMO: no users" in done.stderr
    assert "data management CLOSED" in done.stderr


@pytest.mark.parametrize(
    ("user", "password", "need", "allowed"),
    [
        ("plan", "plan-pass-1", "planner", True),
        ("plan", "plan-pass-1", "leader", False),
        ("plan", "plan-pass-1", ["planner", "admin"], True),
        ("lead", "lead-pass-1", "leader", True),
        ("lead", "lead-pass-1", "planner", False),
        ("lead", "lead-pass-1", ["planner", "admin"], False),
        ("boss", "boss-pass-1", "planner", True),
        ("boss", "boss-pass-1", "leader", True),
    ],
)
def test_role_boundaries(
    env: pytest.MonkeyPatch, users_env: str, user: str, password: str, need: object, allowed: bool
) -> None:
    env.setenv("GEO_USERS", users_env)
    at = run(need)
    assert not content(at)
    assert any("需要登录" in i.value for i in at.info)
    at = sign_in(at, user, password)
    assert content(at) is allowed
    if not allowed:
        assert any("没有打开此页面的权限" in e.value for e in at.error)
    assert any(f"已登录:{user}" in c.value for c in at.sidebar.caption)


def test_wrong_password_then_rate_limit(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    at = run("planner")
    for i in range(auth.MAX_FAILURES):  # guesses spread over several names count for this client
        at = sign_in(at, ["plan", "lead", "boss", "nobody"][i % 4], "nope-nope")
        assert any("用户名或密码不正确" in e.value for e in at.error)
    at = sign_in(at, "plan", "plan-pass-1")  # right password, but this client is blocked now
    assert not content(at)
    assert any("登录失败次数过多" in e.value and "不是账号" in e.value for e in at.error)


def test_sign_in_is_busy_when_every_hash_slot_is_taken(env: pytest.MonkeyPatch, users_env: str) -> None:
    from views import auth_ui

    env.setenv("GEO_USERS", users_env)
    env.setattr(auth_ui._GUARD, "busy_wait_s", 0.0)
    taken = 0
    while auth_ui._GUARD.hash_slots.acquire(blocking=False):
        taken += 1
    try:
        at = sign_in(run("planner"), "plan", "plan-pass-1")
        assert not content(at)
        assert any("服务器正忙" in w.value for w in at.warning)
    finally:
        for _ in range(taken):
            auth_ui._GUARD.hash_slots.release()
    at = sign_in(run("planner"), "plan", "plan-pass-1")
    assert content(at)


@pytest.mark.parametrize(("age_s", "idle_s"), [(60.0, 31 * 60.0), (12.5 * 3600, 60.0)])
def test_password_sessions_expire(
    env: pytest.MonkeyPatch, users_env: str, age_s: float, idle_s: float
) -> None:
    env.setenv("GEO_USERS", users_env)
    assert content(run("planner", **signed_in_state("plan", age_s=120.0, idle_s=60.0)))
    at = run("planner", **signed_in_state("plan", age_s=age_s, idle_s=idle_s))
    assert not content(at)
    assert any("登录已过期" in w.value for w in at.warning)
    assert "auth_user" not in at.session_state
    env.setenv("GEO_SESSION_IDLE_MIN", "60")
    env.setenv("GEO_SESSION_MAX_H", "24")  # the limits are settings
    assert content(run("planner", **signed_in_state("plan", age_s=age_s, idle_s=idle_s)))


def test_a_session_without_a_sign_in_time_is_not_trusted(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    assert not content(run("planner", auth_user="plan"))


class FakeUser(dict):
    is_logged_in = True


@pytest.mark.parametrize(
    ("claims", "allowed"),
    [
        ({"email": "li@union.cn", "email_verified": True}, True),
        ({"email": "li@union.cn"}, False),
        ({"email": "li@union.cn", "email_verified": False}, False),
    ],
)
def test_identity_provider_roles_need_a_verified_email(
    env: pytest.MonkeyPatch, claims: dict, allowed: bool
) -> None:
    import streamlit

    section = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "c" * 32,
        "client_id": "id",
        "client_secret": "secret",
        "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        "roles": {"li@union.cn": ["admin"]},
    }
    env.setattr(streamlit, "user", FakeUser(claims))
    at = AppTest.from_function(gated_script, default_timeout=60)
    at.secrets["auth"] = section
    at.session_state["need"] = "planner"
    at.run()
    assert not at.exception
    assert content(at) is allowed
    if not allowed:
        assert any("没有打开此页面的权限" in e.value for e in at.error)


def test_sign_out(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    at = sign_in(run("leader"), "lead", "lead-pass-1")
    assert content(at)
    at.sidebar.button[0].click()
    at.run()
    assert not content(at)


def test_a_user_removed_from_the_config_loses_access(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    at = sign_in(run("planner"), "plan", "plan-pass-1")
    assert content(at)
    env.setenv("GEO_USERS", json.dumps({k: v for k, v in json.loads(users_env).items() if k != "plan"}))
    at.run()
    assert not content(at)


def test_malformed_user_config_fails_closed(env: pytest.MonkeyPatch) -> None:
    env.setenv("GEO_USERS", '{"x": {"password_hash": "plain", "roles": ["admin"]}}')
    at = run("planner")
    assert not content(at)
    assert any("登录配置有误" in e.value for e in at.error)


def test_data_page_refuses_a_direct_run_without_sign_in(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    assert not any("数据管理" in t.value for t in at.title)
    # app.py's gate (st.info) or the page's own guard (st.error) must stop it
    assert any("需要登录" in e.value for e in [*at.info, *at.error])


def test_data_page_for_a_planner_hides_import(env: pytest.MonkeyPatch, users_env: str) -> None:
    env.setenv("GEO_USERS", users_env)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in signed_in_state("plan").items():
        at.session_state[k] = v
    at.run()  # st.navigation registers the pages on the first run
    at.switch_page("views/data.py")
    at.run()
    assert not at.exception
    assert any("数据管理" in t.value for t in at.title)
    assert any("需要管理员角色" in i.value for i in at.info)
    assert not at.file_uploader  # imports are for admins
    assert any(t.label == "名称" for t in at.text_input)  # the single-station form is there


@pytest.mark.parametrize(
    ("section", "labels"),
    [
        (
            {
                "client_id": "id",
                "client_secret": "secret",
                "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
            },
            [""],
        ),
        (
            {
                "corp": {
                    "client_id": "id",
                    "client_secret": "secret",
                    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
                },
                "roles": {"*@union.cn": ["planner"]},
            },
            [" (corp)"],
        ),
    ],
)
def test_identity_provider_sign_in_starts_for_each_configured_provider(
    env: pytest.MonkeyPatch, section: dict, labels: list[str]
) -> None:
    import streamlit.auth_util
    from streamlit.runtime.secrets import AttrDict

    config = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32, **section}

    class _Secrets:  # what .streamlit/secrets.toml would give Streamlit's own auth checks
        def load_if_toml_exists(self) -> bool:
            return True

        def get(self, key: str, default: object = None) -> object:
            return AttrDict(config) if key == "auth" else default

    env.setattr(streamlit.auth_util, "secrets_singleton", _Secrets())
    at = AppTest.from_function(gated_script, default_timeout=60)
    at.secrets["auth"] = config
    at.session_state["need"] = "planner"
    at.run()
    assert not at.exception
    assert not content(at)
    buttons = [b for b in at.button if b.key and b.key.startswith("login_")]
    assert [b.label for b in buttons] == [f"通过单位统一身份认证登录{x}" for x in labels]
    buttons[0].click()
    at.run()  # st.login with the provider's name: Authlib is installed and the config is accepted
    assert not at.exception, at.exception
    assert not content(at)


# ---- data values in widget labels and Markdown are escaped (one helper: common.escape_markdown) -----

EVIL = "鸮鹭站**x** [a](javascript:alert(1)) <b>_y_ `z`"


def shows_as_typed(label: str, text: str) -> bool:
    """Whether Markdown ``label`` shows ``text`` literally: every character Markdown would act
    on is backslash-escaped (CommonMark: an escaped punctuation character is literal)."""
    import re

    unescaped = re.sub(r"\\(.)", r"\1", label)
    active = re.sub(r"\\.", "", label)  # what is left once the escaped characters are dropped
    # the constructs of EVIL: bold, a link, an HTML tag, emphasis, code
    return text in unescaped and not re.search(r"\*\*|\]\(|<|`|_y_", active)


def test_the_check_knows_raw_markdown() -> None:
    assert not shows_as_typed(EVIL, EVIL)
    assert not shows_as_typed(f"关闭站点 {EVIL}", EVIL)


def test_station_names_are_escaped_in_data_page_labels(env: pytest.MonkeyPatch, fresh_data_dir: Path) -> None:
    from geo import ingest
    from views import auth_ui

    rep = ingest.save_station(
        fresh_data_dir, {"name": EVIL, "hours": "24小时", "lat": 39.9042, "lng": 116.4074}, "test"
    )
    assert rep.version
    env.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    env.setenv("GEO_DEMO_ADMIN", "local")
    env.setattr(auth_ui, "_peer", lambda: LOOPBACK)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    next(t for t in at.text_input if t.label == "查找驿站(编号或名称)").input("javascript").run()
    box = next(s for s in at.selectbox if s.label.startswith("选择驿站"))
    sid = next(o for o in box.options if "javascript" in o).split(" ")[0]
    box.set_value(sid).run()
    assert not at.exception
    close = [c.label for c in at.checkbox if "javascript" in c.label]
    assert close, [c.label for c in at.checkbox]
    assert all(shows_as_typed(label, EVIL) for label in close), close


def test_station_names_are_escaped_in_place_search_buttons(
    env: pytest.MonkeyPatch, fresh_data_dir: Path
) -> None:
    from geo import ingest

    ingest.save_station(
        fresh_data_dir, {"name": EVIL, "hours": "24小时", "lat": 39.9042, "lng": 116.4074}, "t"
    )
    env.setenv("GEO_DATA_DIR", str(fresh_data_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/nearest.py")
    at.run()
    next(t for t in at.text_input if t.key == "nearest_query").input("鸮鹭站").run()
    assert not at.exception
    labels = [b.label for b in at.button if "javascript" in b.label]
    assert labels, [b.label for b in at.button]
    assert all(shows_as_typed(label, EVIL) for label in labels), labels


def test_streamlit_hides_error_details_and_keeps_xsrf_protection() -> None:
    """Users never see tracebacks (they are logged on the server); forms keep their XSRF token."""
    import tomllib

    from streamlit import config as st_config

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"
    assert "none" in {str(v) for v in st_config.ShowErrorDetailsConfigOptions}  # valid in this Streamlit
    assert cfg["server"].get("enableXsrfProtection", True) is True
    assert cfg["server"].get("enableCORS", True) is True
