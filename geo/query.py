"""Query objects: one frozen, typed value per analysis, used alike by pages, CLI, API and bench.

A query says *what* to compute; the engine (:mod:`geo.engines`) says *where*. Each query
validates itself once (:meth:`Filters.checked`, :meth:`CoverageQuery.checked`) at the
boundary; the analyses trust a checked query. Being frozen and hashable, a query is also
a cache key (Streamlit's caches, ``functools.lru_cache``).

=======================  ======================================================
:class:`Filters`          a campaign selection (:mod:`geo.campaign`)
:class:`CoverageQuery`    a coverage run: radius, station filters, workers, region
                          (:mod:`geo.coverage`, :mod:`geo.planning`)
:class:`SitingQuery`      new stations to site on top of a coverage run
                          (:mod:`geo.siting`, :mod:`geo.planning`)
=======================  ======================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from geo import validate
from geo.errors import InputError
from geo.schema import CATEGORIES, SPRING_FESTIVAL

REGION_GROUP_COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "province": (("province_adcode", "adcode"), ("province", "name")),
    "city": (
        ("city_adcode", "adcode"),
        ("city", "name"),
        ("province_adcode", "province_adcode"),
        ("province", "province"),
    ),
    "county": (
        ("adcode", "adcode"),
        ("county", "name"),
        ("city_adcode", "city_adcode"),
        ("city", "city"),
        ("province_adcode", "province_adcode"),
        ("province", "province"),
    ),
}
"""For a grouping by region level: (source column, output column) of every key column, in order."""


def as_date(value: object, name: str) -> dt.date | None:
    """Return ``value`` as a date (``None`` for none), or raise naming the field ``name``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"{name} {value!r} is not a date: write it as YYYY-MM-DD") from exc


def spring_festival(year: int) -> dt.date:
    """Return the Spring Festival date of a campaign ``year`` (raises for unknown years)."""
    try:
        return SPRING_FESTIVAL[int(year)]
    except KeyError:
        raise InputError(
            f"campaign year {year} is unknown: the data covers {', '.join(map(str, SPRING_FESTIVAL))}"
        ) from None


@dataclass(frozen=True)
class Filters:
    """What part of a campaign to count.

    Attributes
    ----------
    year : int
        Campaign year (the Spring Festival it leads up to), e.g. 2025.
    date_from, date_to : datetime.date or None
        Inclusive date range; ``None`` leaves that side open.
    categories : tuple of str or None
        Category codes (:data:`geo.schema.CATEGORIES`); ``None`` or empty means all.
    region : str or None
        Adcode of a province, city or county (6 digits); ``None`` means all of China.
    """

    year: int = 2025
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    categories: tuple[str, ...] | None = None
    region: str | None = None
    _checked: bool = field(default=False, repr=False, compare=False)

    def checked(self) -> Filters:
        """Return a validated copy (raises :class:`InputError` naming the bad field)."""
        if self._checked:
            return self
        spring_festival(self.year)  # refuses years without data
        cats = tuple(self.categories or ()) or None
        for c in cats or ():
            if c not in CATEGORIES:
                raise InputError(f"category {c!r} is unknown: use one of {', '.join(CATEGORIES.values)}")
        df, dt_ = as_date(self.date_from, "date_from"), as_date(self.date_to, "date_to")
        if df is not None and dt_ is not None and df > dt_:
            raise InputError(f"date range {df} .. {dt_} is empty: --from must not be after --to")
        return Filters(int(self.year), df, dt_, cats, validate.check_adcode(self.region), True)

    def shifted_to(self, year: int) -> Filters:
        """Return the same filter for another campaign ``year``, dates aligned on the Spring Festival.

        A date ``d`` becomes ``SF[year] + (d - SF[self.year])``: "ten days before the
        festival" stays ten days before the festival.
        """
        f = self.checked()
        sf_from, sf_to = spring_festival(f.year), spring_festival(year)
        move = sf_to - sf_from
        return Filters(
            year,
            None if f.date_from is None else f.date_from + move,
            None if f.date_to is None else f.date_to + move,
            f.categories,
            f.region,
            True,
        )


def _codes(values: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return codes as a sorted tuple without repeats (equal queries then hash alike)."""
    if values is None:
        return ()
    items = (values,) if isinstance(values, str) else tuple(values)
    return tuple(sorted({str(v) for v in items if str(v)}))


@dataclass(frozen=True)
class CoverageQuery:
    """One coverage run: which stations qualify, which workers count, within what radius, where.

    Attributes
    ----------
    radius_m : float
        Service radius, great-circle metres.
    open_at_min : int or None
        Only stations open at this minute of the day (0–1439); ``None``: any time.
    amenities, kinds : tuple of str
        Station filters (:data:`geo.schema.AMENITIES`, :data:`geo.schema.STATION_KINDS`).
    occupations : tuple of str
        Count only workers of these occupations (empty: all).
    exclude_ids : tuple of str
        Stations that do not qualify (e.g. reported closed).
    region : str or None
        Adcode of a province, city or county; ``None``: all of China.
    """

    radius_m: float
    open_at_min: int | None = None
    amenities: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    occupations: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()
    region: str | None = None

    def checked(self) -> CoverageQuery:
        """Return a validated, normalised copy (raises :class:`InputError` naming the bad field)."""
        at = self.open_at_min
        if at is not None and not (isinstance(at, int) and 0 <= at < 24 * 60):
            raise InputError(f"open_at_min={at!r}: give a minute of the day, 0–1439 (e.g. 270 for 04:30)")
        return CoverageQuery(
            validate.check_radius_m(self.radius_m),
            at,
            _codes(self.amenities),
            _codes(self.kinds),
            _codes(self.occupations),
            _codes(self.exclude_ids),
            validate.check_adcode(self.region),
        )

    def station_filters(self) -> dict[str, Any]:
        """Return the station filters as keyword arguments of :func:`geo.coverage.nearest_distance_m`."""
        return {
            "amenities": self.amenities,
            "kinds": self.kinds,
            "open_at_min": self.open_at_min,
            "exclude_ids": self.exclude_ids,
        }

    def at(self, open_at_min: int | None) -> CoverageQuery:
        """Return the same query for stations open at another minute of the day."""
        return replace(self, open_at_min=open_at_min)


@dataclass(frozen=True)
class SitingQuery:
    """New stations to site on top of a :class:`CoverageQuery` (see :func:`geo.siting.site_stations`).

    Attributes
    ----------
    n_new : int
        Number of new stations.
    quota : int or None
        At most this many sites per region of ``quota_level``; ``None``: no quota.
    quota_level : str
        ``province``, ``city`` or ``county``.
    only_user_candidates : bool
        Choose among the user's candidate sites only (else cell centres too).
    """

    n_new: int
    quota: int | None = None
    quota_level: str = "province"
    only_user_candidates: bool = False

    def checked(self) -> SitingQuery:
        """Return a validated copy."""
        if isinstance(self.n_new, bool) or int(self.n_new) < 0:
            raise InputError(f"n_new={self.n_new!r}: give the number of new stations, 0 or more")
        quota = None if not self.quota else int(self.quota)
        return SitingQuery(
            int(self.n_new), quota, validate.check_level(self.quota_level), bool(self.only_user_candidates)
        )
