"""Sign-in for protected pages: password users (secrets / GEO_USERS) or OIDC via ``st.login``.

``app.py`` calls :func:`gate` with the role the chosen page needs before running it, and
:func:`sidebar` to show who is signed in. With no users and no identity provider the app
runs in local demo mode: every page opens, and protected pages say so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, Final

import streamlit as st

from geo import auth
from geo.errors import GeoError
from views import common

_SESSION_KEY = "auth_user"


# One pair per server process (a module is imported once): failed sign-ins per user+client
# (5 / 15 min) and per user from any client (20 / 15 min). Not st.cache_resource: clearing the
# caches must not reset the counts.
_LIMITERS: Final = (auth.RateLimiter(), auth.RateLimiter(max_failures=4 * auth.MAX_FAILURES))


def _limiters() -> tuple[auth.RateLimiter, auth.RateLimiter]:
    return _LIMITERS


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
    """Return ``oidc``, ``password`` or ``demo`` (no users, no identity provider)."""
    if auth.oidc_configured(auth_section()):
        return "oidc"
    return "password" if users() else "demo"


def current() -> tuple[str, frozenset[str]] | None:
    """Return ``(user name, roles)`` of the signed-in user, or ``None``."""
    if mode() == "oidc":
        if not getattr(st.user, "is_logged_in", False):
            return None
        email = str(st.user.get("email") or "")
        return email, auth.roles_for_email(auth_section().get("roles"), email)
    name = st.session_state.get(_SESSION_KEY)
    user = users().get(name) if name else None  # a user removed from the config loses access at once
    return (user.name, user.roles) if user else None


def user_name() -> str:
    """Who is acting, for manifests and the audit log (``local-demo`` in demo mode)."""
    who = current()
    return who[0] if who else "local-demo"


def _local_client() -> bool:
    """Whether the browser runs on this computer (Streamlit gives no address for loopback)."""
    return _client() == ""


def _demo_allows(required: str | Iterable[str]) -> bool:
    """In demo mode anyone may open any page, but what needs ``admin`` (data: import,
    rollback, edits) only from this computer: ``make run`` listens on the network."""
    needed = {required} if isinstance(required, str) else set(required)
    return "admin" not in needed or _local_client()


def has_role(required: str | Iterable[str] | None) -> bool:
    """Return whether the current user (anyone, in demo mode; see :func:`_demo_allows`) has ``required``."""
    if mode() == "demo":
        return required is None or _demo_allows(required)
    who = current()
    return auth.can_open(who[1] if who else None, required)


def _role_text(required: str | Iterable[str]) -> str:
    roles = [required] if isinstance(required, str) else list(required)
    return " / ".join(common.tr(f"auth.role_{r}") for r in roles)


def _client() -> str:
    try:
        ip = st.context.ip_address
    except AttributeError:
        return ""
    return ip if isinstance(ip, str) else ""  # None for loopback (a mock in AppTest): "" = this computer


def _password_form(required: str | Iterable[str]) -> None:
    st.info(common.tr("auth.sign_in_needed", role=_role_text(required)))
    per_client, overall = _limiters()
    with st.form("sign_in", clear_on_submit=True):
        name = st.text_input(common.tr("auth.name"), max_chars=64)
        password = st.text_input(common.tr("auth.password"), type="password", max_chars=256)
        submitted = st.form_submit_button(common.tr("auth.sign_in"), type="primary")
    if not submitted:
        return
    try:
        user = auth.authenticate(users(), name, password, per_client, _client(), overall)
    except auth.RateLimitedError as exc:
        st.error(common.tr("auth.rate_limited", minutes=max(1, round(exc.retry_after_s / 60))))
        return
    if user is None:
        st.error(common.tr("auth.failed"))
        return
    st.session_state[_SESSION_KEY] = user.name
    st.rerun()


def gate(required: str | Iterable[str] | None) -> bool:
    """Return whether the page needing ``required`` may run; otherwise draw the sign-in."""
    if required is None:
        return True
    try:
        how = mode()
    except GeoError as exc:  # a typo in the user list must not open the app: fail closed
        st.error(common.tr("auth.config_error", message=str(exc)))
        return False
    if how == "demo":
        if not _demo_allows(required):
            st.warning(common.tr("auth.demo_local_only"))
            return False
        st.info(common.tr("auth.demo_mode"))
        return True
    who = current()
    if auth.can_open(who[1] if who else None, required):
        return True
    if who is not None:
        st.error(common.tr("auth.forbidden", user=who[0], role=_role_text(required)))
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

    ``app.py`` gates every page, but Streamlit runs a ``pages/`` script directly, without
    the entry point, when a fresh server's first session opens its URL (multipage v1
    fallback). This check inside the page closes that gap; it draws nothing when allowed.
    """
    try:
        allowed = has_role(required)
    except GeoError as exc:
        st.error(common.tr("auth.config_error", message=str(exc)))
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
        st.caption(common.tr("auth.signed_in_as", user=who[0], roles=roles))
        if st.button(common.tr("auth.sign_out"), key="sign_out"):
            st.session_state.pop(_SESSION_KEY, None)
            if mode() == "oidc":
                st.logout()
            st.rerun()
