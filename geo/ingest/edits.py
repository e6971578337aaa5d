"""Single-station edits (add, edit, close), rollback, and the audit log in people's words.

Every edit goes through the import's validation path and writes a dataset version; the
audit entry records each changed field before and after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from geo import datums, i18n, store
from geo.errors import InputError
from geo.ingest.mapping import FIELDS
from geo.ingest.read import SourceFrame, cell_text
from geo.ingest.report import ImportReport, check_crs, field_label, issue, log_audit
from geo.ingest.validation import to_schema, validate
from geo.schema import AMENITIES, OPTIONAL_COLUMNS, STATION_KINDS, TABLES

_EDIT_FIELDS: Final = (
    "name",
    "kind",
    "lat",
    "lng",
    "address",
    "opens",
    "closes",
    "open_24h",
    "amenities",
    "seats",
    "operator",
    "opened_on",
    "smart",
)
"""Stored station columns a person edits (the audit log records their changes)."""
_HOURS_FIELDS: Final = ("hours", "opens", "closes", "open_24h")
_STATION_COLUMNS: Final = [*TABLES["stations"].columns, *OPTIONAL_COLUMNS["stations"]]
"""Stored station columns an edit reads and writes back (with ``amenities_known``)."""


def _station_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a stored station row as the text cells of a form (what :func:`validate` reads back)."""

    def text(v: Any) -> Any:  # noqa: ANN401 - a stored value
        return None if v is None or (not isinstance(v, list | np.ndarray) and pd.isna(v)) else cell_text(v)

    amenities = row.get("amenities")
    cells = {
        "station_id": text(row.get("station_id")),
        "name": text(row.get("name")),
        "kind": text(row.get("kind")),
        "lat": text(row.get("lat")),
        "lng": text(row.get("lng")),
        "address": text(row.get("address")),
        "hours": "24小时" if bool(row.get("open_24h")) else hours_text(row.get("opens"), row.get("closes")),
        "amenities": "、".join(map(str, amenities)) if amenities is not None and len(amenities) else None,
        "seats": text(row.get("seats")),
        "operator": text(row.get("operator")),
        "opened_on": text(row.get("opened_on")),
        "smart": "是" if bool(row.get("smart")) else "否",
    }
    if not bool(row.get("amenities_known", True)):
        del cells["amenities"]  # services unknown stay unknown unless the edit gives them
    return cells


def hours_text(opens: Any, closes: Any) -> str | None:  # noqa: ANN401 - stored cells
    """Return stored opening hours as text (``08:00-20:00``), ``None`` when unknown."""
    if opens is None or closes is None or pd.isna(opens) or pd.isna(closes):
        return None
    return f"{opens}-{closes}"


def _jsonable(v: Any) -> Any:  # noqa: ANN401 - a stored value
    if isinstance(v, list | tuple | np.ndarray):
        return [str(x) for x in v]
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v if isinstance(v, int | float | str | bool) else str(v)


def station_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{field: {"before": old, "after": new}}`` for the edited fields that differ.

    ``before`` is ``None`` for a new station (every field with a value is a change).
    """
    out: dict[str, dict[str, Any]] = {}
    for f in _EDIT_FIELDS:
        new = _jsonable(after.get(f))
        old = _jsonable(before.get(f)) if before is not None else None
        if isinstance(new, float) and isinstance(old, float) and abs(new - old) < 1e-9:
            continue
        if new != old and not (before is None and new in (None, "", [], False, 0)):
            out[f] = {"before": old, "after": new}
    return out


def _form_coordinates(
    given: dict[str, Any], old: Mapping[str, Any] | None, crs: str
) -> tuple[dict[str, Any], str]:
    """Convert a form's ``lat``/``lng`` from ``crs`` to WGS-84 before they meet stored WGS-84 cells.

    Returns the values and the datum left for :func:`validate` (``wgs84`` once converted;
    ``crs`` when a coordinate is not a number, which validation then rejects).
    """
    if crs == "wgs84" or "lnglat" in given:
        return given, crs
    if not ({"lat", "lng"} & set(given)):
        return given, "wgs84"  # only stored (WGS-84) coordinates: nothing to convert
    lat_in, lng_in = given.get("lat"), given.get("lng")
    if old is not None and (lat_in is None or lng_in is None):  # one coordinate edited: the other as shown
        shown_lat, shown_lng = datums.from_wgs84(float(old["lat"]), float(old["lng"]), crs)
        lat_in = float(shown_lat) if lat_in is None else lat_in
        lng_in = float(shown_lng) if lng_in is None else lng_in
    try:
        lat_f, lng_f = float(str(cell_text(lat_in))), float(str(cell_text(lng_in)))
    except ValueError:
        return given, crs
    if not (math.isfinite(lat_f) and math.isfinite(lng_f)):
        return given, crs
    wlat, wlng = datums.to_wgs84(lat_f, lng_f, crs)
    return {**given, "lat": float(wlat), "lng": float(wlng)}, "wgs84"


def save_station(
    data_dir: Path,
    values: Mapping[str, Any],
    user: str,
    *,
    crs: str = "wgs84",
    base_version: str | None = None,
) -> ImportReport:
    """Add or edit one station through the import validation path; write a version.

    An edit changes only the fields in ``values``: the others keep their stored values
    (opening date, a service the form does not offer...). The audit entry records each
    changed field before and after.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    values : mapping
        Station fields by name (``station_id`` of an existing station edits it; none or a
        new one adds a station). ``hours`` as text (``08:00-20:00``, ``24小时``),
        ``amenities`` as a list of codes or labels, other fields as in :data:`FIELDS`;
        numbers may be numpy scalars.
    user : str
        Who made the change (audit log).
    crs : str
        Datum of ``lat``/``lng`` in ``values`` (``wgs84``, ``gcj02``, ``bd09``); stored as WGS-84.
    base_version : str, optional
        The version the form was filled in on (default: the current one). When the data
        moved on since, nothing is written: :class:`geo.store.StaleBaseError`.

    Returns
    -------
    ImportReport
        ``version`` set when written; otherwise ``rejections`` say why (or a warning says
        nothing changed).
    """
    for k in values:
        if k not in FIELDS["stations"]:
            raise InputError(f"{k!r} is not a station field; fields: {', '.join(FIELDS['stations'])}")
    crs = check_crs(crs)
    base = base_version if base_version is not None else store.current_version(data_dir)
    current = store.read_table(data_dir, "stations", base, columns=_STATION_COLUMNS)
    sid = str(values.get("station_id") or "")
    hit = current.index[current["station_id"].astype(str) == sid] if sid else current.index[:0]
    old = current.loc[hit[0]].to_dict() if len(hit) else None
    given, crs = _form_coordinates(dict(values), old, crs)
    cells: dict[str, Any] = {}
    if old is not None:
        cells = _station_cells(old)
        if set(_HOURS_FIELDS) & set(given):
            for k in _HOURS_FIELDS:
                cells.pop(k, None)
        if "lnglat" in given:
            cells.pop("lat", None)
            cells.pop("lng", None)
    for k, v in given.items():
        if isinstance(v, list | tuple | np.ndarray):
            v = "、".join(map(str, v))
        cells[k] = cell_text(v) if v is not None else None
    source = SourceFrame(pd.DataFrame([cells], dtype=object), np.array([1], dtype=np.int64), "form")
    frame, report, _ = validate(
        source,
        "stations",
        {k: k for k in cells},
        crs=crs,
        existing=current,
        mode="append",
        keep_id=sid if old is not None else None,
    )
    report.file = "form"
    if report.accepted != 1:
        return report
    new = frame.iloc[[-1]]
    changes = station_changes(old, new.iloc[0].to_dict())
    if old is not None and not changes:
        report.warnings.append(issue(None, "file", "station_unchanged", {}))
        return report
    rest = to_schema(current, TABLES["stations"])
    if old is not None:
        rest = rest[rest["station_id"].astype(str) != sid]
    table = pd.concat([rest, new], ignore_index=True)
    new_id = str(new["station_id"].iloc[0])
    action = "edit" if old is not None else "add"
    detail = {"station_id": new_id, "name": str(new["name"].iloc[0]), "changes": changes}
    report.version = store.write_version(
        data_dir,
        {"stations": table},
        {
            "source": {
                "kind": "edit",
                "table": "stations",
                "file": "",
                "action": action,
                "station_id": new_id,
            },
            "user": str(user)[:100],
        },
        base_version=base,
        check_base=True,
        audit={"user": str(user)[:100], "action": f"station_{action}", "detail": detail},
    )
    log_audit(
        data_dir, user, f"station_{action}", {"version": report.version, "base_version": base, **detail}
    )
    return report


def close_station(
    data_dir: Path, station_id: str, user: str, reason: str = "", *, base_version: str | None = None
) -> str:
    """Remove a closed station from the current table as a new version; return its id.

    Earlier versions keep the station, so closing can be undone by rolling back.

    Parameters
    ----------
    base_version : str, optional
        The version the station was looked at on (default: the current one); when the
        data moved on since, nothing is written (:class:`geo.store.StaleBaseError`).

    Raises
    ------
    geo.errors.InputError
        If no station has ``station_id``.
    """
    base = base_version if base_version is not None else store.current_version(data_dir)
    current = store.read_table(data_dir, "stations", base, columns=_STATION_COLUMNS)
    keep = current["station_id"].astype(str) != str(station_id)
    if keep.all():
        raise InputError(f"no station with id {station_id!r} in the current dataset")
    closed = current.loc[~keep].iloc[0]
    detail = {"station_id": str(station_id), "name": str(closed["name"]), "reason": str(reason)[:500]}
    version = store.write_version(
        data_dir,
        {"stations": to_schema(current[keep], TABLES["stations"])},
        {
            "source": {
                "kind": "edit",
                "table": "stations",
                "file": "",
                "action": "close",
                "station_id": str(station_id),
            },
            "user": str(user)[:100],
        },
        base_version=base,
        check_base=True,
        audit={"user": str(user)[:100], "action": "station_close", "detail": detail},
    )
    log_audit(data_dir, user, "station_close", {"version": version, "base_version": base, **detail})
    return version


def rollback(data_dir: Path, version: str, user: str, *, expect_current: str | None = None) -> str:
    """Make ``version`` current again (audited with the version rolled back from); return it.

    ``expect_current`` is the version the user saw in use: when another change came
    in since, nothing happens (:class:`geo.store.StaleBaseError`).
    """
    version = store.check_version_id(version)
    before = expect_current if expect_current is not None else store.current_version(data_dir)
    store.set_current(data_dir, version, expect_current=before)
    log_audit(data_dir, user, "rollback", {"from": before, "version": version})
    return str(store.current_version(data_dir))


def _label(prefix: str, code: str, lang: str) -> str:
    """Return UI string ``prefix + code`` in ``lang``, or ``code`` when there is none."""
    key = prefix + code
    return i18n.t(key, lang) if key in i18n.strings() else code


_AUDIT_ACTIONS: Final = ("import", "rollback", "station_add", "station_edit", "station_close")


def audit_text(
    action: str, detail: str | Mapping[str, Any], lang: str = i18n.DEFAULT_LANG
) -> tuple[str, str]:
    """Return an audit entry as ``(action, what happened)`` in ``lang``, for people to read.

    Parameters
    ----------
    action : str
        The entry's action (``import``, ``rollback``, ``station_edit``...).
    detail : str or mapping
        The entry's detail (JSON text as stored, or already parsed).
    lang : str
        ``zh`` or ``en``.
    """
    if isinstance(detail, str):
        try:
            parsed = json.loads(detail)
        except ValueError:
            parsed = {}
        d: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    else:
        d = dict(detail)
    name = i18n.t(f"ingest.audit_{action}", lang) if action in _AUDIT_ACTIONS else action

    def shown(v: Any) -> str:  # noqa: ANN401 - a JSON value
        if v is None or v == "" or v == []:
            return "–"
        if isinstance(v, list):
            return "、".join(AMENITIES.label(str(x), lang) for x in v)
        return str(v)

    if action == "import":
        text = i18n.t(
            "ingest.audit_import_text",
            lang,
            file=d.get("file", ""),
            table=_label("data.table_", str(d.get("table", "")), lang),
            mode=_label("data.mode_", str(d.get("mode", "")), lang),
            accepted=d.get("accepted", 0),
            rejected=d.get("rejected", 0),
            version=d.get("version", ""),
        )
    elif action == "rollback":
        text = i18n.t(
            "ingest.audit_rollback_text", lang, before=d.get("from") or "–", version=d.get("version")
        )
    elif action in ("station_add", "station_edit", "station_close"):
        parts = []
        for f, ch in (d.get("changes") or {}).items():
            before, after = ch.get("before"), ch.get("after")
            if f == "kind":
                before = STATION_KINDS.label(str(before), lang) if before else before
                after = STATION_KINDS.label(str(after), lang) if after else after
            colon = ":" if lang == "zh" else ": "
            parts.append(f"{field_label(f, lang)}{colon}{shown(before)} → {shown(after)}")
        if d.get("reason"):
            parts.append(i18n.t("ingest.audit_reason", lang, reason=d["reason"]))
        text = i18n.t(
            "ingest.audit_station_text",
            lang,
            id=d.get("station_id", ""),
            name=d.get("name", ""),
            version=d.get("version", ""),
        )
        if parts:
            text += "; " + "; ".join(parts) if lang == "en" else ";" + ";".join(parts)
    else:
        text = ", ".join(f"{k}={v}" for k, v in d.items())
    return name, text
