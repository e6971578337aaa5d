"""AppTest: sign-in gates, demo mode, roles, rate limit — through pages/auth_ui.py.

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

    for limiter in auth_ui._LIMITERS:  # counts are per process: start each test clean
        limiter.clear()
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


def test_demo_mode_opens_every_page_and_says_so(env: pytest.MonkeyPatch) -> None:
    for need in ("planner", "leader", "admin", ["planner", "admin"]):
        at = run(need)
        assert content(at)
        assert any("本地演示模式:未配置用户,所有页面开放" in i.value for i in at.info)
    at = run(None)
    assert content(at)
    assert not at.info  # public pages carry no banner


def test_demo_mode_keeps_data_management_to_this_computer(env: pytest.MonkeyPatch) -> None:
    from views import auth_ui

    env.setattr(auth_ui, "_local_client", lambda: False)  # a phone on the network
    for need in ("planner", "leader", None):
        assert content(run(need))
    for need in ("admin", ["planner", "admin"]):
        at = run(need)
        assert not content(at)
        assert any("只在运行本应用的电脑上开放" in w.value for w in at.warning)
    assert not auth_ui.has_role(("planner", "admin"))  # what the data page's own check asks


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
    for _ in range(auth.MAX_FAILURES):
        at = sign_in(at, "plan", "nope-nope")
        assert any("用户名或密码不正确" in e.value for e in at.error)
    at = sign_in(at, "plan", "plan-pass-1")  # right password, but blocked now
    assert not content(at)
    assert any("登录失败次数过多" in e.value for e in at.error)


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
    assert any("用户配置有误" in e.value for e in at.error)


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
    at.session_state["auth_user"] = "plan"
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
