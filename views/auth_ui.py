"""Sign-in for protected pages: password users (secrets / GEO_USERS) or OIDC via ``st.login``.

``app.py`` calls :func:`gate` with the role the chosen page needs before running it, and
:func:`sidebar` to show who is signed in (``asgi.py`` checks the configuration once at
start-up: :func:`geo.auth.startup`).

With no users and no identity provider the app runs in demo mode:

* public pages open as always;
* planning and leader pages open read-only while the dataset is the synthetic demo
  (nothing to protect); once real data was imported they close until users exist;
* data management (import, rollback, station edits) is closed — unless the machine's
  owner sets ``GEO_DEMO_ADMIN=local``: then a browser on this computer (a loopback TCP
  peer, see :func:`geo.hosts.is_loopback_peer`) manages data as ``local-demo``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import streamlit as st

from geo import auth, hosts, provenance, store
from geo.errors import GeoError
from views import common

_SESSION_KEY = "auth_user"
_SINCE_KEY, _SEEN_KEY, _EXPIRED_KEY = "auth_since", "auth_seen", "auth_expired"
DEMO_USER: Final = "local-demo"
"""Who is recorded for changes made through the ``GEO_DEMO_ADMIN=local`` opt-in."""

# One guard per server process (a module is imported once): failed sign-ins per client and
# over all clients, and the cap on concurrent Argon2 checks. Not st.cache_resource: clearing
# the caches must not reset the counts.
_GUARD: Final = auth.SignInGuard()


def _plain(v: Any) -> Any:  # st.secrets sections are AttrDicts: make them plain dicts
    return {k: _plain(x) for k, x in v.items()} if hasattr(v, "items") else v


def auth_section() -> dict[str, Any]:
    """Return ``[auth]`` from ``.streamlit/secrets.toml`` as a plain dict (``{}`` when absent)."""
    try:
        return dict(_plain(st.secrets.get("auth", {})))
    except (FileNotFoundError, KeyError, AttributeError):
        return {}


@st.cache_resource(show_spinner=False)
def _users_cached(secrets_json: str, env_json: str) -> dict[str, auth.User]:
    return auth.load_users(json.loads(secrets_json), env={"GEO_USERS": env_json})


def users() -> dict[str, auth.User]:
    """Return the configured password users (raises ``InputError`` on a malformed entry)."""
    section = auth_section().get("users", {}) or {}
    return _users_cached(json.dumps(section, sort_keys=True), os.environ.get("GEO_USERS", ""))


def mode() -> str:
    """Return ``oidc``, ``password`` or ``demo`` (no users, no identity provider).

    Raises
    ------
    geo.auth.AuthConfigError
        If ``[auth]`` is half written: never fall back to demo mode then.
    """
    section = auth_section()
    auth.check_auth_section(section)
    if auth.oidc_configured(section):
        return "oidc"
    return "password" if users() else "demo"


def _peer() -> tuple[str | None, list[tuple[str, str]]]:
    """The TCP peer address and request headers of this session's websocket connection.

    Streamlit's public ``st.context.ip_address`` says ``None`` both for loopback and for an
    unknown peer (Unix socket, some proxies), so the raw peer of the connection is read
    from the session's client context; anything unexpected gives ``(None, [])``.
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not runtime.exists():
            return None, []
        client = runtime.get_instance().get_client(ctx.session_id)
        context = getattr(client, "client_context", None)
        if context is None:
            return None, []
        ip, headers = context.remote_ip, list(context.headers)
        pairs = [(k, v) for k, v in headers if isinstance(k, str) and isinstance(v, str)]
        return (ip if isinstance(ip, str) else None), pairs  # (AppTest's runtime is a mock)
    except Exception:  # an internal API changed: fail closed, never open
        return None, []


def _client() -> str:
    """Who is signing in, for the rate limits: the TCP peer address (``""`` if unknown)."""
    return _peer()[0] or ""


def demo_admin() -> bool:
    """Whether this browser manages data through the ``GEO_DEMO_ADMIN=local`` opt-in."""
    if common.settings().demo_admin != "local":
        return False
    return hosts.is_loopback_peer(*_peer())


@st.cache_data(show_spinner=False, max_entries=4)
def _pure_demo_cached(key: str, directory: str) -> bool:
    d = Path(directory)
    sources = provenance.table_sources(store.list_versions(d), store.current_version(d) or "")
    return bool(sources) and all(src.pure_demo for src in sources.values())


def _pure_demo() -> bool:
    """Whether the dataset in use is exactly the synthetic demo (no import, no edit)."""
    try:
        return _pure_demo_cached(common.data_key(), str(common.data_dir()))
    except GeoError:
        return False


def _now_s() -> float:
    return time.time()


def _password_user() -> auth.User | None:
    name = st.session_state.get(_SESSION_KEY)
    user = users().get(name) if name else None  # a user removed from the config loses access at once
    if user is None:
        return None
    s, now = common.settings(), _now_s()
    since, seen = st.session_state.get(_SINCE_KEY), st.session_state.get(_SEEN_KEY)
    if auth.session_expired(since, seen, now, s.session_idle_min * 60, s.session_max_h * 3600):
        for key in (_SESSION_KEY, _SINCE_KEY, _SEEN_KEY):
            st.session_state.pop(key, None)
        st.session_state[_EXPIRED_KEY] = True
        return None
    st.session_state[_SEEN_KEY] = now
    return user


def current() -> tuple[str, frozenset[str]] | None:
    """Return ``(user name, roles)`` of the signed-in user, or ``None``."""
    if mode() == "oidc":
        if not getattr(st.user, "is_logged_in", False):
            return None
        claims = {k: st.user.get(k) for k in ("email", "email_verified")}
        return str(claims["email"] or ""), auth.roles_for_claims(auth_section().get("roles"), claims)
    user = _password_user()
    return (user.name, user.roles) if user else None


def user_name() -> str:
    """Who is acting, for manifests and the audit log (:data:`DEMO_USER` for the local opt-in)."""
    who = current()
    return who[0] if who else DEMO_USER


def _demo_allows(required: str | Iterable[str]) -> bool:
    """Demo mode: the local opt-in opens everything; data management (pages needing
    ``admin``) nothing else; planning and leader pages open while the data is the demo."""
    if demo_admin():
        return True
    needed = {required} if isinstance(required, str) else set(required)
    return "admin" not in needed and _pure_demo()


def has_role(required: str | Iterable[str] | None) -> bool:
    """Return whether the current user (demo mode: see :func:`_demo_allows`) has ``required``."""
    if required is None:
        return True
    if mode() == "demo":
        return _demo_allows(required)
    who = current()
    return auth.can_open(who[1] if who else None, required)


def _role_text(required: str | Iterable[str]) -> str:
    roles = [required] if isinstance(required, str) else list(required)
    return " / ".join(common.tr(f"auth.role_{r}") for r in roles)


def _password_form(required: str | Iterable[str]) -> None:
    if st.session_state.pop(_EXPIRED_KEY, False):
        s = common.settings()
        st.warning(common.tr("auth.expired", idle=f"{s.session_idle_min:g}", hours=f"{s.session_max_h:g}"))
    st.info(common.tr("auth.sign_in_needed", role=_role_text(required)))
    with st.form("sign_in", clear_on_submit=True):
        name = st.text_input(common.tr("auth.name"), max_chars=64)
        password = st.text_input(common.tr("auth.password"), type="password", max_chars=256)
        submitted = st.form_submit_button(common.tr("auth.sign_in"), type="primary")
    if not submitted:
        return
    try:
        user = auth.authenticate(users(), name, password, _GUARD, _client())
    except auth.RateLimitedError as exc:
        st.error(common.tr("auth.rate_limited", minutes=max(1, round(exc.retry_after_s / 60))))
        return
    except auth.BusyError:
        st.warning(common.tr("auth.busy"))
        return
    if user is None:
        st.error(common.tr("auth.failed"))
        return
    now = _now_s()
    st.session_state.update({_SESSION_KEY: user.name, _SINCE_KEY: now, _SEEN_KEY: now})
    st.rerun()


def _config_error(exc: GeoError) -> None:
    st.error(common.tr("auth.config_error", message=common.escape_markdown(str(exc))))


def gate(required: str | Iterable[str] | None) -> bool:
    """Return whether the page needing ``required`` may run; otherwise draw the sign-in."""
    if required is None:
        return True
    try:
        how = mode()
    except GeoError as exc:  # a typo in the user list must not open the app: fail closed
        _config_error(exc)
        return False
    if how == "demo":
        if demo_admin():
            st.info(common.tr("auth.demo_admin", user=DEMO_USER))
            return True
        if _demo_allows(required):
            st.info(common.tr("auth.demo_read_only"))
            return True
        needed = {required} if isinstance(required, str) else set(required)
        st.warning(common.tr("auth.demo_data_closed" if "admin" in needed else "auth.demo_real_data_closed"))
        return False
    who = current()
    if auth.can_open(who[1] if who else None, required):
        return True
    if who is not None:
        user = common.escape_markdown(who[0])
        st.error(common.tr("auth.forbidden", user=user, role=_role_text(required)))
        return False
    if how == "oidc":
        st.info(common.tr("auth.sign_in_needed", role=_role_text(required)))
        for provider in auth.oidc_providers(auth_section()):
            label = common.tr("auth.sign_in_idp") + (f" ({provider})" if provider else "")
            args = (provider,) if provider else ()
            st.button(
                label, key=f"login_{provider or 'default'}", on_click=st.login, args=args, type="primary"
            )
        return False
    _password_form(required)
    return False


def enforce(required: str | Iterable[str] | None) -> None:
    """Stop a protected page unless the user may open it (call at the top of the page).

    ``app.py`` gates every page, and the page scripts live in ``views/``, which Streamlit
    never serves by URL (a ``pages/`` folder would be, without the entry point; a test fails
    if one appears). This check inside the page is a second line of defence should a page
    script ever run without the gate; it draws nothing when allowed.
    """
    try:
        allowed = has_role(required)
    except GeoError as exc:
        _config_error(exc)
        st.stop()
    if not allowed:
        st.error(common.tr("auth.sign_in_needed", role=_role_text(required or "viewer")))
        st.page_link("app.py", label=common.tr("auth.sign_in"), icon="🔑")
        st.stop()


def sidebar() -> None:
    """Show the signed-in user and a sign-out button (nothing when nobody is signed in)."""
    try:
        who = current()
    except GeoError:
        return
    if who is None:
        return
    with st.sidebar:
        sep = "、" if common.lang() == "zh" else ", "
        roles = sep.join(common.tr(f"auth.role_{r}") for r in sorted(who[1])) or "-"
        st.caption(common.tr("auth.signed_in_as", user=common.escape_markdown(who[0]), roles=roles))
        if st.button(common.tr("auth.sign_out"), key="sign_out"):
            for key in (_SESSION_KEY, _SINCE_KEY, _SEEN_KEY):
                st.session_state.pop(key, None)
            if mode() == "oidc":
                st.logout()
            st.rerun()
