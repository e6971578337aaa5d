"""数据管理 / Data: import with a validation report, versions and rollback, single-station edits.

Imports, rollbacks and the audit log need the admin role; planners (and admins) add, edit
and close single stations. Every change is a new dataset version with an audit entry, and
is refused when the data changed since the user looked at it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from geo import datums, ingest, schema, store
from geo.errors import GeoError
from views import auth_ui, common

auth_ui.enforce(("planner", "admin"))  # app.py gates too; this covers a direct script run
tr, lang = common.tr, common.lang()
cfg = common.settings()
ddir = common.data_dir()
current = store.current_version(ddir)
# The version the user saw on the previous run: a click acts on what was shown then.
seen = st.session_state.get("data_seen_version", current)

st.title(tr("data.title"))
st.caption(tr("data.intro"))
common.dataset_caption()
# Always one element here, message or not: the tabs below keep their place in the page, and
# with it the tab the user is on.
flash_box = st.empty()
if flash := st.session_state.pop("data_flash", None):
    (flash_box.error if flash[0] == "error" else flash_box.success)(flash[1])
is_admin = auth_ui.has_role("admin")
if not is_admin:
    st.info(tr("data.admin_only"))
names = ["import", "versions", "stations", "audit"] if is_admin else ["stations"]
tabs = dict(zip(names, st.tabs([tr(f"data.tab_{n}") for n in names]), strict=True))


def done(message: str, kind: str = "success") -> None:
    """Show ``message`` after a rerun that shows the new version everywhere (caption included)."""
    st.session_state["data_flash"] = (kind, message)
    st.session_state.pop("data_prepared", None)
    st.rerun()


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
    df["row"] = df["row"].astype("Int64").astype("string").fillna("")  # file-wide notes have no row
    labels = {"row": tr("data.col_row"), "field": tr("data.col_field"), "reason": tr("data.col_reason")}
    st.dataframe(df.rename(columns=labels), hide_index=True, width="stretch")


def prepared_for(data: bytes, name: str, options: dict[str, Any]) -> ingest.Prepared:
    """Read and check the upload once per file and options (a rerun must not re-check 100k rows)."""
    key = (store.sha256_of(data), name, current, tuple(sorted((k, repr(v)) for k, v in options.items())))
    cached = st.session_state.get("data_prepared")
    if cached is None or cached[0] != key:
        with st.spinner(tr("data.checking")):
            prepared = ingest.prepare(
                ddir,
                data,
                name,
                max_rows=cfg.max_import_rows,
                max_bytes=cfg.max_upload_mb * 1024 * 1024,
                **options,
            )
        cached = (key, prepared)
        st.session_state["data_prepared"] = cached
    return cached[1]


def sheet_choice(data: bytes, table: str) -> str | None:
    """Let the user pick the sheet of a workbook (default: the one naming the most fields)."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    key = ("sheets", store.sha256_of(data), table)
    if st.session_state.get("data_sheets", (None,))[0] != key:
        try:
            sheets = ingest.xlsx_sheets(data, table, max_bytes=cfg.max_upload_mb * 1024 * 1024)
        except GeoError:
            sheets = {}  # the check below reports what is wrong with the file
        st.session_state["data_sheets"] = (key, sheets)
    sheets = st.session_state["data_sheets"][1]
    if len(sheets) < 2:
        return None
    order = list(sheets)
    return st.selectbox(
        tr("data.sheet"),
        order,
        index=order.index(ingest.best_sheet(sheets)),
        format_func=lambda s: tr("data.sheet_option", name=s, n=sheets[s]),
        key=f"data_sheet_{key[1][:16]}_{table}",
    )


# ---- import ---------------------------------------------------------------------------------
if "import" in tabs:
    with tabs["import"]:
        c1, c2, c3, c4 = st.columns(4)
        table = c1.selectbox(
            tr("data.table"),
            ingest.IMPORT_TABLES,
            format_func=lambda t: tr(f"data.table_{t}"),
            key=common.lang_key("data_table"),
        )
        mode = c2.selectbox(
            tr("data.mode"),
            ("append", "replace"),  # appending is the default: a county's file must not replace the nation
            format_func=lambda m: tr(f"data.mode_{m}"),
            key=common.lang_key("data_mode"),
        )
        crs = c3.selectbox(
            tr("data.crs"),
            ("wgs84", "gcj02", "bd09"),
            format_func=lambda c: tr(f"data.crs_{c}"),
            key=common.lang_key("data_crs"),
        )
        encoding = c4.selectbox(
            tr("data.encoding"),
            ingest.ENCODINGS,
            format_func=lambda e: tr("data.encoding_auto") if e == "auto" else e,
            key=common.lang_key("data_encoding"),
        )
        upload = st.file_uploader(
            tr("data.upload", mb=cfg.max_upload_mb, rows=f"{cfg.max_import_rows:,}"),
            type=["csv", "txt", "xlsx", "xls", "geojson", "json", "parquet"],
            max_upload_size=cfg.max_upload_mb,
            key=f"data_upload_{st.session_state.get('data_uploads', 0)}",
        )
        data = upload.getvalue() if upload is not None else b""
        if len(data) > cfg.max_upload_mb * 1024 * 1024:  # enforced here too, not only by the server
            st.error(tr("data.too_big", size=f"{len(data) / 1048576:.1f}", mb=cfg.max_upload_mb))
        elif upload is not None:
            sheet = sheet_choice(data, table)
            map_key = f"data_map_{store.sha256_of(data)[:16]}_{table}_{sheet}"
            overrides = st.session_state.get(map_key, {})
            options = {"table": table, "crs": crs, "encoding": encoding, "mode": mode, "sheet": sheet}
            prepared = prepared_for(data, upload.name, {**options, "mapping": overrides})
            r, src = prepared.report, prepared.source
            if r.error is not None:
                st.error(tr("data.file_error", message=common.escape_markdown(ingest.error_text(r, lang))))
            if src is not None:
                need = ingest.missing_fields(r.mapping, table)
                with st.expander(tr("data.mapping"), expanded=bool(need) or r.error is not None):
                    if need and r.error is None:
                        st.warning(tr("data.mapping_unsure", fields=", ".join(need)))
                    fields = ["", *ingest.FIELDS[table]]
                    chosen: dict[str, str] = {}
                    cols = st.columns(3)
                    for i, col in enumerate(src.frame.columns):
                        now = r.mapping.get(col, overrides.get(str(col), ""))
                        pick = cols[i % 3].selectbox(
                            common.escape_markdown(str(col)),  # a header from the file: Markdown-escaped
                            fields,
                            index=fields.index(now) if now in fields else 0,
                            format_func=lambda f: field_choice(f) if f else tr("data.ignore_column"),
                            key=f"{map_key}_{i}",
                        )
                        chosen[str(col)] = pick or "-"
                    if chosen != overrides:  # re-check the file with the mapping the user chose
                        st.session_state[map_key] = chosen
                        st.rerun()
                st.caption(tr("data.preview"))
                head = src.frame.head(20)
                preview = head.astype(object).where(head.notna(), "")  # blank cells blank, not "None"
                preview.index = pd.Index(src.rows[: len(head)], name=tr("data.col_row"))
                st.dataframe(preview, width="stretch")
            if r.error is None:
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
                else:
                    removed = store.read_manifest(ddir).get("row_counts", {}).get(table, 0) if current else 0
                    agreed = True
                    if mode == "replace":
                        st.warning(
                            tr("data.replace_warning", n=f"{removed:,}", table=tr(f"data.table_{table}"))
                        )
                        agreed = st.checkbox(tr("data.replace_confirm", n=f"{removed:,}"))
                    label = "confirm_replace" if mode == "replace" else "confirm"
                    if st.button(
                        tr(f"data.{label}", n=f"{r.accepted:,}", removed=f"{removed:,}"),
                        type="primary",
                        disabled=not agreed,
                    ):
                        try:
                            committed = ingest.commit(ddir, prepared, auth_ui.user_name())
                        except store.StaleBaseError:  # checked again against the data now in use
                            done(tr("data.changed"), "error")
                        else:
                            st.session_state["data_uploads"] = st.session_state.get("data_uploads", 0) + 1
                            done(tr("data.imported", version=committed.version, n=f"{committed.accepted:,}"))

# ---- versions and rollback ------------------------------------------------------------------
if "versions" in tabs:
    with tabs["versions"]:
        versions = store.list_versions(ddir)

        def source_label(kind: Any) -> str:
            return tr(f"data.source_{kind}") if kind in ("import", "demo", "edit") else str(kind or "")

        rows = [
            {
                "version": v.get("dataset_version"),
                "current": "✓" if v.get("current") else "",
                "created": str(v.get("created") or "").replace("T", " ")[:19],
                "user": v.get("user") or "",
                "source": source_label(v.get("source", {}).get("kind")),
                "file": v.get("source", {}).get("file") or "",
                "stations": v.get("row_counts", {}).get("stations"),
                "accepted": v.get("import", {}).get("accepted"),
                "rejected": v.get("import", {}).get("rejected"),
            }
            for v in reversed(versions)
        ]
        st.subheader(tr("data.versions_title"))
        table_df = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["version"])
        for c in ("stations", "accepted", "rejected"):
            if c in table_df:
                table_df[c] = table_df[c].astype("Int64").astype("string").fillna("")
        st.dataframe(
            table_df.rename(columns={c: tr(f"data.v_{c}") for c in table_df.columns}),
            hide_index=True,
            width="stretch",
        )
        ids = [r["version"] for r in rows]
        target = st.selectbox(tr("data.rollback_to"), ids, index=min(1, len(ids) - 1))
        if target and target != current:
            agreed = st.checkbox(tr("data.rollback_confirm", version=target, now=current))
            if st.button(tr("data.rollback"), disabled=not agreed):
                try:
                    now = ingest.rollback(ddir, target, auth_ui.user_name(), expect_current=seen)
                except store.StaleBaseError:
                    st.error(tr("data.changed_retry"))
                else:
                    done(tr("data.rolled_back", version=now))

# ---- single station: add / edit / close (planner or admin) ------------------------------------
with tabs["stations"]:
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
        key="data_station",  # a stable key: the choice survives the save that renames it
    )
    row = stations[stations["station_id"] == sid].iloc[0] if sid else None
    form_crs = st.selectbox(
        tr("data.f_crs"),
        ("wgs84", "gcj02", "bd09"),
        format_func=lambda c: tr(f"data.crs_{c}"),
        key=common.lang_key("data_form_crs"),
    )
    lat0, lng0 = (39.9042, 116.4074) if row is None else (float(row["lat"]), float(row["lng"]))
    if row is not None and form_crs != "wgs84":  # shown in the datum the user copies from
        shown_lat, shown_lng = datums.from_wgs84(lat0, lng0, form_crs)
        lat0, lng0 = round(float(shown_lat), 6), round(float(shown_lng), 6)
    kinds = [c.code for c in schema.STATION_KINDS]
    amenity_codes = [c.code for c in schema.AMENITIES]
    hours0 = (
        "08:00-20:00"
        if row is None
        else ("24小时" if bool(row["open_24h"]) else f"{row['opens']}-{row['closes']}")
    )
    shown: dict[str, Any] = {
        "name": "" if row is None else str(row["name"]),
        "kind": "union" if row is None else str(row["kind"]),
        "lat": lat0,
        "lng": lng0,
        "address": "" if row is None else str(row["address"] or ""),
        "hours": hours0,
        "amenities": [] if row is None else [str(a) for a in row["amenities"]],
        "seats": 0 if row is None else int(row["seats"]),
        "operator": "" if row is None else str(row["operator"] or ""),
        "smart": False if row is None else bool(row["smart"]),
    }
    with st.form("station_form"):
        name = st.text_input(tr("data.f_name"), value=shown["name"], max_chars=200)
        k1, k2, k3 = st.columns(3)
        kind = k1.selectbox(
            tr("data.f_kind"),
            kinds,
            index=kinds.index(shown["kind"]) if shown["kind"] in kinds else 0,
            format_func=lambda c: schema.STATION_KINDS.label(c, lang),
        )
        lat = k2.number_input(tr("data.f_lat"), value=lat0, format="%.6f")
        lng = k3.number_input(tr("data.f_lng"), value=lng0, format="%.6f")
        address = st.text_input(tr("data.f_address"), value=shown["address"], max_chars=500)
        hours_text = st.text_input(tr("data.f_hours"), value=hours0, max_chars=40)
        amen = st.multiselect(
            tr("data.f_amenities"),
            amenity_codes,
            default=[a for a in shown["amenities"] if a in amenity_codes],
            format_func=lambda c: schema.AMENITIES.label(c, lang),
            placeholder=tr("data.f_amenities_none"),
        )
        s1, s2, s3 = st.columns(3)
        seats = s1.number_input(tr("data.f_seats"), min_value=0, max_value=10_000, value=shown["seats"])
        operator = s2.text_input(tr("data.f_operator"), value=shown["operator"], max_chars=200)
        smart = s3.checkbox(tr("data.f_smart"), value=shown["smart"])
        saved = st.form_submit_button(tr("data.save"), type="primary")
    if saved:
        form = {
            "name": name,
            "kind": kind,
            "lat": lat,
            "lng": lng,
            "address": address,
            "hours": hours_text,
            "amenities": amen,
            "seats": seats,
            "operator": operator,
            "smart": smart,
        }
        # An edit sends only what the user changed: the rest of the row stays as stored.
        values: dict[str, Any] = {
            k: v
            for k, v in form.items()
            if row is None or (sorted(v) != sorted(shown[k]) if k == "amenities" else v != shown[k])
        }
        if "smart" in values:
            values["smart"] = "是" if smart else "否"
        if sid:
            values["station_id"] = sid
        try:
            rep = ingest.save_station(ddir, values, auth_ui.user_name(), crs=form_crs, base_version=seen)
        except store.StaleBaseError:
            st.error(tr("data.changed_retry"))
        else:
            if rep.version:
                done(tr("data.saved", version=rep.version))
            elif rep.rejections:
                st.error(tr("data.not_saved"))
                issues_table(rep.rejections)
            else:
                st.info(tr("data.unchanged"))
    if sid:
        reason = st.text_input(tr("data.close_reason"), max_chars=500)
        shown_name = common.escape_markdown(str(row["name"]) if row is not None else sid)
        agreed = st.checkbox(tr("data.close_confirm", name=shown_name))
        if st.button(tr("data.close"), disabled=not agreed):
            try:
                version = ingest.close_station(ddir, sid, auth_ui.user_name(), reason, base_version=seen)
            except store.StaleBaseError:
                st.error(tr("data.changed_retry"))
            else:
                done(tr("data.closed", version=version))

# ---- audit log ------------------------------------------------------------------------------
if "audit" in tabs:
    with tabs["audit"]:
        audit = store.read_audit(ddir).head(200)
        described = [
            ingest.audit_text(a, d, lang) for a, d in zip(audit["action"], audit["detail"], strict=True)
        ]
        st.dataframe(
            pd.DataFrame(
                {
                    tr("data.a_created"): audit["created"].astype(str).str.replace("T", " ").str.slice(0, 19),
                    tr("data.a_user"): audit["user"],
                    tr("data.a_action"): [a for a, _ in described],
                    tr("data.a_detail"): [t for _, t in described],
                }
            ),
            hide_index=True,
            width="stretch",
        )

st.session_state["data_seen_version"] = current
