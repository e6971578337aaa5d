"""The whole import: read → map → check (:func:`prepare`, the preview) → write a version (:func:`commit`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from geo import i18n, store
from geo.errors import GeoError, InputError
from geo.ingest.guard import DEFAULT_READ_MEMORY_MB
from geo.ingest.mapping import FIELDS, apply_overrides, detect_mapping, missing_fields, parse_map
from geo.ingest.read import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    SourceFrame,
    read_source,
    safe_file_name,
    too_many_rows,
)
from geo.ingest.report import (
    MODES,
    ImportFileError,
    ImportReport,
    check_crs,
    check_table,
    field_label,
    issue,
    log_audit,
    reason_text,
)
from geo.ingest.validation import to_schema, validate
from geo.schema import OPTIONAL_COLUMNS, TABLES


@dataclass
class Prepared:
    """A validated import, ready to :func:`commit` (or to show as a preview)."""

    report: ImportReport
    frame: pd.DataFrame
    source: SourceFrame | None
    base_version: str | None
    rejected_positions: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


def prepare(
    data_dir: Path,
    data: bytes,
    file_name: str,
    table: str,
    *,
    crs: str = "wgs84",
    encoding: str = "auto",
    sheet: str | None = None,
    mapping: Sequence[str] | Mapping[str, str] | None = None,
    mode: str = "replace",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_memory_mb: int = DEFAULT_READ_MEMORY_MB,
) -> Prepared:
    """Read and validate an uploaded file without writing anything (the preview).

    Parameters
    ----------
    data_dir : Path
        The data directory (its current version is the base of the import).
    data : bytes
        The uploaded file.
    file_name : str
        The uploaded name: a format hint and, sanitised, the name shown in the manifest.
    table, crs, encoding, sheet, mode
        See :func:`read_source` and :func:`validate`.
    mapping : mapping or sequence of "header=field", optional
        Overrides of the detected column mapping.
    max_rows, max_bytes : int
        Import limits (``Settings.max_import_rows``, ``Settings.max_upload_mb``).
    max_memory_mb : int
        Memory the file's reader may use (see :func:`geo.ingest.guard.run_capped`).

    Returns
    -------
    Prepared
        Never raises for the file's content: problems with the whole file end in
        ``report.error`` (with ``error_code``). When no column is recognised the file
        is still returned as ``source`` (``report.mapping`` empty), so a page can ask
        for the mapping.
    """
    check_table(table)
    report = ImportReport(
        table=table, file=safe_file_name(file_name), sha256=store.sha256_of(data), mode=mode, crs=crs
    )
    base = store.current_version(data_dir)
    try:
        if mode not in MODES:
            raise InputError(f"mode={mode!r}: use one of {', '.join(MODES)}")
        crs = check_crs(crs)
        report.crs = crs
        source = read_source(
            data,
            file_name,
            table,
            encoding=encoding,
            sheet=sheet,
            max_rows=max_rows,
            max_bytes=max_bytes,
            max_memory_mb=max_memory_mb,
        )
        report.format, report.encoding, report.sheet = source.format, source.encoding, source.sheet
        if len(source.frame) > max_rows:
            raise too_many_rows(max_rows)
        columns = list(source.frame.columns)
        cols = apply_overrides(detect_mapping(columns, table), parse_map(mapping), columns, table)
        if not cols:
            # The page shows the file and asks for the mapping; the CLI says how to give it.
            shown = "、".join(map(str, columns[:30]))
            fields = ", ".join(FIELDS[table])
            exc = (
                ImportFileError(
                    "file_no_columns_sheet",
                    columns=shown,
                    fields=fields,
                    sheet=source.sheet,
                    sheets="、".join(source.sheets),
                )
                if len(source.sheets) > 1
                else ImportFileError("file_no_columns", columns=shown, fields=fields)
            )
            report.error, report.error_code, report.error_params = str(exc), exc.code, exc.params
            return Prepared(report, pd.DataFrame(), source, base)
        need = missing_fields(cols, table)
        existing = None
        station_ids = None
        if base is not None and (mode == "append" or table == "checkins"):
            if mode == "append":
                existing = store.read_table(
                    data_dir, table, base, columns=[*TABLES[table].columns, *OPTIONAL_COLUMNS.get(table, {})]
                )
            if table == "checkins":
                station_ids = set(
                    store.read_table(data_dir, "stations", base, columns=["station_id"])["station_id"].astype(
                        str
                    )
                )
        frame, checked, rejected_pos = validate(
            source, table, cols, crs=crs, existing=existing, mode=mode, station_ids=station_ids
        )
        if need:
            checked.warnings.insert(
                0, issue(None, ",".join(need), "columns_missing", {"fields": ", ".join(need)})
            )
        checked.file, checked.sha256, checked.sheet = report.file, report.sha256, source.sheet
        if existing is not None and len(frame):
            frame = pd.concat([to_schema(existing, TABLES[table]), frame], ignore_index=True)
        return Prepared(checked, frame, source, base, rejected_pos)
    except GeoError as exc:
        report.error = str(exc)
        if isinstance(exc, ImportFileError):
            report.error_code, report.error_params = exc.code, exc.params
    except (MemoryError, RecursionError) as exc:
        _fail(report, ImportFileError("file_complex", detail=type(exc).__name__))
    except Exception as exc:  # a damaged file must end in a report, whatever the reader raised
        _fail(report, ImportFileError("file_unexpected", detail=f"{type(exc).__name__}: {str(exc)[:200]}"))
    return Prepared(report, pd.DataFrame(), None, base)


SESSION_MAX_UPLOADS: Final = 30
"""Different files one app session may have checked (each costs a full read and check)."""
SESSION_MAX_UPLOAD_FACTOR: Final = 10
"""One app session may have checked at most this many times the upload limit, in bytes."""


def upload_fits(seen: Mapping[str, int], sha256: str, size: int, *, max_files: int, max_bytes: int) -> bool:
    """Return whether one more upload fits a session's budget (a file already checked is free).

    Parameters
    ----------
    seen : mapping
        SHA-256 → size in bytes of the files the session has had checked.
    sha256, size
        The new upload.
    max_files, max_bytes : int
        The session's budget (see :data:`SESSION_MAX_UPLOADS`, :data:`SESSION_MAX_UPLOAD_FACTOR`).
    """
    if sha256 in seen:
        return True
    return len(seen) + 1 <= max_files and sum(seen.values()) + size <= max_bytes


def _fail(report: ImportReport, exc: ImportFileError) -> None:
    report.error, report.error_code, report.error_params = str(exc), exc.code, exc.params


def commit(data_dir: Path, prepared: Prepared, user: str) -> ImportReport:
    """Write a prepared import as a new dataset version and log it in the audit trail.

    Nothing is written when the report has an error or no accepted row. The previous
    versions stay on disk (roll back with :func:`rollback`).

    Raises
    ------
    geo.store.StaleBaseError
        If the dataset changed since :func:`prepare` (re-check the file then); the check
        and the write hold the data directory's writer lock, so no change slips between.
    """
    r = prepared.report
    if r.error is not None or r.accepted == 0:
        if r.error is None:
            r.warnings.append(issue(None, "file", "nothing_accepted", {}))
        return r
    if r.version is not None:
        raise InputError(
            f"this file was already imported as version {r.version}; upload it again to re-import"
        )
    manifest = {
        "source": {
            "kind": "import",
            "table": r.table,
            "file": r.file,
            "sha256": r.sha256,
            "mode": r.mode,
            "crs": r.crs,
            "encoding": r.encoding,
            "format": r.format,
        },
        "user": str(user)[:100],
        "import": r.summary(),
    }
    detail = {"table": r.table, "file": r.file, "sha256": r.sha256, "mode": r.mode, **r.summary()}
    r.version = store.write_version(
        data_dir,
        {r.table: prepared.frame},
        manifest,
        base_version=prepared.base_version,
        check_base=True,
        audit={"user": str(user)[:100], "action": "import", "detail": detail},
    )
    log_audit(data_dir, user, "import", {"version": r.version, **detail})
    return r


def import_bytes(
    data_dir: Path,
    data: bytes,
    file_name: str,
    table: str,
    *,
    user: str,
    dry_run: bool = False,
    **options: Any,  # noqa: ANN401 - see prepare()
) -> ImportReport:
    """Prepare and (unless ``dry_run``) commit one file; see :func:`prepare` for ``options``."""
    prepared = prepare(data_dir, data, file_name, table, **options)
    return prepared.report if dry_run else commit(data_dir, prepared, user)


def rejected_rows(prepared: Prepared, lang: str = "en") -> pd.DataFrame:
    """Return the rejected rows as in the file, with their row number and reasons (in ``lang``) first.

    The two first columns are named in ``lang`` (``row``/``reason``, ``行号``/``原因``).
    """
    src = prepared.source
    row_col, reason_col = i18n.t("ingest.col_row", lang), i18n.t("ingest.col_reason", lang)
    if src is None or not len(prepared.rejected_positions):
        return pd.DataFrame(columns=[row_col, reason_col])
    items = prepared.report.rejections
    reasons = (
        pd.DataFrame(
            {
                "row": [r["row"] for r in items],
                "text": [f"{field_label(r['field'], lang)}: {reason_text(r, lang)}" for r in items],
            }
        )
        .groupby("row")["text"]
        .agg("; ".join)
    )
    rows = src.rows[prepared.rejected_positions]
    out = src.frame.iloc[prepared.rejected_positions].reset_index(drop=True)
    while row_col in out.columns or reason_col in out.columns:  # a file column of that name
        row_col, reason_col = f"[{row_col}]", f"[{reason_col}]"
    out.insert(0, reason_col, pd.Series(rows).map(reasons).to_numpy())
    out.insert(0, row_col, rows)
    return out


def rejected_rows_csv(prepared: Prepared, lang: str = "en") -> bytes:
    """Return :func:`rejected_rows` as CSV bytes (UTF-8 BOM, formula-safe)."""
    from geo.export import to_csv_bytes

    return to_csv_bytes(rejected_rows(prepared, lang))


CANDIDATE_FIELDS: Final = ("name", "lat", "lng", "lnglat")
"""Fields of a siting candidates file (``name`` optional; coordinates as two columns or one)."""


def read_candidates(
    data: bytes,
    file_name: str,
    *,
    crs: str = "wgs84",
    encoding: str = "auto",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[pd.DataFrame, ImportReport]:
    """Read a file of candidate sites for siting through the importer's checks.

    The same reader (CSV in UTF-8/GBK/GB18030, XLSX, GeoJSON, GeoParquet; size and row
    limits), header mapping (纬度/经度/经纬度/名称...) and coordinate checks (numbers, swapped
    lat/lng, inside China, GCJ-02/BD-09 → WGS-84) as a station import; nothing is written.

    Parameters
    ----------
    data : bytes
        The file's content.
    file_name : str
        Its name (a format hint).
    crs : str
        Datum of the coordinates (``wgs84``, ``gcj02``, ``bd09``).
    encoding : str
        CSV encoding (see :data:`geo.ingest.read.ENCODINGS`).
    max_rows, max_bytes : int
        Limits, as for an import.

    Returns
    -------
    (pandas.DataFrame, ImportReport)
        Accepted candidates (``name``, ``lat``, ``lng`` in WGS-84; a missing name is
        ``候选点 N`` after its row) and the report of every row (rejections and coordinate
        warnings).

    Raises
    ------
    geo.errors.InputError
        For a problem with the whole file (format, size, no coordinate columns), or when
        no row is usable; the message says which rows failed and why.
    """
    source = read_source(
        data, file_name, "stations", encoding=encoding, max_rows=max_rows, max_bytes=max_bytes
    )
    if len(source.frame) > max_rows:
        raise too_many_rows(max_rows)
    columns = list(source.frame.columns)
    mapping = {c: f for c, f in detect_mapping(columns, "stations").items() if f in CANDIDATE_FIELDS}
    if not ({"lat", "lng"} <= set(mapping.values()) or "lnglat" in mapping.values()):
        raise ImportFileError(
            "file_no_columns", columns="、".join(map(str, columns[:30])), fields=", ".join(CANDIDATE_FIELDS)
        )
    frame = source.frame.copy()
    names = [c for c, f in mapping.items() if f == "name"]
    label = pd.Series([f"候选点 {r}" for r in source.rows], index=frame.index, dtype=object)
    if names:
        frame[names[0]] = frame[names[0]].where(frame[names[0]].notna(), label)
    else:
        frame["__name"] = label
        mapping["__name"] = "name"
    checked = SourceFrame(
        frame, source.rows, source.format, source.encoding, source.bad_rows, [], source.sheet
    )
    accepted, report, _ = validate(checked, "stations", mapping, crs=crs)
    report.warnings = [w for w in report.warnings if w["field"] in ("lat/lng", "lat", "lng", "lnglat")]
    report.file, report.sha256 = safe_file_name(file_name), store.sha256_of(data)
    if report.accepted == 0:
        first = "; ".join(f"row {x['row']}: {x['reason']}" for x in report.rejections[:5])
        raise InputError(f"{report.file}: no usable candidate site ({first or 'no rows'})")
    out = accepted[["name", "lat", "lng"]].astype({"name": object})
    return out.reset_index(drop=True), report
