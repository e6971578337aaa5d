"""Reading uploaded files into text cells with the row numbers a person sees.

CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, XLSX read in read-only mode, GeoJSON and
GeoParquet all end in one :class:`SourceFrame`; every problem with the whole file is an
:class:`~geo.ingest.report.ImportFileError` naming what to do.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely

from geo.errors import GeoError, InputError
from geo.ingest.guard import DEFAULT_READ_MEMORY_MB, check_parquet, check_xlsx, run_capped
from geo.ingest.mapping import known_headers, norm_header
from geo.ingest.report import ImportFileError, Note, check_table

ENCODINGS: Final = ("auto", "utf-8", "gbk", "gb18030")
"""Text encodings accepted for CSV files (``auto`` detects BOM, UTF-8, GBK, GB18030)."""


MAX_COLUMNS: Final = 500
"""More columns than this is not a registry; the file is refused."""
DEFAULT_MAX_ROWS: Final = 1_000_000
"""Row limit of an import when the caller gives none (settings ``max_import_rows``)."""
DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024
"""Size limit of an import when the caller gives none (settings ``max_upload_mb``)."""
MAX_XLSX_EXPANSION: Final = 40
"""An XLSX may unpack to at most this many times the upload limit (zip-bomb guard)."""


CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


_SAFE_FILE_NAME: Final = re.compile(r"[^\w.\-()（）一-鿿 ]+")


@dataclass
class SourceFrame:
    """A file read into text cells.

    Attributes
    ----------
    frame : pandas.DataFrame
        One ``object`` column per source header (unique names), cells ``str`` or ``None``.
    rows : numpy.ndarray
        ``int64`` row number of each frame row as a person sees it in the file, shape ``(n,)``.
    format, encoding : str
        Detected format (``csv``, ``xlsx``, ``geojson``, ``geoparquet``) and text encoding.
    bad_rows : dict
        Rows that could not be read at all (undecodable, malformed): row → ``(message
        code, params)``. They count as rows of the file and are rejected.
    notes : list of tuple
        File-wide notes (title rows skipped, sheet used...) as ``(message code, params)``.
    sheet : str
        The XLSX sheet read (``""`` for other formats).
    sheets : tuple of str
        Every sheet of the workbook (empty for other formats).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    format: str
    encoding: str = ""
    bad_rows: dict[int, Note] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    sheet: str = ""
    sheets: tuple[str, ...] = ()


def safe_file_name(name: str | None) -> str:
    """Return a display-only base name: no directories, no markup, at most 100 characters.

    Never use the result to build a path; it is shown in the UI and stored in the manifest.
    """
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = _SAFE_FILE_NAME.sub("_", CONTROL.sub("", base)).strip(" .")
    return base[:100] or "upload"


def _sniff_format(data: bytes, file_name: str) -> str:
    ext = file_name.lower().rsplit(".", 1)[-1] if "." in file_name else ""
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "geoparquet"
    shown = safe_file_name(file_name)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("file_xls", file=shown)
    if ext in ("xlsx", "xlsm"):
        raise ImportFileError("file_xlsx_truncated", file=shown)
    if ext in ("parquet", "geoparquet"):
        raise ImportFileError("file_parquet_truncated", file=shown)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if ext in ("geojson", "json") or stripped.startswith(b"{"):
        return "geojson"
    return "csv"


def _decode(data: bytes, encoding: str) -> tuple[str, str, set[int]]:
    """Decode CSV bytes; return ``(text, encoding used, 1-based lines with undecodable bytes)``."""
    if encoding not in ENCODINGS:
        raise InputError(f"encoding={encoding!r}: use one of {', '.join(ENCODINGS)}")
    if data.startswith(b"\xef\xbb\xbf"):
        data, candidates = data[3:], ["utf-8"]
        label = "utf-8-sig"
    elif encoding == "auto":
        candidates, label = ["utf-8", "gbk", "gb18030"], ""
    else:
        candidates, label = [encoding], ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding == "auto":
        try:
            return data.decode("utf-16"), "utf-16", set()
        except UnicodeDecodeError:
            pass
    for enc in candidates:
        try:
            return data.decode(enc), label or enc, set()
        except UnicodeDecodeError:
            continue
    # Mixed encodings (rows pasted from different sources): decode line by line.
    lines = data.split(b"\n")
    out: list[str] = []
    bad: set[int] = set()
    for i, raw in enumerate(lines, start=1):
        for enc in candidates:
            try:
                out.append(raw.decode(enc))
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append(raw.decode(candidates[-1], errors="replace"))
            bad.add(i)
    return "\n".join(out), "mixed" if encoding == "auto" else candidates[0], bad


def _delimiter(text: str) -> str:
    first = next((ln for ln in text[:20000].splitlines()[:20] if ln.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(
    data: bytes, encoding: str, max_rows: int
) -> tuple[list[list[Any]], list[int], dict[int, Note], str]:
    text, used, bad_lines = _decode(data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records: list[list[Any]] = []
    rows: list[int] = []
    bad: dict[int, Note] = {}
    start = 1
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            bad[start] = ("row_csv_bad", {"detail": str(exc)[:200]})
            records.append(["\ufffd"])  # a stand-in cell: the row still counts and is rejected
            rows.append(start)
            start = reader.line_num + 1
            continue
        end = reader.line_num
        if any(line in bad_lines for line in range(start, end + 1)):
            bad[start] = ("row_bytes_mixed", {}) if used == "mixed" else ("row_bytes", {"encoding": used})
        records.append(rec)
        rows.append(start)
        start = end + 1
        if len(records) > max_rows + 50:  # header and title rows included, with a margin
            raise too_many_rows(max_rows)
    return records, rows, bad, used


def too_many_rows(max_rows: int) -> ImportFileError:
    """Return the error of a file over the row limit ``max_rows``."""
    return ImportFileError("file_rows", limit=f"{max_rows:,}")


def cell_text(v: Any) -> Any:  # noqa: ANN401 - a spreadsheet cell
    """Return a cell as text (``None`` when blank); numbers, dates and times as a person wrote them."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):  # a value taken from a frame: numpy 2 reprs it as np.float64(…)
        v = v.item()
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(float(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.strftime("%H:%M")
    return str(v)


def _open_workbook(data: bytes, max_bytes: int, max_rows: int = DEFAULT_MAX_ROWS) -> Any:  # noqa: ANN401 - openpyxl
    import openpyxl  # imported here: only XLSX imports need it

    check_xlsx(data, max_rows=max_rows, max_bytes=max_bytes, max_expansion=MAX_XLSX_EXPANSION)
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ImportFileError("file_xlsx_bad", detail=type(exc).__name__) from exc


def _sheet_rows(wb: Any, name: str, max_row: int | None = None) -> Any:  # noqa: ANN401 - openpyxl
    """Iterate the values of a sheet's rows, whatever its ``<dimension>`` record says.

    In read-only mode openpyxl trusts the record, which some writers get wrong (``A1:B2``
    on a sheet of 500 rows): rows and columns outside it would be silently lost.
    """
    ws = wb[name]
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    return ws.iter_rows(max_row=max_row, values_only=True)


def _header_score(records: Sequence[Sequence[Any]], table: str) -> int:
    """Most known headers of ``table`` named in one of the first 30 rows."""
    known = known_headers(table)
    return max(
        (sum(norm_header(v) in known for v in r if v is not None) for r in records[:30]),
        default=0,
    )


def _sheet_scores(wb: Any, table: str) -> dict[str, int]:  # noqa: ANN401 - openpyxl workbook
    out: dict[str, int] = {}
    for name in wb.sheetnames:
        try:
            head = [[cell_text(v) for v in r] for r in _sheet_rows(wb, name, max_row=30)]
        except Exception:  # a chart sheet or a damaged one: not the registry
            head = []
        out[str(name)] = _header_score(head, table)
    return out


def xlsx_sheets(
    data: bytes, table: str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = DEFAULT_MAX_ROWS
) -> dict[str, int]:
    """Return the sheets of a workbook with how many headers of ``table`` each names.

    Parameters
    ----------
    data : bytes
        The XLSX file.
    table : str
        Target table (see :data:`IMPORT_TABLES`).
    max_bytes, max_rows : int
        Upload and row limits (the zip-bomb guards of :func:`geo.ingest.guard.check_xlsx`).

    Returns
    -------
    dict
        ``{sheet name: recognised headers}`` in workbook order; :func:`best_sheet` picks one.

    Raises
    ------
    ImportFileError
        If ``data`` is not a readable workbook.
    """
    check_table(table)
    wb = _open_workbook(data, max_bytes, max_rows)
    try:
        return _sheet_scores(wb, table)
    finally:
        wb.close()


def best_sheet(scores: Mapping[str, int]) -> str:
    """Return the sheet naming the most known headers (the first of equals; the first sheet if none)."""
    return max(scores, key=lambda n: scores[n])


def _read_xlsx(
    data: bytes, sheet: str | None, max_rows: int, max_bytes: int, table: str
) -> tuple[list[list[Any]], list[int], list[Note], str, tuple[str, ...]]:
    wb = _open_workbook(data, max_bytes, max_rows)
    try:
        names = tuple(map(str, wb.sheetnames))
        if not names:
            raise ImportFileError("file_xlsx_no_sheets")
        if sheet is not None and sheet not in names:
            raise ImportFileError("file_sheet_missing", sheet=sheet, sheets="、".join(names))
        notes: list[Note] = []
        if sheet is None:
            sheet = best_sheet(_sheet_scores(wb, table)) if len(names) > 1 else names[0]
            if len(names) > 1:
                notes.append(("note_sheet_auto", {"sheet": sheet, "sheets": "、".join(names)}))
        elif len(names) > 1:
            notes.append(("note_sheet", {"sheet": sheet}))
        records: list[list[Any]] = []
        rows: list[int] = []
        try:
            for i, values in enumerate(_sheet_rows(wb, sheet), start=1):
                records.append([cell_text(v) for v in values])
                rows.append(i)
                if len(records) > max_rows + 50:
                    raise too_many_rows(max_rows)
        except GeoError:
            raise
        except Exception as exc:  # a truncated sheet fails part-way through
            raise ImportFileError("file_xlsx_damaged", row=len(records), detail=type(exc).__name__) from exc
    finally:
        wb.close()
    return records, rows, notes, sheet, names


def _flat(v: Any) -> Any:  # noqa: ANN401 - a JSON / Parquet value
    if v is None:
        return None
    if isinstance(v, list | tuple | np.ndarray):
        return "、".join(str(_flat(x)) for x in v if x is not None)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return cell_text(v)


def _read_geojson(data: bytes) -> tuple[pd.DataFrame, dict[int, Note]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ImportFileError("file_geojson_bad", detail=f"{type(exc).__name__}: {str(exc)[:120]}") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        raise ImportFileError("file_geojson_shape")
    records: list[dict[str, Any]] = []
    bad: dict[int, Note] = {}
    for i, feat in enumerate(doc["features"], start=1):
        rec: dict[str, Any] = {}
        if not isinstance(feat, dict):
            bad[i] = ("row_feature", {})
            records.append(rec)
            continue
        props = feat.get("properties")
        if isinstance(props, dict):
            rec.update({str(k)[:200]: _flat(v) for k, v in props.items()})
        geom = feat.get("geometry")
        if isinstance(geom, dict):
            coords = geom.get("coordinates")
            gtype = geom.get("type")
            if gtype == "MultiPoint" and isinstance(coords, list) and len(coords) == 1:
                gtype, coords = "Point", coords[0]
            if gtype == "Point" and isinstance(coords, list) and len(coords) >= 2:
                rec["__lng"], rec["__lat"] = _flat(coords[0]), _flat(coords[1])
            else:
                bad[i] = ("row_geometry_type", {"type": str(gtype)[:20]})
        records.append(rec)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return frame.astype(object).where(frame.notna(), None), bad


def _read_parquet(data: bytes) -> tuple[pd.DataFrame, dict[int, Note]]:
    import pyarrow.parquet as pq

    try:
        tbl = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ImportFileError("file_parquet_bad", detail=type(exc).__name__) from exc
    df = tbl.to_pandas()
    geo_meta = (tbl.schema.metadata or {}).get(b"geo")
    if geo_meta:
        try:
            meta = json.loads(geo_meta)
            col = meta.get("primary_column", "geometry")
            geoms = shapely.from_wkb(df.pop(col).to_numpy(dtype=object), on_invalid="ignore")
        except (ValueError, KeyError, TypeError, shapely.errors.ShapelyError) as exc:
            raise ImportFileError("file_parquet_geometry", detail=str(exc)[:120]) from exc
        point = shapely.get_type_id(geoms) == 0
        x = np.where(point, shapely.get_x(geoms), np.nan)
        y = np.where(point, shapely.get_y(geoms), np.nan)
        df["__lng"], df["__lat"] = x, y
        bad: dict[int, Note] = {
            int(i) + 1: ("row_geometry", {}) for i in np.flatnonzero(~(point | shapely.is_missing(geoms)))
        }
    else:
        bad = {}
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_float_dtype(s):
            out[str(col)] = [None if not math.isfinite(v) else repr(float(v)) for v in s.to_numpy(float)]
        else:
            out[str(col)] = s.astype(object).map(_flat)
    return out.astype(object), bad


def _records_to_frame(
    records: list[list[Any]], rows: list[int], bad: dict[int, Note], table: str
) -> tuple[pd.DataFrame, np.ndarray, dict[int, Note], list[Note]]:
    """Find the header (skipping title rows), make unique column names, pad ragged rows."""
    notes: list[Note] = []

    def blank(rec: list[Any]) -> bool:
        return all(v is None or str(v).strip() == "" for v in rec)

    known = known_headers(table)
    candidates = [i for i, r in enumerate(records[:30]) if not blank(r)]
    if not candidates:
        return pd.DataFrame(), np.array([], dtype=np.int64), {}, [("note_no_rows", {})]
    header_i = candidates[0]
    for i in candidates:  # the header is the first row naming at least two known fields
        if sum(norm_header(v) in known for v in records[i] if v is not None) >= 2:
            header_i = i
            break
    if header_i != candidates[0]:
        notes.append(("note_titles", {"first": rows[candidates[0]], "last": rows[header_i] - 1}))
    header_raw = records[header_i]
    if len(header_raw) > MAX_COLUMNS:
        raise ImportFileError("file_columns", n=len(header_raw))
    names: list[str] = []
    for j, h in enumerate(header_raw):
        name = CONTROL.sub("", str(h)).strip()[:100] if h is not None else ""
        name = name or f"column_{j + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    body = records[header_i + 1 :]
    body_rows = rows[header_i + 1 :]
    while body and blank(body[-1]):  # trailing blank rows are the end of the sheet, not data
        body.pop()
        body_rows.pop()
    width = len(names)
    lens = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    body_set = set(body_rows)
    bad_out = {r: why for r, why in bad.items() if r in body_set}
    if (lens != width).any():
        for i in np.flatnonzero(lens != width).tolist():
            rec = body[i]
            if len(rec) > width and any(v not in (None, "") for v in rec[width:]):
                bad_out.setdefault(body_rows[i], ("row_cells", {"n": len(rec), "width": width}))
            body[i] = (list(rec) + [None] * width)[:width]
    frame = (
        pd.DataFrame(body, columns=names, dtype=object) if body else pd.DataFrame(columns=names, dtype=object)
    )
    return frame, np.asarray(body_rows, dtype=np.int64), bad_out, notes


def read_source(
    data: bytes,
    file_name: str,
    table: str,
    *,
    encoding: str = "auto",
    sheet: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_memory_mb: int = DEFAULT_READ_MEMORY_MB,
) -> SourceFrame:
    """Read an uploaded file into text cells with the row numbers a person sees.

    What the file declares is checked first (Parquet footer, XLSX unpacked sizes and
    shared strings, see :mod:`geo.ingest.guard`); the reader of these compressed formats
    then runs in a child process whose memory grows by at most ``max_memory_mb``. CSV and
    GeoJSON, whose cost grows with their (limited) size, are read in this process.

    Parameters
    ----------
    data : bytes
        The file's content.
    file_name : str
        The uploaded name (only its extension is used, as a format hint).
    table : str
        Target table; its known headers help find the header row under title rows.
    encoding : str
        CSV encoding, see :data:`ENCODINGS`.
    sheet : str, optional
        XLSX sheet name (default: the sheet naming the most known headers of ``table``,
        see :func:`xlsx_sheets`).
    max_rows, max_bytes : int
        Limits; larger files raise :class:`~geo.errors.InputError`.
    max_memory_mb : int
        Memory (MB) the reader may use; a file needing more is refused (``file_memory``).

    Returns
    -------
    SourceFrame

    Raises
    ------
    geo.errors.InputError
        For problems with the whole file (format, size, damage), with what to do.
    """
    if len(data) > max_bytes:
        raise ImportFileError(
            "file_too_big", size=f"{len(data) / 1048576:.1f}", limit=f"{max_bytes / 1048576:.0f}"
        )
    if not data.strip():
        raise ImportFileError("file_empty")
    fmt = _sniff_format(data, file_name)
    if fmt == "xlsx":
        check_xlsx(data, max_rows=max_rows, max_bytes=max_bytes, max_expansion=MAX_XLSX_EXPANSION)
    elif fmt == "geoparquet":
        check_parquet(data, max_rows=max_rows, max_bytes=max_bytes, max_columns=MAX_COLUMNS)
    if fmt in ("csv", "geojson"):
        # Text formats cost memory in proportion to their size (bounded by max_bytes): read
        # here. Only compressed formats can expand far beyond their size.
        return _read_here(data, fmt, table, encoding, sheet, max_rows, max_bytes)
    result: SourceFrame = run_capped(
        _read_here, data, fmt, table, encoding, sheet, max_rows, max_bytes, memory_mb=max_memory_mb
    )
    return result


def _read_here(
    data: bytes, fmt: str, table: str, encoding: str, sheet: str | None, max_rows: int, max_bytes: int
) -> SourceFrame:
    """Read a file of a sniffed format in this process (:func:`read_source` runs it capped)."""
    if fmt in ("csv", "xlsx"):
        used_sheet, sheets = "", tuple[str, ...]()
        if fmt == "csv":
            records, rows, bad, used = _read_csv(data, encoding, max_rows)
            notes: list[Note] = []
        else:
            records, rows, notes, used_sheet, sheets = _read_xlsx(data, sheet, max_rows, max_bytes, table)
            bad, used = {}, ""
        frame, row_no, bad, more = _records_to_frame(records, rows, bad, table)
        return SourceFrame(_blank_to_none(frame), row_no, fmt, used, bad, notes + more, used_sheet, sheets)
    if fmt == "geojson":
        frame, bad = _read_geojson(data)
    else:
        frame, bad = _read_parquet(data)
    if len(frame) > max_rows:
        raise too_many_rows(max_rows)
    if len(frame.columns) > MAX_COLUMNS:
        raise ImportFileError("file_properties", n=len(frame.columns))
    frame = _blank_to_none(frame.reset_index(drop=True))
    return SourceFrame(frame, np.arange(1, len(frame) + 1, dtype=np.int64), fmt, "utf-8", bad)


def _blank_to_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells that are missing or only whitespace become ``None``; all columns ``object``."""
    out = frame.astype(object)
    for col in out.columns:
        s = out[col]
        blank = s.isna().to_numpy() | s.astype("string").str.strip().eq("").fillna(True).to_numpy(dtype=bool)
        if blank.any():
            out[col] = s.where(~blank, None)
    return out
