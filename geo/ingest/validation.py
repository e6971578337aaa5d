"""Per-table checks: the one validation path every import and every single-station edit takes.

Each row ends either accepted or rejected with its reasons; fixes that keep a row
(swapped lat/lng, an unknown kind kept as other) are warnings.

Size: one check per table column, in one place (imports and single-station edits take
the same path); splitting per table would duplicate the shared row bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely

from geo import datums, hexes, hours, regions
from geo.errors import InputError
from geo.ingest.checks import (
    FULLWIDTH,
    Issues,
    clean_text,
    content_ids,
    parse_dates,
    parse_hours_one,
    parse_numbers,
    parse_truthy,
    quoted,
    to_codes,
)
from geo.ingest.mapping import crs_hint
from geo.ingest.read import SourceFrame
from geo.ingest.report import MODES, ImportReport, check_crs, check_table
from geo.schema import (
    AMENITIES,
    CATEGORIES,
    H3_RES,
    OCCUPATIONS,
    OPTIONAL_COLUMNS,
    ORGANIZER_LEVELS,
    REGION_COLUMNS,
    STATION_KINDS,
    TABLES,
    Table,
)

NEAR_DUPLICATE_M: Final = 10.0
"""Two stations closer than this many metres are reported as possible duplicates."""
MAX_FIELD_CHARS: Final = 2000
"""A cell longer than this many characters rejects its row (no registry field is that long)."""
MAX_NAME_CHARS: Final = 200
"""Longest accepted name, characters."""


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


_SPLIT_LIST: Final = r"[、,，;；/|｜\s]+"


@dataclass
class _Ctx:
    raw: pd.DataFrame  # columns renamed to fields
    issues: Issues
    crs: str
    existing: pd.DataFrame | None
    existing_ids: set[str]
    station_ids: set[str] | None
    rows: np.ndarray


def _field(ctx: _Ctx, name: str) -> pd.Series:
    if name in ctx.raw.columns:
        return clean_text(ctx.raw[name])
    return pd.Series(pd.NA, index=ctx.raw.index, dtype="string")


def _coordinates(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Parse, unswap, convert to WGS-84 and region-tag the coordinates; reject the bad ones."""
    iss = ctx.issues
    lat_t, lng_t = _field(ctx, "lat"), _field(ctx, "lng")
    both = _field(ctx, "lnglat")
    if both.notna().any():
        parts = both.str.translate(FULLWIDTH).str.split(r"[,;\s]+", regex=True)
        # "经纬度" is written lng,lat (AMap, Baidu); lat,lng is caught by the swap check.
        lng_t = lng_t.fillna(parts.str[0].astype("string"))
        lat_t = lat_t.fillna(parts.str[1].astype("string"))
        iss.reject(
            (parts.str.len().fillna(2) != 2).to_numpy(dtype=bool),
            "lnglat",
            "lnglat_two",
        )
    lat, lat_bad = parse_numbers(lat_t)
    lng, lng_bad = parse_numbers(lng_t)
    iss.reject(lat_bad, "lat", "lat_nan", value=quoted(lat_t))
    iss.reject(lng_bad, "lng", "lng_nan", value=quoted(lng_t))
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
    generated = content_ids(_ID_PREFIX[table], *content)
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


def _hours(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iss = ctx.issues
    text = _field(ctx, "hours")
    opens, closes = _field(ctx, "opens"), _field(ctx, "closes")
    text = text.fillna((opens + "-" + closes).astype("string"))
    all_day, _ = parse_truthy(_field(ctx, "open_24h"))
    text = text.mask(pd.Series(all_day, index=text.index), "24小时")
    parsed = {str(u): parse_hours_one(str(u)) for u in text.dropna().unique()}
    mapped = text.map(parsed).astype(object)
    missing = text.isna().to_numpy()
    bad = ~missing & mapped.isna().to_numpy()
    # No hours is "unknown" (stored as null opens/closes), one note per file, not a rejection:
    # union registries often lack the column; a written value that is not hours still rejects.
    if not {"hours", "opens", "closes", "open_24h"} & set(ctx.raw.columns):
        iss.note("hours", "hours_none")
    elif (blank := missing & ~ctx.raw.isna().all(axis=1).to_numpy()).any():
        iss.note("hours", "hours_blank", n=int(blank.sum()))
    iss.reject(bad, "hours", "hours_bad", value=quoted(text))
    good = [g if isinstance(g, tuple) else (None, None, False, "", "") for g in mapped.to_numpy(dtype=object)]
    o = np.array([g[0] for g in good], dtype=object)
    c = np.array([g[1] for g in good], dtype=object)
    h24 = np.array([g[2] for g in good], dtype=bool)
    note = np.array([g[3] for g in good], dtype=object)
    shifts = np.array([g[4] for g in good], dtype=object)
    iss.warn(note != "", "hours", "hours_note", note=note)
    span = np.array(
        [("24小时" if a else f"{b}-{d}") if s else "" for a, b, d, s in zip(h24, o, c, shifts, strict=True)],
        dtype=object,
    )
    iss.warn(shifts != "", "hours", "hours_shifts", shifts=shifts, span=span)
    return o, c, h24


def _amenities(ctx: _Ctx) -> list[list[str]]:
    if "amenities" not in ctx.raw.columns:  # unknown, not "none": one note per file
        ctx.issues.note("amenities", "amenities_none")
    s = _field(ctx, "amenities")
    if s.isna().all():
        return [[] for _ in range(len(s))]
    items = s.str.split(_SPLIT_LIST, regex=True).explode()
    items = items[items.notna() & (items != "")]
    mapped = to_codes(items.astype("string"), AMENITIES, (), _AMENITY_SYNONYMS)
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
    v, bad = parse_numbers(s)
    iss = ctx.issues
    iss.reject(bad, name, "number_nan", field=name, value=quoted(s))
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
    kind = to_codes(kind_t, STATION_KINDS, _KIND_WORDS)
    unknown = pd.isna(kind)
    if "kind" not in ctx.raw.columns:
        iss.note("kind", "kind_none", kind=OTHER_KIND)
    else:
        iss.warn(
            unknown & kind_t.notna().to_numpy(),
            "kind",
            "kind_unknown",
            value=quoted(kind_t),
            kind=OTHER_KIND,
        )
        iss.warn(kind_t.isna().to_numpy(), "kind", "kind_missing", kind=OTHER_KIND)
    kind = np.where(unknown, OTHER_KIND, kind)
    smart, smart_unknown = parse_truthy(_field(ctx, "smart"))
    iss.warn(smart_unknown, "smart", "smart_unknown")
    opened_on, date_bad = parse_dates(_field(ctx, "opened_on"))
    iss.warn(date_bad, "opened_on", "opened_bad")
    seats = _whole_numbers(ctx, "seats", required=False, default=DEFAULT_SEATS)
    address = _field(ctx, "address").fillna("")
    operator = _field(ctx, "operator").fillna("")
    amen = _amenities(ctx)
    known = np.array([v is not None for v in opens], dtype=bool) | open_24h
    o_min = hours.parse_hhmm(np.where(known, opens, "00:00"), "opens")
    c_min = hours.parse_hhmm(np.where(known, closes, "00:00"), "closes")
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
            "extended_hours": hours.is_extended_hours(o_min, c_min, open_24h) & known,
            "smart": smart,
            "amenities": pd.Series(amen, dtype=object).to_numpy(),
            # No services column: the empty lists mean "unknown", not "none" (blank cells of
            # a services column stay "none").
            "amenities_known": np.full(len(lat), "amenities" in ctx.raw.columns, dtype=bool),
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
    occ = to_codes(occ_t, OCCUPATIONS, _OCCUPATION_WORDS)
    unknown = pd.isna(occ)
    ctx.issues.warn(
        unknown & occ_t.notna().to_numpy(), "occupation", "occupation_unknown", value=quoted(occ_t)
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
    date, date_bad = parse_dates(date_t)
    ctx.issues.reject(date_bad, "date", "date_bad", value=quoted(date_t))
    ctx.issues.reject(date_t.isna().to_numpy(), "date", "date_missing")
    return date_t, date


def _validate_campaign(ctx: _Ctx, rows: np.ndarray) -> pd.DataFrame:
    iss = ctx.issues
    date_t, date = _required_date(ctx)
    year_t = _field(ctx, "year")
    year_v, year_bad = parse_numbers(year_t.str.replace("年", ""))
    iss.reject(
        year_bad | (np.isfinite(year_v) & ((year_v < 2000) | (year_v > 2100))),
        "year",
        "year_bad",
        value=quoted(year_t),
    )
    # A campaign runs up to the Spring Festival: visits in November/December count for the next year.
    derived = np.array(
        [d.year + (1 if d.month >= 11 else 0) if d is not None else 0 for d in date], dtype=np.int64
    )
    year = np.where(np.isfinite(year_v), np.nan_to_num(year_v), derived).astype(np.int64)
    cat_t = _field(ctx, "category")
    cat = to_codes(cat_t, CATEGORIES, _CATEGORY_WORDS)
    iss.reject(
        pd.isna(cat),
        "category",
        "category_unknown",
        value=quoted(cat_t),
    )
    lvl_t = _field(ctx, "organizer_level")
    lvl = to_codes(lvl_t, ORGANIZER_LEVELS, _LEVEL_WORDS)
    iss.reject(
        pd.isna(lvl),
        "organizer_level",
        "level_unknown",
        value=quoted(lvl_t),
    )
    people = _whole_numbers(ctx, "people", required=True)
    funds_t = _field(ctx, "funds_yuan")
    funds, funds_bad = parse_numbers(funds_t)
    iss.reject(funds_bad, "funds_yuan", "amount_nan", value=quoted(funds_t))
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
            value=quoted(sid),
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
    """Return ``df`` with exactly the columns of ``table`` in order, with the stored dtypes.

    Its :data:`geo.schema.OPTIONAL_COLUMNS` follow, filled with their default where ``df`` lacks them.
    """
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
    for col, value in OPTIONAL_COLUMNS.get(table.name, {}).items():
        out[col] = (
            df[col].reset_index(drop=True).astype(bool)
            if col in df.columns
            else np.full(len(out), value, dtype=bool)
        )
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
    check_table(table)
    if mode not in MODES:
        raise InputError(f"mode={mode!r}: use one of {', '.join(MODES)}")
    crs = check_crs(crs)
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
    ctx = _Ctx(raw, Issues(n), crs, near, existing_ids, station_ids, source.rows)
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
