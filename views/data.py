"""数据管理 / Data: import with a validation report, versions and rollback, single-station edits.

Imports and rollbacks need the admin role; planners (and admins) add, edit and close
single stations. Every change is a new dataset version with an audit entry.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from geo import ingest, schema, store
from geo.errors import GeoError
from views import auth_ui, common

auth_ui.enforce(("planner", "admin"))  # app.py gates too; this covers a direct script run
tr, lang = common.tr, common.lang()
cfg = common.settings()
ddir = common.data_dir()

st.title(tr("data.title"))
st.caption(tr("data.intro"))
common.dataset_caption()
is_admin = auth_ui.has_role("admin")
if not is_admin:
    st.info(tr("data.admin_only"))
tabs = st.tabs(
    [tr("data.tab_import"), tr("data.tab_versions"), tr("data.tab_stations"), tr("data.tab_audit")]
)


def field_choice(field: str) -> str:
    label = ingest.field_label(field, lang)
    return field if label == field else f"{label} ({field})"


def issues_table(items: list[dict]) -> None:
    shown = [
        {
            **item,
            "field": ingest.field_label(str(item["field"]), lang),
            "reason": ingest.reason_text(item, lang),
        }
        for item in items[:2000]
    ]
    df = pd.DataFrame(shown, columns=["row", "field", "reason"])
    labels = {"row": tr("data.col_row"), "field": tr("data.col_field"), "reason": tr("data.col_reason")}
    st.dataframe(df.rename(columns=labels), hide_index=True, width="stretch")


# ---- import ---------------------------------------------------------------------------------
with tabs[0]:
    if is_admin:
        c1, c2, c3, c4 = st.columns(4)
        table = c1.selectbox(
            tr("data.table"), ingest.IMPORT_TABLES, format_func=lambda t: tr(f"data.table_{t}")
        )
        mode = c2.selectbox(tr("data.mode"), ingest.MODES, format_func=lambda m: tr(f"data.mode_{m}"))
        crs = c3.selectbox(
            tr("data.crs"), ("wgs84", "gcj02", "bd09"), format_func=lambda c: tr(f"data.crs_{c}")
        )
        encoding = c4.selectbox(
            tr("data.encoding"),
            ingest.ENCODINGS,
            format_func=lambda e: tr("data.encoding_auto") if e == "auto" else e,
        )
        upload = st.file_uploader(
            tr("data.upload", mb=cfg.max_upload_mb, rows=f"{cfg.max_import_rows:,}"),
            type=["csv", "txt", "xlsx", "geojson", "json", "parquet"],
            max_upload_size=cfg.max_upload_mb,
        )
        data = upload.getvalue() if upload is not None else b""
        if len(data) > cfg.max_upload_mb * 1024 * 1024:  # enforced here too, not only by the server
            st.error(tr("data.too_big", size=f"{len(data) / 1048576:.1f}", mb=cfg.max_upload_mb))
        elif upload is not None:
            map_key = f"data_map_{store.sha256_of(data)[:16]}_{table}"
            overrides = st.session_state.get(map_key, {})
            prepared = ingest.prepare(
                ddir,
                data,
                upload.name,
                table,
                crs=crs,
                encoding=encoding,
                mode=mode,
                mapping=overrides,
                max_rows=cfg.max_import_rows,
                max_bytes=cfg.max_upload_mb * 1024 * 1024,
            )
            r = prepared.report
            if r.error is not None:
                st.error(tr("data.file_error", message=r.error))
            else:
                src = prepared.source
                assert src is not None
                need = ingest.missing_fields(r.mapping, table)
                with st.expander(tr("data.mapping"), expanded=bool(need)):
                    if need:
                        st.warning(tr("data.mapping_unsure", fields=", ".join(need)))
                    fields = ["", *ingest.FIELDS[table]]
                    chosen: dict[str, str] = {}
                    cols = st.columns(3)
                    for i, col in enumerate(src.frame.columns):
                        current = r.mapping.get(col, "")
                        pick = cols[i % 3].selectbox(
                            str(col),
                            fields,
                            index=fields.index(current) if current in fields else 0,
                            format_func=lambda f: field_choice(f) if f else tr("data.ignore_column"),
                            key=f"{map_key}_{i}",
                        )
                        chosen[str(col)] = pick or "-"
                    if chosen != overrides:  # re-check the file with the mapping the user chose
                        st.session_state[map_key] = chosen
                        st.rerun()
                st.caption(tr("data.preview"))
                st.dataframe(src.frame.head(20), hide_index=True, width="stretch")
                m1, m2, m3, m4 = st.columns(4)
                m1.metric(tr("data.rows_in"), f"{r.rows_in:,}")
                m2.metric(tr("data.accepted"), f"{r.accepted:,}")
                m3.metric(tr("data.rejected"), f"{r.rejected:,}")
                m4.metric(tr("data.warnings"), f"{len(r.warnings):,}")
                if r.rejections:
                    st.subheader(tr("data.rejections_title"))
                    issues_table(r.rejections)
                    st.download_button(
                        tr("data.download_rejected"),
                        ingest.rejected_rows_csv(prepared, lang),
                        file_name="rejected_rows.csv",
                        mime="text/csv",
                    )
                if r.warnings:
                    st.subheader(tr("data.warnings_title"))
                    issues_table(r.warnings)
                if r.accepted == 0:
                    st.warning(tr("data.nothing"))
                elif st.button(tr("data.confirm", n=f"{r.accepted:,}"), type="primary"):
                    try:
                        done = ingest.commit(ddir, prepared, auth_ui.user_name())
                    except GeoError:
                        st.error(tr("data.changed"))
                    else:
                        st.success(tr("data.imported", version=done.version))

# ---- versions and rollback ------------------------------------------------------------------
with tabs[1]:
    if is_admin:
        versions = store.list_versions(ddir)
        rows = [
            {
                "version": v.get("dataset_version"),
                "current": v.get("current"),
                "created": v.get("created"),
                "user": v.get("user"),
                "source": v.get("source", {}).get("kind"),
                "file": v.get("source", {}).get("file", ""),
                "stations": v.get("row_counts", {}).get("stations"),
                "accepted": v.get("import", {}).get("accepted"),
                "rejected": v.get("import", {}).get("rejected"),
            }
            for v in reversed(versions)
        ]
        st.subheader(tr("data.versions_title"))
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        ids = [r["version"] for r in rows]
        target = st.selectbox(tr("data.rollback_to"), ids, index=min(1, len(ids) - 1))
        if st.button(tr("data.rollback"), disabled=target == store.current_version(ddir)):
            now = ingest.rollback(ddir, target, auth_ui.user_name())
            st.success(tr("data.rolled_back", version=now))
            st.rerun()

# ---- single station: add / edit / close (planner or admin) ------------------------------------
with tabs[2]:
    stations = common.stations()
    query = st.text_input(tr("data.station_pick"), max_chars=100).strip()
    hits = (
        stations[
            stations["station_id"].str.contains(query, regex=False)
            | stations["name"].str.contains(query, regex=False)
        ].head(50)
        if query
        else stations.head(0)
    )
    choices = ["", *hits["station_id"].tolist()]
    labels = dict(zip(hits["station_id"], hits["name"], strict=True))
    sid = st.selectbox(
        tr("data.station_choose"),
        choices,
        format_func=lambda s: f"{s} {labels[s]}" if s else tr("data.station_new"),
    )
    row = stations[stations["station_id"] == sid].iloc[0] if sid else None
    kinds = [c.code for c in schema.STATION_KINDS]
    amenity_codes = [c.code for c in schema.AMENITIES]
    with st.form("station_form"):
        name = st.text_input(tr("data.f_name"), value="" if row is None else row["name"], max_chars=200)
        k1, k2, k3 = st.columns(3)
        kind = k1.selectbox(
            tr("data.f_kind"),
            kinds,
            index=kinds.index(row["kind"]) if row is not None and row["kind"] in kinds else 0,
            format_func=lambda c: schema.STATION_KINDS.label(c, lang),
        )
        lat = k2.number_input(
            tr("data.f_lat"), value=39.9042 if row is None else float(row["lat"]), format="%.6f"
        )
        lng = k3.number_input(
            tr("data.f_lng"), value=116.4074 if row is None else float(row["lng"]), format="%.6f"
        )
        address = st.text_input(
            tr("data.f_address"), value="" if row is None else row["address"], max_chars=500
        )
        hours_default = (
            "08:00-20:00"
            if row is None
            else ("24小时" if bool(row["open_24h"]) else f"{row['opens']}-{row['closes']}")
        )
        hours_text = st.text_input(tr("data.f_hours"), value=hours_default, max_chars=40)
        amen = st.multiselect(
            tr("data.f_amenities"),
            amenity_codes,
            default=[] if row is None else [a for a in row["amenities"] if a in amenity_codes],
            format_func=lambda c: schema.AMENITIES.label(c, lang),
            placeholder=tr("data.f_amenities_none"),
        )
        s1, s2, s3 = st.columns(3)
        seats = s1.number_input(
            tr("data.f_seats"), min_value=0, max_value=10_000, value=0 if row is None else int(row["seats"])
        )
        operator = s2.text_input(
            tr("data.f_operator"), value="" if row is None else row["operator"], max_chars=200
        )
        smart = s3.checkbox(tr("data.f_smart"), value=False if row is None else bool(row["smart"]))
        saved = st.form_submit_button(tr("data.save"), type="primary")
    if saved:
        values = {
            "name": name,
            "kind": kind,
            "lat": lat,
            "lng": lng,
            "address": address,
            "hours": hours_text,
            "amenities": amen,
            "seats": seats,
            "operator": operator,
            "smart": "是" if smart else "否",
        }
        if sid:
            values["station_id"] = sid
        rep = ingest.save_station(ddir, values, auth_ui.user_name())
        if rep.version:
            st.success(tr("data.saved", version=rep.version))
        else:
            st.error(tr("data.not_saved"))
            issues_table(rep.rejections)
    if sid:
        reason = st.text_input(tr("data.close_reason"), max_chars=500)
        if st.button(tr("data.close")):
            st.success(
                tr("data.closed", version=ingest.close_station(ddir, sid, auth_ui.user_name(), reason))
            )

# ---- audit log ------------------------------------------------------------------------------
with tabs[3]:
    if is_admin:
        st.dataframe(store.read_audit(ddir).head(200), hide_index=True, width="stretch")
