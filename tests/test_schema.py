"""Data model: enumerations and the amenity bit mask."""

from __future__ import annotations

import pandas as pd
import pytest

from geo import schema


@pytest.mark.parametrize(
    "enum",
    [schema.STATION_KINDS, schema.AMENITIES, schema.OCCUPATIONS, schema.CATEGORIES, schema.ORGANIZER_LEVELS],
)
def test_every_code_is_unique_and_labelled_in_both_languages(enum: schema.Enum) -> None:
    assert len(set(enum.values)) == len(enum)
    for code in enum:
        assert code.zh
        assert code.en
        assert enum.from_text(code.zh) == code.code
        assert enum.from_text(code.en.upper()) == code.code
        assert enum.label(code.code, "en") == code.en
    assert enum.from_text("no such thing") is None
    assert enum.label("unknown-code") == "unknown-code"


def test_amenity_mask_matches_a_hand_worked_example() -> None:
    s = pd.Series([["hot_water", "toilet"], [], ["meals", "hot_water", "bogus"], ["wifi"]])
    mask = schema.amenities_to_mask(s)
    # hot_water = bit 0, toilet = bit 3, wifi = bit 7, meals = bit 9
    assert mask.tolist() == [1 | 8, 0, 1 | 512, 128]
    assert schema.mask_of(["hot_water", "toilet"]) == 9
    with pytest.raises(KeyError):
        schema.mask_of(["bogus"])


def test_amenity_mask_of_an_empty_column() -> None:
    assert schema.amenities_to_mask(pd.Series([], dtype=object)).tolist() == []


def test_tables_have_keys_and_point_tables_have_coordinates_and_regions() -> None:
    for name in ("stations", "workplaces", "campaign"):
        cols = schema.TABLES[name].columns
        assert {"lat", "lng", "h3_9", *schema.REGION_COLUMNS} <= set(cols)
    assert schema.STATIONS.key == "station_id"
    assert set(schema.SPRING_FESTIVAL) == {2023, 2024, 2025}
