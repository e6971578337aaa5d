"""Frames to JSON-ready records: the one conversion the CLI, the API and exports share.

JSON has no NaN, no infinity, no numpy scalars and no dates: a missing or non-finite number
becomes ``null``, numpy scalars become Python ones, dates become ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]
"""What :func:`clean` returns."""


def clean(value: object) -> Any:  # noqa: ANN401 - any JSON-like value
    """Return ``value`` ready for JSON: non-finite floats and missing values as ``None``.

    numpy scalars become Python scalars; dates and timestamps ``YYYY-MM-DD``; anything else
    passes unchanged.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    return value


def records(df: pd.DataFrame, int_columns: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Return the rows of ``df`` as JSON-ready dicts (see :func:`clean`).

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame.
    int_columns : iterable of str
        Columns of counts that a missing value turned into floats: their whole numbers come
        back as ``int``.
    """
    ints = set(int_columns)
    out = []
    for row in df.to_dict(orient="records"):
        rec = {str(k): clean(v) for k, v in row.items()}
        for k in ints & rec.keys():
            v = rec[k]
            if isinstance(v, float) and v.is_integer():
                rec[k] = int(v)
        out.append(rec)
    return out
