"""Importing the registries union offices keep: read, map columns, validate, write a version.

A county office's file is messy: Excel or a GBK CSV, Chinese or English headers, a title
row above the header, coordinates copied from AMap (GCJ-02) or Baidu (BD-09), swapped
columns, blank rows. The import is one pipeline whatever the format:

1. :func:`read_source` turns the bytes (CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030,
   XLSX read in read-only mode, GeoJSON, GeoParquet) into a frame of text cells with the
   row number a person sees in the file (header = row 1 in a spreadsheet; feature 1 in
   GeoJSON / GeoParquet).
2. :func:`detect_mapping` maps source headers to fields (名称 → ``name``, 经度 → ``lng``...).
3. :func:`validate` checks every row of the table with one vectorised path and converts
   coordinates to WGS-84. Each row ends either accepted or rejected with its reasons; fixes
   that keep a row (swapped lat/lng, unknown kind kept as other) are warnings.
4. :func:`commit` writes a new dataset version (the previous ones are kept) and an audit
   entry; :func:`import_bytes` does 1–4 in one call.

Invariant: ``accepted + rejected == rows_in`` in every :class:`ImportReport`, and nothing
is written unless the report is clean enough to write (at least one accepted row, no
file-level error). Problems with the whole file (unknown format, too big, no usable
columns) end in a report with ``error`` set, never in an unexpected exception.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely

from geo import datums, hexes, hours, i18n, regions, store
from geo.errors import GeoError, InputError
from geo.schema import (
    AMENITIES,
    CATEGORIES,
    H3_RES,
    OCCUPATIONS,
    ORGANIZER_LEVELS,
    REGION_COLUMNS,
    STATION_KINDS,
    TABLES,
    Enum,
    Table,
)

IMPORT_TABLES: Final = ("stations", "workplaces", "campaign", "checkins")
"""Tables a file can be imported into."""
MODES: Final = ("replace", "append")
"""``replace`` swaps the table for the file's rows; ``append`` adds them to the current table."""
ENCODINGS: Final = ("auto", "utf-8", "gbk", "gb18030")
"""Text encodings accepted for CSV files (``auto`` detects BOM, UTF-8, GBK, GB18030)."""

NEAR_DUPLICATE_M: Final = 10.0
"""Two stations closer than this many metres are reported as possible duplicates."""
MAX_FIELD_CHARS: Final = 2000
"""A cell longer than this many characters rejects its row (no registry field is that long)."""
MAX_NAME_CHARS: Final = 200
"""Longest accepted name, characters."""
MAX_COLUMNS: Final = 500
"""More columns than this is not a registry; the file is refused."""
DEFAULT_MAX_ROWS: Final = 1_000_000
"""Row limit of an import when the caller gives none (settings ``max_import_rows``)."""
DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024
"""Size limit of an import when the caller gives none (settings ``max_upload_mb``)."""
MAX_XLSX_EXPANSION: Final = 40
"""An XLSX may unpack to at most this many times the upload limit (zip-bomb guard)."""
COAST_SNAP_DEG: Final = 0.02
"""Points this close (degrees, ~2 km) outside every county are tagged with the nearest one.

The boundary data is simplified; a station on a pier or an island jetty falls just
outside it. Anything farther away is rejected as outside China."""
DEFAULT_SEATS: Final = 0
"""Seats stored when a file does not say (0 = not stated)."""
EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius, metres (for the near-duplicate search)."""

OTHER_KIND: Final = "other"
"""Kind stored for an unknown or missing station type."""
OTHER_AMENITY: Final = "other"
"""Amenity code stored for a service the schema does not know."""
assert OTHER_KIND in STATION_KINDS  # one source of truth: the schema knows the code
assert OTHER_AMENITY in AMENITIES

# Lat/lng ranges that contain China with a margin: used to detect swapped columns.
_CHINA_LAT: Final = (3.0, 54.0)
_CHINA_LNG: Final = (73.0, 136.0)

# ---------------------------------------------------------------- fields and headers

_COMMON_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "lat": ("纬度", "lat", "latitude", "y", "wd", "北纬", "纬度坐标"),
    "lng": ("经度", "lng", "lon", "long", "longitude", "x", "jd", "东经", "经度坐标"),
    "lnglat": ("经纬度", "坐标", "位置坐标", "lnglat", "lonlat", "location", "coordinates", "经纬度坐标"),
}

FIELDS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "stations": {
        "station_id": ("station_id", "编号", "站点编号", "驿站编号", "id", "code", "编码", "站点id"),
        "name": ("name", "名称", "站点名称", "驿站名称", "站名", "驿站", "站点"),
        "kind": ("kind", "type", "类型", "驿站类型", "站点类型", "类别"),
        **_COMMON_SYNONYMS,
        "address": ("address", "地址", "详细地址", "驿站地址", "站点地址", "addr"),
        "hours": ("hours", "开放时间", "营业时间", "服务时间", "开放时段", "opening_hours", "openinghours"),
        "opens": ("opens", "开门时间", "开始时间", "open"),
        "closes": ("closes", "关门时间", "结束时间", "close"),
        "open_24h": ("open_24h", "24小时", "是否24小时", "全天开放"),
        "amenities": ("amenities", "服务项目", "服务内容", "设施", "服务设施", "配套设施", "services"),
        "seats": ("seats", "座位", "座位数", "座椅数"),
        "operator": ("operator", "运营单位", "主办单位", "管理单位", "建设单位", "责任单位"),
        "opened_on": ("opened_on", "建成日期", "开放日期", "启用日期", "建成时间", "启用时间"),
        "smart": ("smart", "智慧驿站", "是否智慧驿站", "智能"),
    },
    "workplaces": {
        "workplace_id": ("workplace_id", "编号", "id", "code", "编码", "单位编号"),
        "name": ("name", "名称", "单位名称", "网点名称", "站点名称", "企业名称"),
        "occupation": ("occupation", "职业", "行业", "工种", "类型", "群体"),
        "workers": ("workers", "人数", "职工人数", "劳动者人数", "从业人数", "员工数"),
        **_COMMON_SYNONYMS,
    },
    "campaign": {
        "event_id": ("event_id", "编号", "id", "活动编号"),
        "year": ("year", "年度", "年份"),
        "date": ("date", "日期", "走访日期", "慰问日期", "活动日期"),
        "category": ("category", "类别", "对象类别", "慰问对象", "对象"),
        "people": ("people", "人数", "慰问人数", "走访人数"),
        "funds_yuan": ("funds_yuan", "funds", "金额", "慰问金", "资金", "慰问金额", "金额元", "元"),
        "organizer_level": ("organizer_level", "组织层级", "主办层级", "层级", "主办单位级别"),
        **_COMMON_SYNONYMS,
    },
    "checkins": {
        "station_id": ("station_id", "站点编号", "驿站编号", "编号", "id"),
        "date": ("date", "日期"),
        "visits": ("visits", "人次", "到站人次", "服务人次", "访问量"),
    },
}
"""Fields each table can be imported with, and the headers that map to them automatically."""

REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "stations": ("name", "lat", "lng", "hours"),
    "workplaces": ("name", "workers", "lat", "lng"),
    "campaign": ("date", "category", "people", "funds_yuan", "organizer_level", "lat", "lng"),
    "checkins": ("station_id", "date", "visits"),
}
"""Fields a row needs (``lat``/``lng`` may come from one ``lnglat`` column; ``hours`` from
``opens``/``closes`` or ``open_24h``)."""

_ID_FIELD: Final = {"stations": "station_id", "workplaces": "workplace_id", "campaign": "event_id"}
_ID_PREFIX: Final = {"stations": "S", "workplaces": "W", "campaign": "E"}

_AMENITY_SYNONYMS: Final[dict[str, str]] = {
    "热水": "hot_water",
    "开水": "hot_water",
    "饮水": "hot_water",
    "饮用水": "hot_water",
    "微波炉": "microwave",
    "加热": "microwave",
    "充电": "charging",
    "手机充电": "charging",
    "充电宝": "charging",
    "卫生间": "toilet",
    "厕所": "toilet",
    "洗手间": "toilet",
    "公厕": "toilet",
    "休息": "seating",
    "座椅": "seating",
    "休息区": "seating",
    "桌椅": "seating",
    "歇脚": "seating",
    "药箱": "medicine",
    "医药箱": "medicine",
    "应急药箱": "medicine",
    "药品": "medicine",
    "空调": "aircon",
    "冷暖空调": "aircon",
    "取暖": "aircon",
    "纳凉": "aircon",
    "wifi": "wifi",
    "wi-fi": "wifi",
    "无线网": "wifi",
    "无线网络": "wifi",
    "换电": "battery_swap",
    "电池更换": "battery_swap",
    "换电柜": "battery_swap",
    "爱心餐": "meals",
    "餐食": "meals",
    "用餐": "meals",
    "就餐": "meals",
}
_KIND_WORDS: Final = (
    ("司机", "driver"),
    ("户外", "outdoor"),
    ("爱心", "caring"),
    ("暖心", "warm"),
    ("工会", "union"),
)
_OCCUPATION_WORDS: Final = (
    ("快递", "courier"),
    ("外卖", "delivery"),
    ("骑手", "delivery"),
    ("环卫", "sanitation"),
    ("建筑", "construction"),
    ("网约车", "ride_hailing"),
    ("出租", "ride_hailing"),
    ("货车", "truck"),
    ("货运", "truck"),
    ("保安", "security"),
)
_CATEGORY_WORDS: Final = (("困难", "hardship"), ("重点", "priority"), ("劳模", "model"), ("先进", "model"))
_LEVEL_WORDS: Final = (
    ("全国", "national"),
    ("全总", "national"),
    ("省", "province"),
    ("市", "city"),
    ("县", "county"),
    ("区总", "county"),
    ("基层", "grassroots"),
)
_TRUE_TEXT: Final = frozenset({"是", "有", "y", "yes", "true", "1", "t", "√", "✓", "24小时"})
_FALSE_TEXT: Final = frozenset({"否", "无", "n", "no", "false", "0", "f", "×", "✗"})

_SPLIT_LIST: Final = r"[、,，;；/|｜\s]+"
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_FULLWIDTH: Final = str.maketrans("０１２３４５６７８９．－＋，：", "0123456789.-+,:")
_SAFE_FILE_NAME: Final = re.compile(r"[^\w.\-()（）一-鿿 ]+")


# ---------------------------------------------------------------- report


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}


class ImportFileError(InputError):
    """A problem with a whole uploaded file, as a message code of ``geo/strings/ingest.toml``.

    ``str(exc)`` is the English message (CLI, JSON); :func:`error_text` gives the report's
    error in the user's language from ``code`` and ``params``.
    """

    def __init__(self, code: str, **params: Any) -> None:  # noqa: ANN401 - message values
        self.code = code
        self.params = _plain(params)
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


_Note = tuple[str, dict[str, Any]]  # a message code of geo/strings/ingest.toml and its parameters


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
    bad_rows: dict[int, _Note] = field(default_factory=dict)
    notes: list[_Note] = field(default_factory=list)
    sheet: str = ""
    sheets: tuple[str, ...] = ()


@dataclass
class Prepared:
    """A validated import, ready to :func:`commit` (or to show as a preview)."""

    report: ImportReport
    frame: pd.DataFrame
    source: SourceFrame | None
    base_version: str | None
    rejected_positions: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


# ---------------------------------------------------------------- reading files


def safe_file_name(name: str | None) -> str:
    """Return a display-only base name: no directories, no markup, at most 100 characters.

    Never use the result to build a path; it is shown in the UI and stored in the manifest.
    """
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = _SAFE_FILE_NAME.sub("_", _CONTROL.sub("", base)).strip(" .")
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
) -> tuple[list[list[Any]], list[int], dict[int, _Note], str]:
    text, used, bad_lines = _decode(data, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records: list[list[Any]] = []
    rows: list[int] = []
    bad: dict[int, _Note] = {}
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
            raise _too_many_rows(max_rows)
    return records, rows, bad, used


def _too_many_rows(max_rows: int) -> ImportFileError:
    return ImportFileError("file_rows", limit=f"{max_rows:,}")


def _cell_text(v: Any) -> Any:  # noqa: ANN401 - a spreadsheet cell
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


def _open_workbook(data: bytes, max_bytes: int) -> Any:  # noqa: ANN401 - an openpyxl workbook
    import openpyxl  # imported here: only XLSX imports need it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError("file_xlsx_bad", detail=str(exc)[:120]) from exc
    if unpacked > max_bytes * MAX_XLSX_EXPANSION:
        raise ImportFileError("file_xlsx_bomb", mb=f"{unpacked / 1e6:.0f}")
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


def _known_headers(table: str) -> set[str]:
    return {_norm_header(s) for syn in FIELDS[table].values() for s in syn}


def _header_score(records: Sequence[Sequence[Any]], table: str) -> int:
    """Most known headers of ``table`` named in one of the first 30 rows."""
    known = _known_headers(table)
    return max(
        (sum(_norm_header(v) in known for v in r if v is not None) for r in records[:30]),
        default=0,
    )


def _sheet_scores(wb: Any, table: str) -> dict[str, int]:  # noqa: ANN401 - openpyxl workbook
    out: dict[str, int] = {}
    for name in wb.sheetnames:
        try:
            head = [[_cell_text(v) for v in r] for r in _sheet_rows(wb, name, max_row=30)]
        except Exception:  # a chart sheet or a damaged one: not the registry
            head = []
        out[str(name)] = _header_score(head, table)
    return out


def xlsx_sheets(data: bytes, table: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, int]:
    """Return the sheets of a workbook with how many headers of ``table`` each names.

    Parameters
    ----------
    data : bytes
        The XLSX file.
    table : str
        Target table (see :data:`IMPORT_TABLES`).
    max_bytes : int
        Upload limit (the zip-bomb guard is a multiple of it).

    Returns
    -------
    dict
        ``{sheet name: recognised headers}`` in workbook order; :func:`best_sheet` picks one.

    Raises
    ------
    ImportFileError
        If ``data`` is not a readable workbook.
    """
    _check_table(table)
    wb = _open_workbook(data, max_bytes)
    try:
        return _sheet_scores(wb, table)
    finally:
        wb.close()


def best_sheet(scores: Mapping[str, int]) -> str:
    """Return the sheet naming the most known headers (the first of equals; the first sheet if none)."""
    return max(scores, key=lambda n: scores[n])


def _read_xlsx(
    data: bytes, sheet: str | None, max_rows: int, max_bytes: int, table: str
) -> tuple[list[list[Any]], list[int], list[_Note], str, tuple[str, ...]]:
    wb = _open_workbook(data, max_bytes)
    try:
        names = tuple(map(str, wb.sheetnames))
        if not names:
            raise ImportFileError("file_xlsx_no_sheets")
        if sheet is not None and sheet not in names:
            raise ImportFileError("file_sheet_missing", sheet=sheet, sheets="、".join(names))
        notes: list[_Note] = []
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
                records.append([_cell_text(v) for v in values])
                rows.append(i)
                if len(records) > max_rows + 50:
                    raise _too_many_rows(max_rows)
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
    return _cell_text(v)


def _read_geojson(data: bytes) -> tuple[pd.DataFrame, dict[int, _Note]]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ImportFileError("file_geojson_bad", detail=f"{type(exc).__name__}: {str(exc)[:120]}") from exc
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        raise ImportFileError("file_geojson_shape")
    records: list[dict[str, Any]] = []
    bad: dict[int, _Note] = {}
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


def _read_parquet(data: bytes) -> tuple[pd.DataFrame, dict[int, _Note]]:
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
        bad: dict[int, _Note] = {
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
    records: list[list[Any]], rows: list[int], bad: dict[int, _Note], table: str
) -> tuple[pd.DataFrame, np.ndarray, dict[int, _Note], list[_Note]]:
    """Find the header (skipping title rows), make unique column names, pad ragged rows."""
    notes: list[_Note] = []

    def blank(rec: list[Any]) -> bool:
        return all(v is None or str(v).strip() == "" for v in rec)

    known = _known_headers(table)
    candidates = [i for i, r in enumerate(records[:30]) if not blank(r)]
    if not candidates:
        return pd.DataFrame(), np.array([], dtype=np.int64), {}, [("note_no_rows", {})]
    header_i = candidates[0]
    for i in candidates:  # the header is the first row naming at least two known fields
        if sum(_norm_header(v) in known for v in records[i] if v is not None) >= 2:
            header_i = i
            break
    if header_i != candidates[0]:
        notes.append(("note_titles", {"first": rows[candidates[0]], "last": rows[header_i] - 1}))
    header_raw = records[header_i]
    if len(header_raw) > MAX_COLUMNS:
        raise ImportFileError("file_columns", n=len(header_raw))
    names: list[str] = []
    for j, h in enumerate(header_raw):
        name = _CONTROL.sub("", str(h)).strip()[:100] if h is not None else ""
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
) -> SourceFrame:
    """Read an uploaded file into text cells with the row numbers a person sees.

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
    if fmt in ("csv", "xlsx"):
        used_sheet, sheets = "", tuple[str, ...]()
        if fmt == "csv":
            records, rows, bad, used = _read_csv(data, encoding, max_rows)
            notes: list[_Note] = []
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
        raise _too_many_rows(max_rows)
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


# ---------------------------------------------------------------- column mapping


def _norm_header(h: Any) -> str:  # noqa: ANN401 - a header cell
    t = unicodedata.normalize("NFKC", str(h)).strip().lower()
    t = re.sub(r"[(（\[【].*?[)）\]】]", "", t)  # "经度(GCJ02)" -> "经度"
    return re.sub(r"[\s_*:：\-]+", "", t)


def detect_mapping(columns: Sequence[str], table: str) -> dict[str, str]:
    """Map source headers to the fields of ``table`` by their Chinese or English names.

    Parameters
    ----------
    columns : sequence of str
        Source headers, in file order.
    table : str
        One of :data:`IMPORT_TABLES`.

    Returns
    -------
    dict
        ``{header: field}`` for the headers recognised; each field is used once (the
        first matching header wins). GeoJSON / GeoParquet point geometry maps to
        ``lng``/``lat`` ahead of any property.
    """
    _check_table(table)
    lookup: dict[str, str] = {}
    for fld, synonyms in FIELDS[table].items():
        for s in synonyms:
            lookup.setdefault(_norm_header(s), fld)
    out: dict[str, str] = {}
    used: set[str] = set()
    if "__lng" in columns and "__lat" in columns:
        out.update({"__lng": "lng", "__lat": "lat"})
        used.update({"lng", "lat", "lnglat"})
    for col in columns:
        if col in out:
            continue
        found = lookup.get(_norm_header(col))
        if found is None or found in used:
            continue
        fld = found
        if fld == "lnglat" and {"lat", "lng"} & used:
            continue
        out[col] = fld
        used.add(fld)
        if fld in ("lat", "lng"):
            used.add("lnglat")
    return out


def crs_hint(columns: Sequence[str]) -> str | None:
    """Return ``gcj02`` or ``bd09`` when a coordinate header names that datum (e.g. ``经度(百度)``)."""
    text = " ".join(str(c).lower() for c in columns)
    if re.search(r"百度|bd-?09|baidu", text):
        return "bd09"
    if re.search(r"高德|gcj|火星|amap|腾讯", text):
        return "gcj02"
    return None


def missing_fields(mapping: Mapping[str, str], table: str) -> list[str]:
    """Return the required fields of ``table`` that ``mapping`` does not provide."""
    have = set(mapping.values())
    if "lnglat" in have:
        have |= {"lat", "lng"}
    if table == "stations" and ({"opens", "closes"} <= have or "open_24h" in have):
        have.add("hours")
    if table == "campaign" and "date" in have:
        have.add("year")
    return [f for f in REQUIRED[table] if f not in have]


def apply_overrides(
    mapping: Mapping[str, str], overrides: Mapping[str, str], columns: Sequence[str], table: str
) -> dict[str, str]:
    """Apply ``{header: field}`` overrides (``""`` or ``"-"`` ignores a header).

    Raises
    ------
    geo.errors.InputError
        If a header is not in the file or a field is not a field of ``table``.
    """
    out = dict(mapping)
    for col, fld in overrides.items():
        if col not in columns:
            raise InputError(
                f"--map {col}={fld}: the file has no column {col!r}; columns: {', '.join(map(str, columns))}"
            )
        if fld in ("", "-"):
            out.pop(col, None)
            continue
        if fld not in FIELDS[table]:
            raise InputError(
                f"--map {col}={fld}: {fld!r} is not a field of {table}; fields: {', '.join(FIELDS[table])}"
            )
        out = {c: f for c, f in out.items() if f != fld and c != col}
        out[col] = fld
    return out


# ---------------------------------------------------------------- validation helpers


def issue(row: int | None, fld: str, code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One report item: ``row``, ``field``, English ``reason`` and ``code`` + ``params``.

    ``code`` names a message of ``geo/strings/ingest.toml``; :func:`reason_text` renders it
    in the user's language from ``params``.
    """
    plain = _plain(params)
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


_Found = tuple[np.ndarray, str, str, dict[str, Any]]  # positions, field, message code, params at positions


class _Issues:
    """Collects per-row problems as arrays (vectorised), rejections and warnings apart.

    Each problem is a message code of ``geo/strings/ingest.toml`` plus its parameters: a
    scalar, or an array / Series aligned to the rows (a value per row, e.g. the bad cell).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.rejected = np.zeros(n, dtype=bool)
        self._rej: list[_Found] = []
        self._warn: list[_Found] = []
        self.notes: list[dict[str, Any]] = []
        self.unreadable = np.zeros(n, dtype=bool)  # rows that could not be read: report only that

    @staticmethod
    def _found(mask: np.ndarray, fld: str, code: str, params: Mapping[str, Any]) -> _Found | None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return None
        pos = np.flatnonzero(mask)
        at = {
            k: (np.asarray(v, dtype=object)[pos] if isinstance(v, np.ndarray | pd.Series) else v)
            for k, v in params.items()
        }
        return pos, fld, code, at

    def reject(self, mask: np.ndarray, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401
        """Reject rows where ``mask`` with message ``code`` (see :func:`issue`)."""
        found = self._found(mask, fld, code, params)
        if found is not None:
            self.rejected[found[0]] = True
            self._rej.append(found)

    def warn(self, mask: np.ndarray, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401
        """Warn about rows where ``mask`` (they stay accepted)."""
        found = self._found(mask, fld, code, params)
        if found is not None:
            self._warn.append(found)

    def note(self, fld: str, code: str, **params: Any) -> None:  # noqa: ANN401 - message values
        """Add a file-wide warning (no row)."""
        self.notes.append(issue(None, fld, code, params))

    @staticmethod
    def _frame(items: list[_Found], rows: np.ndarray, keep: np.ndarray | None) -> list[dict[str, Any]]:
        out: list[tuple[int, dict[str, Any]]] = []
        for pos, fld, code, params in items:
            for j, p in enumerate(pos.tolist()):
                if keep is None or keep[p]:
                    values = {k: (v[j] if isinstance(v, np.ndarray) else v) for k, v in params.items()}
                    out.append((p, issue(int(rows[p]), fld, code, values)))
        out.sort(key=lambda x: x[0])  # stable: a row's problems stay in check order
        return [d for _, d in out]

    def rejections(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Return the rejections as :func:`issue` dicts in row order."""
        items = [f for f in self._rej if f[1] == "row"]
        others = [f for f in self._rej if f[1] != "row"]
        out = self._frame(items, rows, None) + self._frame(others, rows, ~self.unreadable)
        return sorted(out, key=lambda d: d["row"])  # stable: a row's problems stay in check order

    def warnings(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Return warnings of accepted rows (and file-wide notes) in row order."""
        return self.notes + self._frame(self._warn, rows, ~self.rejected)


def _clean_text(s: pd.Series) -> pd.Series:
    """Strip, drop control characters, fold full-width spaces; empty -> <NA>."""
    t = s.astype("string").str.replace(_CONTROL, " ", regex=True).str.replace("\u3000", " ").str.strip()
    t = t.str.replace(r"\s{2,}", " ", regex=True)
    return t.mask(t == "", pd.NA)


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse text to float64; return ``(values, is_bad)`` (blank is NaN but not bad)."""
    t = s.str.translate(_FULLWIDTH).str.replace(r"[°\s,]|元$", "", regex=True)
    t = t.mask(t == "", pd.NA)
    values = np.array(
        pd.to_numeric(t.astype(object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    )
    bad = t.notna().to_numpy() & ~np.isfinite(values)
    values[~np.isfinite(values)] = np.nan
    return values, bad


def _quoted(s: pd.Series, width: int = 40) -> np.ndarray:
    return ("'" + s.fillna("").str.slice(0, width) + "'").to_numpy(dtype=object)


def _codes(
    s: pd.Series, enum: Enum, words: Sequence[tuple[str, str]], extra: Mapping[str, str] | None = None
) -> np.ndarray:
    """Map text to enum codes (code, zh/en label, synonyms, then key words); unknown -> None."""
    uniques = s.dropna().unique()
    table: dict[str, str | None] = {}
    for u in uniques:
        text = str(u)
        code = enum.from_text(text) or (extra or {}).get(text.lower())
        if code is None:
            code = next((c for w, c in words if w in text), None)
        table[text] = code
    return s.map(table).astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _truthy(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    low = s.str.lower()
    yes = low.isin(_TRUE_TEXT).fillna(False).to_numpy(dtype=bool)
    no = low.isin(_FALSE_TEXT).fillna(False).to_numpy(dtype=bool)
    unknown = s.notna().to_numpy() & ~yes & ~no
    return yes, unknown


def _dates(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse dates written 2024-05-01, 2024/5/1, 2024.5.1, 2024年5月1日, 20240501."""
    t = s.str.translate(_FULLWIDTH).str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "")
    t = (
        t.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
        .str.split(r"[ T]", regex=True)
        .str[0]
    )
    parsed = pd.to_datetime(t.astype(object), format="%Y-%m-%d", errors="coerce")
    ok = parsed.notna().to_numpy()
    values = np.full(len(s), None, dtype=object)
    if ok.any():
        values[ok] = np.asarray(parsed[ok].dt.date, dtype=object)
    bad = s.notna().to_numpy() & ~ok
    return values, bad


def _ids(prefix: str, *parts: pd.Series) -> np.ndarray:
    """Deterministic ids from row content (same content, same id)."""

    def text(p: pd.Series) -> pd.Series:
        o = p.reset_index(drop=True).astype(object)
        return o.where(o.notna(), "").astype(str)

    key = text(parts[0])
    for p in parts[1:]:
        key = key + "|" + text(p)
    h = pd.util.hash_pandas_object(key.reset_index(drop=True), index=False).to_numpy(dtype=np.uint64)
    return np.array([f"{prefix}-{v:012x}"[: len(prefix) + 13] for v in h], dtype=object)


def _check_crs(crs: str) -> str:
    name = str(crs).strip().lower().replace("-", "").replace("_", "")
    if name not in datums.CRS_NAMES:
        raise InputError(f"crs={crs!r} is not a known datum; use one of {', '.join(datums.CRS_NAMES)}")
    return name


def _check_table(table: str) -> None:
    if table not in IMPORT_TABLES:
        raise InputError(f"cannot import into {table!r}; choose one of {', '.join(IMPORT_TABLES)}")


# ---------------------------------------------------------------- validation


@dataclass
class _Ctx:
    raw: pd.DataFrame  # columns renamed to fields
    issues: _Issues
    crs: str
    existing: pd.DataFrame | None
    existing_ids: set[str]
    station_ids: set[str] | None
    rows: np.ndarray


def _field(ctx: _Ctx, name: str) -> pd.Series:
    if name in ctx.raw.columns:
        return _clean_text(ctx.raw[name])
    return pd.Series(pd.NA, index=ctx.raw.index, dtype="string")


def _coordinates(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Parse, unswap, convert to WGS-84 and region-tag the coordinates; reject the bad ones."""
    iss = ctx.issues
    lat_t, lng_t = _field(ctx, "lat"), _field(ctx, "lng")
    both = _field(ctx, "lnglat")
    if both.notna().any():
        parts = both.str.translate(_FULLWIDTH).str.split(r"[,;\s]+", regex=True)
        # "经纬度" is written lng,lat (AMap, Baidu); lat,lng is caught by the swap check.
        lng_t = lng_t.fillna(parts.str[0].astype("string"))
        lat_t = lat_t.fillna(parts.str[1].astype("string"))
        iss.reject(
            (parts.str.len().fillna(2) != 2).to_numpy(dtype=bool),
            "lnglat",
            "lnglat_two",
        )
    lat, lat_bad = _numbers(lat_t)
    lng, lng_bad = _numbers(lng_t)
    iss.reject(lat_bad, "lat", "lat_nan", value=_quoted(lat_t))
    iss.reject(lng_bad, "lng", "lng_nan", value=_quoted(lng_t))
    missing = (np.isnan(lat) | np.isnan(lng)) & ~lat_bad & ~lng_bad
    iss.reject(missing, "lat/lng", "coords_missing")

    def in_box(la: np.ndarray, ln: np.ndarray) -> np.ndarray:
        return (la >= _CHINA_LAT[0]) & (la <= _CHINA_LAT[1]) & (ln >= _CHINA_LNG[0]) & (ln <= _CHINA_LNG[1])

    swapped = ~in_box(lat, lng) & in_box(lng, lat)
    lat, lng = np.where(swapped, lng, lat), np.where(swapped, lat, lng)
    iss.warn(swapped, "lat/lng", "swapped")
    valid = np.isfinite(lat) & np.isfinite(lng) & (np.abs(lat) <= 90) & (np.abs(lng) <= 180)
    iss.reject(np.isfinite(lat) & np.isfinite(lng) & ~valid, "lat/lng", "coords_range")
    lat = np.where(valid, lat, np.nan)
    lng = np.where(valid, lng, np.nan)
    if ctx.crs != "wgs84" and valid.any():
        wl, wg = datums.to_wgs84(lat[valid], lng[valid], ctx.crs)
        lat[valid], lng[valid] = wl, wg
    tags = pd.DataFrame(pd.NA, index=range(len(lat)), columns=REGION_COLUMNS, dtype="string")
    pos = np.flatnonzero(valid)
    if len(pos):
        t = regions.tag_points(lat[pos], lng[pos])
        tags.iloc[pos] = t.to_numpy()
        outside = pos[t["adcode"].isna().to_numpy()]
        if len(outside):
            counties = regions.boundaries("county")
            tree = shapely.STRtree(counties.geometry.values)
            pts = shapely.points(lng[outside], lat[outside])
            pi, ci = tree.query_nearest(pts, max_distance=COAST_SNAP_DEG, all_matches=False)
            near = np.zeros(len(outside), dtype=bool)
            near[pi] = True
            if len(pi):
                tags.iloc[outside[pi]] = counties[REGION_COLUMNS].iloc[ci].astype("string").to_numpy()
                m = np.zeros(len(lat), dtype=bool)
                m[outside[pi]] = True
                iss.warn(m, "lat/lng", "coast")
            far = np.zeros(len(lat), dtype=bool)
            far[outside[~near]] = True
            where = np.full(len(lat), "", dtype=object)
            where[far] = [f"({a:.5f}, {b:.5f})" for a, b in zip(lat[far], lng[far], strict=True)]
            if ctx.crs == "wgs84":
                iss.reject(far, "lat/lng", "outside_china", where=where)
            else:
                iss.reject(far, "lat/lng", "outside_china_crs", where=where, crs=ctx.crs)
    return np.round(lat, 7), np.round(lng, 7), tags.reset_index(drop=True)


def _check_lengths(ctx: _Ctx) -> None:
    for col in ctx.raw.columns:
        lengths = ctx.raw[col].astype("string").str.len().fillna(0).to_numpy()
        ctx.issues.reject(lengths > MAX_FIELD_CHARS, col, "too_long", limit=MAX_FIELD_CHARS)


def _name(ctx: _Ctx) -> pd.Series:
    name = _field(ctx, "name")
    ctx.issues.reject(name.isna().to_numpy(), "name", "name_missing")
    ctx.issues.reject(
        (name.str.len().fillna(0) > MAX_NAME_CHARS).to_numpy(),
        "name",
        "name_long",
        limit=MAX_NAME_CHARS,
    )
    return name


def _assign_ids(ctx: _Ctx, table: str, id_field: str, *content: pd.Series) -> np.ndarray:
    given = _field(ctx, id_field)
    generated = _ids(_ID_PREFIX[table], *content)
    if id_field not in ctx.raw.columns:
        ctx.issues.note(id_field, "id_made_all")
    else:
        ctx.issues.warn(given.isna().to_numpy(), id_field, "id_made")
    ids = (
        given.astype(object)
        .where(given.notna(), pd.Series(generated, index=given.index))
        .to_numpy(dtype=object)
    )
    ctx.issues.reject((given.str.len().fillna(0) > 64).to_numpy(), id_field, "id_long")
    ids_s = pd.Series(ids, dtype=object)
    dup = ids_s.duplicated(keep="first").to_numpy()
    if dup.any():
        first = pd.Series(np.arange(len(ids_s))).groupby(ids_s.to_numpy()).transform("min").to_numpy()
        shown = np.array([repr(str(i)[:64]) for i in ids], dtype=object)
        ctx.issues.reject(dup, id_field, "id_dup", id=shown, first=ctx.rows[first])
    if ctx.existing_ids:
        clash = ids_s.isin(ctx.existing_ids).to_numpy()
        ctx.issues.reject(clash, id_field, "id_exists")
    return ids


def _near_duplicates(
    ctx: _Ctx, lat: np.ndarray, lng: np.ndarray, names: np.ndarray, rows: np.ndarray
) -> None:
    """Warn about stations within :data:`NEAR_DUPLICATE_M` of an earlier one (file or dataset)."""
    from scipy.spatial import cKDTree

    ok = np.flatnonzero(~ctx.issues.rejected & np.isfinite(lat))
    if not len(ok):
        return

    def xyz(la: np.ndarray, ln: np.ndarray) -> np.ndarray:
        p, lam = np.radians(la), np.radians(ln)
        return np.column_stack([np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)])

    chord = 2 * np.sin(NEAR_DUPLICATE_M / EARTH_RADIUS_M / 2)
    tree = cKDTree(xyz(lat[ok], lng[ok]))
    pairs = tree.query_pairs(chord, output_type="ndarray")
    mask = np.zeros(len(lat), dtype=bool)
    near_row = np.zeros(len(lat), dtype=np.int64)
    near_name = np.full(len(lat), "", dtype=object)
    if len(pairs):
        a, b = ok[pairs.min(axis=1)], ok[pairs.max(axis=1)]
        for i, j in zip(a, b, strict=True):
            if not mask[j]:
                mask[j] = True
                near_row[j], near_name[j] = rows[i], str(names[i])[:40]
    m = f"{NEAR_DUPLICATE_M:.0f}"
    ctx.issues.warn(mask, "lat/lng", "near_dup_row", m=m, row=near_row, name=near_name)
    ex = ctx.existing
    if ex is not None and len(ex):
        etree = cKDTree(xyz(ex["lat"].to_numpy(float), ex["lng"].to_numpy(float)))
        dist, idx = etree.query(xyz(lat[ok], lng[ok]), k=1, distance_upper_bound=chord)
        hit = np.isfinite(dist)
        ids = ex["station_id"].astype(str).to_numpy()
        existing = np.zeros(len(lat), dtype=bool)
        near_id = np.full(len(lat), "", dtype=object)
        for p, k in zip(ok[hit], idx[hit], strict=True):
            if not mask[p]:
                existing[p] = True
                near_id[p] = ids[k]
        ctx.issues.warn(existing, "lat/lng", "near_dup_station", m=m, id=near_id)


_HOURS_NOTE: Final = re.compile(r"[(（\[【]([^)）\]】]*)[)）\]】]")
_TIME: Final = r"\d{1,2}\s*[:：]\s*\d{2}"
_HOURS_RANGE: Final = re.compile(rf"({_TIME})\s*(?:-|–|—|~|～|〜|至|到)\s*({_TIME})")
# What may stand between the shifts of "8:00-12:00，14:00-18:00" / "上午8:00-12:00 下午14:00-18:00".
_SHIFT_FILLER: Final = re.compile(r"^(?:[\s,，;；、/|｜和及]|上午|下午|中午|晚上|早上|白天|夜间)*$")


def _hours_one(text: str) -> tuple[str, str, bool, str, str] | None:
    """Parse one hours text to ``(opens, closes, open_24h, note, shifts)`` or ``None``.

    ``note`` is a bracketed remark that was dropped (``"冬季"`` of ``08:00-20:00（冬季）``);
    ``shifts`` is set for split shifts (``8:00-12:00，14:00-18:00``), which are stored as
    the span from the first opening to the last closing.
    """
    notes = [n.strip() for n in _HOURS_NOTE.findall(text) if n.strip()]
    bare = _HOURS_NOTE.sub(" ", text).strip()
    note = "、".join(notes)[:40]
    try:
        return (*hours.parse_hours_text(bare), note, "")
    except GeoError:
        pass
    ranges = list(_HOURS_RANGE.finditer(bare))
    if len(ranges) < 2 or not _SHIFT_FILLER.match(_HOURS_RANGE.sub(" ", bare)):
        return None
    try:
        shifts = [hours.parse_hours_text(f"{m.group(1)}-{m.group(2)}") for m in ranges]
        opens, closes, all_day = hours.parse_hours_text(f"{shifts[0][0]}-{shifts[-1][1]}")
    except GeoError:
        return None
    if any(sh[2] for sh in shifts):
        opens, closes, all_day = "00:00", "24:00", True
    return opens, closes, all_day, note, "，".join(f"{o}-{c}" for o, c, _ in shifts)


def _hours(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iss = ctx.issues
    text = _field(ctx, "hours")
    opens, closes = _field(ctx, "opens"), _field(ctx, "closes")
    text = text.fillna((opens + "-" + closes).astype("string"))
    all_day, _ = _truthy(_field(ctx, "open_24h"))
    text = text.mask(pd.Series(all_day, index=text.index), "24小时")
    parsed = {str(u): _hours_one(str(u)) for u in text.dropna().unique()}
    mapped = text.map(parsed).astype(object)
    missing = text.isna().to_numpy()
    bad = ~missing & mapped.isna().to_numpy()
    iss.reject(missing, "hours", "hours_missing")
    iss.reject(bad, "hours", "hours_bad", value=_quoted(text))
    good = [
        g if isinstance(g, tuple) else ("00:00", "24:00", False, "", "")
        for g in mapped.to_numpy(dtype=object)
    ]
    o = np.array([g[0] for g in good], dtype=object)
    c = np.array([g[1] for g in good], dtype=object)
    h24 = np.array([g[2] for g in good], dtype=bool)
    note = np.array([g[3] for g in good], dtype=object)
    shifts = np.array([g[4] for g in good], dtype=object)
    iss.warn(note != "", "hours", "hours_note", note=note)
    span = np.where(h24, "24小时", o + "-" + c)
    iss.warn(shifts != "", "hours", "hours_shifts", shifts=shifts, span=span)
    return o, c, h24


def _amenities(ctx: _Ctx) -> list[list[str]]:
    s = _field(ctx, "amenities")
    if s.isna().all():
        return [[] for _ in range(len(s))]
    items = s.str.split(_SPLIT_LIST, regex=True).explode()
    items = items[items.notna() & (items != "")]
    mapped = _codes(items.astype("string"), AMENITIES, (), _AMENITY_SYNONYMS)
    unknown = pd.isna(mapped)
    codes = pd.Series(np.where(unknown, OTHER_AMENITY, mapped), index=items.index)
    if unknown.any():
        bad = pd.Series(items[unknown].to_numpy(), index=items.index[unknown]).groupby(level=0).agg("、".join)
        mask = np.zeros(len(s), dtype=bool)
        value = np.full(len(s), "", dtype=object)
        mask[bad.index.to_numpy()] = True
        value[bad.index.to_numpy()] = bad.str.slice(0, 60).to_numpy(dtype=object)
        ctx.issues.warn(mask, "amenities", "amenities_unknown", value=value)
    # Split the exploded codes back into one list per row (sorted positions, np.split): a
    # groupby over every row costs a pandas slice per station.
    pos = codes.index.to_numpy(dtype=np.int64)
    order = np.argsort(pos, kind="stable")
    pos, vals = pos[order], codes.to_numpy(dtype=object)[order]
    out: list[list[str]] = [[] for _ in range(len(s))]
    if len(pos):
        bounds = np.flatnonzero(np.diff(pos)) + 1
        for i, group in zip(pos[np.r_[0, bounds]].tolist(), np.split(vals, bounds), strict=True):
            out[i] = list(dict.fromkeys(str(x) for x in group))
    return out


def _whole_numbers(ctx: _Ctx, name: str, *, required: bool, default: int = 0) -> np.ndarray:
    s = _field(ctx, name)
    v, bad = _numbers(s)
    iss = ctx.issues
    iss.reject(bad, name, "number_nan", field=name, value=_quoted(s))
    if required:
        iss.reject(np.isnan(v) & ~bad, name, "number_missing", field=name)
    frac = np.isfinite(v) & (v != np.round(v))
    iss.reject(frac, name, "number_fraction", field=name)
    iss.reject(np.isfinite(v) & (v < 0), name, "number_negative", field=name)
    iss.reject(np.isfinite(v) & (v > 2**31 - 1), name, "number_large", field=name)
    return np.where(np.isfinite(v) & (v >= 0) & (v <= 2**31 - 1), np.round(v), default).astype(np.int64)


def _validate_stations(ctx: _Ctx, rows: np.ndarray) -> pd.DataFrame:
    iss = ctx.issues
    name = _name(ctx)
    lat, lng, tags = _coordinates(ctx)
    ids = _assign_ids(ctx, "stations", "station_id", name, pd.Series(lat).round(5), pd.Series(lng).round(5))
    opens, closes, open_24h = _hours(ctx)
    kind_t = _field(ctx, "kind")
    kind = _codes(kind_t, STATION_KINDS, _KIND_WORDS)
    unknown = pd.isna(kind)
    if "kind" not in ctx.raw.columns:
        iss.note("kind", "kind_none", kind=OTHER_KIND)
    else:
        iss.warn(
            unknown & kind_t.notna().to_numpy(),
            "kind",
            "kind_unknown",
            value=_quoted(kind_t),
            kind=OTHER_KIND,
        )
        iss.warn(kind_t.isna().to_numpy(), "kind", "kind_missing", kind=OTHER_KIND)
    kind = np.where(unknown, OTHER_KIND, kind)
    smart, smart_unknown = _truthy(_field(ctx, "smart"))
    iss.warn(smart_unknown, "smart", "smart_unknown")
    opened_on, date_bad = _dates(_field(ctx, "opened_on"))
    iss.warn(date_bad, "opened_on", "opened_bad")
    seats = _whole_numbers(ctx, "seats", required=False, default=DEFAULT_SEATS)
    address = _field(ctx, "address").fillna("")
    operator = _field(ctx, "operator").fillna("")
    amen = _amenities(ctx)
    o_min = hours.parse_hhmm(opens, "opens")
    c_min = hours.parse_hhmm(closes, "closes")
    df = pd.DataFrame(
        {
            "station_id": ids,
            "name": name.fillna("").to_numpy(dtype=object),
            "kind": kind,
            "lat": lat,
            "lng": lng,
            "address": address.to_numpy(dtype=object),
            **{c: tags[c].to_numpy() for c in REGION_COLUMNS},
            "opens": opens,
            "closes": closes,
            "open_24h": open_24h,
            "extended_hours": hours.is_extended_hours(o_min, c_min, open_24h),
            "smart": smart,
            "amenities": pd.Series(amen, dtype=object).to_numpy(),
            "seats": seats,
            "operator": operator.to_numpy(dtype=object),
            "opened_on": opened_on,
        }
    )
    _near_duplicates(ctx, lat, lng, df["name"].to_numpy(), rows)
    return df


def _validate_workplaces(ctx: _Ctx, rows: np.ndarray) -> pd.DataFrame:
    name = _name(ctx)
    lat, lng, tags = _coordinates(ctx)
    ids = _assign_ids(
        ctx, "workplaces", "workplace_id", name, pd.Series(lat).round(5), pd.Series(lng).round(5)
    )
    occ_t = _field(ctx, "occupation")
    occ = _codes(occ_t, OCCUPATIONS, _OCCUPATION_WORDS)
    unknown = pd.isna(occ)
    ctx.issues.warn(
        unknown & occ_t.notna().to_numpy(), "occupation", "occupation_unknown", value=_quoted(occ_t)
    )
    workers = _whole_numbers(ctx, "workers", required=True)
    return pd.DataFrame(
        {
            "workplace_id": ids,
            "name": name.fillna("").to_numpy(dtype=object),
            "occupation": np.where(unknown, "other", occ),
            "workers": workers,
            "lat": lat,
            "lng": lng,
            **{c: tags[c].to_numpy() for c in REGION_COLUMNS},
        }
    )


def _required_date(ctx: _Ctx) -> tuple[pd.Series, np.ndarray]:
    """Return the ``date`` field as written and parsed; rows without a readable date are rejected."""
    date_t = _field(ctx, "date")
    date, date_bad = _dates(date_t)
    ctx.issues.reject(date_bad, "date", "date_bad", value=_quoted(date_t))
    ctx.issues.reject(date_t.isna().to_numpy(), "date", "date_missing")
    return date_t, date


def _validate_campaign(ctx: _Ctx, rows: np.ndarray) -> pd.DataFrame:
    iss = ctx.issues
    date_t, date = _required_date(ctx)
    year_t = _field(ctx, "year")
    year_v, year_bad = _numbers(year_t.str.replace("年", ""))
    iss.reject(
        year_bad | (np.isfinite(year_v) & ((year_v < 2000) | (year_v > 2100))),
        "year",
        "year_bad",
        value=_quoted(year_t),
    )
    # A campaign runs up to the Spring Festival: visits in November/December count for the next year.
    derived = np.array(
        [d.year + (1 if d.month >= 11 else 0) if d is not None else 0 for d in date], dtype=np.int64
    )
    year = np.where(np.isfinite(year_v), np.nan_to_num(year_v), derived).astype(np.int64)
    cat_t = _field(ctx, "category")
    cat = _codes(cat_t, CATEGORIES, _CATEGORY_WORDS)
    iss.reject(
        pd.isna(cat),
        "category",
        "category_unknown",
        value=_quoted(cat_t),
    )
    lvl_t = _field(ctx, "organizer_level")
    lvl = _codes(lvl_t, ORGANIZER_LEVELS, _LEVEL_WORDS)
    iss.reject(
        pd.isna(lvl),
        "organizer_level",
        "level_unknown",
        value=_quoted(lvl_t),
    )
    people = _whole_numbers(ctx, "people", required=True)
    funds_t = _field(ctx, "funds_yuan")
    funds, funds_bad = _numbers(funds_t)
    iss.reject(funds_bad, "funds_yuan", "amount_nan", value=_quoted(funds_t))
    iss.reject(np.isnan(funds) & ~funds_bad, "funds_yuan", "amount_missing")
    iss.reject(np.isfinite(funds) & (funds < 0), "funds_yuan", "amount_negative")
    lat, lng, tags = _coordinates(ctx)
    ids = _assign_ids(
        ctx,
        "campaign",
        "event_id",
        date_t,
        cat_t,
        pd.Series(people),
        pd.Series(lat).round(5),
        pd.Series(lng).round(5),
    )
    return pd.DataFrame(
        {
            "event_id": ids,
            "year": year,
            "date": date,
            "category": cat,
            "people": people,
            "funds_yuan": np.nan_to_num(funds),
            "organizer_level": lvl,
            "lat": lat,
            "lng": lng,
            **{c: tags[c].to_numpy() for c in REGION_COLUMNS},
        }
    )


def _validate_checkins(ctx: _Ctx, rows: np.ndarray) -> pd.DataFrame:
    iss = ctx.issues
    sid = _field(ctx, "station_id")
    iss.reject(sid.isna().to_numpy(), "station_id", "station_id_missing")
    if ctx.station_ids is not None:
        iss.reject(
            (sid.notna() & ~sid.isin(ctx.station_ids)).to_numpy(dtype=bool),
            "station_id",
            "station_unknown",
            value=_quoted(sid),
        )
    _, date = _required_date(ctx)
    visits = _whole_numbers(ctx, "visits", required=True)
    key = sid.fillna("") + "|" + pd.Series(date, dtype=object).astype(str).to_numpy()
    dup = key.duplicated(keep="first").to_numpy() & sid.notna().to_numpy()
    iss.reject(dup, "station_id", "checkin_dup")
    if ctx.existing_ids:
        iss.reject(
            key.isin(ctx.existing_ids).to_numpy(),
            "date",
            "checkin_exists",
        )
    return pd.DataFrame({"station_id": sid.fillna("").to_numpy(dtype=object), "date": date, "visits": visits})


_VALIDATORS: Final = {
    "stations": _validate_stations,
    "workplaces": _validate_workplaces,
    "campaign": _validate_campaign,
    "checkins": _validate_checkins,
}


def to_schema(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Return ``df`` with exactly the columns of ``table`` in order, with the stored dtypes."""
    out = pd.DataFrame(index=range(len(df)))
    for col, kind in table.columns.items():
        if col not in df.columns:
            continue  # h3_9 is derived below
        s = df[col].reset_index(drop=True)
        if kind == "string":
            out[col] = s.astype("string")
        elif kind in ("float64", "int32", "int16", "int64", "bool"):
            out[col] = s.astype(kind)
        else:  # date and list columns stay python objects (as the generator writes them)
            out[col] = s.astype(object)
    if "h3_9" in table.columns and "h3_9" not in df.columns:
        cells: Any = (
            hexes.latlng_to_cells(out["lat"].to_numpy(), out["lng"].to_numpy(), H3_RES) if len(out) else []
        )
        out["h3_9"] = pd.Series(cells, dtype="string")
    return out


def validate(
    source: SourceFrame,
    table: str,
    mapping: Mapping[str, str],
    *,
    crs: str = "wgs84",
    existing: pd.DataFrame | None = None,
    mode: str = "replace",
    station_ids: set[str] | None = None,
    keep_id: str | None = None,
) -> tuple[pd.DataFrame, ImportReport, np.ndarray]:
    """Check every row of ``source`` for ``table``: the one validation path of every import.

    Parameters
    ----------
    source : SourceFrame
        The file's cells (see :func:`read_source`).
    table : str
        Target table.
    mapping : mapping
        Source header → field (see :func:`detect_mapping`).
    crs : str
        Datum of the file's coordinates (``wgs84``, ``gcj02``, ``bd09``); stored as WGS-84.
    existing : DataFrame, optional
        The current table; in ``append`` mode its ids must not be reused, and stations
        within 10 m of an existing one are reported.
    mode : str
        ``replace`` or ``append``.
    station_ids : set of str, optional
        Known station ids (for check-ins).
    keep_id : str, optional
        The id being edited (single-station edits may reuse it).

    Returns
    -------
    (DataFrame, ImportReport, numpy.ndarray)
        Accepted rows in the stored schema, the report (not yet committed) and the
        positions of the rejected rows in ``source.frame``.
    """
    _check_table(table)
    if mode not in MODES:
        raise InputError(f"mode={mode!r}: use one of {', '.join(MODES)}")
    crs = _check_crs(crs)
    frame = source.frame
    n = len(frame)
    report = ImportReport(
        table=table,
        format=source.format,
        encoding=source.encoding,
        crs=crs,
        mode=mode,
        mapping={str(k): v for k, v in mapping.items()},
    )
    raw = pd.DataFrame(
        {fld: frame[col] for col, fld in mapping.items() if col in frame.columns}, index=frame.index
    )
    raw = raw.reset_index(drop=True)
    existing_ids: set[str] = set()
    if existing is not None and mode == "append" and len(existing):
        if table == "checkins":
            existing_ids = set(
                (existing["station_id"].astype(str) + "|" + existing["date"].astype(str)).to_numpy()
            )
        else:
            existing_ids = set(existing[_ID_FIELD[table]].astype(str).to_numpy())
    existing_ids.discard(keep_id or "")
    near = existing if table == "stations" and mode == "append" else None
    if near is not None and keep_id:
        near = near[near["station_id"].astype(str) != keep_id]
    ctx = _Ctx(raw, _Issues(n), crs, near, existing_ids, station_ids, source.rows)
    for code, params in source.notes:
        ctx.issues.note("file", code, **params)
    if crs == "wgs84" and (hint := crs_hint(list(mapping))):
        ctx.issues.note("crs", "crs_hint", hint=hint)
    blank = frame.isna().all(axis=1).to_numpy() if len(frame.columns) else np.ones(n, dtype=bool)
    ctx.issues.reject(blank, "row", "empty_row")
    ctx.issues.unreadable |= blank  # an empty row is reported once, not once per missing field
    bad_pos = np.isin(source.rows, np.fromiter(source.bad_rows, dtype=np.int64, count=len(source.bad_rows)))
    if bad_pos.any():
        # One rejection call per reason: its parameters are arrays aligned to the rows.
        notes = [source.bad_rows.get(int(r)) for r in source.rows]
        for code in sorted({nt[0] for nt in notes if nt is not None}):
            mask = np.array([nt is not None and nt[0] == code for nt in notes], dtype=bool)
            keys = {k for nt in notes if nt is not None and nt[0] == code for k in nt[1]}
            params = {
                k: np.array([nt[1].get(k, "") if nt is not None else "" for nt in notes], dtype=object)
                for k in keys
            }
            ctx.issues.reject(mask, "row", code, **params)
        ctx.issues.unreadable |= bad_pos
    _check_lengths(ctx)
    out = _VALIDATORS[table](ctx, source.rows)
    rejected = ctx.issues.rejected
    accepted = to_schema(out.loc[~rejected].reset_index(drop=True), TABLES[table])
    report.rejections = ctx.issues.rejections(source.rows)
    report.warnings = ctx.issues.warnings(source.rows)
    report.rows_in = n
    report.rejected = int(rejected.sum())
    report.accepted = n - report.rejected
    return accepted, report, np.flatnonzero(rejected)


# ---------------------------------------------------------------- the whole import


def _parse_map(pairs: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    if pairs is None:
        return {}
    if isinstance(pairs, Mapping):
        return {str(k): str(v) for k, v in pairs.items()}
    out = {}
    for p in pairs:
        if "=" not in p:
            raise InputError(f"--map {p!r}: write it as 源列=field, e.g. 站点名称=name")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


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

    Returns
    -------
    Prepared
        Never raises for the file's content: problems with the whole file end in
        ``report.error`` (with ``error_code``). When no column is recognised the file
        is still returned as ``source`` (``report.mapping`` empty), so a page can ask
        for the mapping.
    """
    _check_table(table)
    report = ImportReport(
        table=table, file=safe_file_name(file_name), sha256=store.sha256_of(data), mode=mode, crs=crs
    )
    base = store.current_version(data_dir)
    try:
        if mode not in MODES:
            raise InputError(f"mode={mode!r}: use one of {', '.join(MODES)}")
        crs = _check_crs(crs)
        report.crs = crs
        source = read_source(
            data, file_name, table, encoding=encoding, sheet=sheet, max_rows=max_rows, max_bytes=max_bytes
        )
        report.format, report.encoding, report.sheet = source.format, source.encoding, source.sheet
        if len(source.frame) > max_rows:
            raise _too_many_rows(max_rows)
        columns = list(source.frame.columns)
        cols = apply_overrides(detect_mapping(columns, table), _parse_map(mapping), columns, table)
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
                existing = store.read_table(data_dir, table, base, columns=list(TABLES[table].columns))
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
    r.version = store.write_version(
        data_dir, {r.table: prepared.frame}, manifest, base_version=prepared.base_version, check_base=True
    )
    store.append_audit(
        data_dir,
        str(user)[:100],
        "import",
        {
            "version": r.version,
            "table": r.table,
            "file": r.file,
            "sha256": r.sha256,
            "mode": r.mode,
            **r.summary(),
        },
    )
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


# ---------------------------------------------------------------- single stations, rollback


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


def _station_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a stored station row as the text cells of a form (what :func:`validate` reads back)."""

    def text(v: Any) -> Any:  # noqa: ANN401 - a stored value
        return None if v is None or (not isinstance(v, list | np.ndarray) and pd.isna(v)) else _cell_text(v)

    amenities = row.get("amenities")
    return {
        "station_id": text(row.get("station_id")),
        "name": text(row.get("name")),
        "kind": text(row.get("kind")),
        "lat": text(row.get("lat")),
        "lng": text(row.get("lng")),
        "address": text(row.get("address")),
        "hours": "24小时" if bool(row.get("open_24h")) else f"{row.get('opens')}-{row.get('closes')}",
        "amenities": "、".join(map(str, amenities)) if amenities is not None and len(amenities) else None,
        "seats": text(row.get("seats")),
        "operator": text(row.get("operator")),
        "opened_on": text(row.get("opened_on")),
        "smart": "是" if bool(row.get("smart")) else "否",
    }


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
        lat_f, lng_f = float(str(_cell_text(lat_in))), float(str(_cell_text(lng_in)))
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
    crs = _check_crs(crs)
    base = base_version if base_version is not None else store.current_version(data_dir)
    current = store.read_table(data_dir, "stations", base, columns=list(TABLES["stations"].columns))
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
        cells[k] = _cell_text(v) if v is not None else None
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
    )
    store.append_audit(
        data_dir,
        str(user)[:100],
        f"station_{action}",
        {
            "version": report.version,
            "base_version": base,
            "station_id": new_id,
            "name": str(new["name"].iloc[0]),
            "changes": changes,
        },
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
    current = store.read_table(data_dir, "stations", base, columns=list(TABLES["stations"].columns))
    keep = current["station_id"].astype(str) != str(station_id)
    if keep.all():
        raise InputError(f"no station with id {station_id!r} in the current dataset")
    closed = current.loc[~keep].iloc[0]
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
    )
    store.append_audit(
        data_dir,
        str(user)[:100],
        "station_close",
        {
            "version": version,
            "base_version": base,
            "station_id": str(station_id),
            "name": str(closed["name"]),
            "reason": str(reason)[:500],
        },
    )
    return version


def rollback(data_dir: Path, version: str, user: str, *, expect_current: str | None = None) -> str:
    """Make ``version`` current again (audited with the version rolled back from); return it.

    ``expect_current`` is the version the user saw in use: when another change came
    in since, nothing happens (:class:`geo.store.StaleBaseError`).
    """
    before = expect_current if expect_current is not None else store.current_version(data_dir)
    store.set_current(data_dir, version, expect_current=before)
    store.append_audit(data_dir, str(user)[:100], "rollback", {"from": before, "version": version})
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
