"""全国概览 / Overview: national KPIs and a map that drills from provinces to H3 hexes."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from geo import i18n
from views import common, map_export_ui

tr, lang = common.tr, common.lang()
RADIUS_M = 1000.0

st.title(tr("overview.title"))
st.caption(tr("overview.intro"))
common.dataset_caption()

stats = common.overview_stats(RADIUS_M)
summary = stats["summary"]
provinces = stats["provinces"]

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(tr("overview.kpi_stations"), i18n.format_count(stats["stations"], lang))
c2.metric(
    tr("overview.kpi_24h"),
    i18n.format_count(stats["stations_24h"], lang),
    help=tr(
        "overview.kpi_24h_help", share=i18n.format_share(stats["stations_24h"] / max(stats["stations"], 1))
    ),
)
c3.metric(tr("overview.kpi_workplaces"), i18n.format_count(stats["workplaces"], lang))
c4.metric(tr("overview.kpi_workers"), i18n.format_count(summary["workers_total"], lang))
c5.metric(tr("overview.kpi_within"), i18n.format_share(summary["share"]), help=tr("overview.kpi_within_help"))

# ---- region choice: sidebar selectbox or a click on the map --------------------------------
names = dict(zip(provinces["adcode"], provinces["name"], strict=True))
options = ["", *sorted(names, key=lambda a: names[a])]
province_key = common.lang_key("overview_province")
clicked = st.session_state.pop("overview_clicked", None)
if clicked in names:
    st.session_state[province_key] = clicked
with st.sidebar:
    province = st.selectbox(
        tr("region.choose_province"),
        options,
        format_func=lambda a: names.get(a, tr("region.nation")),
        key=province_key,
    )

if province:
    st.subheader(tr("overview.map_title_province", province=common.escape_markdown(names[province])))
    if st.button(tr("overview.back_to_nation")):
        st.session_state[province_key] = ""
        st.rerun()
    m = common.overview_province_map(province, lang)
else:
    st.subheader(tr("overview.map_title_nation"))
    st.caption(tr("overview.map_hint"))
    m = common.overview_nation_map(RADIUS_M, lang)

out = st_folium(
    m,
    height=560,
    width=None,
    returned_objects=["last_active_drawing"],
    key=f"overview_map_{province or 'nation'}",
)
feature = (out or {}).get("last_active_drawing") or {}
hit = (feature.get("properties") or {}).get("adcode")
if not province and hit in names and hit != st.session_state.get("overview_last_hit"):
    st.session_state["overview_last_hit"] = hit
    st.session_state["overview_clicked"] = hit
    st.rerun()
map_export_ui.overview_buttons(province, names.get(province, ""), RADIUS_M)
common.credit()

# ---- region table ---------------------------------------------------------------------------
st.subheader(tr("overview.table_title"))
table = stats["counties"] if province else provinces
if province:
    table = table[table["province_adcode"] == province]
view = table.assign(share_pct=table["share"] * 100)[
    ["name", "stations", "workers", "stations_per_10k", "share_pct", "median_distance_m"]
].sort_values("stations_per_10k")
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_config={
        "name": tr("overview.col_region"),
        "stations": st.column_config.NumberColumn(tr("overview.col_stations"), format="%d"),
        "workers": st.column_config.NumberColumn(tr("overview.col_workers"), format="%d"),
        "stations_per_10k": st.column_config.NumberColumn(tr("overview.col_per10k"), format="%.2f"),
        "share_pct": st.column_config.ProgressColumn(
            tr("overview.col_share"), format="%.1f%%", min_value=0, max_value=100
        ),
        "median_distance_m": st.column_config.NumberColumn(tr("overview.col_median"), format="%.0f"),
    },
)
