"""Query objects, region levels and JSON records: frozen values checked once, decided one way."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from geo import campaign, levels, records
from geo.errors import InputError
from geo.query import CoverageQuery, Filters, SitingQuery


def test_campaign_filters_are_the_campaign_modules_filters() -> None:
    assert campaign.Filters is Filters
    f = Filters(2025, "2025-01-01", None, ("hardship",), "440300").checked()  # type: ignore[arg-type]
    assert f.date_from == dt.date(2025, 1, 1)
    assert hash(f) == hash(Filters(2025, dt.date(2025, 1, 1), None, ("hardship",), "440300"))


def test_coverage_queries_are_normalised_so_equal_queries_are_one_cache_key() -> None:
    a = CoverageQuery(1000, 270, ("wifi", "hot_water"), occupations=("courier",), region="").checked()
    b = CoverageQuery(1000.0, 270, ("hot_water", "wifi", "wifi"), occupations=("courier",)).checked()
    assert a == b
    assert hash(a) == hash(b)
    assert a.region is None
    assert a.station_filters() == {
        "amenities": ("hot_water", "wifi"),
        "kinds": (),
        "open_at_min": 270,
        "exclude_ids": (),
    }
    assert a.at(None).open_at_min is None
    assert a.at(None).radius_m == a.radius_m


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (CoverageQuery(0), "positive distance"),
        (CoverageQuery(500, open_at_min=1440), "minute of the day"),
        (CoverageQuery(500, region="44"), "6-digit adcode"),
    ],
)
def test_a_bad_coverage_query_is_refused_naming_the_field(query: CoverageQuery, message: str) -> None:
    with pytest.raises(InputError, match=message):
        query.checked()


def test_siting_queries_check_the_quota_level() -> None:
    assert SitingQuery(5, 0, "city").checked() == SitingQuery(5, None, "city", False)
    with pytest.raises(InputError, match="province, city, county"):
        SitingQuery(5, 1, "street").checked()


TAGS = pd.DataFrame(
    {
        "province_adcode": ["420000", "420000", "110000", "110000"],
        "city_adcode": ["420100", "420500", "110000", "110000"],
        "adcode": ["420102", "420502", "110105", "110108"],
    }
)


@pytest.mark.parametrize(
    ("adcode", "level", "child"),
    [
        ("", "nation", "province"),
        ("420000", "province", "city"),
        ("110000", "province", "county"),  # a municipality lists its districts
        ("420100", "city", "county"),
        ("420102", "county", "county"),
    ],
)
def test_region_levels_are_read_from_the_tags(adcode: str, level: str, child: str) -> None:
    assert levels.region_level(adcode, TAGS) == level
    assert levels.child_level(adcode, TAGS) == child


def test_a_region_no_row_carries_is_refused() -> None:
    with pytest.raises(InputError, match="no workplace or station has this adcode"):
        levels.region_level("999999", TAGS)


def test_records_are_json_ready() -> None:
    df = pd.DataFrame(
        {
            "h3": ["87", "88"],
            "people": [12.0, np.nan],
            "share": [np.inf, 0.25],
            "n": np.array([1, 2], dtype=np.int64),
            "date": pd.to_datetime(["2025-01-28", "2025-01-29"]),
        }
    )
    out = records.records(df, int_columns=("people",))
    assert out == [
        {"h3": "87", "people": 12, "share": None, "n": 1, "date": "2025-01-28"},
        {"h3": "88", "people": None, "share": 0.25, "n": 2, "date": "2025-01-29"},
    ]
    assert type(out[0]["people"]) is int
    assert type(out[0]["n"]) is int
    assert records.records(df.iloc[:0]) == []
