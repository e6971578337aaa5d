"""Importing the registries union offices keep: read, map columns, validate, write a version.

A county office's file is messy: Excel or a GBK CSV, Chinese or English headers, a title
row above the header, coordinates copied from AMap (GCJ-02) or Baidu (BD-09), swapped
columns, blank rows. The import is one pipeline whatever the format:

1. :func:`read_source` (``read``) turns the bytes (CSV in UTF-8 / UTF-8 with BOM / GBK /
   GB18030, XLSX read in read-only mode, GeoJSON, GeoParquet) into a frame of text cells
   with the row number a person sees in the file (header = row 1 in a spreadsheet;
   feature 1 in GeoJSON / GeoParquet).
2. :func:`detect_mapping` (``mapping``) maps source headers to fields (名称 → ``name``,
   经度 → ``lng``...).
3. :func:`validate` (``validation``, with the cell checks of ``checks``) checks every row of
   the table with one vectorised path and converts coordinates to WGS-84. Each row ends
   either accepted or rejected with its reasons; fixes that keep a row (swapped lat/lng,
   unknown kind kept as other) are warnings.
4. :func:`commit` (``pipeline``) writes a new dataset version (the previous ones are kept)
   and an audit entry; :func:`import_bytes` does 1–4 in one call.

Single-station edits, rollback and the audit log's text are in ``edits``; message codes
and :class:`ImportReport` in ``report``.

Invariant: ``accepted + rejected == rows_in`` in every :class:`ImportReport`, and nothing
is written unless the report is clean enough to write (at least one accepted row, no
file-level error). Problems with the whole file (unknown format, too big, no usable
columns) end in a report with ``error`` set, never in an unexpected exception.
"""

from __future__ import annotations

from geo.errors import GeoError, InputError
from geo.ingest.edits import audit_text, close_station, hours_text, rollback, save_station, station_changes
from geo.ingest.mapping import FIELDS, REQUIRED, apply_overrides, crs_hint, detect_mapping, missing_fields
from geo.ingest.pipeline import (
    SESSION_MAX_UPLOAD_FACTOR,
    SESSION_MAX_UPLOADS,
    Prepared,
    commit,
    import_bytes,
    prepare,
    read_candidates,
    rejected_rows,
    rejected_rows_csv,
    upload_fits,
)
from geo.ingest.read import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    ENCODINGS,
    MAX_COLUMNS,
    MAX_XLSX_EXPANSION,
    SourceFrame,
    best_sheet,
    read_source,
    safe_file_name,
    xlsx_sheets,
)
from geo.ingest.report import (
    IMPORT_TABLES,
    MODES,
    ImportFileError,
    ImportReport,
    error_text,
    field_label,
    issue,
    message_text,
    reason_text,
)
from geo.ingest.validation import (
    COAST_SNAP_DEG,
    DEFAULT_SEATS,
    EARTH_RADIUS_M,
    MAX_FIELD_CHARS,
    MAX_NAME_CHARS,
    NEAR_DUPLICATE_M,
    OTHER_AMENITY,
    OTHER_KIND,
    to_schema,
    validate,
)

__all__ = [
    "COAST_SNAP_DEG",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_SEATS",
    "EARTH_RADIUS_M",
    "ENCODINGS",
    "FIELDS",
    "IMPORT_TABLES",
    "MAX_COLUMNS",
    "MAX_FIELD_CHARS",
    "MAX_NAME_CHARS",
    "MAX_XLSX_EXPANSION",
    "MODES",
    "NEAR_DUPLICATE_M",
    "OTHER_AMENITY",
    "OTHER_KIND",
    "REQUIRED",
    "SESSION_MAX_UPLOADS",
    "SESSION_MAX_UPLOAD_FACTOR",
    "GeoError",
    "ImportFileError",
    "ImportReport",
    "InputError",
    "Prepared",
    "SourceFrame",
    "apply_overrides",
    "audit_text",
    "best_sheet",
    "close_station",
    "commit",
    "crs_hint",
    "detect_mapping",
    "error_text",
    "field_label",
    "hours_text",
    "import_bytes",
    "issue",
    "message_text",
    "missing_fields",
    "prepare",
    "read_candidates",
    "read_source",
    "reason_text",
    "rejected_rows",
    "rejected_rows_csv",
    "rollback",
    "safe_file_name",
    "save_station",
    "station_changes",
    "to_schema",
    "upload_fits",
    "validate",
    "xlsx_sheets",
]
