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


@pytest.fixture
def cheap(monkeypatch: pytest.MonkeyPatch) -> dict[str, auth.User]:
    """Users with low-cost Argon2 parameters (read from each hash on verifying): the limit
    tests below make hundreds of sign-in attempts, the cost itself is not what they test."""
    from argon2 import PasswordHasher

    fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(auth, "_DUMMY_HASH", fast.hash("dummy"))
    roles = {"plan": "planner", "lead": "leader", "boss": "admin"}
    return {n: auth.User(n, frozenset({r}), fast.hash(f"{n}-pass-1")) for n, r in roles.items()}


def guard(clock: Clock, **kw: object) -> auth.SignInGuard:
    return auth.SignInGuard(clock=clock, busy_wait_s=0, **kw)  # type: ignore[arg-type]


def test_authenticate_and_per_client_limit(cheap: dict[str, auth.User]) -> None:
    clock = Clock()
    g = guard(clock)
    assert auth.authenticate(cheap, "plan", "plan-pass-1", g, "1.2.3.4") == cheap["plan"]
    for _ in range(auth.MAX_FAILURES):
        assert auth.authenticate(cheap, "plan", "wrong", g, "1.2.3.4") is None
    # the next try from that client is refused without checking the password, even the right one
    with pytest.raises(auth.RateLimitedError) as exc:
        auth.authenticate(cheap, "plan", "plan-pass-1", g, "1.2.3.4")
    assert auth.FAILURE_WINDOW_S - 1 <= exc.value.retry_after_s <= auth.FAILURE_WINDOW_S
    # the user is not locked: the same account signs in from another client at once
    assert auth.authenticate(cheap, "plan", "plan-pass-1", g, "5.6.7.8") == cheap["plan"]
    clock.t += auth.FAILURE_WINDOW_S + 1
    assert auth.authenticate(cheap, "plan", "plan-pass-1", g, "1.2.3.4") == cheap["plan"]


def test_guesses_spread_over_many_user_names_are_limited_per_client(cheap: dict[str, auth.User]) -> None:
    g = guard(Clock())
    for i in range(auth.MAX_FAILURES):
        assert auth.authenticate(cheap, f"user{i}", "guess-guess", g, "9.9.9.9") is None
    with pytest.raises(auth.RateLimitedError):
        auth.authenticate(cheap, "boss", "guess-guess", g, "9.9.9.9")


def test_strangers_cannot_lock_out_a_user(cheap: dict[str, auth.User]) -> None:
    """Many wrong passwords for the admin from rotating addresses do not block the admin."""
    clock = Clock()
    g = guard(clock)
    for i in range(4 * auth.MAX_FAILURES):  # what used to lock "boss" out for 15 minutes
        assert auth.authenticate(cheap, "boss", "guess-guess", g, f"10.0.0.{i}") is None
    assert auth.authenticate(cheap, "boss", "boss-pass-1", g, "192.168.1.20") == cheap["boss"]


def test_failures_are_limited_globally_and_known_clients_still_sign_in(cheap: dict[str, auth.User]) -> None:
    clock = Clock()
    g = guard(clock)
    assert auth.authenticate(cheap, "lead", "lead-pass-1", g, "172.16.0.9") == cheap["lead"]  # a regular
    for i in range(auth.MAX_FAILURES_GLOBAL):
        assert auth.authenticate(cheap, f"u{i % 7}", "guess-guess", g, f"10.1.{i // 250}.{i % 250}") is None
    # a fresh address now waits (no Argon2 work is done for it) ...
    with pytest.raises(auth.RateLimitedError) as exc:
        auth.authenticate(cheap, "plan", "plan-pass-1", g, "203.0.113.7")
    assert 0 < exc.value.retry_after_s <= auth.GLOBAL_WINDOW_S
    # ... but a client that signed in successfully before is not shut out by strangers
    assert auth.authenticate(cheap, "lead", "lead-pass-1", g, "172.16.0.9") == cheap["lead"]
    clock.t += auth.GLOBAL_WINDOW_S + 1
    assert auth.authenticate(cheap, "plan", "plan-pass-1", g, "203.0.113.7") == cheap["plan"]


def test_argon2_work_is_capped_busy_beyond(cheap: dict[str, auth.User]) -> None:
    g = guard(Clock(), max_concurrent_hashes=2)
    assert g.hash_slots.acquire(blocking=False)
    assert g.hash_slots.acquire(blocking=False)  # two sign-ins are hashing right now
    calls: list[str] = []
    real = auth.verify_password
    try:
        auth.verify_password = lambda h, p: calls.append(h) or real(h, p)  # type: ignore[assignment]
        with pytest.raises(auth.BusyError, match="busy"):
            auth.authenticate(cheap, "plan", "plan-pass-1", g, "1.2.3.4")
        assert calls == []  # no third hash was started
        g.hash_slots.release()
        assert auth.authenticate(cheap, "plan", "plan-pass-1", g, "1.2.3.4") == cheap["plan"]
    finally:
        auth.verify_password = real  # type: ignore[assignment]
        g.hash_slots.release()
    assert not g.per_client.retry_after_s("1.2.3.4")  # "busy" is not counted as a failure


def test_unknown_users_cost_one_hash_like_known_ones(
    users: dict[str, auth.User], monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda h, p: hashed.append(h) or real(h, p))
    g = guard(Clock())
    assert auth.authenticate(users, "nobody", "guess-guess", g, "c") is None
    assert auth.authenticate(users, "plan", "guess-guess", g, "c") is None
    assert len(hashed) == 2
    assert hashed[0].startswith("$argon2id$")  # a dummy hash of the same kind was verified
    assert hashed[0] != hashed[1]


@pytest.mark.parametrize(
    ("signed_in", "seen", "now", "expired"),
    [
        (0, 0, 29 * 60, False),
        (0, 0, 31 * 60, True),  # idle for more than 30 min
        (0, 11.9 * 3600, 11.95 * 3600, False),
        (0, 11.9 * 3600, 12.01 * 3600, True),  # used a minute ago, but signed in over 12 h ago
        (None, 0, 1, True),  # no sign-in time: never trusted
    ],
)
def test_password_sessions_expire(signed_in: float | None, seen: float, now: float, expired: bool) -> None:
    assert auth.session_expired(signed_in, seen, now, idle_s=30 * 60, max_s=12 * 3600) is expired


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


@pytest.mark.parametrize(
    ("claims", "roles"),
    [
        ({"email": "li@union.cn", "email_verified": True}, {"admin"}),
        ({"email": "li@union.cn", "email_verified": "true"}, {"admin"}),  # some providers send a string
        ({"email": "li@union.cn"}, {"viewer"}),  # no email_verified: no elevated role
        ({"email": "li@union.cn", "email_verified": False}, {"viewer"}),
        ({"email": "zhang@union.cn", "email_verified": "false"}, {"viewer"}),
        ({"email": "zhang@union.cn", "email_verified": 1}, {"viewer"}),
        ({"email_verified": True}, set()),
    ],
)
def test_oidc_roles_need_a_verified_email(claims: dict, roles: set[str]) -> None:
    role_map = {"li@union.cn": ["admin"], "*@union.cn": ["planner"]}
    assert auth.roles_for_claims(role_map, claims) == roles


OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "c" * 32,
    "client_id": "id",
    "client_secret": "s",
    "server_metadata_url": "https://idp/.well-known/openid-configuration",
}


@pytest.mark.parametrize(
    ("section", "missing"),
    [
        ({k: v for k, v in OIDC.items() if k != "cookie_secret"}, ["auth.cookie_secret"]),
        ({**OIDC, "redirect_uri": ""}, ["auth.redirect_uri"]),
        ({"cookie_secret": "c" * 32, "users": {}}, ["auth.redirect_uri", "auth.client_id"]),
        ({k: v for k, v in OIDC.items() if k != "client_secret"}, ["auth.client_secret"]),
        (
            {"redirect_uri": "u", "cookie_secret": "s", "corp": {"client_id": "id"}},
            ["auth.corp.client_secret", "auth.corp.server_metadata_url"],
        ),
    ],
)
def test_a_partial_auth_section_is_an_error_naming_the_missing_keys(
    section: dict, missing: list[str]
) -> None:
    with pytest.raises(auth.AuthConfigError) as exc:
        auth.check_auth_section(section)
    for key in missing:
        assert key in str(exc.value)


@pytest.mark.parametrize(
    "section",
    [None, {}, {"users": {"a": {}}}, {"roles": {"*@x.cn": "planner"}}, OIDC, {**OIDC, "roles": {}}],
)
def test_complete_or_absent_auth_sections_pass(section: dict | None) -> None:
    auth.check_auth_section(section)


def test_the_start_up_line_says_the_mode() -> None:
    hosts = ("localhost", "127.0.0.1")
    demo = auth.describe_mode([], 0, "", hosts)
    assert "DEMO" in demo
    assert "data management CLOSED" in demo
    assert "python -m geo add-user" in demo
    assert "GEO_DEMO_ADMIN=local" in demo
    assert "localhost, 127.0.0.1" in demo
    assert "manages data as local-demo" in auth.describe_mode([], 0, "local", hosts)
    assert "password sign-in, 3 user(s)" in auth.describe_mode([], 3, "local", hosts)
    assert "identity provider(s) default, corp" in auth.describe_mode([None, "corp"], 0, "", hosts)
