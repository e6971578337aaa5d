"""From a nearest-station query to what a courier acts on: result records and map-app links.

The finder page, the CLI (``python -m geo nearest``) and the JSON API (``/api/v1/nearest``)
all answer the same question the same way: :func:`nearest_records` validates the request,
queries the one :class:`geo.nearest.StationIndex` and turns the hits into plain records
(JSON-ready dicts) with distance, estimated walking / e-bike minutes, opening status and
links that open the station in the user's map app.

Map apps want their own datum, so the links are the one place where coordinates leave
WGS-84 (via :mod:`geo.datums`):

* Amap / 高德 (``uri.amap.com``): GCJ-02, ``coordinate=gaode``, ``lng,lat`` order;
* Baidu / 百度 (``api.map.baidu.com/marker``): BD-09, ``coord_type=bd09ll``, ``lat,lng`` order;
* OpenStreetMap: WGS-84.

Nothing is fetched: the links are plain outgoing URLs that the phone opens.

Size: one job, from a query to what a courier acts on — request parsing, the vectorised link
encoding and the record builder are the API's hot path and are kept side by side so their
per-request cost can be read (and measured) in one place.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo import datums, hours
from geo.distance import arc_m_to_chord, chord_to_arc_m, latlng_to_xyz
from geo.errors import InputError
from geo.nearest import K_MAX, StationIndex, minute_of_day_now, travel_minutes

APP_SOURCE: Final = "station-atlas"
"""``src`` parameter sent to Amap and Baidu (they ask callers to name themselves)."""

TRAVEL_MODES: Final = ("walk", "ride")
"""Amap navigation modes offered: on foot and by (e-)bike."""

OSM_ZOOM: Final = 17
"""Zoom level of OpenStreetMap links (street level)."""

NEAR_CHINA_DEG: Final = 0.25
"""Points up to this far (degrees, ~25 km) outside China's outline still count as in China:
coasts, border crossings and GPS error."""

ESTIMATE_NOTE: Final = (
    "walk_min / ride_min are estimates: great-circle distance x 1.3 (detour) at 4.5 km/h on foot, "
    "15 km/h by e-bike"
)
"""Shown beside travel times wherever they leave the library (CLI, API)."""


_UNRESERVED: Final = np.zeros(256, dtype=bool)
_UNRESERVED[
    np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", np.uint8)
] = True
_HEX_DIGITS: Final = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def percent_encode(texts: Sequence[str | None] | NDArray[np.object_]) -> NDArray[np.object_]:
    """URL-encode many strings at once, exactly as ``urllib.parse.quote(text, safe="")``.

    Works on the UTF-8 bytes of all strings together (numpy over one Arrow buffer): each
    byte outside ``A-Z a-z 0-9 - . _ ~`` becomes ``%XX``. About 100 times faster than a
    ``quote`` loop, so every station's name and address can be encoded when the index is
    loaded instead of on each request. ``None`` encodes as ``""``.

    Returns
    -------
    numpy.ndarray
        ``object`` array of ``str``, same length as ``texts``.
    """
    arr = pc.fill_null(
        pa.array(list(texts) if not isinstance(texts, np.ndarray) else texts, pa.large_string()), ""
    )
    if len(arr) == 0:
        return np.empty(0, dtype=object)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if data_buf is not None
        else np.empty(0, np.uint8)
    )
    keep = _UNRESERVED[data]
    out_at = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(np.where(keep, 1, 3), out=out_at[1:])
    out = np.empty(int(out_at[-1]), dtype=np.uint8)
    out[out_at[:-1][keep]] = data[keep]
    at, byte = out_at[:-1][~keep], data[~keep]
    out[at] = ord("%")
    out[at + 1] = _HEX_DIGITS[byte >> 4]
    out[at + 2] = _HEX_DIGITS[byte & 15]
    new_offsets = out_at[offsets - offsets[0]]
    encoded = pa.LargeStringArray.from_buffers(len(arr), pa.py_buffer(new_offsets), pa.py_buffer(out))
    return np.asarray(encoded.to_numpy(zero_copy_only=False), dtype=object)


def _link_texts(
    names: Sequence[object] | NDArray[np.object_], addresses: Sequence[object] | NDArray[np.object_]
) -> tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]]:
    """URL-encoded ``(amap_name, baidu_title, baidu_content)`` for stations, vectorised.

    Amap's ``to=lng,lat,name`` is comma separated, so commas in names become spaces; names
    are cut at 60 characters, Baidu's marker text (the address, else the name) at 120.
    """
    name = pd.Series(names, dtype=object).fillna("").astype(str)
    name = name.str.replace(",", " ", regex=False).str.replace("，", " ", regex=False).str.strip().str[:60]
    address = pd.Series(addresses, dtype=object).fillna("").astype(str)
    title = name.where(name != "", "驿站")
    content = address.where(address != "", name).str[:120]
    return (
        percent_encode(name.to_numpy()),
        percent_encode(title.to_numpy()),
        percent_encode(content.to_numpy()),
    )


def _amap_from_gcj(g_lat: float, g_lng: float, name_q: str, mode: str) -> str:
    return (
        f"https://uri.amap.com/navigation?to={g_lng:.6f},{g_lat:.6f},{name_q}"
        f"&mode={mode}&coordinate=gaode&callnative=1&src={APP_SOURCE}"
    )


def _baidu_from_bd(b_lat: float, b_lng: float, title_q: str, content_q: str) -> str:
    return (
        f"https://api.map.baidu.com/marker?location={b_lat:.6f},{b_lng:.6f}&title={title_q}"
        f"&content={content_q}&output=html&coord_type=bd09ll&src={APP_SOURCE}"
    )


def amap_url(lat: float, lng: float, name: str, *, mode: str = "walk") -> str:
    """Return an Amap (高德) navigation link to a WGS-84 point.

    Parameters
    ----------
    lat, lng : float
        Destination, WGS-84 degrees (converted to GCJ-02 here).
    name : str
        Destination name shown in Amap (URL-encoded).
    mode : {"walk", "ride"}, default "walk"
        Amap travel mode (``ride`` is cycling / e-bike).

    Returns
    -------
    str
        ``https://uri.amap.com/navigation?to=LNG,LAT,NAME&mode=...&coordinate=gaode&callnative=1``;
        opens the Amap app when installed (``callnative=1``), the Amap web page otherwise.
    """
    return map_links(lat, lng, name, mode=mode)["amap"]


def baidu_url(lat: float, lng: float, name: str, address: str = "") -> str:
    """Return a Baidu Maps (百度地图) marker link to a WGS-84 point.

    Parameters
    ----------
    lat, lng : float
        Station, WGS-84 degrees (converted to BD-09 here).
    name : str
        Marker title (URL-encoded).
    address : str, optional
        Marker text, e.g. the address (URL-encoded).

    Returns
    -------
    str
        ``https://api.map.baidu.com/marker?location=LAT,LNG&title=...&content=...&output=html
        &coord_type=bd09ll&src=...``; the page offers "到这里去" (directions) and the app.
    """
    return map_links(lat, lng, name, address)["baidu"]


def osm_url(lat: float, lng: float, zoom: int = OSM_ZOOM) -> str:
    """Return an OpenStreetMap link with a marker at a WGS-84 point.

    Parameters
    ----------
    lat, lng : float
        WGS-84 degrees.
    zoom : int, default :data:`OSM_ZOOM`
        Map zoom level.

    Returns
    -------
    str
        ``https://www.openstreetmap.org/?mlat=LAT&mlon=LNG#map=ZOOM/LAT/LNG``.
    """
    la, ln = f"{float(lat):.6f}", f"{float(lng):.6f}"
    return f"https://www.openstreetmap.org/?mlat={la}&mlon={ln}#map={int(zoom)}/{la}/{ln}"


def map_links(lat: float, lng: float, name: str, address: str = "", *, mode: str = "walk") -> dict[str, str]:
    """Return ``{"amap": ..., "baidu": ..., "osm": ...}`` links to one station (WGS-84 input)."""
    return map_links_many([lat], [lng], [name], [address], mode=mode)[0]


def map_links_many(
    lats: ArrayLike,
    lngs: ArrayLike,
    names: Sequence[str],
    addresses: Sequence[str],
    *,
    mode: str = "walk",
) -> list[dict[str, str]]:
    """Return :func:`map_links` for many stations, converting datums in one vectorised pass.

    Parameters
    ----------
    lats, lngs : array_like
        WGS-84 degrees, shape ``(n,)``.
    names, addresses : sequence of str
        ``n`` names and addresses.
    mode : {"walk", "ride"}, default "walk"
        Amap travel mode.

    Returns
    -------
    list of dict
        ``n`` dicts ``{"amap", "baidu", "osm"}``.
    """
    _check_mode(mode)
    lat = np.asarray(lats, dtype=np.float64).reshape(-1)
    lng = np.asarray(lngs, dtype=np.float64).reshape(-1)
    g_lat, g_lng = datums.wgs84_to_gcj02(lat, lng)
    b_lat, b_lng = datums.gcj02_to_bd09(g_lat, g_lng)
    return _links(lat, lng, g_lat, g_lng, b_lat, b_lng, *_link_texts(names, addresses), mode)


def _check_mode(mode: str) -> None:
    if mode not in TRAVEL_MODES:
        raise InputError(f"mode={mode!r}: use one of {', '.join(TRAVEL_MODES)}")


def _links(
    lat: NDArray[np.float64],
    lng: NDArray[np.float64],
    g_lat: NDArray[np.float64],
    g_lng: NDArray[np.float64],
    b_lat: NDArray[np.float64],
    b_lng: NDArray[np.float64],
    amap_name_q: NDArray[np.object_],
    baidu_title_q: NDArray[np.object_],
    baidu_content_q: NDArray[np.object_],
    mode: str,
) -> list[dict[str, str]]:
    """Format link dicts from coordinates in each app's datum and URL-encoded texts."""
    return [
        {
            "amap": _amap_from_gcj(ga, gn, nq, mode),
            "baidu": _baidu_from_bd(ba, bn, tq, cq),
            "osm": osm_url(la, ln),
        }
        for la, ln, ga, gn, ba, bn, nq, tq, cq in zip(
            lat.tolist(),
            lng.tolist(),
            g_lat.tolist(),
            g_lng.tolist(),
            b_lat.tolist(),
            b_lng.tolist(),
            amap_name_q.tolist(),
            baidu_title_q.tolist(),
            baidu_content_q.tolist(),
            strict=True,
        )
    ]


# ---------------------------------------------------------------------------------------
# Requests


@functools.cache
def _china_near() -> shapely.Geometry:
    """China's outline widened by :data:`NEAR_CHINA_DEG`, prepared (built once, ~1 s)."""
    from geo import regions

    outline = shapely.union_all(regions.simplified("province", 0.05).geometry.values)
    geom = shapely.buffer(outline, NEAR_CHINA_DEG, quad_segs=2)
    shapely.prepare(geom)
    return geom


_GRID_DEG: Final = 0.5
_GRID_LAT0, _GRID_LNG0, _GRID_LAT1, _GRID_LNG1 = datums.CHINA_BBOX


@functools.cache
def _china_inside_grid() -> NDArray[np.bool_]:
    """``_GRID_DEG`` cells of the GCJ-02 rectangle lying wholly inside :func:`_china_near`.

    Most requests fall in such a cell and need no polygon test (the API's hot path).
    """
    lat_edges = np.arange(_GRID_LAT0, _GRID_LAT1, _GRID_DEG)
    lng_edges = np.arange(_GRID_LNG0, _GRID_LNG1, _GRID_DEG)
    la, ln = np.meshgrid(lat_edges, lng_edges, indexing="ij")
    boxes = shapely.box(ln, la, ln + _GRID_DEG, la + _GRID_DEG)
    return np.asarray(shapely.contains_properly(_china_near(), boxes), dtype=bool)


def _in_china(lat: float, lng: float) -> bool:
    if not (_GRID_LAT0 <= lat <= _GRID_LAT1 and _GRID_LNG0 <= lng <= _GRID_LNG1):
        return False
    grid = _china_inside_grid()
    i, j = int((lat - _GRID_LAT0) // _GRID_DEG), int((lng - _GRID_LNG0) // _GRID_DEG)
    if i < grid.shape[0] and j < grid.shape[1] and grid[i, j]:
        return True
    return bool(shapely.contains_xy(_china_near(), lng, lat))


def check_in_china(lat: float, lng: float) -> None:
    """Refuse a WGS-84 point that is not in (or just off) China.

    Raises
    ------
    geo.errors.InputError
        If the point is outside the GCJ-02 rectangle or more than about 25 km outside
        China's boundary; the message says which coordinate order and datum are expected.
    """
    if not _in_china(float(lat), float(lng)):
        raise InputError(
            f"({lat:.5f}, {lng:.5f}) is outside China: give lat (China: about 3-54) and lng (about 73-135) "
            "in decimal degrees; did you swap them?"
        )


@dataclass(frozen=True)
class NearestRequest:
    """A validated nearest-station request (coordinates already in WGS-84).

    Attributes
    ----------
    lat, lng : float
        WGS-84 degrees.
    k : int
        Stations wanted, 1 to :data:`geo.nearest.K_MAX`.
    amenities, kinds : tuple of str
        Filter codes (checked by the index).
    open_at_min : int or None
        Only stations open at this minute of the day; ``None`` for no time filter.
    radius_m : float or None
        Only stations within this distance, metres.
    """

    lat: float
    lng: float
    k: int = 5
    amenities: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    open_at_min: int | None = None
    radius_m: float | None = None


def _split_codes(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out += [v.strip() for v in str(item).replace("，", ",").split(",") if v.strip()]
    return tuple(dict.fromkeys(out))


def parse_request(
    lat: object,
    lng: object,
    *,
    k: object = 5,
    amenities: Iterable[str] | str | None = None,
    kinds: Iterable[str] | str | None = None,
    open_at: str | None = None,
    crs: str = "wgs84",
    radius_m: object = None,
    require_china: bool = True,
) -> NearestRequest:
    """Validate raw request values (text from a URL or the command line).

    Parameters
    ----------
    lat, lng : float or str
        The point in datum ``crs``, decimal degrees.
    k : int or str, default 5
        How many stations (1–50).
    amenities, kinds : str or iterable of str, optional
        Codes of :data:`geo.schema.AMENITIES` / :data:`geo.schema.STATION_KINDS`; a string
        may hold several separated by commas.
    open_at : str, optional
        ``"HH:MM"``: only stations open then (overnight hours honoured).
    crs : {"wgs84", "gcj02", "bd09"}, default "wgs84"
        Datum of ``lat``/``lng`` (Amap gives GCJ-02, Baidu BD-09).
    radius_m : float or str, optional
        Only stations within this many metres.
    require_china : bool, default True
        Refuse points outside China (see :func:`check_in_china`).

    Returns
    -------
    NearestRequest

    Raises
    ------
    geo.errors.InputError
        Naming the bad field and what to send instead.
    """
    try:
        la, ln = float(str(lat).strip()), float(str(lng).strip())
    except (TypeError, ValueError) as exc:
        raise InputError(f"lat={lat!r}, lng={lng!r}: give both as decimal degrees, e.g. 39.9087") from exc
    if not -90.0 <= la <= 90.0:
        raise InputError(f"lat={la} is outside -90..90; give latitude in decimal degrees")
    if not -180.0 <= ln <= 180.0:
        raise InputError(f"lng={ln} is outside -180..180; give longitude in decimal degrees")
    if crs != "wgs84":  # the API's default; skip the datum machinery for it
        w_lat, w_lng = datums.to_wgs84(la, ln, crs)
        la, ln = float(w_lat), float(w_lng)
    if require_china:
        check_in_china(la, ln)
    try:
        k_int = int(str(k).strip())
    except (TypeError, ValueError) as exc:
        raise InputError(f"k={k!r}: give a whole number of stations from 1 to {K_MAX}") from exc
    if not 1 <= k_int <= K_MAX:
        raise InputError(f"k={k_int}: ask for 1 to {K_MAX} stations")
    radius: float | None = None
    if radius_m not in (None, ""):
        try:
            radius = float(str(radius_m).strip())
        except ValueError as exc:
            raise InputError(f"radius_m={radius_m!r}: give a distance in metres, e.g. 3000") from exc
        if not (radius > 0 and np.isfinite(radius)):
            raise InputError(f"radius_m={radius_m!r}: give a positive distance in metres")
    open_min = None if open_at in (None, "") else hours.parse_time_of_day(str(open_at))
    return NearestRequest(
        lat=la,
        lng=ln,
        k=k_int,
        amenities=_split_codes(amenities),
        kinds=_split_codes(kinds),
        open_at_min=open_min,
        radius_m=radius,
    )


@dataclass(frozen=True)
class StationText:
    """What records need of the stations frame an index was built from, aligned by position.

    The index keeps only what it filters on; names, addresses, amenity lists and the
    stations' GCJ-02 / BD-09 coordinates (for map-app links, converted once for all
    stations here rather than per request) come from here (``position`` ``i`` is row
    ``i`` of the same frame).
    """

    name: NDArray[np.object_]
    address: NDArray[np.object_]
    kind: NDArray[np.object_]
    amenities: list[list[str]]
    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    gcj_lat: NDArray[np.float64]
    gcj_lng: NDArray[np.float64]
    bd_lat: NDArray[np.float64]
    bd_lng: NDArray[np.float64]
    amap_name_q: NDArray[np.object_]
    baidu_title_q: NDArray[np.object_]
    baidu_content_q: NDArray[np.object_]
    amenities_known: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=bool))
    """False where the services are unknown (imported without a services column)."""
    sorted_ids: NDArray[np.str_] = field(default_factory=lambda: np.empty(0, dtype=str))
    """Station ids in sorted order (for :meth:`position_of`)."""
    id_order: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Position of each of :attr:`sorted_ids`."""
    _tree: list[cKDTree] = field(default_factory=list, repr=False, compare=False)
    _tree_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_frame(cls, stations: Any) -> StationText:  # noqa: ANN401 - pandas/geopandas frame
        """Take the text columns of a stations frame (the one the index was built from)."""
        used = [
            c
            for c in ("station_id", "name", "address", "kind", "amenities", "amenities_known", "lat", "lng")
            if c in stations.columns
        ]
        df = pd.DataFrame(stations[used]).reset_index(drop=True)
        n = len(df)
        address = (
            df["address"].astype(object).where(df["address"].notna(), "").to_numpy(dtype=object)
            if "address" in df.columns
            else np.full(n, "", dtype=object)
        )
        lat = df["lat"].to_numpy(dtype=np.float64, na_value=np.nan)
        lng = df["lng"].to_numpy(dtype=np.float64, na_value=np.nan)
        g_lat, g_lng = datums.wgs84_to_gcj02(lat, lng)
        b_lat, b_lng = datums.gcj02_to_bd09(g_lat, g_lng)
        name = df["name"].astype(object).to_numpy(dtype=object)
        amap_name_q, baidu_title_q, baidu_content_q = _link_texts(name, address)
        ids = (
            df["station_id"].astype(str).to_numpy(dtype=str)
            if "station_id" in df.columns
            else np.empty(0, dtype=str)
        )
        id_order = np.argsort(ids, kind="stable")
        return cls(
            name=name,
            address=address,
            kind=df["kind"].astype(object).to_numpy(dtype=object),
            amenities=[list(a) if a is not None else [] for a in df["amenities"].tolist()],
            lat=lat,
            lng=lng,
            gcj_lat=np.asarray(g_lat, dtype=np.float64),
            gcj_lng=np.asarray(g_lng, dtype=np.float64),
            bd_lat=np.asarray(b_lat, dtype=np.float64),
            bd_lng=np.asarray(b_lng, dtype=np.float64),
            amap_name_q=amap_name_q,
            baidu_title_q=baidu_title_q,
            baidu_content_q=baidu_content_q,
            amenities_known=(
                df["amenities_known"].to_numpy(dtype=bool, na_value=True)
                if "amenities_known" in df.columns
                else np.ones(n, dtype=bool)
            ),
            sorted_ids=ids[id_order],
            id_order=id_order.astype(np.int64),
        )

    def position_of(self, station_id: str) -> int | None:
        """Return the position of station ``station_id``, or ``None`` when there is none."""
        i = int(np.searchsorted(self.sorted_ids, station_id))
        if i < len(self.sorted_ids) and self.sorted_ids[i] == station_id:
            return int(self.id_order[i])
        return None

    def around(
        self, lat: float, lng: float, radius_m: float, limit: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Return the ``limit`` nearest stations within ``radius_m`` of a WGS-84 point.

        Unlike :meth:`geo.nearest.StationIndex.query_arrays` (at most
        :data:`geo.nearest.K_MAX` stations, with filters), this takes hundreds without
        filters: what a phone caches to answer offline. A tree over the unit sphere, built
        on first use.

        Returns
        -------
        distance_m : numpy.ndarray
            Great-circle metres, ascending, shape ``(m,)``, ``m <= limit``.
        position : numpy.ndarray
            ``int64`` positions of those stations.
        """
        with self._tree_lock:
            if not self._tree:
                self._tree.append(cKDTree(latlng_to_xyz(self.lat, self.lng).reshape(-1, 3)))
            tree = self._tree[0]
        if tree.n == 0:
            return np.empty(0), np.empty(0, dtype=np.int64)
        chord, idx = tree.query(
            latlng_to_xyz(lat, lng).reshape(3),
            k=min(int(limit), tree.n),
            distance_upper_bound=float(arc_m_to_chord(radius_m)) * (1 + 1e-12),
        )
        chord, idx = np.atleast_1d(chord), np.atleast_1d(idx)
        found = idx < tree.n
        distance_m = chord_to_arc_m(chord[found])
        inside = distance_m <= radius_m
        return distance_m[inside], idx[found][inside].astype(np.int64)

    def links(self, position: NDArray[np.int64], *, mode: str = "walk") -> list[dict[str, str]]:
        """Return :func:`map_links` of the stations at ``position`` (no datum maths per call)."""
        _check_mode(mode)
        return _links(
            self.lat[position],
            self.lng[position],
            self.gcj_lat[position],
            self.gcj_lng[position],
            self.bd_lat[position],
            self.bd_lng[position],
            self.amap_name_q[position],
            self.baidu_title_q[position],
            self.baidu_content_q[position],
            mode,
        )


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def nearest_records(
    index: StationIndex,
    text: StationText,
    request: NearestRequest,
    *,
    now_min: int | None = None,
    links: bool = True,
) -> list[dict[str, Any]]:
    """Answer a request with JSON-ready records ordered by distance.

    Parameters
    ----------
    index : geo.nearest.StationIndex
        The station index.
    text : StationText
        Text columns of the frame ``index`` was built from.
    request : NearestRequest
        From :func:`parse_request`.
    now_min : int, optional
        Minute of the day for ``open_now`` when the request has no ``open_at``; default
        the current Beijing time.
    links : bool, default True
        Add ``links`` (Amap / Baidu / OSM).

    Returns
    -------
    list of dict
        Up to ``k`` records (see :func:`station_records`), nearest first.
    """
    distance_m, pos = index.query_arrays(
        request.lat,
        request.lng,
        request.k,
        radius_m=request.radius_m,
        amenities=request.amenities,
        kinds=request.kinds,
        open_at_min=request.open_at_min,
    )
    at = request.open_at_min
    if at is None:
        at = minute_of_day_now() if now_min is None else now_min
    return station_records(index, text, pos, distance_m, at_min=at, links=links)


def hours_known_at(index: StationIndex, position: NDArray[np.int64]) -> list[bool]:
    """Return whether the opening hours of the stations at ``position`` are known."""
    return index.hours_known[position].tolist()


def station_records(
    index: StationIndex,
    text: StationText,
    position: NDArray[np.int64],
    distance_m: NDArray[np.float64] | None,
    *,
    at_min: int,
    links: bool = True,
) -> list[dict[str, Any]]:
    """Build JSON-ready records of the stations at ``position``.

    Parameters
    ----------
    index : geo.nearest.StationIndex
        The station index.
    text : StationText
        Text columns of the frame ``index`` was built from.
    position : numpy.ndarray
        ``int64`` station positions, in the order wanted.
    distance_m : numpy.ndarray or None
        Great-circle metres from the query point, aligned with ``position``; ``None``
        leaves ``distance_m``, ``walk_min`` and ``ride_min`` out (a station on its own).
    at_min : int
        Minute of the day (Beijing time) ``open_now`` refers to.
    links : bool, default True
        Add ``links`` (Amap / Baidu / OSM).

    Returns
    -------
    list of dict
        ``station_id``, ``name``, ``kind``, ``lat``/``lng`` (WGS-84), ``distance_m``
        (great-circle, 0.1 m), ``walk_min``/``ride_min`` (estimates, see
        :data:`ESTIMATE_NOTE`), ``open_now`` (at ``at_min``; ``None`` when the hours are
        unknown), ``hours_known``, ``opens``/``closes`` (``"HH:MM"``, ``None`` when open
        24 h or unknown), ``open_24h``, ``closes_in_min`` / ``opens_in_min`` (``None``
        when not applicable), ``smart``, ``amenities``, ``amenities_known`` (false: the
        services are unknown, ``amenities`` is empty), ``address`` and ``links``.
    """
    pos = np.asarray(position, dtype=np.int64)
    if distance_m is None:
        dist_l: list[float | None] = [None] * len(pos)
        walk_l: list[float | None] = [None] * len(pos)
        ride_l: list[float | None] = [None] * len(pos)
    else:
        walk, ride = travel_minutes(distance_m)
        dist_l, walk_l, ride_l = distance_m.tolist(), walk.tolist(), ride.tolist()
    # Plain Python values from here on: per-element numpy scalars are slow and not JSON.
    url_sets = text.links(pos) if links else [None] * len(pos)
    columns = zip(
        index.station_id[pos].tolist(),
        text.name[pos].tolist(),
        text.kind[pos].tolist(),
        text.address[pos].tolist(),
        index.lat[pos].tolist(),
        index.lng[pos].tolist(),
        dist_l,
        walk_l,
        ride_l,
        index.opens_min[pos].tolist(),
        index.closes_min[pos].tolist(),
        index.open_24h[pos].tolist(),
        hours_known_at(index, pos),
        index.smart[pos].tolist(),
        pos.tolist(),
        url_sets,
        strict=True,
    )
    out: list[dict[str, Any]] = []
    for (
        sid,
        name,
        kind,
        address,
        lat,
        lng,
        dist,
        w,
        r,
        opens,
        closes,
        flag_24h,
        known,
        smart,
        p,
        url,
    ) in columns:
        if known:
            is_open, closes_in, opens_in = hours.status_one(opens, closes, flag_24h, at_min)
            day = is_open and closes_in is None  # open around the clock (flag, or 00:00-24:00)
        else:
            is_open, closes_in, opens_in, day = None, None, None, False
        rec: dict[str, Any] = {
            "station_id": str(sid),
            "name": str(name),
            "kind": str(kind),
            "lat": lat,
            "lng": lng,
        }
        if dist is not None:
            rec.update(distance_m=round(dist, 1), walk_min=round(w, 1), ride_min=round(r, 1))
        rec.update(
            open_now=is_open,
            hours_known=bool(known),
            opens=None if day or not known else _hhmm(opens),
            closes=None if day or not known else _hhmm(closes),
            open_24h=day,
            closes_in_min=closes_in,
            opens_in_min=opens_in,
            smart=smart,
            amenities=list(text.amenities[p]),
            amenities_known=bool(text.amenities_known[p]) if len(text.amenities_known) else True,
            address=str(address or ""),
        )
        if links:
            rec["links"] = url
        out.append(rec)
    return out


# ---------------------------------------------------------------------------------------
# Typed coordinates and problem reports

_NUMBER: Final = re.compile(r"[-+]?\d+(?:\.\d+)?")


def parse_coordinates(text: str, crs: str = "wgs84") -> tuple[float, float]:
    """Read a point typed or pasted by a user and return it in WGS-84.

    Parameters
    ----------
    text : str
        Two decimal numbers separated by a comma (also full-width ``，``), space or
        semicolon: ``"39.9087, 116.3975"``. Amap's coordinate picker copies
        ``"lng,lat"`` (``"116.403963,39.915119"``); inside China longitude (73–135) is
        always larger than latitude (3–54), so either order is accepted.
    crs : {"wgs84", "gcj02", "bd09"}, default "wgs84"
        Datum of the typed numbers (Amap shows GCJ-02, Baidu BD-09).

    Returns
    -------
    (float, float)
        WGS-84 ``(lat, lng)`` in degrees.

    Raises
    ------
    geo.errors.InputError
        If there are not exactly two numbers or they are not a point in China.
    """
    numbers = [float(n) for n in _NUMBER.findall(str(text or "").replace("，", ","))]
    if len(numbers) != 2:
        raise InputError(
            f"{str(text)[:40]!r}: type two numbers, latitude and longitude, e.g. 39.9087, 116.3975"
        )
    a, b = numbers
    lat, lng = (b, a) if a > b else (a, b)  # China: lng > lat, so "lng,lat" is recognised
    request = parse_request(lat, lng, crs=crs)
    return request.lat, request.lng


REPORT_TEXT_MAX_CHARS: Final = 200
"""Longest report text stored; longer text is cut."""

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_report(problem: str, text: str) -> tuple[str, str]:
    """Validate a problem report before it is stored.

    Parameters
    ----------
    problem : str
        A :data:`geo.schema.REPORT_PROBLEMS` code.
    text : str
        Free text; control characters are removed, whitespace trimmed and the text cut to
        :data:`REPORT_TEXT_MAX_CHARS`. (It is stored as typed, not HTML-escaped: every
        place that shows it must escape it.)

    Returns
    -------
    (str, str)
        ``(problem, text)``.

    Raises
    ------
    geo.errors.InputError
        For an unknown problem code, or ``other`` without any text.
    """
    from geo.schema import REPORT_PROBLEMS

    if problem not in REPORT_PROBLEMS:
        raise InputError(f"problem={problem!r}: use one of {', '.join(REPORT_PROBLEMS.values)}")
    clean = _CONTROL.sub("", str(text or "")).strip()[:REPORT_TEXT_MAX_CHARS]
    if problem == "other" and not clean:
        raise InputError("problem 'other' needs a short description")
    return problem, clean
