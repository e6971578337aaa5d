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
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo.errors import InputError

ROLES: Final = ("viewer", "planner", "leader", "admin")
"""Known roles; ``admin`` may do everything."""
USER_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_.\-@一-鿿]{1,64}$")
"""Accepted user names (letters, digits, ``_ . - @``, Chinese characters; 1–64)."""
MIN_PASSWORD_CHARS: Final = 8
"""Shortest password :func:`hash_password` accepts."""
MAX_FAILURES: Final = 5
"""Failed sign-ins allowed per user and client within :data:`FAILURE_WINDOW_S`."""
FAILURE_WINDOW_S: Final = 15 * 60.0
"""Length of the rate-limit window, seconds."""
OIDC_KEYS: Final = ("redirect_uri", "cookie_secret")
"""Keys of Streamlit's ``[auth]`` section that mean an identity provider is configured."""

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


def authenticate(
    users: Mapping[str, User],
    name: str,
    password: str,
    limiter: RateLimiter,
    client: str = "",
    overall: RateLimiter | None = None,
) -> User | None:
    """Check a name and password; return the user, or ``None`` when they do not match.

    Parameters
    ----------
    users : mapping
        From :func:`load_users`.
    name, password : str
        What was typed.
    limiter : RateLimiter
        Counts failures per ``name`` + ``client``.
    client : str
        Who is trying (e.g. the browser's IP address or session id).
    overall : RateLimiter, optional
        Counts failures per ``name`` from any client (a looser limit, so rotating
        clients does not allow unlimited guesses).

    Raises
    ------
    RateLimitedError
        If this name has failed too often recently; the password is not checked then.
    """
    name = str(name).strip()
    key = f"{name}|{client}"
    wait = limiter.retry_after_s(key)
    if overall is not None:
        wait = max(wait, overall.retry_after_s(name))
    if wait > 0:
        raise RateLimitedError(wait)
    user = users.get(name)
    # An unknown name is checked against a dummy hash: it takes as long as a wrong password.
    matched = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if matched and user is not None:
        limiter.reset(key)
        return user
    limiter.record_failure(key)
    if overall is not None:
        overall.record_failure(name)
    return None


def toml_snippet(name: str, password_hash: str, roles: Iterable[str]) -> str:
    """Return the ``.streamlit/secrets.toml`` lines for one user (no password, only its hash)."""
    if not USER_NAME_RE.match(name):
        raise InputError(f"user name {name!r} is not allowed; use letters, digits, _ . - @ (1-64)")
    role_list = ", ".join(json.dumps(r) for r in sorted(check_roles(roles, name)))
    key = name if re.fullmatch(r"[A-Za-z0-9_\-]+", name) else json.dumps(name, ensure_ascii=False)
    return f"[auth.users.{key}]\npassword_hash = {json.dumps(password_hash)}\nroles = [{role_list}]\n"
