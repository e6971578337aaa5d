"""Tables of a version: reading (single parquet files or hive-partitioned directories) and writing.

A big table (the national check-in log) can be stored as a directory of parquet files
instead of one file (see :mod:`geo.store.partitioned`); reading either form goes through
:func:`read_table` / :func:`table_path`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from geo import hexes
from geo.errors import InputError, SchemaError
from geo.schema import H3_INT_COLUMN, OPTIONAL_COLUMNS, TABLES, Table
from geo.store.atomic import MANIFEST_FILE
from geo.store.versions import (
    _check_base,
    _commit_version,
    _set_current,
    _versions_dir,
    _writing,
    clean_temporaries,
    current_version,
    read_manifest,
    version_dir,
    write_lock,
)

SORTED_ROW_GROUP_ROWS: Final = 1 << 18
"""Rows per row group of a sorted table's file (pyarrow's default is 1 Mi)."""
SORTED_BY_KEY: Final = b"geo_sorted_by"
"""Parquet key-value metadata naming the columns a stored file is sorted by (comma-separated)."""


def _stored_form(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``df`` as the file keeps it: with :data:`H3_INT_COLUMN` if the table has one, in ``sort_by`` order."""
    if table.h3_int:
        df = df.assign(**{H3_INT_COLUMN: hexes.str_to_int(df["h3_9"])})
    if table.sort_by:
        # The integer sorts like the text (one resolution, 15 digits) and much faster.
        keys = [H3_INT_COLUMN if c == "h3_9" and table.h3_int else c for c in table.sort_by]
        df = df.sort_values(keys, kind="stable", ignore_index=True)
    return df


def _write_table(df: pd.DataFrame, table: Table, path: Path) -> None:
    check_columns(df, table, source=str(path))
    if table.geometry:
        geom = shapely.points(df["lng"].to_numpy(float), df["lat"].to_numpy(float))
        gdf = gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")
        gdf.to_parquet(path, index=False, compression="zstd", write_covering_bbox=False)
        return
    write_arrow(
        pa.Table.from_pandas(_stored_form(pd.DataFrame(df), table), preserve_index=False), table, path
    )


def write_arrow(arrow: pa.Table, table: Table, path: Path) -> None:
    """Write ``arrow``, already in ``table``'s stored form (columns, row order), as its file.

    Records the sort order in the file's metadata, uses the row-group size of sorted
    tables and leaves ``table.plain`` columns uncompressed (zstd for the rest).
    """
    if table.sort_by:
        meta = {**(arrow.schema.metadata or {}), SORTED_BY_KEY: ",".join(table.sort_by).encode()}
        arrow = arrow.replace_schema_metadata(meta)
    # Sorted tables in smaller row groups: a year or a date range is then read alone
    # (row groups skipped by their statistics), and row groups decode in parallel.
    rows = SORTED_ROW_GROUP_ROWS if table.sort_by else None
    compression = {c: "none" if c in table.plain else "zstd" for c in arrow.column_names}
    pq.write_table(arrow, path, compression=compression, row_group_size=rows)


def read_sorted(
    path: Path | str,
    table: Table,
    columns: list[str],
    where: pc.Expression | None = None,
    *,
    leading: Sequence[tuple[str, Any, Any]] = (),
) -> pa.Table | None:
    """Read columns of one stored table file in its stored order (``table.sort_by``).

    Parameters
    ----------
    path : Path or str
        The table's parquet file.
    table : Table
        Its schema entry.
    columns : list of str
        Columns to return.
    where : pyarrow.compute.Expression, optional
        Rows to keep (they keep the stored order).
    leading : sequence of (column, low, high)
        Inclusive ranges on the first sort columns, in ``sort_by`` order; each after the
        first only within one value of the one before (e.g. ``[("year", 2025, 2025),
        ("date", d0, d1)]``). Matching rows are one run of the file: only row groups that
        may hold it are read, and the run is cut out without a copy.

    Returns
    -------
    pyarrow.Table or None
        ``None`` when the file does not record that order or lacks a column (a
        partitioned table, a version written before the order existed, a file written
        elsewhere): the caller then takes a general path.
    """
    p = Path(path)
    if not table.sort_by or is_partitioned_path(p) or not p.is_file():
        return None
    names = [c for c, _, _ in leading]
    if names != list(table.sort_by[: len(names)]) or any(lo != hi for _, lo, hi in leading[:-1]):
        raise InputError(
            f"leading ranges {list(leading)}: give single values, then at most one range, "
            f"on the first columns of the sort order {table.sort_by}"
        )
    pf = pq.ParquetFile(p)
    schema = pf.schema_arrow
    if (schema.metadata or {}).get(SORTED_BY_KEY) != ",".join(table.sort_by).encode():
        return None
    if any(schema.get_field_index(c) < 0 for c in [*columns, *names]):
        return None
    if where is not None or not leading:
        ranges = [(pc.field(c) >= lo) & (pc.field(c) <= hi) for c, lo, hi in leading]
        for r in ranges:
            where = r if where is None else where & r
        return pq.read_table(p, columns=columns, filters=where, use_threads=True)
    first, lo, hi = leading[0]
    col = schema.get_field_index(first)
    groups = []
    for i in range(pf.metadata.num_row_groups):
        stats = pf.metadata.row_group(i).column(col).statistics
        if stats is None or not stats.has_min_max or (stats.max >= lo and stats.min <= hi):
            groups.append(i)
    read = pf.read_row_groups(groups, columns=list(dict.fromkeys([*columns, *names])), use_threads=True)
    start, stop = 0, read.num_rows
    for name, lo, hi in leading:  # narrow the run one sort column at a time
        values = read.column(name).slice(start, stop - start).combine_chunks()
        if pa.types.is_date32(values.type):
            values = values.view(pa.int32())
            lo, hi = (np.datetime64(v, "D").astype(np.int64) for v in (lo, hi))
        arr = values.to_numpy()
        # Bounds in the column's own type: numpy would otherwise copy the column to compare.
        info = np.iinfo(arr.dtype) if arr.dtype.kind in "iu" else None
        lo, hi = (
            np.asarray(np.clip(v, info.min, info.max) if info else v, dtype=arr.dtype) for v in (lo, hi)
        )
        start, stop = (
            start + int(np.searchsorted(arr, lo, "left")),
            start + int(np.searchsorted(arr, hi, "right")),
        )
    return read.select(columns).slice(start, stop - start)


def write_version(
    data_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    *,
    base_version: str | None = None,
    make_current: bool = True,
    check_base: bool = False,
    audit: Mapping[str, Any] | None = None,
) -> str:
    """Write a new dataset version atomically and durably and (by default) make it current.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    tables : mapping of str to DataFrame
        Tables to write, by name (see :data:`geo.schema.TABLES`).
    manifest : mapping
        Extra manifest fields (``source``, ``seed``, ``scale``, ``user``...).
    base_version : str, optional
        Tables not in ``tables`` are hard-linked (or copied) from this version;
        default: the current version, if any.
    make_current : bool
        Point ``CURRENT`` at the new version.
    check_base : bool
        Refuse (:class:`StaleBaseError`, nothing written) unless ``base_version`` is still
        the version in use: for changes computed from what a user saw (an import preview,
        a station form), which would otherwise silently undo a change made meanwhile.
    audit : mapping, optional
        ``{"user", "action", "detail"}`` of the change, stored in the version
        (:data:`AUDIT_FILE`, with ``version`` and ``base_version`` added) before it
        becomes current.

    Returns
    -------
    str
        The new version id, e.g. ``"v0002"``.

    Raises
    ------
    WriteError
        When the disk refuses a write (full, read-only); nothing changed.
    """
    data_dir = Path(data_dir)
    vdir = _versions_dir(data_dir)
    vdir.mkdir(parents=True, exist_ok=True)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise InputError(f"unknown table(s) {sorted(unknown)}; known: {sorted(TABLES)}")
    with _writing(data_dir), write_lock(data_dir):
        clean_temporaries(data_dir)  # left by a killed writer; under the lock no other is running
        if check_base:
            _check_base(data_dir, base_version)
        base = base_version if base_version is not None else current_version(data_dir)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=vdir))
        tmp.chmod(0o755)  # mkdtemp makes it private; versions are shared read-only data
        try:
            counts: dict[str, int] = {}
            for name, df in tables.items():
                _write_table(df, TABLES[name], tmp / TABLES[name].filename)
                counts[name] = len(df)
            _link_base_tables(data_dir, base, tmp, counts)
            vid = _commit_version(data_dir, tmp, base, dict(manifest), counts, audit)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if make_current:
            _set_current(data_dir, vid)
    return vid


def _link_base_tables(data_dir: Path, base: str | None, tmp: Path, counts: dict[str, int]) -> None:
    """Hard-link (or copy) into ``tmp`` every table of ``base`` not in ``counts``; record its rows."""
    if base is None:
        return
    base_dir = version_dir(data_dir, base)
    base_counts = json.loads((base_dir / MANIFEST_FILE).read_text("utf-8")).get("row_counts", {})
    for name, table in TABLES.items():
        src = base_dir / table.filename
        if name in counts:
            continue
        if not src.exists() and (base_dir / name).is_dir():  # a hive-partitioned table
            _link_tree(base_dir / name, tmp / name)
            counts[name] = int(base_counts[name])
            continue
        if not src.exists():
            continue
        try:
            os.link(src, tmp / table.filename)
        except OSError:
            shutil.copy2(src, tmp / table.filename)
        counts[name] = int(base_counts.get(name, pq.ParquetFile(src).metadata.num_rows))


def check_columns(df: pd.DataFrame, table: Table, *, source: str) -> None:
    """Raise :class:`SchemaError` naming the missing columns of ``df`` for ``table``."""
    missing = [c for c in table.columns if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{source}: table {table.name} lacks column(s) {', '.join(missing)}; "
            "regenerate the data or re-import the file"
        )


def table_path(data_dir: Path, name: str, version: str | None = None) -> Path:
    """Return the parquet path of table ``name`` (for engines that scan files, e.g. DuckDB)."""
    if name not in TABLES:
        raise InputError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    path = version_dir(data_dir, version) / TABLES[name].filename
    if not path.exists() and (path.parent / name).is_dir():  # hive-partitioned: see write_partitioned
        return path.parent / name / "**" / PARTITION_GLOB
    if not path.exists():
        raise SchemaError(f"{path} is missing; regenerate the data or roll back to another version")
    return path


def read_table(
    data_dir: Path,
    name: str,
    version: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read one table of a version (default: current).

    Tables with geometry come back as a :class:`geopandas.GeoDataFrame` when
    ``columns`` is ``None`` or includes ``geometry``; otherwise as a plain DataFrame.
    Columns are checked against the schema.
    """
    path = table_path(data_dir, name, version)
    read_manifest(data_dir, version)
    table = TABLES[name]
    if is_partitioned_path(path):
        return _read_partitioned(Path(dataset_root(path)), table, columns)
    # Optional columns (OPTIONAL_COLUMNS) asked for but absent from an older file: filled below.
    optional = OPTIONAL_COLUMNS.get(name, {})
    absent = {c: v for c, v in optional.items() if c not in pq.read_schema(path).names} if optional else {}
    wanted = None if columns is None else [c for c in columns if c not in absent]
    if table.geometry and (columns is None or "geometry" in columns):
        df: pd.DataFrame = gpd.read_parquet(path, columns=wanted)
    else:
        cols = wanted if wanted is not None else list(table.columns)
        df = pd.read_parquet(path, columns=cols)
    if columns is None:
        check_columns(df, table, source=str(path))
    for c, value in absent.items():
        if columns is None or c in columns:
            df[c] = np.full(len(df), value, dtype=bool)
    # Arrow's allocator keeps the freed read buffers for reuse; a long-running app reads a
    # table once, so give them back (≈ 100 MB for the national tables).
    pa.default_memory_pool().release_unused()
    return df


# A big table (the national check-in log) can be stored as a directory of parquet files
# instead of one file: ``versions/vNNNN/checkins/year=YYYY/month=MM/province_adcode=XXXXXX/
# part-NNNNN.parquet`` (hive layout; the partition values live in the path, not in the
# files). DuckDB reads it with ``read_parquet('<dir>/**/*.parquet', hive_partitioning =
# true)``, Dask with ``dask.dataframe.read_parquet('<dir>')``. A version holds either the
# file or the directory of a table, never both.

PARTITION_COLUMNS: dict[str, tuple[str, ...]] = {"checkins": ("year", "month", "province_adcode")}
"""Partition columns of the tables that may be stored partitioned (year, month from ``date``)."""

PARTITION_GLOB = "*.parquet"
"""Last component of :func:`table_path` for a partitioned table (``<dir>/**/*.parquet``)."""


def partitioned_dir(data_dir: Path, name: str, version: str | None = None) -> Path | None:
    """Return the directory of a partitioned table, or ``None`` when it is stored as one file."""
    if name not in TABLES:
        raise InputError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    d = version_dir(data_dir, version) / name
    return d if d.is_dir() else None


def dataset_root(path: Path | str) -> str:
    """Return what a dataset reader opens for a :func:`table_path`: the file, or the partition root.

    ``…/checkins/**/*.parquet`` (a partitioned table) gives ``…/checkins``; a file path is
    returned as it is.
    """
    p = str(path)
    if "*" not in p:
        return p
    return str(Path(p.split("*", 1)[0]))


def is_partitioned_path(path: Path | str) -> bool:
    """Return whether a :func:`table_path` result names a partitioned table (a glob)."""
    return "*" in str(path)


def _read_partitioned(root: Path, table: Table, columns: list[str] | None) -> pd.DataFrame:
    """Read a partitioned table whole, with the schema's columns (partition columns on request)."""
    import pyarrow.dataset as ds

    cols = columns if columns is not None else list(table.columns)
    parts = [c for c in cols if c in PARTITION_COLUMNS.get(table.name, ())]
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    df = dataset.to_table(columns=[c for c in cols if c not in parts] + parts).to_pandas()
    for c in parts:  # hive values come back as dictionary-encoded path text
        df[c] = df[c].astype("string")
        if c in ("year", "month"):
            df[c] = df[c].astype("int32")
    return df[cols]


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy) every file of ``src`` into ``dst``, keeping the tree."""
    for f in src.rglob("*"):
        if f.is_file():
            target = dst / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f, target)
            except OSError:
                shutil.copy2(f, target)
