"""Tables, columns and enumerations: the one source of truth for the data model.

Every code value (station kinds, amenities, occupations, visit categories, organizer
levels) lives here once, with its Chinese and English label beside it. Coordinates
are always ``lat`` / ``lng`` in WGS-84.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

SCHEMA_VERSION: Final = 1
"""Bumped whenever a stored table changes shape; the store refuses other versions."""

H3_RES: Final = 9
"""Resolution of the ``h3_9`` column stored on every point table (cells of ~0.1 km2)."""

H3_INT_COLUMN: Final = "h3_9_int"
"""``h3_9`` as its 64-bit integer, stored beside it in tables with ``Table.h3_int``.

The store derives it on write; it is not one of a table's logical ``columns``: readers
ask for it by name, and files written before it existed simply lack it.
"""


@dataclass(frozen=True)
class Code:
    """One enumeration value with its labels.

    Attributes
    ----------
    code : str
        Stable machine value stored in the tables and used by the CLI and API.
    zh, en : str
        Labels for the user interface.
    """

    code: str
    zh: str
    en: str

    def label(self, lang: str) -> str:
        """Return the label for ``lang`` (``"zh"`` or ``"en"``)."""
        return self.zh if lang == "zh" else self.en


class Enum:
    """An ordered set of :class:`Code` values with lookups by code and by label."""

    def __init__(self, name: str, codes: list[Code]) -> None:
        self.name = name
        self.codes: tuple[Code, ...] = tuple(codes)
        self._by_code = {c.code: c for c in codes}

    def __iter__(self):  # noqa: ANN204 - iterator of Code
        """Iterate over the codes in display order."""
        return iter(self.codes)

    def __len__(self) -> int:
        """Return the number of codes."""
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        """Return whether ``code`` is a known code value."""
        return code in self._by_code

    @property
    def values(self) -> list[str]:
        """Code values in display order."""
        return [c.code for c in self.codes]

    def label(self, code: str, lang: str = "zh") -> str:
        """Return the label of ``code`` in ``lang``; unknown codes are returned as they are."""
        c = self._by_code.get(code)
        return c.label(lang) if c else code

    def labels(self, lang: str = "zh") -> dict[str, str]:
        """Return ``{code: label}`` for every code in ``lang``."""
        return {c.code: c.label(lang) for c in self.codes}

    def from_text(self, text: str) -> str | None:
        """Return the code whose code, zh or en label equals ``text`` (case-insensitive)."""
        t = str(text).strip().lower()
        for c in self.codes:
            if t in (c.code.lower(), c.zh.lower(), c.en.lower()):
                return c.code
        return None


STATION_KINDS = Enum(
    "kind",
    [
        Code("union", "工会驿站", "Union rest station"),
        Code("caring", "爱心驿站", "Caring station"),
        Code("warm", "暖心驿站", "Warm-heart station"),
        Code("driver", "司机之家", "Drivers' home"),
        Code("outdoor", "户外劳动者服务站", "Outdoor workers' service station"),
        Code("other", "其他", "Other"),
    ],
)
"""Station kinds; ``other`` is what an import stores for a type it does not know."""

AMENITIES = Enum(
    "amenity",
    [
        Code("hot_water", "热水", "Hot water"),
        Code("microwave", "微波炉", "Microwave"),
        Code("charging", "充电", "Phone charging"),
        Code("toilet", "卫生间", "Toilet"),
        Code("seating", "休息", "Seating / rest"),
        Code("medicine", "药箱", "Medicine kit"),
        Code("aircon", "冷暖空调", "Air-con / heating"),
        Code("wifi", "Wi-Fi", "Wi-Fi"),
        Code("battery_swap", "换电", "E-bike battery swap"),
        Code("meals", "爱心餐", "Discounted meals"),
        Code("other", "其他服务", "Other services"),
    ],
)
"""Amenities; ``other`` is what an import stores for a service it does not know (kept last:
the bit of every other amenity in :func:`amenities_to_mask` stays where it was)."""
AMENITY_ICONS: Final[dict[str, str]] = {
    "hot_water": "♨️",
    "microwave": "🍱",
    "charging": "🔌",
    "toilet": "🚻",
    "seating": "🪑",
    "medicine": "💊",
    "aircon": "❄️",
    "wifi": "📶",
    "battery_swap": "🔋",
    "meals": "🍚",
    "other": "➕",
}

OCCUPATIONS = Enum(
    "occupation",
    [
        Code("courier", "快递", "Couriers"),
        Code("delivery", "外卖", "Food delivery"),
        Code("sanitation", "环卫", "Sanitation"),
        Code("construction", "建筑", "Construction"),
        Code("ride_hailing", "网约车/出租", "Ride-hailing & taxi"),
        Code("truck", "货车司机", "Truck drivers"),
        Code("security", "保安", "Security guards"),
        Code("other", "其他", "Other"),
    ],
)

CATEGORIES = Enum(
    "category",
    [
        Code("hardship", "困难职工", "Workers in hardship"),
        Code("priority", "重点群体职工", "Priority groups"),
        Code("model", "劳模和先进工作者", "Model workers"),
    ],
)

ORGANIZER_LEVELS = Enum(
    "organizer_level",
    [
        Code("national", "全国总工会", "National (ACFTU)"),
        Code("province", "省级工会", "Provincial"),
        Code("city", "市级工会", "City"),
        Code("county", "县级工会", "County"),
        Code("grassroots", "基层工会", "Grassroots"),
    ],
)

REGION_LEVELS = Enum(
    "level",
    [
        Code("province", "省", "Province"),
        Code("city", "市", "City"),
        Code("county", "县", "County"),
    ],
)

SPRING_FESTIVAL: Final[dict[int, dt.date]] = {
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
}
"""Spring Festival (lunar new year) dates of the campaigns in the data."""

CHECKIN_WINDOW: Final = (dt.date(2025, 1, 1), dt.date(2025, 2, 28))
"""First and last day (inclusive) of the demo station check-in log."""

REGION_COLUMNS: Final = [
    "adcode",
    "province_adcode",
    "province",
    "city_adcode",
    "city",
    "county",
]
"""Region tags added to every point table (county ``adcode`` of 6 digits plus names)."""


@dataclass(frozen=True)
class Table:
    """A stored table: its name, columns with dtypes, and whether it has geometry."""

    name: str
    columns: dict[str, str]
    geometry: bool
    key: str | None = None
    sort_by: tuple[str, ...] = ()
    """Row order of the stored file: the store sorts on write and records the order in
    the file's metadata, so readers can rely on it only where the metadata says so."""
    h3_int: bool = False
    """Whether the stored file also carries :data:`H3_INT_COLUMN`."""
    plain: tuple[str, ...] = ()
    """Columns stored without compression: read by every aggregation, where decoding
    them would cost more than reading the extra bytes."""

    @property
    def filename(self) -> str:
        """File name inside a dataset version directory."""
        return f"{self.name}.parquet"


_REGION_DTYPES = dict.fromkeys(REGION_COLUMNS, "string")

STATIONS = Table(
    "stations",
    {
        "station_id": "string",
        "name": "string",
        "kind": "string",
        "lat": "float64",
        "lng": "float64",
        "address": "string",
        **_REGION_DTYPES,
        "opens": "string",
        "closes": "string",
        "open_24h": "bool",
        "extended_hours": "bool",
        "smart": "bool",
        "amenities": "list",
        "seats": "int32",
        "operator": "string",
        "opened_on": "date",
        "h3_9": "string",
    },
    geometry=True,
    key="station_id",
)

WORKPLACES = Table(
    "workplaces",
    {
        "workplace_id": "string",
        "name": "string",
        "occupation": "string",
        "workers": "int32",
        "lat": "float64",
        "lng": "float64",
        **_REGION_DTYPES,
        "h3_9": "string",
    },
    geometry=True,
    key="workplace_id",
)

CHECKINS = Table(
    "checkins",
    {"station_id": "string", "date": "date", "visits": "int32"},
    geometry=False,
)

CAMPAIGN = Table(
    "campaign",
    {
        "event_id": "string",
        "year": "int16",
        "date": "date",
        "category": "string",
        "people": "int32",
        "funds_yuan": "float64",
        "organizer_level": "string",
        "lat": "float64",
        "lng": "float64",
        **_REGION_DTYPES,
        "h3_9": "string",
    },
    geometry=False,
    key="event_id",
    # Day by day, cells in H3 order: a cell × day aggregation is a pass over runs of rows.
    sort_by=("year", "date", "h3_9"),
    h3_int=True,
    plain=(H3_INT_COLUMN, "people", "funds_yuan"),
)

TARGETS = Table(
    "targets",
    {
        "year": "int16",
        "province_adcode": "string",
        "province": "string",
        "category": "string",
        "target_people": "int64",
    },
    geometry=False,
)

TABLES: Final[dict[str, Table]] = {t.name: t for t in (STATIONS, WORKPLACES, CHECKINS, CAMPAIGN, TARGETS)}

OPTIONAL_COLUMNS: Final[dict[str, dict[str, bool]]] = {"stations": {"amenities_known": True}}
"""Boolean columns a table may lack (data written before they existed), with the value
a reader fills in. ``stations.amenities_known`` is false for a station imported from a
file without a services column: its empty ``amenities`` mean "unknown", not "none"."""


def amenities_to_mask(amenities: pd.Series) -> np.ndarray:
    """Encode a column of amenity lists as one bit mask per row.

    Parameters
    ----------
    amenities : pandas.Series
        Each item a list/array of amenity codes (see :data:`AMENITIES`).

    Returns
    -------
    numpy.ndarray
        ``uint16`` array, shape ``(len(amenities),)``; bit ``i`` set when the row has
        the ``i``-th amenity of :data:`AMENITIES`. Unknown codes are ignored.
    """
    bit = {code: np.uint16(1 << i) for i, code in enumerate(AMENITIES.values)}
    exploded = amenities.reset_index(drop=True).explode()
    bits = exploded.map(bit).fillna(0).astype("uint16").to_numpy()
    rows = exploded.index.to_numpy()
    mask = np.zeros(len(amenities), dtype=np.uint16)
    np.bitwise_or.at(mask, rows, bits)
    return mask


def mask_of(codes: list[str] | tuple[str, ...]) -> int:
    """Return the bit mask of a list of amenity codes (unknown codes raise ``KeyError``)."""
    index = {code: i for i, code in enumerate(AMENITIES.values)}
    m = 0
    for c in codes:
        m |= 1 << index[c]
    return m


REPORT_PROBLEMS = Enum(
    "problem",
    [
        Code("closed", "关门了/没开", "Closed"),
        Code("no_hot_water", "没有热水", "No hot water"),
        Code("no_power", "没电/不能充电", "No power / cannot charge"),
        Code("full", "人满了", "Full"),
        Code("moved", "搬走了/位置不对", "Moved / wrong place"),
        Code("other", "其他问题", "Other"),
    ],
)
"""Problems a courier can report about a station (``reports.problem`` in the reports database)."""
