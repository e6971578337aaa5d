"""The station index: nearest stations to a point or to many points, with filters.

:class:`StationIndex` is the project's only spatial index of stations; the finder page,
the API, coverage and siting all query it. It is built once from the stations table
(:meth:`StationIndex.from_frame`) and is picklable, so the app can keep it in
``st.cache_resource``.

Why a KD-tree on the unit sphere: stations are stored as Cartesian points on the unit
sphere (:func:`geo.distance.latlng_to_xyz`), where straight-line (chord) distance ranks
points exactly as great-circle distance does. A tree (or ``sjoin_nearest``) on raw
degrees treats a degree of longitude as long as a degree of latitude, which is wrong by
a factor ``cos(lat)`` (0.6 in Harbin) and picks the wrong station for a sizeable share of
queries in northern China.

Stations whose opening hours are unknown (an imported registry without them) have
``hours_known`` false: their ``open_now`` is ``None``, and an "open at" filter leaves them
out unless ``include_unknown_hours`` is set. A station whose services are unknown is
stored with none, so an amenity filter never matches it.

Filters (amenities, kinds, open at a time, smart, excluded ids) are exact:
:meth:`StationIndex.query_arrays` asks the tree for a growing number of candidates until
``k`` of them match, and falls back to a tree over the matching stations only when the
filter is very selective; :meth:`StationIndex.query_batch` always uses such a sub-tree,
cached per filter.

Size: the station index is one class with its filter bits, sub-tree cache, single, batch
and Z-ordered queries; the length is mostly its documented parameters.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo import hours, validate
from geo.distance import EARTH_RADIUS_M, arc_m_to_chord, chord_to_arc_m, latlng_to_xyz
from geo.errors import InputError, SchemaError
from geo.schema import AMENITIES, STATION_KINDS, amenities_to_mask
from geo.settings import DETOUR_FACTOR, RIDE_KMH, WALK_KMH

K_MAX: Final = 50
"""Most stations one query may ask for."""

REQUIRED_COLUMNS: Final = (
    "station_id",
    "name",
    "kind",
    "lat",
    "lng",
    "opens",
    "closes",
    "open_24h",
    "smart",
    "amenities",
)
"""Columns :meth:`StationIndex.from_frame` needs; ``address`` is used when present."""

RESULT_COLUMNS: Final = (
    "station_id",
    "name",
    "kind",
    "lat",
    "lng",
    "distance_m",
    "walk_min",
    "ride_min",
    "open_now",
    "hours_known",
    "opens",
    "closes",
    "open_24h",
    "smart",
    "amenities",
    "amenities_known",
    "address",
    "position",
)
"""Columns of :meth:`StationIndex.query` results (``address`` only if the stations have it)."""

CHINA_TZ: Final = ZoneInfo("Asia/Shanghai")
"""Time zone of station opening hours (all of China keeps Beijing time)."""

SUBTREE_CACHE_SIZE: Final = 32
"""Filtered sub-trees kept per index (least recently used dropped first)."""

MASK_CACHE_SIZE: Final = 32
"""Whole-table filter masks kept per index (one byte per station each; LRU)."""

_GROW_FACTOR: Final = 4
_GROW_MAX_CANDIDATES: Final = 4096
# Above this many candidates a filter is selective enough that one tree over the
# matching stations (built once, cached) beats scanning ever more neighbours.

_SORT_MIN_POINTS: Final = 50_000
# Batches at least this large are queried in Z-order (sorting costs more than it saves below).
_Z_BITS: Final = 21
_Z_MASKS: Final = (
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
)

_TWO_R: Final = 2.0 * EARTH_RADIUS_M
_M_PER_MIN_WALK: Final = WALK_KMH * 1000.0 / 60.0
_M_PER_MIN_RIDE: Final = RIDE_KMH * 1000.0 / 60.0


def travel_minutes(distance_m: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Estimate walking and e-bike riding times for great-circle distances.

    Parameters
    ----------
    distance_m : array_like
        Great-circle distances in metres, any shape.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(walk_min, ride_min)``, ``float64`` minutes of the same shape: the distance
        times :data:`geo.settings.DETOUR_FACTOR` (streets are not straight) at
        :data:`geo.settings.WALK_KMH` and :data:`geo.settings.RIDE_KMH`.
    """
    street_m = np.asarray(distance_m, dtype=np.float64) * DETOUR_FACTOR
    return street_m / _M_PER_MIN_WALK, street_m / _M_PER_MIN_RIDE


def _spread_bits(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Put a zero bit between each of the low 32 bits of ``v`` (for Morton codes)."""
    for shift, mask in _Z_MASKS:
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def z_order(lat: NDArray[np.float64], lng: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return the permutation that sorts points along a Z-order (Morton) curve.

    Points close on the curve are close on the ground (about 0.0001° cells), so
    processing them in this order keeps the work of neighbours together.
    """
    scale = (1 << _Z_BITS) - 1
    a = np.clip((lat + 90.0) / 180.0 * scale, 0, scale).astype(np.uint64)
    b = np.clip((lng + 180.0) / 360.0 * scale, 0, scale).astype(np.uint64)
    return np.argsort(_spread_bits(a) | (_spread_bits(b) << np.uint64(1)))


def minute_of_day_now(tz: dt.tzinfo = CHINA_TZ) -> int:
    """Return the current minute of the day in ``tz`` (Beijing time by default), 0–1439."""
    now = dt.datetime.now(tz)
    return now.hour * 60 + now.minute


@dataclass(frozen=True)
class _Filter:
    """A validated filter; hashable, so it keys the sub-tree cache."""

    amenity_mask: int = 0
    kind_mask: int = 0
    open_at_min: int | None = None
    smart: bool | None = None
    exclude: frozenset[int] = frozenset()
    include_unknown_hours: bool = False

    @property
    def is_empty(self) -> bool:
        return (
            self.amenity_mask == 0
            and self.kind_mask == 0
            and self.open_at_min is None
            and self.smart is None
            and not self.exclude
        )


_NO_FILTER: Final = _Filter()


def _items(values: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise a filter argument: a lone string is one item, ``None`` is none."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _none(values: object) -> bool:
    """Whether a filter argument is clearly empty (``None`` or an empty str/tuple/list/set)."""
    return values is None or (isinstance(values, str | tuple | list | set | frozenset) and not values)


def _codes(items: tuple[str, ...], allowed: list[str], field: str) -> list[int]:
    """Positions of ``items`` in ``allowed``, refusing unknown codes."""
    out = []
    for v in items:
        if v not in allowed:
            raise InputError(f"{field}: unknown code {v!r}; choose from {', '.join(allowed)}")
        out.append(allowed.index(v))
    return out


def _open_or_unknown(is_open: NDArray[np.bool_], known: NDArray[np.bool_]) -> NDArray[Any]:
    """``is_open`` as ``bool``, or an ``object`` array with ``None`` where the hours are unknown."""
    if known.all():
        return is_open
    out = is_open.astype(object)
    out[~known] = None
    return out


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= K_MAX:
        raise InputError(f"k={k!r}: ask for a whole number of stations from 1 to {K_MAX}")
    return int(k)


# Coordinates are checked at the one boundary, geo.validate.
_check_point = validate.check_latlng
_check_points = validate.check_latlngs


def _radius_chord(radius_m: float | None) -> float:
    """Chord bound for the tree (a hair generous; results are cut on metres afterwards)."""
    if radius_m is None:
        return math.inf
    r = float(radius_m)
    if not (r > 0.0 and math.isfinite(r)):
        raise InputError(f"radius_m={radius_m!r}: give a positive distance in metres, or none")
    return float(arc_m_to_chord(r)) * (1.0 + 1e-9) + 1e-12


def _point_xyz(lat: float, lng: float) -> NDArray[np.float64]:
    phi, lmb = math.radians(lat), math.radians(lng)
    return np.array([math.cos(phi) * math.cos(lmb), math.cos(phi) * math.sin(lmb), math.sin(phi)])


class StationIndex:
    """Nearest-station index over a stations table.

    Build it with :meth:`from_frame`. Attributes are read-only numpy arrays aligned with
    the rows of the stations frame it was built from (``position`` ``i`` is row ``i``,
    i.e. ``stations.iloc[i]``).

    Attributes
    ----------
    n_stations : int
        Number of stations indexed.
    station_id : numpy.ndarray
        ``object`` array of ids, shape ``(n_stations,)``.
    lat, lng : numpy.ndarray
        ``float64`` WGS-84 degrees, shape ``(n_stations,)``.
    kind_code : numpy.ndarray
        ``int8`` position of each station's kind in :data:`geo.schema.STATION_KINDS`.
    amenity_mask : numpy.ndarray
        ``uint16`` amenity bits (:func:`geo.schema.amenities_to_mask`).
    opens_min, closes_min : numpy.ndarray
        ``int16`` opening and closing minutes after midnight (:mod:`geo.hours`).
    open_24h, smart : numpy.ndarray
        ``bool`` flags.
    """

    def __init__(
        self,
        *,
        station_id: NDArray[np.object_],
        lat: NDArray[np.float64],
        lng: NDArray[np.float64],
        kind_code: NDArray[np.int8],
        amenity_mask: NDArray[np.uint16],
        opens_min: NDArray[np.int16],
        closes_min: NDArray[np.int16],
        open_24h: NDArray[np.bool_],
        smart: NDArray[np.bool_],
        display: dict[str, NDArray[np.object_]],
        hours_known: NDArray[np.bool_] | None = None,
    ) -> None:
        """Hold prepared arrays; use :meth:`from_frame` rather than calling this directly."""
        self.n_stations = len(station_id)
        self.station_id = station_id
        self.lat = lat
        self.lng = lng
        self.kind_code = kind_code
        self.amenity_mask = amenity_mask
        self.opens_min = opens_min
        self.closes_min = closes_min
        self.open_24h = open_24h
        self.smart = smart
        self.hours_known = np.ones(len(station_id), dtype=bool) if hours_known is None else hours_known
        self._kind_bit = (np.uint16(1) << kind_code.astype(np.uint16)).astype(np.uint16)
        # Whether a station is open changes only at an opening or closing minute, so every
        # minute between two consecutive such minutes gives the same filter (and sub-tree).
        self._hour_edges = np.unique(np.concatenate([opens_min, closes_min]).astype(np.int32))
        self._display = display
        self._tree = cKDTree(latlng_to_xyz(lat, lng).reshape(-1, 3))
        self._position_of = {sid: i for i, sid in enumerate(station_id.tolist())}
        self._subtrees: OrderedDict[_Filter, tuple[cKDTree | None, NDArray[np.int64]]] = OrderedDict()
        self._masks: OrderedDict[_Filter, NDArray[np.bool_]] = OrderedDict()
        self._lock = threading.Lock()
        for arr in (station_id, lat, lng, kind_code, amenity_mask, opens_min, closes_min, open_24h, smart):
            arr.setflags(write=False)
        self.hours_known.setflags(write=False)

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_frame(cls, stations: pd.DataFrame) -> StationIndex:
        """Build the index from a stations table.

        Parameters
        ----------
        stations : pandas.DataFrame or geopandas.GeoDataFrame
            One row per station with the :data:`REQUIRED_COLUMNS` (see
            :data:`geo.schema.STATIONS`): ``lat``/``lng`` in WGS-84 degrees, ``kind`` codes
            of :data:`geo.schema.STATION_KINDS`, ``opens``/``closes`` as ``"HH:MM"``
            (may be empty where ``open_24h``), ``amenities`` lists of
            :data:`geo.schema.AMENITIES` codes. ``address`` is carried into results if present.

        Returns
        -------
        StationIndex
            The index; positions refer to the rows of ``stations`` in order.

        Raises
        ------
        geo.errors.SchemaError
            If a column is missing, a coordinate is missing or out of range, or a kind is unknown.
        geo.errors.InputError
            If an opening or closing time is not ``"HH:MM"``.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in stations.columns]
        if missing:
            raise SchemaError(
                f"stations table lacks column(s) {', '.join(missing)}; regenerate or re-import it"
            )
        # Only the columns used, positionally (no copy of geometry or of unused text).
        used = [*REQUIRED_COLUMNS, *(c for c in ("address", "amenities_known") if c in stations.columns)]
        df = pd.DataFrame(stations[used]).reset_index(drop=True)
        ids = df["station_id"].astype(str).to_numpy(dtype=object)
        lat = df["lat"].to_numpy(dtype=np.float64, na_value=np.nan)
        lng = df["lng"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~validate.valid_latlng(lat, lng)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SchemaError(
                f"stations: {int(bad.sum())} row(s) have missing or out-of-range lat/lng, first station "
                f"{ids[row]} ({lat[row]}, {lng[row]}); fix the coordinates (WGS-84 degrees)"
            )
        kind_code = pd.Index(STATION_KINDS.values).get_indexer(df["kind"].astype(object))
        if (kind_code < 0).any():
            row = int(np.flatnonzero(kind_code < 0)[0])
            raise SchemaError(
                f"stations: station {ids[row]} has kind {df['kind'].iloc[row]!r}; "
                f"use one of {', '.join(STATION_KINDS.values)}"
            )
        open_24h = df["open_24h"].to_numpy(dtype=bool, na_value=False)
        # Hours unknown (an imported registry without them): both times missing, not all day.
        hours_known = (df["opens"].notna() & df["closes"].notna()).to_numpy(dtype=bool) | open_24h
        # All-day and unknown-hours stations need no times; fill blanks so they parse (the
        # unknown ones are masked by hours_known wherever being open matters).
        opens_text = df["opens"].astype(object).where(df["opens"].notna() & hours_known, "00:00")
        closes_text = df["closes"].astype(object).where(df["closes"].notna() & hours_known, "24:00")
        display = {
            "name": df["name"].to_numpy(dtype=object),
            "kind": df["kind"].astype(str).to_numpy(dtype=object),
            "opens": opens_text.where(hours_known, None).to_numpy(dtype=object),
            "closes": closes_text.where(hours_known, None).to_numpy(dtype=object),
            "amenities": df["amenities"].to_numpy(dtype=object),
            # False: imported without a services column (empty list = unknown, not none);
            # data written before the column existed counts as known.
            "amenities_known": (
                df["amenities_known"].to_numpy(dtype=bool, na_value=True)
                if "amenities_known" in df.columns
                else np.ones(len(df), dtype=bool)
            ),
        }
        if "address" in df.columns:
            display["address"] = df["address"].to_numpy(dtype=object)
        return cls(
            station_id=ids,
            lat=lat,
            lng=lng,
            kind_code=kind_code.astype(np.int8),
            amenity_mask=amenities_to_mask(df["amenities"]),
            opens_min=hours.parse_hhmm(opens_text, field="stations.opens"),
            closes_min=hours.parse_hhmm(closes_text, field="stations.closes"),
            open_24h=open_24h,
            smart=df["smart"].to_numpy(dtype=bool, na_value=False),
            display=display,
            hours_known=hours_known,
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle everything but the lock and the (rebuildable) sub-tree cache."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["_subtrees"] = OrderedDict()
        state["_masks"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`__getstate__`."""
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Summarise the index."""
        return f"StationIndex(n_stations={self.n_stations})"

    # -- filters ----------------------------------------------------------------------

    def _filter(
        self,
        amenities: str | Iterable[str] | None,
        kinds: str | Iterable[str] | None,
        open_at_min: int | None,
        smart: bool | None,
        exclude_ids: str | Iterable[str] | None,
        include_unknown_hours: bool = False,
    ) -> _Filter:
        if open_at_min is None and smart is None and _none(amenities) and _none(kinds) and _none(exclude_ids):
            return _NO_FILTER  # the common case, without normalising anything
        amenity_items, kind_items, id_items = _items(amenities), _items(kinds), _items(exclude_ids)
        if not amenity_items and not kind_items and open_at_min is None and smart is None and not id_items:
            return _NO_FILTER
        amenity_mask = sum(1 << i for i in set(_codes(amenity_items, AMENITIES.values, "amenities")))
        kind_mask = sum(1 << i for i in set(_codes(kind_items, STATION_KINDS.values, "kinds")))
        if open_at_min is not None:
            if (
                isinstance(open_at_min, bool)
                or not isinstance(open_at_min, int | np.integer)
                or not 0 <= open_at_min < hours.MINUTES_PER_DAY
            ):
                raise InputError(f"open_at_min={open_at_min!r}: give whole minutes after midnight (0-1439)")
            bucket = int(np.searchsorted(self._hour_edges, open_at_min, side="right"))
            open_at_min = int(self._hour_edges[bucket - 1]) if bucket > 0 else 0
        if smart is not None and not isinstance(smart, bool | np.bool_):
            raise InputError(f"smart={smart!r}: give True, False or None (no filter)")
        # Excluding an id the index does not hold changes nothing, so it is not an error.
        exclude = frozenset(self._position_of[i] for i in id_items if i in self._position_of)
        return _Filter(
            amenity_mask=amenity_mask,
            kind_mask=kind_mask,
            open_at_min=open_at_min,
            smart=None if smart is None else bool(smart),
            exclude=exclude,
            include_unknown_hours=bool(include_unknown_hours) and open_at_min is not None,
        )

    def _matches(self, f: _Filter, positions: NDArray[np.int64] | None = None) -> NDArray[np.bool_]:
        """Which stations (all, or those at ``positions``) pass filter ``f``."""
        sel: slice | NDArray[np.int64] = slice(None) if positions is None else positions
        size = self.n_stations if positions is None else len(positions)
        ok = np.ones(size, dtype=bool)
        if f.amenity_mask:
            ok &= (self.amenity_mask[sel] & np.uint16(f.amenity_mask)) == f.amenity_mask
        if f.kind_mask:
            ok &= (self._kind_bit[sel] & np.uint16(f.kind_mask)) != 0
        if f.open_at_min is not None:
            is_open = hours.open_at(
                self.opens_min[sel], self.closes_min[sel], self.open_24h[sel], f.open_at_min
            )
            known = self.hours_known[sel]
            # Unknown hours are left out of "open at" unless asked for (then they may be closed).
            ok &= (is_open | ~known) if f.include_unknown_hours else (is_open & known)
        if f.smart is not None:
            ok &= self.smart[sel] == f.smart
        if f.exclude:
            where = np.arange(self.n_stations) if positions is None else positions
            ok &= ~np.isin(where, np.fromiter(f.exclude, dtype=np.int64))
        return ok

    def _mask(self, f: _Filter) -> NDArray[np.bool_]:
        """Which stations pass ``f``, over the whole table (LRU-cached; read-only).

        A filter without ``exclude`` takes few distinct values (``open_at`` is bucketed to
        the hour edges), so its mask is computed once and a query only indexes it instead of
        re-evaluating opening hours on every candidate.
        """
        with self._lock:
            hit = self._masks.get(f)
            if hit is not None:
                self._masks.move_to_end(f)
                return hit
        mask = self._matches(f)
        mask.flags.writeable = False
        with self._lock:
            self._masks[f] = mask
            self._masks.move_to_end(f)
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        return mask

    def _subtree(self, f: _Filter) -> tuple[cKDTree | None, NDArray[np.int64]]:
        """Tree over the stations passing ``f`` and their positions (LRU-cached)."""
        with self._lock:
            hit = self._subtrees.get(f)
            if hit is not None:
                self._subtrees.move_to_end(f)
                return hit
        positions = np.flatnonzero(self._matches(f)).astype(np.int64)
        tree = cKDTree(self._tree.data[positions]) if positions.size else None
        with self._lock:
            self._subtrees[f] = (tree, positions)
            self._subtrees.move_to_end(f)
            while len(self._subtrees) > SUBTREE_CACHE_SIZE:
                self._subtrees.popitem(last=False)
        return tree, positions

    # -- queries ----------------------------------------------------------------------

    def query_arrays(
        self,
        lat: float,
        lng: float,
        k: int = 5,
        *,
        radius_m: float | None = None,
        amenities: str | Iterable[str] | None = (),
        kinds: str | Iterable[str] | None = (),
        open_at_min: int | None = None,
        smart: bool | None = None,
        exclude_ids: str | Iterable[str] | None = (),
        include_unknown_hours: bool = False,
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Find the ``k`` nearest matching stations to one point, as bare arrays.

        Parameters are those of :meth:`query`.

        Returns
        -------
        distance_m : numpy.ndarray
            ``float64`` great-circle distances in metres, ascending, shape ``(m,)`` with
            ``m <= k`` (fewer when fewer stations match or lie within ``radius_m``).
        position : numpy.ndarray
            ``int64`` row positions of those stations in the stations frame, shape ``(m,)``.
        """
        k = _check_k(k)
        lat, lng = _check_point(lat, lng)
        bound = _radius_chord(radius_m)
        f = self._filter(amenities, kinds, open_at_min, smart, exclude_ids, include_unknown_hours)
        n = self.n_stations
        xyz = _point_xyz(lat, lng)
        if n == 0:
            return np.empty(0), np.empty(0, dtype=np.int64)
        if f.is_empty:
            chord, pos = self._tree.query(xyz, k=k, distance_upper_bound=bound)
            if k == 1:  # scalars then
                chord, pos = np.array([chord]), np.array([pos])
            if pos[-1] >= n:  # fewer than k within the radius; the misses sort last
                found = pos < n
                chord, pos = chord[found], pos[found]
        else:
            chord, pos = self._query_filtered(xyz, k, bound, f)
        # Chords here are finite and <= 2, so skip chord_to_arc_m's guards (hot path).
        distance_m = _TWO_R * np.arcsin(chord * 0.5)
        if radius_m is not None:
            inside = distance_m <= radius_m
            distance_m, pos = distance_m[inside], pos[inside]
        return distance_m, pos.astype(np.int64, copy=False)

    def _query_filtered(
        self, xyz: NDArray[np.float64], k: int, bound: float, f: _Filter
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Nearest ``k`` stations passing ``f``: widen the candidate set, else use a sub-tree."""
        n = self.n_stations
        # Per-request ids to leave out would churn a cache: those filters test candidates only.
        mask = None if f.exclude else self._mask(f)
        want = min(n, k * _GROW_FACTOR)
        while want <= _GROW_MAX_CANDIDATES:
            chord, pos = self._tree.query(xyz, k=want, distance_upper_bound=bound)
            chord, pos = np.atleast_1d(chord), np.atleast_1d(pos)
            found = pos < n
            exhausted = not found.all() or want == n  # radius or the whole table reached
            chord, pos = chord[found], pos[found]
            ok = self._matches(f, pos) if mask is None else mask[pos]
            if exhausted or np.count_nonzero(ok) >= k:
                return chord[ok][:k], pos[ok][:k]
            want = min(n, want * _GROW_FACTOR)
        tree, positions = self._subtree(f)
        if tree is None:
            return np.empty(0), np.empty(0, dtype=np.int64)
        chord, sub = self._tree_query(tree, xyz.reshape(1, 3), k, bound, workers=1)
        found = sub[0] < tree.n
        return chord[0][found], positions[sub[0][found]]

    @staticmethod
    def _tree_query(
        tree: cKDTree, xyz: NDArray[np.float64], k: int, bound: float, workers: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """``tree.query`` with results always shaped ``(len(xyz), k)``."""
        chord, idx = tree.query(xyz, k=k, distance_upper_bound=bound, workers=workers)
        return chord.reshape(len(xyz), k), idx.reshape(len(xyz), k)

    def query(
        self,
        lat: float,
        lng: float,
        k: int = 5,
        *,
        radius_m: float | None = None,
        amenities: str | Iterable[str] | None = (),
        kinds: str | Iterable[str] | None = (),
        open_at_min: int | None = None,
        smart: bool | None = None,
        exclude_ids: str | Iterable[str] | None = (),
        now_min: int | None = None,
        include_unknown_hours: bool = False,
    ) -> pd.DataFrame:
        """Find the ``k`` nearest stations to one point that pass every filter.

        Parameters
        ----------
        lat, lng : float
            The point, WGS-84 degrees.
        k : int, optional
            How many stations, 1 to :data:`K_MAX` (default 5).
        radius_m : float, optional
            Only stations within this great-circle distance, metres (inclusive).
        amenities : str or iterable of str, optional
            :data:`geo.schema.AMENITIES` codes the station must **all** have.
        kinds : str or iterable of str, optional
            :data:`geo.schema.STATION_KINDS` codes; the station must be **one** of them.
        open_at_min : int, optional
            Only stations open at this minute of the day (0–1439, overnight hours honoured).
            Stations whose hours are unknown are left out unless ``include_unknown_hours``.
        smart : bool, optional
            Only smart (``True``) or only non-smart (``False``) stations.
        exclude_ids : str or iterable of str, optional
            Station ids to leave out (e.g. the station being viewed); unknown ids are ignored.
        now_min : int, optional
            Minute of the day for the ``open_now`` column when ``open_at_min`` is not given;
            default the current Beijing time.
        include_unknown_hours : bool, optional
            With ``open_at_min``, also return stations whose opening hours are unknown
            (their ``open_now`` is ``None``). Amenity filters never match a station whose
            services are unknown (stored as none).

        Returns
        -------
        pandas.DataFrame
            Up to ``k`` rows ordered by distance, columns :data:`RESULT_COLUMNS`:
            ``distance_m`` (great-circle metres), ``walk_min`` / ``ride_min`` (estimates,
            see :func:`travel_minutes`), ``open_now`` (open at ``open_at_min`` or
            ``now_min``; ``None`` when the hours are unknown), ``hours_known``,
            ``position`` (row in the stations frame) and the station's own
            fields. Fewer than ``k`` rows only when fewer stations match (within ``radius_m``).

        Raises
        ------
        geo.errors.InputError
            If a coordinate is out of range, ``k`` is not 1–50, ``radius_m`` is not
            positive, or an amenity or kind code is unknown; the message names the field.
        """
        distance_m, pos = self.query_arrays(
            lat,
            lng,
            k,
            radius_m=radius_m,
            amenities=amenities,
            kinds=kinds,
            open_at_min=open_at_min,
            smart=smart,
            exclude_ids=exclude_ids,
            include_unknown_hours=include_unknown_hours,
        )
        at = open_at_min if open_at_min is not None else (minute_of_day_now() if now_min is None else now_min)
        return self.describe(pos, distance_m, at_min=at)

    def describe(
        self, position: ArrayLike, distance_m: ArrayLike | None = None, *, at_min: int | None = None
    ) -> pd.DataFrame:
        """Build result rows for stations at ``position`` (as returned by the queries).

        Parameters
        ----------
        position : array_like of int
            Row positions in the stations frame, shape ``(m,)``; ``-1`` entries are dropped.
        distance_m : array_like of float, optional
            Distances in metres aligned with ``position`` (``NaN`` when not given).
        at_min : int, optional
            Minute of the day for ``open_now``; default the current Beijing time.

        Returns
        -------
        pandas.DataFrame
            One row per valid position, columns :data:`RESULT_COLUMNS`.
        """
        pos = np.asarray(position, dtype=np.int64).reshape(-1)
        dist = (
            np.full(pos.shape, np.nan)
            if distance_m is None
            else np.asarray(distance_m, np.float64).reshape(-1)
        )
        keep = pos >= 0
        pos, dist = pos[keep], dist[keep]
        at = minute_of_day_now() if at_min is None else at_min
        walk_min, ride_min = travel_minutes(dist)
        d = self._display
        columns: dict[str, Any] = {
            "station_id": self.station_id[pos],
            "name": d["name"][pos],
            "kind": d["kind"][pos],
            "lat": self.lat[pos],
            "lng": self.lng[pos],
            "distance_m": dist,
            "walk_min": walk_min,
            "ride_min": ride_min,
            "open_now": _open_or_unknown(
                hours.open_at(self.opens_min[pos], self.closes_min[pos], self.open_24h[pos], at),
                self.hours_known[pos],
            ),
            "hours_known": self.hours_known[pos],
            "opens": d["opens"][pos],
            "closes": d["closes"][pos],
            "open_24h": self.open_24h[pos],
            "smart": self.smart[pos],
            "amenities": d["amenities"][pos],
            "amenities_known": d["amenities_known"][pos],
        }
        if "address" in d:
            columns["address"] = d["address"][pos]
        columns["position"] = pos
        return pd.DataFrame(columns)

    def query_batch(
        self,
        lats: ArrayLike,
        lngs: ArrayLike,
        *,
        k: int = 1,
        radius_m: float | None = None,
        amenities: str | Iterable[str] | None = (),
        kinds: str | Iterable[str] | None = (),
        open_at_min: int | None = None,
        smart: bool | None = None,
        exclude_ids: str | Iterable[str] | None = (),
        include_unknown_hours: bool = False,
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Find the ``k`` nearest matching stations to each of many points.

        Parameters
        ----------
        lats, lngs : array_like
            Points in WGS-84 degrees, 1-D, shape ``(n,)``.
        k, radius_m, amenities, kinds, open_at_min, smart, exclude_ids, include_unknown_hours
            As for :meth:`query` (``k`` defaults to 1).

        Returns
        -------
        distance_m : numpy.ndarray
            ``float64`` great-circle metres, shape ``(n, k)``, ascending along each row;
            ``inf`` where there is no ``j``-th matching station (within ``radius_m``).
        position : numpy.ndarray
            ``int64`` row positions in the stations frame, shape ``(n, k)``; ``-1`` where
            ``distance_m`` is ``inf``.

        Raises
        ------
        geo.errors.InputError
            As for :meth:`query`; coordinate errors give the count and first bad position.
        """
        k = _check_k(k)
        lat, lng = _check_points(lats, lngs)
        bound = _radius_chord(radius_m)
        f = self._filter(amenities, kinds, open_at_min, smart, exclude_ids, include_unknown_hours)
        n_points = len(lat)
        tree, positions = (self._tree, None) if f.is_empty else self._subtree(f)
        if tree is None or tree.n == 0 or n_points == 0:
            return np.full((n_points, k), np.inf), np.full((n_points, k), -1, dtype=np.int64)
        xyz = latlng_to_xyz(lat, lng)
        if n_points >= _SORT_MIN_POINTS:
            # Neighbouring queries walk the same tree nodes: asking them in Z-order keeps
            # those nodes in cache (~25 % faster on a national table); answers are put back.
            order = z_order(lat, lng)
            chord_sorted, idx_sorted = self._tree_query(tree, xyz[order], k, bound, workers=-1)
            chord, idx = np.empty_like(chord_sorted), np.empty_like(idx_sorted)
            chord[order], idx[order] = chord_sorted, idx_sorted
        else:
            chord, idx = self._tree_query(tree, xyz, k, bound, workers=-1)
        missing = idx >= tree.n
        distance_m = chord_to_arc_m(chord)
        if radius_m is not None:
            missing |= distance_m > radius_m
            distance_m[missing] = np.inf
        position = idx.astype(np.int64) if positions is None else positions[np.minimum(idx, tree.n - 1)]
        position[missing] = -1
        return distance_m, position
