"""驿站图 Station Atlas — Streamlit entry point: language, first-run data, page router.

Run with ``make run`` (app and JSON API in one process, see ``asgi.py``) or
``streamlit run app.py`` (app only).
"""

from __future__ import annotations

import os

import streamlit as st

from geo import i18n, store, synth
from geo.errors import GeoError
from views import auth_ui, common

st.set_page_config(page_title="驿站图 Station Atlas", page_icon="🏠", layout="wide")

# ---- language (Chinese by default) ----------------------------------------------------------
# The widget owns session_state["lang"]; fix it up only *before* the widget is created
# (assigning to a widget's key after it exists raises StreamlitWidgetAlreadyInstantiatedError).
if st.session_state.get("lang") not in i18n.LANGS:
    wanted = st.query_params.get("lang", i18n.DEFAULT_LANG)
    st.session_state["lang"] = wanted if wanted in i18n.LANGS else i18n.DEFAULT_LANG
with st.sidebar:
    st.segmented_control(
        i18n.t("app.language", st.session_state["lang"]),
        options=list(i18n.LANGS),
        format_func=lambda code: {"zh": "中文", "en": "English"}[code],
        key="lang",
    )
tr = common.tr

# ---- a half-written [auth] stops the app (naming the missing keys), never falls back to demo -----
try:
    auth_ui.mode()
except GeoError as exc:
    st.error(tr("auth.config_error", message=common.escape_markdown(str(exc))))
    st.stop()

# ---- first run: generate the demo dataset with visible progress -----------------------------
if not store.has_data(common.data_dir()):
    scale = float(os.environ.get("GEO_DEMO_SCALE", "1.0"))
    with st.status(tr("app.first_run"), expanded=True) as status:
        bar = st.progress(0.0)
        tables = synth.generate(scale=scale, progress=lambda f, m: bar.progress(min(f, 1.0) * 0.9, m))
        store.write_version(
            common.data_dir(),
            tables,
            {
                "source": {"kind": "demo", "generator": "geo.synth", "label": "演示数据 / demo data"},
                "seed": 42,
                "scale": scale,
                "user": "app first run",
            },
        )
        bar.progress(1.0)
        status.update(label=tr("app.first_run_done"), state="complete")

# ---- pages ----------------------------------------------------------------------------------
PAGES = [
    # (file, nav key, icon, section, role needed to open it; None = public)
    ("views/overview.py", "nav.overview", "🗺️", "nav.public", None),
    ("views/nearest.py", "nav.nearest", "📍", "nav.public", None),
    ("views/coverage.py", "nav.coverage", "🧭", "nav.planning", "planner"),
    ("views/campaign.py", "nav.campaign", "🧧", "nav.planning", "leader"),
    # planners add / edit / close single stations there; imports and rollbacks need admin. In demo
    # mode (no users) pages needing admin stay closed unless GEO_DEMO_ADMIN=local (views/auth_ui.py)
    ("views/data.py", "nav.data", "🗂️", "nav.admin", ("planner", "admin")),
]

sections: dict[str, list[st.Page]] = {}
role_needed: dict[int, object] = {}
for path, key, icon, section, role in PAGES:
    if not os.path.exists(os.path.join(os.path.dirname(__file__), path)):
        continue
    page = st.Page(path, title=tr(key), icon=icon, url_path=key.split(".")[1], default=key == "nav.overview")
    sections.setdefault(tr(section), []).append(page)
    role_needed[id(page)] = role

with st.sidebar:
    st.markdown(f"### {tr('app.title')}")
    st.caption(tr("app.subtitle"))

# ---- sign-in: protected pages run only for a user with the role (views/auth_ui.py) ----------
chosen = st.navigation(sections)
auth_ui.sidebar()
if auth_ui.gate(role_needed.get(id(chosen), "admin")):  # unknown page: fail closed
    chosen.run()
