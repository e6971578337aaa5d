"""Who may open what: roles, password hashes, user lists and a sign-in rate limiter.

Pure library (no Streamlit): the app passes ``st.secrets["auth"]["users"]`` in. Roles:

* ``viewer`` — any signed-in user;
* ``planner`` — coverage planning, single-station edits;
* ``leader`` — the campaign dashboard;
* ``admin`` — everything (imports, rollbacks, every page).

``planner`` and ``leader`` are separate; a user may have several roles. Public pages
(``required=None``) are open to everyone, signed in or not.

Users come from a mapping shaped like ``.streamlit/secrets.toml``::

    [auth.users.wang]
    password_hash = "$argon2id$v=19$..."
    roles = ["planner"]

and/or the environment variable ``GEO_USERS`` holding the same as JSON
(``{"wang": {"password_hash": "...", "roles": ["planner"]}}``). Create entries with
``python -m geo add-user wang --role planner``. Passwords are hashed with Argon2id and
never stored or printed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo import hosts
from geo.errors import GeoError, InputError
from geo.settings import Settings, load_settings

ROLES: Final = ("viewer", "planner", "leader", "admin")
"""Known roles; ``admin`` may do everything."""
USER_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_.\-@一-鿿]{1,64}$")
"""Accepted user names (letters, digits, ``_ . - @``, Chinese characters; 1–64)."""
MIN_PASSWORD_CHARS: Final = 8
"""Shortest password :func:`hash_password` accepts."""
MAX_FAILURES: Final = 5
"""Failed sign-ins allowed per client (whatever the user names) within :data:`FAILURE_WINDOW_S`."""
FAILURE_WINDOW_S: Final = 15 * 60.0
"""Length of the per-client rate-limit window, seconds."""
MAX_FAILURES_GLOBAL: Final = 50
"""Failed sign-ins allowed from all clients together within :data:`GLOBAL_WINDOW_S`."""
GLOBAL_WINDOW_S: Final = 5 * 60.0
"""Length of the global rate-limit window, seconds."""
KNOWN_CLIENT_S: Final = 30 * 24 * 3600.0
"""A client that signed in successfully within this many seconds is exempt from the global limit."""
MAX_CONCURRENT_HASHES: Final = 2
"""Argon2 verifications run at once at most (each takes ≈ 64 MiB and ≈ 0.1 s of one core)."""
OIDC_KEYS: Final = ("redirect_uri", "cookie_secret")
"""Keys of Streamlit's ``[auth]`` section that mean an identity provider is configured."""
OIDC_PROVIDER_KEYS: Final = ("client_id", "client_secret", "server_metadata_url")
"""Keys every identity provider (``[auth]`` itself or ``[auth.<name>]``) needs."""
_OUR_AUTH_KEYS: Final = ("users", "roles")

_HASHER: Final = PasswordHasher()
# Verified when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = _HASHER.hash("not a real password - timing equaliser")


@dataclass(frozen=True)
class User:
    """A user who can sign in.

    Attributes
    ----------
    name : str
        The sign-in name.
    roles : frozenset of str
        Roles from :data:`ROLES`.
    password_hash : str
        Argon2 hash (empty for users signed in by an identity provider).
    """

    name: str
    roles: frozenset[str]
    password_hash: str = field(default="", repr=False)


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password`` (to store instead of the password).

    Raises
    ------
    geo.errors.InputError
        If the password is shorter than :data:`MIN_PASSWORD_CHARS`.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash`` (``False`` for a malformed hash)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False


def check_roles(roles: Iterable[str], who: str = "user") -> frozenset[str]:
    """Return ``roles`` as a frozenset after checking each is known.

    Raises
    ------
    geo.errors.InputError
        Naming the unknown role and the known ones.
    """
    out = frozenset(str(r).strip().lower() for r in roles)
    unknown = sorted(out - set(ROLES))
    if unknown:
        raise InputError(f"{who}: unknown role(s) {', '.join(unknown)}; use {', '.join(ROLES)}")
    return out


def _user(name: str, entry: Any, source: str) -> User:  # noqa: ANN401 - a secrets/JSON mapping
    if not USER_NAME_RE.match(str(name)):
        raise InputError(f"{source}: user name {name!r} is not allowed; use letters, digits, _ . - @")
    if not isinstance(entry, Mapping):
        raise InputError(f"{source}: user {name} must be a table with password_hash and roles")
    roles = entry.get("roles", ["viewer"])
    if isinstance(roles, str):
        roles = [roles]
    pw = str(entry.get("password_hash", ""))
    if not pw.startswith("$argon2"):
        raise InputError(
            f"{source}: user {name} has no Argon2 password_hash; "
            f"create one with `python -m geo add-user {name}`"
        )
    return User(str(name), check_roles(roles, f"{source}: user {name}"), pw)


def load_users(
    secrets_users: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, User]:
    """Return the configured users by name.

    Parameters
    ----------
    secrets_users : mapping, optional
        ``st.secrets["auth"]["users"]``: ``{name: {"password_hash": ..., "roles": [...]}}``.
    env : mapping, optional
        Environment to read ``GEO_USERS`` (same shape, as JSON) from; default :data:`os.environ`.
        Entries there override same-named ones from the secrets.

    Raises
    ------
    geo.errors.InputError
        If an entry is malformed (so a typo does not silently open the app).
    """
    env = os.environ if env is None else env
    users: dict[str, User] = {}
    for name, entry in (secrets_users or {}).items():
        users[str(name)] = _user(str(name), entry, "secrets.toml [auth.users]")
    raw = env.get("GEO_USERS", "").strip()
    if raw:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InputError(
                f"GEO_USERS is not valid JSON ({exc}); see `python -m geo add-user --help`"
            ) from exc
        if not isinstance(data, dict):
            raise InputError(
                'GEO_USERS must be a JSON object: {"name": {"password_hash": ..., "roles": [...]}}'
            )
        for name, entry in data.items():
            users[str(name)] = _user(str(name), entry, "GEO_USERS")
    return users


def can_open(roles: Iterable[str] | None, required: str | Iterable[str] | None) -> bool:
    """Return whether a user with ``roles`` may open something that needs ``required``.

    Parameters
    ----------
    roles : iterable of str or None
        The user's roles; ``None`` for someone not signed in.
    required : str, iterable of str or None
        ``None`` = public; a role; or several roles of which any one suffices.
        ``admin`` may open everything; ``viewer`` is satisfied by any signed-in user.
    """
    if required is None:
        return True
    if roles is None:
        return False
    have = set(roles)
    needed = {required} if isinstance(required, str) else set(required)
    if "admin" in have or have & needed:
        return True
    return "viewer" in needed and bool(have)


def oidc_providers(auth_section: Mapping[str, Any] | None) -> list[str | None]:
    """Return the OIDC identity providers Streamlit's ``[auth]`` section configures.

    ``None`` stands for the single provider written directly in ``[auth]`` (``st.login()``);
    names are the ``[auth.<name>]`` sub-sections with a ``client_id`` (``st.login(name)``).
    Empty when sign-in through an identity provider is not configured.
    """
    if not auth_section or not all(auth_section.get(k) for k in OIDC_KEYS):
        return []
    found: list[str | None] = []
    if auth_section.get("client_id") and auth_section.get("server_metadata_url"):
        found.append(None)
    # Named providers: [auth.<provider>] with client_id (the users / roles tables are ours).
    found.extend(
        sorted(
            str(k)
            for k, v in auth_section.items()
            if k not in ("users", "roles") and isinstance(v, Mapping) and v.get("client_id")
        )
    )
    return found


def oidc_configured(auth_section: Mapping[str, Any] | None) -> bool:
    """Return whether Streamlit's ``[auth]`` section configures an OIDC identity provider."""
    return bool(oidc_providers(auth_section))


def roles_for_email(role_map: Mapping[str, Any] | None, email: str | None) -> frozenset[str]:
    """Return the roles ``[auth.roles]`` gives an identity-provider email (``viewer`` if listed nowhere).

    ``role_map`` maps an email, or ``"*@domain"`` for a whole domain, to a list of roles.
    """
    if not email:
        return frozenset()
    email = email.strip().lower()
    role_map = {str(k).strip().lower(): v for k, v in (role_map or {}).items()}
    roles = role_map.get(email)
    if roles is None and "@" in email:
        roles = role_map.get("*@" + email.split("@", 1)[1])
    if roles is None:
        return frozenset({"viewer"})
    return check_roles([roles] if isinstance(roles, str) else roles, f"[auth.roles] {email}")


class AuthConfigError(InputError):
    """Streamlit's ``[auth]`` section is half written (the message names the missing keys)."""


def auth_config_problems(auth_section: Mapping[str, Any] | None) -> list[str]:
    """Return the missing keys (``auth.cookie_secret``, ``auth.corp.client_secret``…) of ``[auth]``.

    Empty when ``[auth]`` configures no identity provider at all (only ``users`` /
    ``roles``, or nothing) or configures one completely.
    """
    section = dict(auth_section or {})
    sign_in = {k: v for k, v in section.items() if k not in _OUR_AUTH_KEYS}
    if not any(v not in (None, "") for v in sign_in.values()):
        return []
    missing = [f"auth.{k}" for k in OIDC_KEYS if not section.get(k)]
    named = {str(k): v for k, v in sign_in.items() if isinstance(v, Mapping)}
    top = any(k in section for k in OIDC_PROVIDER_KEYS)
    if top or not named:
        missing += [f"auth.{k}" for k in OIDC_PROVIDER_KEYS if not section.get(k)]
    for name, provider in sorted(named.items()):
        missing += [f"auth.{name}.{k}" for k in OIDC_PROVIDER_KEYS if not provider.get(k)]
    return missing


def check_auth_section(auth_section: Mapping[str, Any] | None) -> None:
    """Raise :class:`AuthConfigError` naming the missing keys if ``[auth]`` is half written.

    A half-written identity-provider configuration must stop the app, never fall back to
    the demo mode (which would open pages the configuration meant to protect).
    """
    missing = auth_config_problems(auth_section)
    if missing:
        raise AuthConfigError(
            "[auth] in .streamlit/secrets.toml is incomplete: missing "
            + ", ".join(missing)
            + ". Add them (see Streamlit's st.login documentation), or remove the identity-provider "
            "keys from [auth] to use password users (python -m geo add-user NAME --role admin)."
        )


def _claim_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def roles_for_claims(role_map: Mapping[str, Any] | None, claims: Mapping[str, Any]) -> frozenset[str]:
    """Return the roles of an identity-provider user from the ID-token ``claims``.

    Only an email the provider says it verified (``email_verified`` true) is looked up in
    ``[auth.roles]``; without that claim, or with it false, the user is a ``viewer`` —
    signed in, but with no elevated role (anyone may claim any address at some providers).
    """
    email = str(claims.get("email") or "")
    if not email:
        return frozenset()
    if not _claim_true(claims.get("email_verified")):
        return frozenset({"viewer"})
    return roles_for_email(role_map, email)


def session_expired(
    signed_in_at_s: float | None, last_seen_s: float | None, now_s: float, idle_s: float, max_s: float
) -> bool:
    """Return whether a password sign-in has ended.

    Parameters
    ----------
    signed_in_at_s, last_seen_s : float or None
        When the user signed in and was last active, seconds (any clock, same as ``now_s``);
        ``None`` (not recorded) counts as expired.
    now_s : float
        The time now, seconds.
    idle_s, max_s : float
        Idle timeout and absolute lifetime, seconds.
    """
    if signed_in_at_s is None or last_seen_s is None:
        return True
    return now_s - last_seen_s > idle_s or now_s - signed_in_at_s > max_s


class RateLimiter:
    """Counts failed sign-ins per key (user + client) in a sliding window; thread-safe.

    Parameters
    ----------
    max_failures : int
        Failures allowed within ``window_s`` before the key is blocked.
    window_s : float
        Window length, seconds.
    clock : callable, optional
        Returns the time in seconds (monotonic); injectable for tests.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_s: float = FAILURE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def retry_after_s(self, key: str) -> float:
        """Seconds until ``key`` may try again (``0`` when it may try now)."""
        with self._lock:
            now = self._clock()
            q = self._recent(key, now)
            if len(q) < self.max_failures:
                return 0.0
            return max(0.0, q[len(q) - self.max_failures] + self.window_s - now)

    def allowed(self, key: str) -> bool:
        """Return whether ``key`` may try to sign in now."""
        return self.retry_after_s(key) == 0.0

    def record_failure(self, key: str) -> None:
        """Count one failed sign-in for ``key``."""
        with self._lock:
            now = self._clock()
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # bound memory: forget keys with no recent failure
                for k in [k for k, q in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[k]

    def clear(self) -> None:
        """Forget every failure (tests; or an admin lifting all blocks)."""
        with self._lock:
            self._failures.clear()

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful sign-in)."""
        with self._lock:
            self._failures.pop(key, None)


class RateLimitedError(InputError):
    """Too many failed sign-ins; ``retry_after_s`` says when to try again."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed sign-ins; try again in {max(1, round(retry_after_s / 60))} min")


class BusyError(InputError):
    """Every password-check slot is in use; try again in a moment."""

    def __init__(self) -> None:
        super().__init__("the server is busy checking other sign-ins; try again in a moment")


class SignInGuard:
    """What limits password guessing: per client, globally, and how many hashes run at once.

    Nothing here is keyed on the user name, so strangers cannot lock a user out: a client
    that fails :data:`MAX_FAILURES` times (whatever names it tries) waits; when all clients
    together fail :data:`MAX_FAILURES_GLOBAL` times, clients that have not signed in
    successfully before wait too (those that have are exempt for :data:`KNOWN_CLIENT_S`).

    Parameters
    ----------
    clock : callable
        Monotonic time in seconds; injectable for tests.
    max_concurrent_hashes : int
        Argon2 verifications allowed at once; more sign-ins are told the server is busy.
    busy_wait_s : float
        How long a sign-in waits for a free hash slot before it is told so, seconds.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_concurrent_hashes: int = MAX_CONCURRENT_HASHES,
        busy_wait_s: float = 2.0,
    ) -> None:
        self.per_client = RateLimiter(MAX_FAILURES, FAILURE_WINDOW_S, clock)
        self.overall = RateLimiter(MAX_FAILURES_GLOBAL, GLOBAL_WINDOW_S, clock)
        self.hash_slots = threading.BoundedSemaphore(max_concurrent_hashes)
        self.busy_wait_s = busy_wait_s
        self._clock = clock
        self._known: dict[str, float] = {}
        self._lock = threading.Lock()

    def _is_known(self, client: str) -> bool:
        with self._lock:
            seen = self._known.get(client)
            return seen is not None and self._clock() - seen <= KNOWN_CLIENT_S

    def retry_after_s(self, client: str) -> float:
        """Seconds until ``client`` may try to sign in (``0`` = now)."""
        wait = self.per_client.retry_after_s(client)
        if not self._is_known(client):
            wait = max(wait, self.overall.retry_after_s("*"))
        return wait

    def record(self, client: str, success: bool) -> None:
        """Count one sign-in of ``client`` (a failure, or a success that makes it known)."""
        if success:
            with self._lock:
                if len(self._known) > 10_000:  # bound memory: forget the oldest
                    for k in sorted(self._known, key=self._known.__getitem__)[:5_000]:
                        del self._known[k]
                self._known[client] = self._clock()
            return
        self.per_client.record_failure(client)
        self.overall.record_failure("*")

    def clear(self) -> None:
        """Forget every failure and known client (tests; or an admin lifting all blocks)."""
        self.per_client.clear()
        self.overall.clear()
        with self._lock:
            self._known.clear()


def authenticate(
    users: Mapping[str, User], name: str, password: str, guard: SignInGuard, client: str = ""
) -> User | None:
    """Check a name and password; return the user, or ``None`` when they do not match.

    Parameters
    ----------
    users : mapping
        From :func:`load_users`.
    name, password : str
        What was typed.
    guard : SignInGuard
        The limits (per client, global, hash concurrency), one per server process.
    client : str
        Who is trying: the TCP peer address (``""`` when unknown; all unknown clients share it).

    Raises
    ------
    RateLimitedError
        If this client (or, for a client never signed in, everyone) failed too often
        recently; no password is checked then.
    BusyError
        If :data:`MAX_CONCURRENT_HASHES` checks are running already.
    """
    wait = guard.retry_after_s(client)
    if wait > 0:
        raise RateLimitedError(wait)
    user = users.get(str(name).strip())
    if (
        not guard.hash_slots.acquire(timeout=guard.busy_wait_s)
        if guard.busy_wait_s > 0
        else not guard.hash_slots.acquire(blocking=False)
    ):
        raise BusyError
    try:
        # An unknown name is checked against a dummy hash: it takes as long as a wrong password.
        matched = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    finally:
        guard.hash_slots.release()
    ok = matched and user is not None
    guard.record(client, ok)
    return user if ok else None


def describe_mode(
    providers: Iterable[str | None], n_users: int, demo_admin: str, allowed_hosts: Iterable[str]
) -> str:
    """Return the one line the server prints at start-up: who may do what, which hosts answer.

    Parameters
    ----------
    providers : iterable
        From :func:`oidc_providers` (empty: no identity provider).
    n_users : int
        Password users configured.
    demo_admin : str
        ``Settings.demo_admin`` (``local`` or empty).
    allowed_hosts : iterable of str
        Host names the server answers to.
    """
    names = [p or "default" for p in providers]
    if names:
        how = f"sign-in through identity provider(s) {', '.join(names)}; roles from [auth.roles]"
    elif n_users:
        how = f"password sign-in, {n_users} user(s); data management needs a signed-in admin or planner"
    elif demo_admin == "local":
        how = (
            "DEMO with GEO_DEMO_ADMIN=local: no users; a browser on this computer "
            "(http://localhost, no proxy) manages data as local-demo, everyone else reads only"
        )
    else:
        how = (
            "DEMO: no users; public pages open, planning pages read-only on demo data; data management "
            "CLOSED (create a user: python -m geo add-user NAME --role admin, or set GEO_DEMO_ADMIN=local)"
        )
    return f"驿站图 Station Atlas: {how}. Allowed hosts: {', '.join(allowed_hosts)}"


def _plain(v: Any) -> Any:  # noqa: ANN401 - secrets sections (AttrDicts) to plain dicts
    return {str(k): _plain(x) for k, x in v.items()} if hasattr(v, "items") else v


def startup(secrets: Any, env: Mapping[str, str] | None = None) -> Settings:  # noqa: ANN401 - st.secrets
    """Check the sign-in configuration once at server start and print the mode it gives.

    Called by ``asgi.py`` (``make run``) with ``st.secrets``. Exits with a message naming
    the missing keys when ``[auth]`` is half written, or naming the entry when a user or
    a setting is malformed.

    Parameters
    ----------
    secrets : mapping
        ``.streamlit/secrets.toml`` as Streamlit reads it (``st.secrets``).
    env : mapping, optional
        Environment (``GEO_*``, ``GEO_USERS``); default :data:`os.environ`.

    Returns
    -------
    geo.settings.Settings
        The settings (``[geo]`` in secrets.toml, then ``GEO_*`` env vars) the server uses.
    """
    env = os.environ if env is None else env
    try:
        section = dict(_plain(secrets.get("auth", {}) or {}))
        geo_section = {
            k: v for k, v in _plain(secrets.get("geo", {}) or {}).items() if not isinstance(v, dict)
        }
    except (FileNotFoundError, KeyError, AttributeError):
        section, geo_section = {}, {}
    try:
        settings = load_settings(geo_section, env=env)
        check_auth_section(section)
        found = load_users(section.get("users") or {}, env=env)
    except GeoError as exc:
        raise SystemExit(f"驿站图 Station Atlas cannot start: {exc}") from None
    line = describe_mode(
        oidc_providers(section), len(found), settings.demo_admin, hosts.allowed_hosts(settings.allowed_hosts)
    )
    print(line, file=sys.stderr, flush=True)  # the start-up line `make run` shows
    return settings


def toml_snippet(name: str, password_hash: str, roles: Iterable[str]) -> str:
    """Return the ``.streamlit/secrets.toml`` lines for one user (no password, only its hash)."""
    if not USER_NAME_RE.match(name):
        raise InputError(f"user name {name!r} is not allowed; use letters, digits, _ . - @ (1-64)")
    role_list = ", ".join(json.dumps(r) for r in sorted(check_roles(roles, name)))
    key = name if re.fullmatch(r"[A-Za-z0-9_\-]+", name) else json.dumps(name, ensure_ascii=False)
    return f"[auth.users.{key}]\npassword_hash = {json.dumps(password_hash)}\nroles = [{role_list}]\n"
