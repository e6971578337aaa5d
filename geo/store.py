"""The only module that reads and writes the data directory.

Layout::

    data/
      CURRENT                  the id of the version in use (replaced atomically)
      versions/v0001/          one immutable dataset version
        manifest.json          schema version, source, seed, scale, row counts, time
        stations.parquet       GeoParquet (point geometry + lat/lng)
        workplaces.parquet     GeoParquet
        checkins.parquet       Parquet
        campaign.parquet       Parquet
        targets.parquet        Parquet
      reports.sqlite           courier reports and audit log (WAL mode)

A version is written into a hidden temporary directory, every file and directory of it
fsynced, renamed into place (and the ``versions`` directory fsynced), then ``CURRENT`` is
replaced by rename and the data directory fsynced: a crash or power loss at any point
leaves the previous version current and readable. Tables a new version does not change
are hard-linked from its base version. A change made by a person carries its audit entry
inside the version (``audit.json``, written before the switch); :func:`prune_versions`
removes old versions. Version ids are checked by :func:`check_version_id` wherever one
comes in; a failed write (a full disk) raises :class:`WriteError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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
from geo.errors import DataMissingError, GeoError, InputError, SchemaError
from geo.schema import H3_INT_COLUMN, OPTIONAL_COLUMNS, SCHEMA_VERSION, TABLES, Table

_VERSION_RE = re.compile(r"^v(\d{4,})\Z")
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
REPORTS_DB = "reports.sqlite"
LOCK_FILE = ".write.lock"
"""File in the data directory that writers hold an exclusive ``flock`` on (see :func:`write_lock`)."""
AUDIT_FILE = "audit.json"
"""The audit entry of the change that made a version (inside the version directory)."""
PINNED_FILE = "PINNED"
"""File in the data directory listing version ids (one a line) that pruning must keep."""


def check_version_id(version: object) -> str:
    """Return ``version`` when it is a version id (``v0001``); raise :class:`InputError` otherwise.

    The one check of every version id that comes in (CLI, page, API): an id is never
    used as a path before it passes (``../../x`` would name a directory elsewhere).
    """
    text = str(version)
    if not isinstance(version, str) or not _VERSION_RE.match(text):
        raise InputError(
            f"{text[:40]!r} is not a dataset version id: ids look like v0001 (see `python -m geo versions`)"
        )
    return text


class WriteError(GeoError):
    """Writing a version failed (a full disk, a read-only directory...); the previous one is still in use."""

    def __init__(self, data_dir: Path, exc: OSError, current: str | None) -> None:
        self.errno, self.detail, self.current = exc.errno, str(exc.strerror or exc), current
        kept = f"version {current} is still in use" if current else "nothing was changed"
        super().__init__(
            f"could not write to {data_dir}: {exc.strerror or exc} — the disk may be full or not writable; "
            f"{kept}. Free space (e.g. `python -m geo prune --keep 5`) and retry"
        )


class StaleBaseError(InputError):
    """The dataset moved on since the caller read it: a write on the old version is refused."""

    def __init__(self, data_dir: Path, base: str | None, now: str | None) -> None:
        self.base, self.now = base, now
        super().__init__(
            f"the data changed since you opened it (you started from {base}, {data_dir} now uses {now}): "
            "reload and retry"
        )


# ---------------------------------------------------------------- atomic primitives


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root``) to disk, deepest first."""
    for here, _, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(Path(here) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(here))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temporary file, fsync, rename, directory fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data files are meant to be readable
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_of(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- versions


def _versions_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "versions"


def list_version_ids(data_dir: Path) -> list[str]:
    """Return the ids of all complete versions, oldest first."""
    vdir = _versions_dir(data_dir)
    if not vdir.is_dir():
        return []
    ids = [p.name for p in vdir.iterdir() if _VERSION_RE.match(p.name) and (p / MANIFEST_FILE).exists()]
    return sorted(ids, key=lambda v: int(v[1:]))


def current_version(data_dir: Path) -> str | None:
    """Return the id of the version in use, or ``None`` when the directory has no data."""
    cur = Path(data_dir) / CURRENT_FILE
    if cur.exists():
        v = cur.read_text(encoding="utf-8").strip()
        if _VERSION_RE.match(v) and (_versions_dir(data_dir) / v / MANIFEST_FILE).exists():
            return v
    ids = list_version_ids(data_dir)
    return ids[-1] if ids else None


def has_data(data_dir: Path) -> bool:
    """Return whether ``data_dir`` holds at least one complete dataset version."""
    return current_version(data_dir) is not None


def _require_version(data_dir: Path, version: str | None) -> str:
    v = check_version_id(version) if version else current_version(data_dir)
    if v is None:
        raise DataMissingError(
            f"no dataset in {data_dir}: run `python -m geo generate --data-dir {data_dir}` or import a file"
        )
    if not (_versions_dir(data_dir) / v / MANIFEST_FILE).exists():
        raise DataMissingError(
            f"dataset version {v} does not exist in {data_dir}; "
            f"known versions: {', '.join(list_version_ids(data_dir)) or 'none'}"
        )
    return v


def version_dir(data_dir: Path, version: str | None = None) -> Path:
    """Return the directory of ``version`` (default: the current one)."""
    return _versions_dir(data_dir) / _require_version(data_dir, version)


def read_manifest(data_dir: Path, version: str | None = None) -> dict[str, Any]:
    """Return the manifest of ``version`` (default: current) as a dict."""
    path = version_dir(data_dir, version) / MANIFEST_FILE
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: schema version {manifest.get('schema_version')} but this program reads "
            f"version {SCHEMA_VERSION}; regenerate with `python -m geo generate` or re-import"
        )
    return manifest


def list_versions(data_dir: Path) -> list[dict[str, Any]]:
    """Return the manifests of all versions, oldest first, each with ``current`` set."""
    cur = current_version(data_dir)
    out = []
    for v in list_version_ids(data_dir):
        m = json.loads((_versions_dir(data_dir) / v / MANIFEST_FILE).read_text(encoding="utf-8"))
        m["current"] = v == cur
        out.append(m)
    return out


def dataset_key(data_dir: Path) -> str:
    """Return a string that changes whenever the dataset in use changes (for cache keys)."""
    v = current_version(data_dir)
    if v is None:
        return f"{Path(data_dir).resolve()}|empty"
    m = read_manifest(data_dir, v)
    return f"{Path(data_dir).resolve()}|{v}|{m.get('created', '')}"


@contextlib.contextmanager
def write_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's writer lock (an exclusive ``flock`` on :data:`LOCK_FILE`).

    Every change of the dataset in use runs "check the base is current → write → set
    current" under this lock, so two writers (two browser sessions, the CLI and the app)
    cannot both build on the same version and lose one another's change. The lock is
    released when the block ends or the process dies. Not re-entrant: do not nest it.
    """
    path = Path(data_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _check_base(data_dir: Path, base: str | None) -> None:
    now = current_version(data_dir)
    if now != base:
        raise StaleBaseError(Path(data_dir), base, now)


def set_current(data_dir: Path, version: str, *, expect_current: str | None = None) -> None:
    """Make ``version`` the one in use (roll back or forward), atomically.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    version : str
        The version to use from now on.
    expect_current : str, optional
        The version the caller saw in use; when given and no longer current,
        :class:`StaleBaseError` is raised and nothing changes.
    """
    check_version_id(version)
    with _writing(data_dir), write_lock(data_dir):
        if expect_current is not None:
            _check_base(data_dir, expect_current)
        _set_current(data_dir, version)


def _set_current(data_dir: Path, version: str) -> None:
    v = _require_version(data_dir, version)
    read_manifest(data_dir, v)  # refuse versions of another schema
    atomic_write_bytes(Path(data_dir) / CURRENT_FILE, v.encode("utf-8"))


def _next_version_id(data_dir: Path) -> str:
    vdir = _versions_dir(data_dir)
    taken = (
        [int(m.group(1)) for p in vdir.iterdir() if (m := _VERSION_RE.match(p.name))] if vdir.is_dir() else []
    )
    return f"v{(max(taken) + 1 if taken else 1):04d}"


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


@contextlib.contextmanager
def _writing(data_dir: Path) -> Iterator[None]:
    """Turn an ``OSError`` of a write (full disk, read-only directory) into a :class:`WriteError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        raise WriteError(Path(data_dir), exc, current_version(data_dir)) from exc


_WRITE_ERRNOS: Final = frozenset(
    {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}
)


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


def _commit_version(
    data_dir: Path,
    tmp: Path,
    base: str | None,
    manifest: dict[str, Any],
    counts: dict[str, int],
    audit: Mapping[str, Any] | None = None,
) -> str:
    """Check ``tmp`` holds every table, write its manifest and audit entry, flush it, rename it into place.

    Returns the new version's id.
    """
    missing = [n for n in TABLES if n not in counts]
    if missing:
        raise InputError(f"a dataset needs every table; missing: {', '.join(missing)}")
    vdir = _versions_dir(data_dir)
    # Retry the rename if another writer took the same id in the meantime.
    for _ in range(100):
        vid = _next_version_id(data_dir)
        full = {
            "schema_version": SCHEMA_VERSION,
            "dataset_version": vid,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "base_version": base,
            **manifest,
            "row_counts": counts,
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
        if audit is not None:
            entry = {
                "created": full["created"],
                "user": str(audit.get("user", "")),
                "action": str(audit.get("action", "")),
                "detail": {**dict(audit.get("detail") or {}), "version": vid, "base_version": base},
            }
            (tmp / AUDIT_FILE).write_text(
                json.dumps(entry, ensure_ascii=False, default=str), encoding="utf-8"
            )
        fsync_tree(tmp)  # every byte on disk before the version can be named
        try:
            os.rename(tmp, vdir / vid)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue
        fsync_dir(vdir)
        return vid
    raise InputError(f"could not allocate a version id in {vdir}")  # pragma: no cover - 100 writers


def clean_temporaries(data_dir: Path) -> int:
    """Remove half-written version directories left by a crash; return how many.

    :func:`write_version` and :func:`write_partitioned` call it under the writer lock;
    calling it while another process writes would remove that writer's directory.
    """
    vdir = _versions_dir(data_dir)
    if not vdir.is_dir():
        return 0
    stale = [p for p in vdir.iterdir() if p.name.startswith(".tmp-")]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


def pinned_versions(data_dir: Path) -> set[str]:
    """Return the version ids listed in :data:`PINNED_FILE` (one a line; other lines ignored)."""
    path = Path(data_dir) / PINNED_FILE
    if not path.is_file():
        return set()
    words = path.read_text(encoding="utf-8", errors="replace").split()
    return {w for w in words if _VERSION_RE.match(w)}


def protected_versions(data_dir: Path) -> set[str]:
    """Return the versions pruning never removes: current, the current one's base, pinned ones.

    The base of the current version is what "undo the last change" rolls back to.
    """
    out = pinned_versions(data_dir)
    cur = current_version(data_dir)
    if cur is not None:
        out.add(cur)
        base = json.loads((_versions_dir(data_dir) / cur / MANIFEST_FILE).read_text("utf-8")).get(
            "base_version"
        )
        if isinstance(base, str) and _VERSION_RE.match(base):
            out.add(base)
    return out


def prune_versions(data_dir: Path, keep: int, *, dry_run: bool = False) -> list[str]:
    """Remove old versions, keeping the newest ``keep`` and every :func:`protected_versions` one.

    Tables are hard-linked between versions, so removing a version frees only what no
    kept version shares. Each removed directory is first renamed to a hidden temporary
    name (a half-removed version never looks complete), then deleted.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    keep : int
        How many of the newest versions to keep (at least 1).
    dry_run : bool
        Only return what would be removed.

    Returns
    -------
    list of str
        The removed (or, with ``dry_run``, removable) version ids, oldest first.
    """
    if int(keep) < 1:
        raise InputError(f"keep={keep}: keep at least 1 version")
    data_dir = Path(data_dir)
    with _writing(data_dir), write_lock(data_dir):
        ids = list_version_ids(data_dir)
        keep_ids = set(ids[-int(keep) :]) | protected_versions(data_dir)
        removable = [v for v in ids if v not in keep_ids]
        if dry_run:
            return removable
        vdir = _versions_dir(data_dir)
        for v in removable:
            gone = vdir / f".tmp-prune-{v}"
            os.rename(vdir / v, gone)
            fsync_dir(vdir)
            shutil.rmtree(gone, ignore_errors=True)
    return removable


def read_version_audit(data_dir: Path) -> list[dict[str, Any]]:
    """Return the audit entries stored in the versions (:data:`AUDIT_FILE`), newest first."""
    out = []
    for v in reversed(list_version_ids(data_dir)):
        path = _versions_dir(data_dir) / v / AUDIT_FILE
        if path.is_file():
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return out


# ---------------------------------------------------------------- tables


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


# ---------------------------------------------------------------- reports and audit (SQLite)
# One SQLite file per data directory, in WAL mode: readers never block the writer, and
# every process (several uvicorn workers, the CLI) shares it. A report's rate limits are
# checked and the report inserted in one ``BEGIN IMMEDIATE`` transaction, which takes the
# database's write lock before counting: two processes cannot both count "9 of 10" and
# both insert.

REPORTS_BUSY_TIMEOUT_MS: Final = 10_000
"""How long a connection waits for another process's write lock, milliseconds."""

REPORT_WINDOW_S: Final = 3600.0
"""Length of the rate-limit window for reports, seconds."""

_REPORT_COLUMNS: Final = ("id", "station_id", "problem", "text", "created", "status", "client")
_ready_dbs: set[Path] = set()


def _utc_iso(t: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds always written, so stored times sort as text."""
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.isoformat(timespec="microseconds")


def _connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): transactions are opened explicitly where needed.
    con = sqlite3.connect(
        path,
        timeout=REPORTS_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    con.execute(f"PRAGMA busy_timeout={REPORTS_BUSY_TIMEOUT_MS}")
    return con


def _create_schema(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS reports ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL,"
        " problem TEXT NOT NULL, text TEXT NOT NULL DEFAULT '', session TEXT NOT NULL,"
        " created TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open')"
    )
    columns = {row[1] for row in con.execute("PRAGMA table_info(reports)")}
    if "client" not in columns:  # databases written before reports were limited per client
        con.execute("ALTER TABLE reports ADD COLUMN client TEXT NOT NULL DEFAULT ''")
    con.execute("CREATE INDEX IF NOT EXISTS reports_station ON reports(station_id, session, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_station_created ON reports(station_id, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_client ON reports(client, created)")
    con.execute("CREATE INDEX IF NOT EXISTS reports_created ON reports(created)")
    con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('client_key', ?)", (secrets.token_hex(32),))
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, user TEXT NOT NULL,"
        " action TEXT NOT NULL, detail TEXT NOT NULL)"
    )


@contextlib.contextmanager
def _db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open the reports database (created and migrated on first use per process)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    path = (Path(data_dir) / REPORTS_DB).resolve()
    fresh = path not in _ready_dbs or not path.exists()
    con = _connect(path)
    try:
        if fresh:
            con.execute("PRAGMA journal_mode=WAL")  # persistent; not allowed inside a transaction
            con.execute("BEGIN IMMEDIATE")  # one process migrates at a time
            try:
                _create_schema(con)
            finally:
                con.execute("COMMIT")
            _ready_dbs.add(path)
        yield con
    finally:
        con.close()


_client_keys: dict[Path, bytes] = {}


def client_id(data_dir: Path, address: str) -> str:
    """Return the pseudonym reports store for a client address: ``"ip:<16 hex digits>"``.

    An HMAC-SHA-256 of the address under a random key kept in the reports database, so
    per-client limits and "two different clients" work while the database (and the
    planners' report tab) never holds an address, and an address cannot be found again
    by hashing all 2^32 of them without the key.
    """
    path = (Path(data_dir) / REPORTS_DB).resolve()
    key = _client_keys.get(path)
    if key is None:
        with _db(data_dir) as con:
            (value,) = con.execute("SELECT value FROM meta WHERE key='client_key'").fetchone()
        key = _client_keys[path] = bytes.fromhex(value)
    return "ip:" + hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class ReportLimits:
    """How many reports are accepted per :data:`REPORT_WINDOW_S` (see :func:`add_report`).

    Attributes
    ----------
    client_per_hour : int
        Reports from one client (address, or session when there is no address), any station.
    station_per_hour : int
        Reports about one station, from everyone.
    same_station_per_hour : int
        Reports about one station from one client.
    """

    client_per_hour: int = 10
    station_per_hour: int = 20
    same_station_per_hour: int = 1


@dataclass(frozen=True)
class RateLimited:
    """A report refused by a limit: which one, and when to try again."""

    limit: str
    """``"client"``, ``"station"`` or ``"same_station"``."""
    retry_after_s: int
    """Seconds until the report would be accepted (at least 1)."""


def _retry_after_s(
    con: sqlite3.Connection,
    where: str,
    params: tuple[Any, ...],
    since: str,
    n: int,
    limit: int,
    now: dt.datetime,
) -> int:
    """Seconds until ``n - limit + 1`` reports of the window have left it."""
    (oldest,) = con.execute(
        f"SELECT created FROM reports WHERE {where} AND created>? ORDER BY created LIMIT 1 OFFSET ?",
        (*params, since, max(n - limit, 0)),
    ).fetchone()
    leaves = dt.datetime.fromisoformat(oldest) + dt.timedelta(seconds=REPORT_WINDOW_S)
    now_utc = now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now
    return max(1, int(np.ceil((leaves - now_utc).total_seconds())))


def add_report(
    data_dir: Path,
    station_id: str,
    problem: str,
    text: str,
    *,
    client: str,
    now: dt.datetime,
    session: str = "",
    limits: ReportLimits = ReportLimits(),
) -> dict[str, Any] | RateLimited:
    """Store a report unless a rate limit refuses it; limits hold across processes.

    Parameters
    ----------
    data_dir : Path
        The data directory (the reports database is :data:`REPORTS_DB` in it).
    station_id, problem, text : str
        The report, already validated (:func:`geo.navigation.clean_report`).
    client : str
        Who reports, for the per-client limits and for "reported closed by two clients":
        e.g. ``"ip:203.0.113.7"`` (the API) or ``"session:<id>"``.
    now : datetime
        Time of the report (naive means UTC).
    session : str, optional
        Browser session id (the Streamlit page), stored beside ``client``.
    limits : ReportLimits
        Limits per :data:`REPORT_WINDOW_S`.

    Returns
    -------
    dict or RateLimited
        The stored report (``id``, ``station_id``, ``problem``, ``text``, ``created``,
        ``status``), or which limit refused it and for how long.
    """
    created = _utc_iso(now)
    since = _utc_iso(now - dt.timedelta(seconds=REPORT_WINDOW_S))
    checks = (
        ("same_station", "station_id=? AND client=?", (station_id, client), limits.same_station_per_hour),
        ("client", "client=?", (client,), limits.client_per_hour),
        ("station", "station_id=?", (station_id,), limits.station_per_hour),
    )
    with _db(data_dir) as con:
        con.execute("BEGIN IMMEDIATE")  # the write lock first: counts stay true until COMMIT
        try:
            for name, where, params, limit in checks:
                (n,) = con.execute(
                    f"SELECT COUNT(*) FROM reports WHERE {where} AND created>?",
                    (*params, since),
                ).fetchone()
                if n >= limit:
                    wait = _retry_after_s(con, where, params, since, n, limit, now)
                    con.execute("ROLLBACK")
                    return RateLimited(name, wait)
            cur = con.execute(
                "INSERT INTO reports(station_id, problem, text, session, created, client)"
                " VALUES (?,?,?,?,?,?)",
                (station_id, problem, text, session, created, client),
            )
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    return {
        "id": int(cur.lastrowid or 0),
        "station_id": station_id,
        "problem": problem,
        "text": text,
        "created": created,
        "status": "open",
    }


def insert_report(
    data_dir: Path,
    station_id: str,
    problem: str,
    text: str,
    session: str,
    now: dt.datetime,
    *,
    client: str = "",
    per_hour: int = 1,
    limits: ReportLimits | None = None,
) -> bool:
    """Store a report from a browser session (the Streamlit page) unless limited.

    One report per station and client per hour (``per_hour``), and the per-client and
    per-station limits of ``limits``. The client is ``client`` (e.g. ``"ip:<address>"``)
    when known, else the session.

    Returns
    -------
    bool
        ``True`` when stored, ``False`` when rate-limited.
    """
    base = limits or ReportLimits()
    lim = ReportLimits(base.client_per_hour, base.station_per_hour, per_hour)
    who = client or f"session:{session}"
    return not isinstance(
        add_report(data_dir, station_id, problem, text, client=who, now=now, session=session, limits=lim),
        RateLimited,
    )


def read_reports(
    data_dir: Path, status: str | None = "open", since: dt.datetime | None = None
) -> pd.DataFrame:
    """Return reports as a DataFrame, newest first.

    Parameters
    ----------
    data_dir : Path
        The data directory.
    status : str or None, default "open"
        Only reports with this status; ``None`` for all.
    since : datetime, optional
        Only reports created after this time (naive means UTC).

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``station_id``, ``problem``, ``text``, ``created`` (ISO 8601 UTC
        text), ``status``, ``client`` (who reported, see :func:`add_report`).
    """
    if not (Path(data_dir) / REPORTS_DB).exists():
        return pd.DataFrame(columns=list(_REPORT_COLUMNS))
    with _db(data_dir) as con:
        return _select_reports(con, status, since)


def _select_reports(con: sqlite3.Connection, status: str | None, since: dt.datetime | None) -> pd.DataFrame:
    # Reports written before the client column count each session as one client.
    q = (
        "SELECT id, station_id, problem, text, created, status,"
        " CASE WHEN client='' THEN 'session:' || session ELSE client END AS client FROM reports WHERE 1=1"
    )
    params: list[Any] = []
    if status is not None:
        q += " AND status=?"
        params.append(status)
    if since is not None:
        q += " AND created>?"
        params.append(_utc_iso(since))
    return pd.read_sql_query(q + " ORDER BY created DESC, id DESC", con, params=params)


class ReportsReader:
    """A connection kept open to the reports database that notices writes cheaply.

    :meth:`changed` asks SQLite's ``PRAGMA data_version``, which changes when any other
    connection (of this or another process) commits: a few microseconds, no query. The
    database need not exist yet. Thread-safe.
    """

    def __init__(self, data_dir: Path) -> None:
        """Prepare a reader of ``data_dir``'s reports (opened on first use)."""
        self.path = (Path(data_dir) / REPORTS_DB).resolve()
        self._con: sqlite3.Connection | None = None
        self._version: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection | None:
        if self._con is None and self.path.exists():
            with _db(self.path.parent):  # the columns this reader selects exist from here on
                pass
            self._con = _connect(self.path, check_same_thread=False)
        return self._con

    def changed(self) -> bool:
        """Return whether the reports changed since the last call (``True`` on the first)."""
        with self._lock:
            con = self._open()
            version = -1 if con is None else int(con.execute("PRAGMA data_version").fetchone()[0])
            changed = version != self._version or version == -1
            self._version = version
            return changed

    def recent(self, since: dt.datetime, status: str | None = "open") -> pd.DataFrame:
        """Return the reports created after ``since`` (see :func:`read_reports`)."""
        with self._lock:
            con = self._open()
            if con is None:
                return pd.DataFrame(columns=list(_REPORT_COLUMNS))
            return _select_reports(con, status, since)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def set_report_status(data_dir: Path, report_id: int, status: str) -> None:
    """Mark a report (e.g. ``"resolved"``)."""
    with _db(data_dir) as con:
        con.execute("UPDATE reports SET status=? WHERE id=?", (status, int(report_id)))


def append_audit(data_dir: Path, user: str, action: str, detail: Mapping[str, Any]) -> None:
    """Append one line to the audit log (who did what to the data, when)."""
    with _db(data_dir) as con:
        con.execute(
            "INSERT INTO audit(created, user, action, detail) VALUES (?,?,?,?)",
            (
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                user,
                action,
                json.dumps(dict(detail), ensure_ascii=False, default=str),
            ),
        )


def read_audit(data_dir: Path) -> pd.DataFrame:
    """Return the audit log, newest first."""
    if not (Path(data_dir) / REPORTS_DB).exists():
        return pd.DataFrame(columns=["created", "user", "action", "detail"])
    with _db(data_dir) as con:
        return pd.read_sql_query("SELECT created, user, action, detail FROM audit ORDER BY id DESC", con)


# ---------------------------------------------------------------- hive-partitioned tables
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

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


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
                _write_table(df, TABLES[tname], tmp / TABLES[tname].filename)
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
