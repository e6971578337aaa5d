"""Import reports and their messages: message codes of ``geo/strings/ingest.toml``, in zh and en.

Every problem an import finds is a message code plus parameters, rendered in the user's
language when shown (:func:`message_text`); the English text is kept beside the code for
the CLI and JSON. :class:`ImportReport` is what happened to every row of one file.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from geo import datums, i18n, store
from geo.errors import InputError
from geo.schema import STATION_KINDS

IMPORT_TABLES: Final = ("stations", "workplaces", "campaign", "checkins")
"""Tables a file can be imported into."""
MODES: Final = ("replace", "append")
"""``replace`` swaps the table for the file's rows; ``append`` adds them to the current table."""


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return message parameters as JSON-able scalars (numbers and text; anything else as text)."""
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}


class ImportFileError(InputError):
    """A problem with a whole uploaded file, as a message code of ``geo/strings/ingest.toml``.

    ``str(exc)`` is the English message (CLI, JSON); :func:`error_text` gives the report's
    error in the user's language from ``code`` and ``params``.
    """

    def __init__(self, code: str, **params: Any) -> None:  # noqa: ANN401 - message values
        self.code = code
        self.params = plain_params(params)
        super().__init__(i18n.t(f"ingest.{code}", "en", **self.params))


@dataclass
class ImportReport:
    """What happened to every row of one file.

    Attributes
    ----------
    table : str
        Target table (``stations``, ``workplaces``, ``campaign``, ``checkins``).
    file : str
        The uploaded file's base name, sanitised, for display only (never used as a path).
    sha256 : str
        SHA-256 of the uploaded bytes.
    rows_in, accepted, rejected : int
        Data rows found, rows accepted, rows rejected; ``accepted + rejected == rows_in``.
    rejections : list of dict
        ``{"row", "field", "reason", "code", "params"}`` per problem (see :func:`issue`;
        ``reason`` is English, :func:`reason_text` gives it in Chinese); a row may have several.
    warnings : list of dict
        The same for fixes that kept a row (``row`` is ``None`` for file-wide notes).
    mapping : dict
        Source header → field used.
    version : str or None
        The dataset version written, ``None`` until committed (or when nothing was written).
    error : str or None
        A problem with the whole file, in English; then nothing is imported.
    error_code, error_params : str or None, dict
        The same as a message code of ``geo/strings/ingest.toml`` (see :func:`error_text`);
        ``None`` for a problem with the options rather than the file.
    sheet : str
        The XLSX sheet read (``""`` for other formats).
    """

    table: str
    file: str = ""
    sha256: str = ""
    format: str = ""
    encoding: str = ""
    crs: str = "wgs84"
    mode: str = "replace"
    rows_in: int = 0
    accepted: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    error: str | None = None
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    sheet: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-able values."""
        return {
            "table": self.table,
            "file": self.file,
            "sha256": self.sha256,
            "format": self.format,
            "encoding": self.encoding,
            "crs": self.crs,
            "mode": self.mode,
            "rows_in": self.rows_in,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejections": self.rejections,
            "warnings": self.warnings,
            "mapping": self.mapping,
            "version": self.version,
            "error": self.error,
            "error_code": self.error_code,
            "error_params": self.error_params,
            "sheet": self.sheet,
        }

    def summary(self) -> dict[str, Any]:
        """Return the counts (for manifests and the audit log), without the row lists."""
        return {
            "rows_in": self.rows_in,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "warnings": len(self.warnings),
        }


Note = tuple[str, dict[str, Any]]  # a message code of geo/strings/ingest.toml and its parameters


def issue(row: int | None, fld: str, code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One report item: ``row``, ``field``, English ``reason`` and ``code`` + ``params``.

    ``code`` names a message of ``geo/strings/ingest.toml``; :func:`reason_text` renders it
    in the user's language from ``params``.
    """
    plain = plain_params(params)
    return {
        "row": row,
        "field": fld,
        "reason": message_text(code, plain, "en"),
        "code": code,
        "params": plain,
    }


def message_text(code: str, params: Mapping[str, Any], lang: str = i18n.DEFAULT_LANG) -> str:
    """Render message ``code`` of ``geo/strings/ingest.toml`` in ``lang``.

    Code values among the parameters are shown by their label: ``field`` (an import
    field), ``kind`` (a station kind).
    """
    shown = dict(params)
    if "field" in shown:
        shown["field"] = field_label(str(shown["field"]), lang)
    if "kind" in shown:
        shown["kind"] = STATION_KINDS.label(str(shown["kind"]), lang)
    return i18n.t(f"ingest.{code}", lang, **shown)


def reason_text(item: Mapping[str, Any], lang: str = i18n.DEFAULT_LANG) -> str:
    """Return the reason of a report item (rejection or warning) in ``lang``."""
    code = item.get("code")
    if not code:
        return str(item.get("reason", ""))
    return message_text(str(code), item.get("params") or {}, lang)


def error_text(report: ImportReport, lang: str = i18n.DEFAULT_LANG) -> str:
    """Return the report's file-level error in ``lang`` (``""`` when there is none)."""
    if report.error is None:
        return ""
    if report.error_code is None:
        return report.error
    return message_text(report.error_code, report.error_params, lang)


def field_label(field: str, lang: str = i18n.DEFAULT_LANG) -> str:
    """Return the name of an import field (``"lat"``, ``"lat/lng"``…) in ``lang``.

    A field of no known name (e.g. a column of the file itself) is returned as it is.
    """
    key = "ingest.field_" + field.replace("/", "")
    return i18n.t(key, lang) if key in i18n.strings() else field


def check_crs(crs: str) -> str:
    """Return the normalised datum name (``wgs84``, ``gcj02``, ``bd09``) or raise :class:`InputError`."""
    name = str(crs).strip().lower().replace("-", "").replace("_", "")
    if name not in datums.CRS_NAMES:
        raise InputError(f"crs={crs!r} is not a known datum; use one of {', '.join(datums.CRS_NAMES)}")
    return name


def check_table(table: str) -> None:
    """Raise :class:`InputError` unless ``table`` is one of :data:`IMPORT_TABLES`."""
    if table not in IMPORT_TABLES:
        raise InputError(f"cannot import into {table!r}; choose one of {', '.join(IMPORT_TABLES)}")


_LOG = logging.getLogger("geo.ingest")


def log_audit(data_dir: Path, user: str, action: str, detail: Mapping[str, Any]) -> None:
    """Copy an audit entry into the readable log (SQLite) of the data page, after the change.

    The record of a change that writes a version is the version's own ``audit.json``
    (written before the switch); a failure here (a full disk) is logged, not raised: the
    change has happened and its record is safe.
    """
    try:
        store.append_audit(data_dir, str(user)[:100], action, detail)
    except (sqlite3.Error, OSError):
        _LOG.exception(
            "the audit log in %s could not be appended (%s); the version records it", data_dir, action
        )
