"""Header mapping: which column of a registry file holds which field (名称 → ``name``, 经度 → ``lng``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from geo.errors import InputError
from geo.ingest.report import check_table

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
    "stations": ("name", "lat", "lng"),
    "workplaces": ("name", "workers", "lat", "lng"),
    "campaign": ("date", "category", "people", "funds_yuan", "organizer_level", "lat", "lng"),
    "checkins": ("station_id", "date", "visits"),
}
"""Fields a row needs (``lat``/``lng`` may come from one ``lnglat`` column). A station without
opening hours, type or services is imported with them unknown (a note per column)."""


def norm_header(h: Any) -> str:  # noqa: ANN401 - a header cell
    """Return a header as compared with the synonyms: NFKC, lower case, no brackets, spaces or ``_:-``."""
    t = unicodedata.normalize("NFKC", str(h)).strip().lower()
    t = re.sub(r"[(（\[【].*?[)）\]】]", "", t)  # "经度(GCJ02)" -> "经度"
    return re.sub(r"[\s_*:：\-]+", "", t)


def known_headers(table: str) -> set[str]:
    """Return every normalised header that maps to a field of ``table``."""
    return {norm_header(s) for syn in FIELDS[table].values() for s in syn}


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
    check_table(table)
    lookup: dict[str, str] = {}
    for fld, synonyms in FIELDS[table].items():
        for s in synonyms:
            lookup.setdefault(norm_header(s), fld)
    out: dict[str, str] = {}
    used: set[str] = set()
    if "__lng" in columns and "__lat" in columns:
        out.update({"__lng": "lng", "__lat": "lat"})
        used.update({"lng", "lat", "lnglat"})
    for col in columns:
        if col in out:
            continue
        found = lookup.get(norm_header(col))
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


def parse_map(pairs: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Return ``{header: field}`` from a mapping or ``"header=field"`` pairs (the CLI's ``--map``)."""
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
