"""H3 indexing, vectorised.

h3-py has no vectorised API (a Python loop per point); ``polars-h3`` runs the same
H3 C library over whole columns and agrees with h3-py cell for cell (tested).
Names follow h3-py where a function mirrors one (:func:`str_to_int`, :func:`int_to_str`,
:func:`average_hexagon_area_km2`), in the plural when it works on arrays.

Cells are hexadecimal strings (``"8940d4208bbffff"``) in every table column named
``h3``/``h3_9``, in JSON, CSV and SQL. The store also keeps the res-9 cell as a 64-bit
integer beside its text (``h3_9_int``, :data:`geo.schema.H3_INT_COLUMN`), so that the
campaign table can be sorted and grouped by cell without parsing text; the integers
never leave the library.
"""

from __future__ import annotations

from collections.abc import Sequence

import h3
import numpy as np
import pandas as pd
import polars as pl
import polars_h3 as plh3
import pyarrow as pa
import shapely
from numpy.typing import ArrayLike, NDArray

from geo import validate

MIN_RES = validate.H3_MIN_RES
MAX_RES = validate.H3_MAX_RES


def _check_res(res: int) -> int:
    return validate.check_res(res)


def latlng_to_cells(
    lat: np.ndarray | Sequence[float], lng: np.ndarray | Sequence[float], res: int = 9
) -> np.ndarray:
    """Return the H3 cell of each point.

    Parameters
    ----------
    lat, lng : array-like
        WGS-84 degrees, shape ``(n,)``.
    res : int
        H3 resolution (0–15).

    Returns
    -------
    numpy.ndarray
        Object array of hexadecimal cell strings, shape ``(n,)``.
    """
    res = _check_res(res)
    df = pl.DataFrame({"lat": np.asarray(lat, dtype="float64"), "lng": np.asarray(lng, dtype="float64")})
    out = df.select(plh3.latlng_to_cell("lat", "lng", res, return_dtype=pl.Utf8).alias("c"))
    return out["c"].to_numpy()


def cells_to_parent(cells: np.ndarray | pd.Series | Sequence[str], res: int) -> np.ndarray:
    """Return the parent of each cell at a coarser resolution ``res``.

    Parameters
    ----------
    cells : array-like of str
        Hexadecimal H3 cells, all of resolution ``>= res``.
    res : int
        Target (coarser) resolution.

    Returns
    -------
    numpy.ndarray
        Object array of parent cell strings, shape ``(n,)``.
    """
    res = _check_res(res)
    s = pl.Series("c", np.asarray(cells, dtype=object), dtype=pl.Utf8)
    return pl.DataFrame({"c": s}).select(plh3.cell_to_parent("c", res))["c"].to_numpy()


def str_to_int(cells: pd.Series | ArrayLike) -> NDArray[np.uint64]:
    """Hexadecimal H3 cell strings to their 64-bit integers, vectorised (``uint64``, shape ``(n,)``).

    Missing cells become 0 (H3's null index).
    """
    series = pl.Series(
        "c",
        pa.array(cells) if isinstance(cells, pd.Series) else np.asarray(cells, dtype=object),
        dtype=pl.Utf8,
    )
    return series.str.to_integer(base=16).cast(pl.UInt64).fill_null(0).to_numpy()


def _hex_digits(nibbles: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """ASCII codes of lower-case hexadecimal digits for values 0–15."""
    out = nibbles + np.uint8(48)
    out += (nibbles > 9).view(np.uint8) * np.uint8(39)
    return out


def int_to_str_bytes(cells: ArrayLike) -> NDArray[np.bytes_]:
    """64-bit H3 integers to their 15 hexadecimal digits, as a fixed-width bytes array.

    An H3 index has its top four bits zero, so each prints as 15 digits; the digits are
    made for all cells at once from the big-endian bytes (agreement with ``h3`` is tested).
    """
    c = np.ascontiguousarray(cells, dtype=np.uint64)
    raw = c.astype(">u8").view(np.uint8).reshape(len(c), 8)
    digits = np.empty((len(c), 16), dtype=np.uint8)
    digits[:, 0::2] = _hex_digits(raw >> np.uint8(4))
    digits[:, 1::2] = _hex_digits(raw & np.uint8(15))
    return np.ascontiguousarray(digits[:, 1:]).view("S15").ravel()


def str_bytes_to_arrow(text: NDArray[np.bytes_]) -> pa.StringArray:
    """Wrap 15-digit cell texts (:func:`int_to_str_bytes`) as an Arrow string array, no copy."""
    data = np.ascontiguousarray(text, dtype="S15")
    offsets = np.arange(0, 15 * len(data) + 1, 15, dtype=np.int32)
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(data))


def int_to_str_arrow(cells: ArrayLike) -> pa.StringArray:
    """64-bit H3 integers to hexadecimal strings as an Arrow array, with no Python objects."""
    return str_bytes_to_arrow(int_to_str_bytes(cells))


def int_to_str(cells: ArrayLike) -> NDArray[np.object_]:
    """64-bit H3 integers back to hexadecimal strings (object array, shape ``(n,)``)."""
    return np.asarray(int_to_str_arrow(cells).to_numpy(zero_copy_only=False), dtype=object)


def cells_to_parent_int(cells: NDArray[np.uint64], res: int) -> NDArray[np.uint64]:
    """Parents at ``res`` of 64-bit H3 cells of resolution ``>= res``, by bit arithmetic.

    An H3 index keeps its resolution in bits 52–55 and one 3-bit digit per resolution
    below; the parent sets the resolution to ``res`` and the digits of the finer
    resolutions to 7 (unused). This is the H3 library's own ``cellToParent`` rule, here on
    whole arrays at once (agreement with :func:`geo.hexes.cells_to_parent` is tested).
    """
    r = _check_res(res)
    c = np.asarray(cells, dtype=np.uint64)
    res_bits = np.uint64(0xF << 52)
    unused = np.uint64((1 << ((15 - r) * 3)) - 1)
    return (c & ~res_bits) | np.uint64(r << 52) | unused


def cells_to_latlng(cells: np.ndarray | pd.Series | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the centre ``(lat, lng)`` of each cell, two float arrays of shape ``(n,)``."""
    s = pl.Series("c", np.asarray(cells, dtype=object), dtype=pl.Utf8)
    df = pl.DataFrame({"c": s}).select(plh3.cell_to_lat("c").alias("lat"), plh3.cell_to_lng("c").alias("lng"))
    return df["lat"].to_numpy(), df["lng"].to_numpy()


def cell_resolution(cell: str) -> int:
    """Return the resolution of one cell."""
    return int(h3.get_resolution(cell))


def cells_to_polygons(cells: Sequence[str] | np.ndarray) -> np.ndarray:
    """Return one shapely polygon (lng, lat order) per cell, for display or export.

    Only the cells shown on a map go through here (thousands, not millions), so the
    per-cell h3-py call is acceptable.
    """
    rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in cells]
    return np.asarray([shapely.Polygon(r) for r in rings], dtype=object)


def average_hexagon_area_km2(res: int) -> float:
    """Return the average area of an H3 hexagon at ``res``, km² (h3-py: ``average_hexagon_area``)."""
    return float(h3.average_hexagon_area(_check_res(res), unit="km^2"))


# Old names, kept while modules edited in parallel (geo.store, geo.siting) still use them.
h3_to_int = str_to_int
"""Deprecated: use :func:`str_to_int`."""
int_to_h3 = int_to_str
"""Deprecated: use :func:`int_to_str`."""
