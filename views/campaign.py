"""送温暖看板 / Campaign dashboard: KPIs against targets, maps over the campaign days, trends, exports."""

from __future__ import annotations

import datetime as dt
import time

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import campaign, export, hexes, i18n, maps, regions
from geo.schema import CATEGORIES, SPRING_FESTIVAL
from views import common, map_export_ui

tr, lang = common.tr, common.lang()
k = int(common.settings().k_anonymity)
HIDDEN = tr("campaign.withheld")
ALL_DAYS = tr("campaign.all_days")


def count(v: object) -> str:
    return HIDDEN if v is None or pd.isna(v) else i18n.format_count(float(v), lang)  # type: ignore[arg-type]


def funds(v: float) -> str:
    # One decimal at most keeps the card readable on a phone: 3405万元, 34.3亿元.
    return f"{i18n.format_count(v, 'zh', digits=1)}元" if lang == "zh" else i18n.format_yuan(v, lang)


st.title(tr("campaign.title"))
st.caption(tr("campaign.intro"))
common.dataset_caption()

# ---- filters ----------------------------------------------------------------------------------
with st.sidebar:
    year = st.selectbox(tr("campaign.year"), sorted(SPRING_FESTIVAL, reverse=True), key="campaign_year")
    cats = st.multiselect(
        tr("campaign.categories"),
        CATEGORIES.values,
        format_func=lambda c: CATEGORIES.label(c, lang),
        key=common.lang_key("campaign_cats"),
        placeholder=tr("coverage.all"),
    )
    provinces = regions.region_table("province").sort_values("adcode")
    pnames = dict(zip(provinces["adcode"], provinces["name"], strict=True))
    province = st.selectbox(
        tr("campaign.province"),
        ["", *pnames],
        format_func={"": tr("campaign.all_china"), **pnames}.get,
        key=common.lang_key("campaign_province"),
    )
    city = ""
    if province and common.campaign_child_level(province) == "city":
        cities = regions.region_table("city")
        cities = cities[cities["province_adcode"] == province].sort_values("adcode")
        cnames = dict(zip(cities["adcode"], cities["name"], strict=True))
        city = st.selectbox(
            tr("campaign.city"),
            ["", *cnames],
            format_func={"": tr("campaign.all_cities"), **cnames}.get,
            key=common.lang_key(f"campaign_city_{province}"),
        )
    lo, hi = campaign.campaign_window(year)
    d_from, d_to = st.slider(
        tr("campaign.dates"), lo, hi, (lo, hi), format="YYYY-MM-DD", key=f"campaign_dates_{year}"
    )
region = city or province
q = campaign.Filters(year, d_from, d_to, tuple(cats) or None, region or None).checked()
child = common.campaign_child_level(region)
map_res = campaign.res_for_region("county" if city else ("province" if province else "nation"))
# Every figure below comes from this one publication step: suppressed together, so that
# no withheld figure can be worked out from the others (geo.privacy).
view = common.campaign_view(q, child, map_res)
checkins = common.campaign_checkins(q, min(map_res, 7))  # None outside the check-in log

# ---- KPI cards --------------------------------------------------------------------------------
total = view.total
c1, c3, c4, c5 = st.columns(4)
c1.metric(tr("campaign.kpi_people"), count(total["people"]))
c3.metric(
    tr("campaign.kpi_funds"),
    HIDDEN if total["funds_yuan"] is None else funds(total["funds_yuan"]),
)
if view.target_people is None:
    c4.metric(tr("campaign.kpi_completion"), tr("campaign.no_target"), help=tr("campaign.no_target_help"))
else:
    c4.metric(
        tr("campaign.kpi_completion"),
        HIDDEN if view.completion is None else i18n.format_share(view.completion),
        help=tr("campaign.kpi_completion_help", target=i18n.format_count(view.target_people, lang)),
    )
if view.yoy_people is None:
    c5.metric(tr("campaign.kpi_yoy"), "–", help=tr("campaign.no_yoy"))
else:
    c5.metric(
        tr("campaign.kpi_yoy"),
        f"{view.yoy_people * 100:+.1f}%",
        help=tr("campaign.kpi_yoy_help", last=count(view.last["people"] if view.last else None)),
    )
c2, *cat_cols = st.columns(len(CATEGORIES) + 1)
c2.metric(tr("campaign.kpi_events"), count(total["events"]))
for col, code in zip(cat_cols, CATEGORIES.values, strict=True):
    fig = view.by_category.get(code)
    if fig is not None:
        col.metric(CATEGORIES.label(code, lang), count(fig["people"]))
if total["people"] == 0:
    st.info(tr("campaign.no_data"))


# ---- map: metric, view, day slider with play; colour classes locked over all days -------------
# A fragment: moving the day slider or playing reruns the map only, not the whole page.
@st.fragment
def map_section() -> None:
    st.subheader(tr("campaign.map_title"))
    m1, m2 = st.columns(2)
    metric = m1.radio(
        tr("campaign.metric"),
        ["people", "checkins"],
        horizontal=True,
        format_func={v: tr(f"campaign.metric_{v}") for v in ("people", "checkins")}.get,
        key=common.lang_key("campaign_metric"),
    )
    shown_as = m2.radio(
        tr("campaign.view"),
        ["hex", "region"],
        horizontal=True,
        format_func={v: tr(f"campaign.view_{v}") for v in ("hex", "region")}.get,
        key=common.lang_key("campaign_view"),
    )
    if metric == "checkins" and shown_as == "region":
        st.caption(tr("campaign.checkins_hex_only"))
        shown_as = "hex"
    if metric == "people":
        value_col, legend = "people", tr("campaign.legend_people")
        if shown_as == "hex":  # all days together hold more cells than one day: coarser if needed
            frames, res, whole, whole_res = view.hex_frames, view.frame_res, view.cells, view.cell_res
        else:
            frames, res, whole, whole_res = view.region_frames, map_res, view.regions, map_res
    else:
        value_col, legend = "visits", tr("campaign.legend_checkins")
        res = whole_res = checkins.res if checkins is not None else min(map_res, 7)
        frames = checkins.frames if checkins is not None else pd.DataFrame(columns=["h3", "date", "visits"])
        whole = checkins.cells if checkins is not None else pd.DataFrame(columns=["h3", "visits"])
        if frames.empty:
            start, end = campaign.checkin_window()
            st.info(tr("campaign.no_checkins", start=start, end=end))
    days = [d_from + dt.timedelta(days=i) for i in range((d_to - d_from).days + 1)]
    options = ["all", *(d.isoformat() for d in days)]
    day_key = common.lang_key("campaign_day")
    if (nxt := st.session_state.pop("campaign_next_day", None)) in options:
        st.session_state[day_key] = nxt
    if st.session_state.get(day_key) not in options:
        st.session_state[day_key] = "all"
    day = st.select_slider(
        tr("campaign.day"),
        options,
        key=day_key,
        format_func=lambda v: ALL_DAYS if v == "all" else v,
    )
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button(tr("campaign.play"), key="campaign_play"):
        st.session_state["campaign_playing"] = True
        day = options[1]
        st.session_state["campaign_next_day"] = day
        st.rerun(scope="fragment")
    if b2.button(tr("campaign.stop"), key="campaign_stop"):
        st.session_state["campaign_playing"] = False
    if day == "all":
        frame = whole
        bins = campaign.locked_bins(frame[value_col])
    else:
        frame = frames[pd.to_datetime(frames["date"]) == pd.Timestamp(day)] if len(frames) else frames
        bins = campaign.locked_bins(frames[value_col]) if len(frames) else campaign.locked_bins([])
    m = common.campaign_map(
        frame, "hex" if shown_as == "hex" else "region", value_col, bins, legend, HIDDEN, region
    )
    st_folium(m, returned_objects=[], height=520, width=None, key="campaign_map")
    if not st.session_state.get("campaign_playing"):
        st.download_button(
            tr("campaign.download_html"),
            lambda: maps.map_html(m).encode("utf-8"),
            f"campaign_{year}_{region or 'china'}_{day}_map.html",
            "text/html",
            key="campaign_dl_html",
        )
        # The export draws the frame on screen: the published figures of the view above.
        map_export_ui.campaign_buttons(frame, shown_as, value_col, bins, legend, HIDDEN, region, year, day)
    if shown_as == "hex":
        shown_res = whole_res if day == "all" else res
        key = "campaign.res_caption_all" if day == "all" else "campaign.res_caption"
        st.caption(tr(key, res=shown_res, area=f"{hexes.average_hexagon_area_km2(shown_res):.1f}"))
    st.caption(tr("campaign.withheld_note", k=k))
    common.credit()
    if st.session_state.get("campaign_playing"):
        i = options.index(day)
        if i + 1 < len(options):
            time.sleep(0.6)
            st.session_state["campaign_next_day"] = options[i + 1]
            st.rerun(scope="fragment")
        st.session_state["campaign_playing"] = False


map_section()

# ---- charts -----------------------------------------------------------------------------------
st.subheader(tr("campaign.trend_title"))
daily = view.daily
long = pd.concat(
    [
        pd.DataFrame(
            {
                "day_offset": daily["day_offset"],
                "people": daily["people"].astype("float64"),
                "year": tr("campaign.this_year", year=year),
            }
        ),
        pd.DataFrame(
            {
                "day_offset": daily["day_offset"],
                "people": daily["people_last"].astype("float64"),
                "year": tr("campaign.this_year", year=year - 1),
            }
        ),
    ]
)
st.altair_chart(
    alt.Chart(long)
    .mark_line(point=False)
    .encode(
        x=alt.X("day_offset:Q", title=tr("campaign.day_offset")),
        y=alt.Y("people:Q", title=tr("campaign.people_axis")),
        color=alt.Color(
            "year:N",
            title=None,
            scale=alt.Scale(
                domain=[tr("campaign.this_year", year=year), tr("campaign.this_year", year=year - 1)],
                range=["#c8102e", "#9e9e9e"],
            ),
        ),
    ),
    width="stretch",
)
g1, g2 = st.columns(2)
cats_df = pd.DataFrame(
    [
        {"category": CATEGORIES.label(c, lang), "people": v["people"]}
        for c, v in view.by_category.items()
        if v["people"] is not None
    ]
)
g1.markdown(f"**{tr('campaign.category_title')}**")
if len(cats_df):
    g1.bar_chart(cats_df, x="category", y="people", color="#c8102e", horizontal=True, x_label="", y_label="")
table = view.regions
if "completion" in table.columns:
    ranked = table.dropna(subset=["completion"]).assign(pct=lambda t: t["completion"].astype(float) * 100)
    top, bottom, label = ranked.nlargest(5, "pct"), ranked.nsmallest(5, "pct"), "pct"
    titles = (tr("campaign.top_title"), tr("campaign.bottom_title"))
else:
    ranked = table.dropna(subset=["people"]).astype({"people": "float64"})
    top, bottom, label = ranked.nlargest(5, "people"), ranked.nsmallest(5, "people"), "people"
    titles = (tr("campaign.top_people"), tr("campaign.bottom_people"))
with g2:
    for title, part in zip(titles, (top, bottom), strict=True):
        st.markdown(f"**{title}**")
        if len(part):
            st.bar_chart(
                part, x="name", y=label, color="#c8102e", horizontal=True, x_label="", y_label="", height=200
            )

# ---- region table and exports -----------------------------------------------------------------
st.subheader(tr("campaign.table_title"))
cols = {"name": "col_region", "people": "col_people", "events": "col_events", "funds_yuan": "col_funds"}
if "completion" in table.columns:
    cols |= {"target_people": "col_target", "completion": "col_completion"}
out = table.sort_values("people", ascending=False, na_position="last")[[*cols]].copy()
hidden = table.loc[out.index, "withheld"].to_numpy()
if "completion" in out.columns:
    out["completion"] = out["completion"].map(lambda v: None if pd.isna(v) else round(float(v) * 100, 1))
shown = out.copy()
for c in ("people", "events", "funds_yuan", "completion"):
    if c in shown.columns:
        shown[c] = shown[c].astype(object).where(~hidden, HIDDEN)
# Exports: a withheld figure is an empty cell, and the row says it is withheld.
out[tr("campaign.col_withheld")] = hidden
for c in ("people", "events", "target_people"):
    if c in shown.columns:
        shown[c] = shown[c].map(lambda v: v if isinstance(v, str) else count(v))
shown["funds_yuan"] = shown["funds_yuan"].map(
    lambda v: v if isinstance(v, str) else i18n.format_yuan(float(v), lang)
)
if "completion" in shown.columns:
    shown["completion"] = shown["completion"].map(
        lambda v: v if isinstance(v, str) else ("–" if pd.isna(v) else f"{v:.1f}%")
    )
out = out.rename(columns={c: tr(f"campaign.{v}") for c, v in cols.items()})
shown = shown.rename(columns={c: tr(f"campaign.{v}") for c, v in cols.items()})
st.dataframe(shown.astype(str), hide_index=True, width="stretch")
stem = f"campaign_{year}_{region or 'china'}"
e1, e2, _ = st.columns(3)
e1.download_button(tr("campaign.download_csv"), lambda: export.to_csv_bytes(out), f"{stem}.csv", "text/csv")
e2.download_button(
    tr("campaign.download_xlsx"), lambda: export.to_xlsx_bytes(out, "campaign"), f"{stem}.xlsx"
)

# ---- where demand outruns supply (check-ins per station per day) ------------------------------
st.subheader(tr("campaign.busiest_title"))
st.caption(tr("campaign.busiest_intro", res=checkins.res if checkins is not None else min(map_res, 7)))
busy = (
    checkins.busiest(15)
    if checkins is not None
    else pd.DataFrame(columns=["h3", "visits", "stations", "visits_per_station_day"])
)
st.dataframe(
    busy[["h3", "visits", "stations", "visits_per_station_day"]].astype(
        {"visits": "float64", "visits_per_station_day": "float64"}
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "h3": tr("campaign.col_cell"),
        "visits": st.column_config.NumberColumn(tr("campaign.col_visits"), format="%d"),
        "stations": st.column_config.NumberColumn(tr("campaign.col_stations"), format="%d"),
        "visits_per_station_day": st.column_config.NumberColumn(tr("campaign.col_vpsd"), format="%.1f"),
    },
)
