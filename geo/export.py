"""Exports for people and other programs: CSV for Excel in China, XLSX, GeoJSON.

Every function returns bytes (pages hand them to a download button; the CLI writes
them through :func:`geo.store.atomic_write_bytes`). In CSV and XLSX, text cells that a
spreadsheet would run as a formula (starting with ``= + - @`` or their full-width forms
``＝ ＋ － ＠``, also behind leading spaces, tabs or line breaks; or starting with a tab /
carriage return / line feed) are neutralised with a leading apostrophe, so an uploaded
station name cannot become a formula; GeoJSON is for GIS tools and keeps text as it is.
Infinite numbers (e.g. "no qualifying station" distances) are exported as empty cells (``null`` in GeoJSON).
"""

from __future__ import annotations

import io
import json
import re
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd

_FORMULA_START: Final = re.compile(r"^(?:[\t\r\n]|\s*[=+\-@＝＋－＠])")
"""A cell a spreadsheet may run as a formula: ``\\s`` covers the ideographic space U+3000."""


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy where text cells that start like a formula are prefixed with ``'``.

    Numbers are left alone (a negative number is a number, not a formula); only
    text columns are touched.
    """
    out = pd.DataFrame(df).copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            text = s.astype("string")
            risky = text.str.contains(_FORMULA_START).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out[col] = text.where(~risky, "'" + text)
    out.columns = [("'" + str(c)) if _FORMULA_START.match(str(c)) else c for c in out.columns]
    return out


def _plain(df: pd.DataFrame, *, neutralise: bool = True) -> pd.DataFrame:
    out = pd.DataFrame(df).drop(columns=["geometry"], errors="ignore")
    for col in out.columns:  # lists (amenities) as "a;b;c" so every cell is a scalar
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, list | np.ndarray)).any():
            out[col] = out[col].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list | np.ndarray) else v
            )
        elif pd.api.types.is_float_dtype(out[col]):
            # "inf" in a spreadsheet is text and in JSON invalid: an empty cell says "none"
            out[col] = out[col].where(np.isfinite(out[col].to_numpy(dtype=np.float64)))
    return neutralise_formulas(out) if neutralise else out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """Return ``df`` as CSV in UTF-8 with BOM (Excel in China opens it without mojibake)."""
    return _plain(df).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """Return ``df`` as an XLSX workbook (one sheet; text never evaluated as formulas)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(
        buf, engine="xlsxwriter", engine_kwargs={"options": {"strings_to_formulas": False}}
    ) as xl:
        _plain(df).to_excel(xl, sheet_name=sheet[:31], index=False)
    return buf.getvalue()


def to_geojson_bytes(gdf: gpd.GeoDataFrame | pd.DataFrame) -> bytes:
    """Return a GeoJSON FeatureCollection (WGS-84).

    A frame without geometry but with ``lat``/``lng`` columns is exported as points.
    Property text is kept as it is (no spreadsheet apostrophe); infinite numbers are ``null``.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(gdf, geometry=gpd.points_from_xy(gdf["lng"], gdf["lat"]), crs="EPSG:4326")
    props = _plain(gdf, neutralise=False)
    out = gpd.GeoDataFrame(props, geometry=gdf.geometry.values, crs=gdf.crs or "EPSG:4326")
    return json.dumps(json.loads(out.to_crs("EPSG:4326").to_json(drop_id=True)), ensure_ascii=False).encode()
