"""Roles, password hashes, user lists and the sign-in rate limiter."""

from __future__ import annotations

import json

import pytest

from geo import auth
from geo.errors import InputError


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def users() -> dict[str, auth.User]:
    secrets = {
        "plan": {"password_hash": auth.hash_password("plan-pass-1"), "roles": ["planner"]},
        "lead": {"password_hash": auth.hash_password("lead-pass-1"), "roles": ["leader"]},
        "boss": {"password_hash": auth.hash_password("boss-pass-1"), "roles": ["admin"]},
        "both": {"password_hash": auth.hash_password("both-pass-1"), "roles": ["planner", "leader"]},
    }
    return auth.load_users(secrets, env={})


# page -> role needed, as in app.py's PAGES
PAGES = {
    "overview": None,
    "nearest": None,
    "coverage": "planner",
    "campaign": "leader",
    "data": ("planner", "admin"),
}
ALLOWED = {
    None: {"overview", "nearest"},
    "viewer": {"overview", "nearest"},
    "planner": {"overview", "nearest", "coverage", "data"},
    "leader": {"overview", "nearest", "campaign"},
    "admin": set(PAGES),
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_each_role_opens_exactly_its_pages(role: str | None) -> None:
    roles = None if role is None else {role}
    assert {p for p, need in PAGES.items() if auth.can_open(roles, need)} == ALLOWED[role]


def test_several_roles_add_up_and_admin_opens_everything() -> None:
    assert auth.can_open({"planner", "leader"}, "leader")
    assert auth.can_open({"planner", "leader"}, "planner")
    assert not auth.can_open({"planner", "leader"}, "admin")
    assert all(auth.can_open({"admin"}, r) for r in (*auth.ROLES, None))
    assert auth.can_open({"planner"}, "viewer")
    assert not auth.can_open(set(), "viewer")
    assert not auth.can_open(None, "viewer")


def test_passwords_are_argon2_and_verified(users: dict[str, auth.User]) -> None:
    h = users["plan"].password_hash
    assert h.startswith("$argon2id$")
    assert "plan-pass-1" not in h
    assert auth.verify_password(h, "plan-pass-1")
    assert not auth.verify_password(h, "plan-pass-2")
    assert not auth.verify_password("not a hash", "x")
    with pytest.raises(InputError, match="at least"):
        auth.hash_password("short")


def test_users_from_secrets_and_env(users: dict[str, auth.User]) -> None:
    env = {"GEO_USERS": json.dumps({"ops": {"password_hash": users["boss"].password_hash, "roles": "admin"}})}
    both = auth.load_users(
        {"plan": {"password_hash": users["plan"].password_hash, "roles": ["planner"]}}, env=env
    )
    assert set(both) == {"plan", "ops"}
    assert both["ops"].roles == {"admin"}
    assert auth.load_users(None, env={}) == {}
    with pytest.raises(InputError, match="unknown role"):
        auth.load_users({"x": {"password_hash": users["plan"].password_hash, "roles": ["superuser"]}}, env={})
    with pytest.raises(InputError, match="password_hash"):
        auth.load_users({"x": {"password_hash": "plaintext", "roles": ["admin"]}}, env={})
    with pytest.raises(InputError, match="GEO_USERS"):
        auth.load_users(None, env={"GEO_USERS": "{not json"})
    assert "plan-pass-1" not in repr(users["plan"])


def test_authenticate_and_rate_limit(users: dict[str, auth.User]) -> None:
    clock = Clock()
    lim = auth.RateLimiter(max_failures=5, window_s=900, clock=clock)
    assert auth.authenticate(users, "plan", "plan-pass-1", lim, "1.2.3.4") == users["plan"]
    for _ in range(5):
        assert auth.authenticate(users, "plan", "wrong", lim, "1.2.3.4") is None
    # the sixth try is refused without checking the password, even the right one
    with pytest.raises(auth.RateLimitedError) as exc:
        auth.authenticate(users, "plan", "plan-pass-1", lim, "1.2.3.4")
    assert 899 <= exc.value.retry_after_s <= 900
    # another client is not blocked by these failures
    assert auth.authenticate(users, "plan", "plan-pass-1", lim, "5.6.7.8") == users["plan"]
    clock.t += 901
    assert auth.authenticate(users, "plan", "plan-pass-1", lim, "1.2.3.4") == users["plan"]
    # unknown users fail the same way (and are limited too)
    for _ in range(5):
        assert auth.authenticate(users, "nobody", "x", lim, "c") is None
    with pytest.raises(auth.RateLimitedError):
        auth.authenticate(users, "nobody", "x", lim, "c")


def test_overall_limit_stops_rotating_clients(users: dict[str, auth.User]) -> None:
    clock = Clock()
    per_client = auth.RateLimiter(5, 900, clock)
    overall = auth.RateLimiter(20, 900, clock)
    for i in range(20):
        assert auth.authenticate(users, "boss", "guess", per_client, f"client{i}", overall) is None
    with pytest.raises(auth.RateLimitedError):
        auth.authenticate(users, "boss", "boss-pass-1", per_client, "fresh-client", overall)


def test_oidc_detection_and_email_roles() -> None:
    assert not auth.oidc_configured(None)
    assert not auth.oidc_configured({"users": {"a": {}}})
    cfg = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "id",
        "client_secret": "s",
        "server_metadata_url": "https://idp/.well-known/openid-configuration",
    }
    assert auth.oidc_configured(cfg)
    named = {"redirect_uri": "u", "cookie_secret": "s", "corp": {"client_id": "id"}}
    assert auth.oidc_configured(named)
    assert auth.oidc_providers(cfg) == [None]
    assert auth.oidc_providers(named) == ["corp"]
    assert auth.oidc_providers({**named, "cookie_secret": ""}) == []
    role_map = {"Li@Union.cn": ["admin"], "*@union.cn": ["planner"]}
    assert auth.roles_for_email(role_map, "li@union.cn") == {"admin"}
    assert auth.roles_for_email(role_map, "zhang@union.cn") == {"planner"}
    assert auth.roles_for_email(role_map, "x@other.cn") == {"viewer"}
    assert auth.roles_for_email(role_map, None) == frozenset()


def test_toml_snippet_quotes_names() -> None:
    import tomllib

    snippet = auth.toml_snippet("王.li", "$argon2id$abc", ["planner"])
    assert tomllib.loads(snippet)["auth"]["users"]["王.li"]["roles"] == ["planner"]
    with pytest.raises(InputError):
        auth.toml_snippet('a"]\n[x', "$argon2id$abc", ["planner"])
