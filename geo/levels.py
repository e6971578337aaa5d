"""Region levels: which level an adcode is, and which level to list inside it -- decided one way.

The answer is read from region *tags* (``province_adcode``, ``city_adcode``, ``adcode`` of
points or of boundary rows), not from the shape of the code: a municipality (Beijing
110000) has no city level of its own -- its city code is its province code -- so the
regions inside it are its counties (districts).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from geo.errors import InputError

NATION: Final = "nation"
LEVEL_CODE_COLUMNS: Final = {"province": "province_adcode", "city": "city_adcode", "county": "adcode"}
"""For each level, the column holding a row's code at that level."""


def _has(tags: pd.DataFrame, col: str, adcode: str) -> bool:
    return col in tags.columns and bool(np.any((tags[col] == adcode).to_numpy(dtype=bool, na_value=False)))


def region_level(adcode: str | None, tags: pd.DataFrame) -> str:
    """Return the level of ``adcode`` as the tags show it: ``nation`` (none), province, city, county.

    A municipality's code is its province's and its city's: the coarser level wins.

    Raises
    ------
    InputError
        When no row carries the code.
    """
    if not adcode:
        return NATION
    for level, col in LEVEL_CODE_COLUMNS.items():
        if _has(tags, col, adcode):
            return level
    raise InputError(
        f"region {adcode}: no workplace or station has this adcode; give a 6-digit province, "
        "city or county code present in the data (e.g. 420000, 420100, 420102)"
    )


def child_level(adcode: str | None, tags: pd.DataFrame) -> str:
    """Return the level of the regions listed inside ``adcode``.

    China (``None`` or ``""``) lists provinces; a province its cities, or its counties
    when it has no city of its own (a municipality); a city or a county lists counties.
    A code no row carries lists counties.
    """
    if not adcode:
        return "province"
    if _has(tags, "province_adcode", adcode):
        in_province = (tags["province_adcode"] == adcode).to_numpy(dtype=bool, na_value=False)
        cities = pd.unique(tags.loc[in_province, "city_adcode"].dropna()) if "city_adcode" in tags else []
        return "county" if list(cities) == [adcode] else "city"
    return "county"
