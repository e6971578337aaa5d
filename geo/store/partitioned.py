"""Writing hive-partitioned tables chunk by chunk (``checkins/year=/month=/province_adcode=/``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import geo.store.tables as _tables
from geo.errors import InputError, SchemaError
from geo.schema import TABLES, Table
from geo.store.tables import PARTITION_COLUMNS, _link_base_tables, check_columns
from geo.store.versions import (
    _commit_version,
    _set_current,
    _versions_dir,
    _writing,
    clean_temporaries,
    current_version,
    write_lock,
)

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _split_chunk(
    df: pd.DataFrame, table: Table, partition_cols: tuple[str, ...], part_no: int
) -> list[tuple[Path, Any]]:
    """Split one chunk into ``(partition sub-path, Arrow table)`` pieces."""
    import numpy as np

    check_columns(df, table, source=f"chunk {part_no} of {table.name}")
    dates = pd.to_datetime(df["date"])
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for c in partition_cols:
        if c in ("year", "month"):
            values = (dates.dt.year if c == "year" else dates.dt.month).to_numpy(dtype=np.int64)
            uniq, codes[c] = np.unique(values, return_inverse=True)
            labels[c] = np.array([f"{v:04d}" if c == "year" else f"{v:02d}" for v in uniq], dtype=object)
        else:
            if c not in df.columns:
                raise SchemaError(
                    f"chunk {part_no} of {table.name} lacks partition column {c}; "
                    "join it from the stations table before writing"
                )
            values = df[c]
            if not (isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object):
                values = values.astype("string")  # numbers and the like: partition on their text
            code, uniq_s = pd.factorize(values, use_na_sentinel=True)
            codes[c] = np.where(code < 0, len(uniq_s), code)
            labels[c] = np.array([*map(str, uniq_s), _NULL_PARTITION], dtype=object)
    group = np.zeros(len(df), dtype=np.int64)
    for c in partition_cols:  # one integer per partition (mixed radix of the column codes)
        group = group * (len(labels[c]) + 1) + codes[c]
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1], True])
    # Into Arrow once, then reorder there: categoricals stay dictionary-encoded (no Python
    # string per row), which keeps a month of the national log well under a gigabyte.
    arrow = pa.Table.from_pandas(pd.DataFrame({c: df[c] for c in table.columns}), preserve_index=False)
    for i, field in enumerate(arrow.schema):
        if pa.types.is_dictionary(field.type):  # categories differ between chunks: store plain text
            arrow = arrow.set_column(i, field.name, arrow.column(i).cast(field.type.value_type))
        elif field.name == "date" and pa.types.is_timestamp(field.type):
            arrow = arrow.set_column(i, "date", arrow.column(i).cast(pa.date32()))
    # pandas metadata would still call the cast columns categorical (Dask trusts it): drop it.
    arrow = arrow.replace_schema_metadata(None).take(pa.array(order))
    pieces = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):  # noqa: RUF007 - numpy bounds
        row = order[a]
        sub = Path(*(f"{c}={labels[c][codes[c][row]]}" for c in partition_cols))
        pieces.append((sub, arrow.slice(a, b - a)))
    return pieces


class _PartitionWriter:
    """Write chunks into one parquet file per partition for as long as chunks keep touching it.

    A chunk (a week of the log) is split by partition and each piece appended, as row
    groups, to the open file of its partition; a partition no chunk touched in the latest
    round is closed. Chunks in date order therefore give one file per month and province
    (``part-NNNNN.parquet``, ``NNNNN`` = the chunk that opened it) while memory holds one
    chunk; a partition visited again later gets a new file.
    """

    def __init__(self, table: Table, root: Path, partition_cols: tuple[str, ...]) -> None:
        self.table, self.root, self.cols = table, root, partition_cols
        self.open: dict[Path, pq.ParquetWriter] = {}

    def write(self, df: pd.DataFrame, part_no: int) -> int:
        """Write one chunk; return its rows."""
        touched = set()
        for sub, piece in _split_chunk(df, self.table, self.cols, part_no):
            writer = self.open.get(sub)
            if writer is None:
                out = self.root / sub
                out.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    out / f"part-{part_no:05d}.parquet", piece.schema, compression="zstd"
                )
                self.open[sub] = writer
            writer.write_table(piece.cast(writer.schema))
            touched.add(sub)
        for sub in [s for s in self.open if s not in touched]:
            self.open.pop(sub).close()
        return len(df)

    def close(self) -> None:
        """Close every open file."""
        while self.open:
            self.open.popitem()[1].close()


def write_partitioned(
    data_dir: Path,
    name: str,
    frames: Iterator[pd.DataFrame] | list[pd.DataFrame],
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    manifest: Mapping[str, Any] | None = None,
    base_version: str | None = None,
    make_current: bool = True,
    partition_cols: tuple[str, ...] | None = None,
) -> str:
    """Write a new version whose table ``name`` is hive-partitioned, chunk by chunk, atomically.

    Each chunk of ``frames`` is split by partition and appended to the open
    ``part-NNNNN.parquet`` of each partition directory it touches (see
    :class:`_PartitionWriter`), so memory holds one chunk at a time. Everything goes
    into a hidden temporary version directory that is renamed into place at the end: a
    failure at any point (a bad chunk, a full disk, a kill) leaves the previous version
    current and readable.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    name : str
        Table to store partitioned (one of :data:`PARTITION_COLUMNS`, e.g. ``"checkins"``).
    frames : iterable of pandas.DataFrame
        Chunks with the table's columns plus the non-date partition columns
        (``province_adcode``); ``year`` and ``month`` are taken from ``date``.
    tables : mapping of str to DataFrame, optional
        Other tables of the version, written as single files.
    manifest : mapping, optional
        Extra manifest fields (``source``, ``seed``...).
    base_version : str, optional
        Tables neither in ``tables`` nor ``name`` are hard-linked from this version
        (default: the current one).
    make_current : bool
        Point ``CURRENT`` at the new version.
    partition_cols : tuple of str, optional
        Default :data:`PARTITION_COLUMNS` of ``name``.

    Returns
    -------
    str
        The new version id.
    """
    data_dir = Path(data_dir)
    if name not in PARTITION_COLUMNS:
        raise InputError(f"table {name!r} cannot be stored partitioned; only: {', '.join(PARTITION_COLUMNS)}")
    table = TABLES[name]
    cols = tuple(partition_cols or PARTITION_COLUMNS[name])
    tables = dict(tables or {})
    unknown = set(tables) - set(TABLES)
    if unknown or name in tables:
        raise InputError(f"tables {sorted(tables)}: unknown table(s) or {name} given twice")
    vdir = _versions_dir(data_dir)
    vdir.mkdir(parents=True, exist_ok=True)
    with _writing(data_dir), write_lock(data_dir):
        clean_temporaries(data_dir)
        base = base_version if base_version is not None else current_version(data_dir)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=vdir))
        tmp.chmod(0o755)
        try:
            counts: dict[str, int] = {}
            for tname, df in tables.items():
                _tables._write_table(df, TABLES[tname], tmp / TABLES[tname].filename)
                counts[tname] = len(df)
            n = 0
            writer = _PartitionWriter(table, tmp / name, cols)
            try:
                for i, chunk in enumerate(frames):
                    n += writer.write(chunk, i)
            finally:
                writer.close()
            (tmp / name).mkdir(exist_ok=True)
            counts[name] = n
            _link_base_tables(data_dir, base, tmp, counts)
            vid = _commit_version(
                data_dir, tmp, base, {**dict(manifest or {}), "partitioned": {name: list(cols)}}, counts
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if make_current:
            _set_current(data_dir, vid)
    return vid
