"""驿站图 Station Atlas — Streamlit entry point: language, first-run data, page router.

Run with ``make run`` (app and JSON API in one process, see ``asgi.py``) or
``streamlit run app.py`` (app only).
"""

from __future__ import annotations

import os

import streamlit as st

from geo import i18n, store, synth
from pages import common

st.set_page_config(page_title="驿站图 Station Atlas", page_icon="🏠", layout="wide")

# ---- language (Chinese by default) ----------------------------------------------------------
if "lang" not in st.session_state:
    st.session_state["lang"] = st.query_params.get("lang", i18n.DEFAULT_LANG)
with st.sidebar:
    st.segmented_control(
        i18n.t("app.language", st.session_state["lang"]),
        options=list(i18n.LANGS),
        format_func=lambda code: {"zh": "中文", "en": "English"}[code],
        key="lang",
    )
if not st.session_state.get("lang"):  # segmented_control can be cleared: fall back to Chinese
    st.session_state["lang"] = i18n.DEFAULT_LANG
tr = common.tr

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
    ("pages/overview.py", "nav.overview", "🗺️", "nav.public", None),
    ("pages/nearest.py", "nav.nearest", "📍", "nav.public", None),
    ("pages/coverage.py", "nav.coverage", "🧭", "nav.planning", "planner"),
    ("pages/campaign.py", "nav.campaign", "🧧", "nav.planning", "leader"),
    ("pages/data.py", "nav.data", "🗂️", "nav.admin", "admin"),
]

sections: dict[str, list[st.Page]] = {}
for path, key, icon, section, _role in PAGES:
    if not os.path.exists(os.path.join(os.path.dirname(__file__), path)):
        continue
    page = st.Page(path, title=tr(key), icon=icon, url_path=key.split(".")[1], default=key == "nav.overview")
    sections.setdefault(tr(section), []).append(page)

with st.sidebar:
    st.markdown(f"### {tr('app.title')}")
    st.caption(tr("app.subtitle"))

st.navigation(sections).run()
