"""找驿站 / Nearest station: where am I → the nearest open stations → navigate (mobile-first)."""

from __future__ import annotations

import dataclasses
import io
from urllib.parse import urlsplit

import segno
import streamlit as st
from streamlit_folium import st_folium

from components.geolocation import locate
from geo import datums, i18n, maps, navigation
from geo.errors import InputError
from geo.nearest import minute_of_day_now
from geo.schema import AMENITIES, AMENITY_ICONS, REPORT_PROBLEMS, STATION_KINDS
from views import common

tr, lang = common.tr, common.lang()
ss = st.session_state
MAX_WALK_MIN, MAX_RIDE_MIN = 120, 180


def md(text: object) -> str:
    """Escape Markdown so station names and addresses show as typed (one helper for all pages)."""
    return common.escape_markdown(str(text or ""))


def set_here(lat: float, lng: float, label: str) -> None:
    ss["nearest_here"] = (float(lat), float(lng), label)


st.title(tr("nearest.title"))
st.caption(tr("nearest.intro"))
common.dataset_caption()


@st.cache_data(show_spinner=False, max_entries=8)
def qr_png(url: str) -> bytes:
    """PNG of a QR code for ``url`` (error correction M: survives a scuffed poster)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


# ---- the phone app at /m/ (same server), and its QR code for posters at stations ----------
_page = urlsplit(st.context.url or "http://localhost:8501/")
app_url = f"{_page.scheme}://{_page.netloc}/m/" + ("?lang=en" if lang == "en" else "")
st.link_button(tr("courier.page_link"), app_url, width="stretch")
with st.expander(tr("courier.qr_title")):
    st.image(qr_png(app_url), caption=tr("courier.qr_caption", url=app_url), width=240)
    if _page.hostname in ("localhost", "127.0.0.1", "::1"):
        st.caption(tr("courier.qr_loopback"))

# ---- where am I: browser location, place search, typed coordinates, a tap on the map -------
st.subheader(tr("nearest.where"))
gps = locate(tr("nearest.locate"), tr("nearest.locating"), key="nearest_gps")
if gps and gps.get("ts") != ss.get("nearest_gps_ts"):
    ss["nearest_gps_ts"] = gps.get("ts")
    if "error" in gps:
        ss["nearest_gps_error"] = gps["error"]
    else:
        ss.pop("nearest_gps_error", None)
        acc = round(float(gps.get("accuracy_m") or 0))
        set_here(gps["lat"], gps["lng"], tr("nearest.src_gps", acc=acc))
if err := ss.get("nearest_gps_error"):
    key = {"insecure": "geo_insecure", "denied": "geo_denied"}.get(err, "geo_failed")
    st.warning(tr(f"nearest.{key}"))

tab_search, tab_coords = st.tabs([tr("nearest.tab_search"), tr("nearest.tab_coords")])
with tab_search:
    query = st.text_input(tr("nearest.search_label"), key="nearest_query", max_chars=40)
    if query.strip():
        found = common.search_places(query, 6)
        if found.empty:
            st.info(tr("nearest.search_none", q=md(query.strip())))
        for i, r in enumerate(found.itertuples()):
            label = f"{r.label} · {r.detail}" if r.detail else str(r.label)
            if st.button(md(label), key=f"nearest_place_{i}", width="stretch"):
                set_here(r.lat, r.lng, str(r.label))
with tab_coords:
    crs_names = {"wgs84": "crs_wgs84", "gcj02": "crs_gcj02", "bd09": "crs_bd09"}
    with st.form("nearest_coords", border=False):
        text = st.text_input(tr("nearest.coords_label"), placeholder="39.9087, 116.3975")
        crs = st.radio(
            tr("nearest.coords_crs"), list(crs_names), format_func=lambda c: tr(f"nearest.{crs_names[c]}")
        )
        if st.form_submit_button(tr("nearest.coords_go"), width="stretch"):
            try:
                set_here(*navigation.parse_coordinates(text, crs), tr("nearest.src_coords"))
            except InputError as exc:
                st.error(str(exc))
st.caption(tr("nearest.tap_hint"))

# ---- filters -------------------------------------------------------------------------------
with st.expander(tr("nearest.filters")):
    open_only = st.toggle(
        tr("nearest.open_now_only"),
        value=True,
        key="nearest_open_only",
        help=tr("nearest.open_now_only_help"),
    )
    needs = st.pills(
        tr("nearest.need"),
        [a for a in AMENITIES.values if a != "other"],  # "other services" is no need a courier can name
        selection_mode="multi",
        format_func=lambda c: f"{AMENITY_ICONS.get(c, '')} {AMENITIES.label(c, lang)}",
        key=common.lang_key("nearest_needs"),
    )
    kinds = st.multiselect(
        tr("nearest.kinds"),
        STATION_KINDS.values,
        format_func=lambda c: STATION_KINDS.label(c, lang),
        placeholder=tr("coverage.all"),
        key=common.lang_key("nearest_kinds"),
    )

# ---- results -------------------------------------------------------------------------------
here = ss.get("nearest_here")
records: list[dict] = []
request = None
now_min = minute_of_day_now()
if here is None:
    st.info(tr("nearest.pick_first"))
else:
    st.markdown(tr("nearest.here_from", label=md(here[2])) + f"  `{here[0]:.5f}, {here[1]:.5f}`")
    try:
        request = navigation.parse_request(
            here[0], here[1], k=5, amenities=needs, kinds=kinds, open_at=None, require_china=True
        )
        request = dataclasses.replace(request, open_at_min=now_min if open_only else None)
        records = common.nearest_records(request, now_min=now_min)
    except InputError as exc:
        st.error(str(exc))
    st.subheader(tr("nearest.results"))
    if not records and request:
        st.warning(tr("nearest.no_results"))


def status_text(r: dict) -> str:
    if r.get("hours_known") is False:
        return tr("nearest.hours_unknown")
    if r["open_24h"]:
        return tr("nearest.open_24h")
    if r["open_now"]:
        if r["closes_in_min"] is not None and r["closes_in_min"] <= 30:
            return tr("nearest.closing_soon", m=r["closes_in_min"], t=r["closes"])
        return tr("nearest.open_until", t=r["closes"])
    return tr("nearest.closed_until", t=r["opens"])


def amenities_text(r: dict) -> str:
    """The card's services line: icons and labels, or "services unknown" (never "none" for unknown)."""
    if r.get("amenities_known") is False:
        return tr("nearest.amenities_unknown")
    return md(" ".join(f"{AMENITY_ICONS.get(a, '')}{AMENITIES.label(a, lang)}" for a in r["amenities"]))


for i, r in enumerate(records):
    with st.container(border=True, key=f"nearest_card_{i}"):
        distance = i18n.format_distance(r["distance_m"], lang)
        st.markdown(f"**{i + 1}. {md(r['name'])}**  \n{distance} · {status_text(r)}")
        # Minutes beyond an hour or two of walking or riding are no help to anyone: say "far".
        if r["walk_min"] <= MAX_WALK_MIN:
            travel = tr("nearest.travel", walk=f"{r['walk_min']:.0f}", ride=f"{r['ride_min']:.0f}")
        elif r["ride_min"] <= MAX_RIDE_MIN:
            travel = tr("nearest.travel_ride", ride=f"{r['ride_min']:.0f}")
        else:
            travel = tr("nearest.travel_far")
        st.caption(travel, help=tr("nearest.travel_help"))
        st.caption(f"{amenities_text(r)}  \n📍 {md(r['address'])}")
        with st.container(horizontal=True, gap="small"):
            st.link_button(tr("nearest.nav_amap"), r["links"]["amap"], type="primary")
            st.link_button(tr("nearest.nav_baidu"), r["links"]["baidu"])
            st.link_button(tr("nearest.nav_osm"), r["links"]["osm"])
        with st.expander(tr("nearest.report")), st.form(f"nearest_report_{r['station_id']}", border=False):
            problem = st.radio(
                tr("nearest.report_problem"),
                REPORT_PROBLEMS.values,
                format_func=lambda c: REPORT_PROBLEMS.label(c, lang),
                horizontal=True,
            )
            note = st.text_area(
                tr("nearest.report_text"), max_chars=navigation.REPORT_TEXT_MAX_CHARS, height=80
            )
            if st.form_submit_button(tr("nearest.report_send")):
                try:
                    ok = common.submit_report(r["station_id"], problem, note)
                    (st.success if ok else st.warning)(
                        tr("nearest.report_thanks" if ok else "nearest.report_limited")
                    )
                except InputError as exc:
                    st.error(str(exc))

# ---- the map: my position, the results, a line to the first; a tap sets my position ---------
point = (here[0], here[1]) if here else None
m = common.nearest_map(point, records, lang)
key = f"nearest_map_{point[0]:.5f}_{point[1]:.5f}" if point else "nearest_map_china"


def take_click(click: dict | None) -> bool:
    """Make a new tap on the map my position; return whether it was new."""
    if not click or (click["lat"], click["lng"]) == ss.get("nearest_last_click"):
        return False
    ss["nearest_last_click"] = (click["lat"], click["lng"])
    lat, lng = click["lat"], click["lng"]
    if maps.tiles_use_gcj02(common.settings().tiles):  # the map was drawn in GCJ-02
        lat, lng = (float(v) for v in datums.gcj02_to_wgs84(lat, lng))
    set_here(lat, lng, tr("nearest.src_tap"))
    return True


# Taken in on_change, before the rerun, so one run (not two) answers a tap.
out = st_folium(
    m,
    height=420,
    width=None,
    returned_objects=["last_clicked"],
    key=key,
    on_change=lambda: take_click((ss.get(key) or {}).get("last_clicked")),
)
if take_click((out or {}).get("last_clicked")):
    st.rerun()
st.caption(tr("nearest.map_caption"))
common.credit()
