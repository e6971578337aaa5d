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

A version is written into a hidden temporary directory and renamed into place, then
``CURRENT`` is replaced by rename: a crash at any point leaves the previous version
readable. Tables a new version does not change are hard-linked from its base version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import shapely

from geo.errors import DataMissingError, InputError, SchemaError
from geo.schema import SCHEMA_VERSION, TABLES, Table

_VERSION_RE = re.compile(r"^v(\d{4,})$")
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
REPORTS_DB = "reports.sqlite"


# ---------------------------------------------------------------- atomic primitives


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data files are meant to be readable
        os.replace(tmp, path)
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
        if (_versions_dir(data_dir) / v / MANIFEST_FILE).exists():
            return v
    ids = list_version_ids(data_dir)
    return ids[-1] if ids else None


def has_data(data_dir: Path) -> bool:
    """Return whether ``data_dir`` holds at least one complete dataset version."""
    return current_version(data_dir) is not None


def _require_version(data_dir: Path, version: str | None) -> str:
    v = version or current_version(data_dir)
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


def set_current(data_dir: Path, version: str) -> None:
    """Make ``version`` the one in use (roll back or forward), atomically."""
    v = _require_version(data_dir, version)
    read_manifest(data_dir, v)  # refuse versions of another schema
    atomic_write_bytes(Path(data_dir) / CURRENT_FILE, v.encode("utf-8"))


def _next_version_id(data_dir: Path) -> str:
    vdir = _versions_dir(data_dir)
    taken = (
        [int(m.group(1)) for p in vdir.iterdir() if (m := _VERSION_RE.match(p.name))] if vdir.is_dir() else []
    )
    return f"v{(max(taken) + 1 if taken else 1):04d}"


def _write_table(df: pd.DataFrame, table: Table, path: Path) -> None:
    check_columns(df, table, source=str(path))
    if table.geometry:
        geom = shapely.points(df["lng"].to_numpy(float), df["lat"].to_numpy(float))
        gdf = gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")
        gdf.to_parquet(path, index=False, compression="zstd", write_covering_bbox=False)
    else:
        pd.DataFrame(df).to_parquet(path, index=False, compression="zstd")


def write_version(
    data_dir: Path,
    tables: Mapping[str, pd.DataFrame],
    manifest: Mapping[str, Any],
    *,
    base_version: str | None = None,
    make_current: bool = True,
) -> str:
    """Write a new dataset version atomically and (by default) make it current.

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

    Returns
    -------
    str
        The new version id, e.g. ``"v0002"``.
    """
    data_dir = Path(data_dir)
    vdir = _versions_dir(data_dir)
    vdir.mkdir(parents=True, exist_ok=True)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise InputError(f"unknown table(s) {sorted(unknown)}; known: {sorted(TABLES)}")
    base = base_version if base_version is not None else current_version(data_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=vdir))
    tmp.chmod(0o755)  # mkdtemp makes it private; versions are shared read-only data
    try:
        counts: dict[str, int] = {}
        for name, df in tables.items():
            _write_table(df, TABLES[name], tmp / TABLES[name].filename)
            counts[name] = len(df)
        if base is not None:
            base_dir = version_dir(data_dir, base)
            base_counts = json.loads((base_dir / MANIFEST_FILE).read_text("utf-8")).get("row_counts", {})
            for name, table in TABLES.items():
                src = base_dir / table.filename
                if name in tables or not src.exists():
                    continue
                try:
                    os.link(src, tmp / table.filename)
                except OSError:
                    shutil.copy2(src, tmp / table.filename)
                counts[name] = int(base_counts.get(name, pq.ParquetFile(src).metadata.num_rows))
        missing = [n for n in TABLES if n not in counts]
        if missing:
            raise InputError(f"a dataset needs every table; missing: {', '.join(missing)}")
        # Retry the rename if another writer took the same id in the meantime.
        for _ in range(100):
            vid = _next_version_id(data_dir)
            full = {
                "schema_version": SCHEMA_VERSION,
                "dataset_version": vid,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "base_version": base,
                **dict(manifest),
                "row_counts": counts,
            }
            atomic_write_bytes(tmp / MANIFEST_FILE, json.dumps(full, ensure_ascii=False, indent=2).encode())
            try:
                os.rename(tmp, vdir / vid)
                break
            except OSError:
                continue
        else:  # pragma: no cover - 100 concurrent writers
            raise InputError(f"could not allocate a version id in {vdir}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if make_current:
        set_current(data_dir, vid)
    return vid


def clean_temporaries(data_dir: Path) -> int:
    """Remove half-written version directories left by a crash; return how many."""
    vdir = _versions_dir(data_dir)
    if not vdir.is_dir():
        return 0
    stale = [p for p in vdir.iterdir() if p.name.startswith(".tmp-")]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


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
    if table.geometry and (columns is None or "geometry" in columns):
        df: pd.DataFrame = gpd.read_parquet(path, columns=columns)
    else:
        cols = columns if columns is not None else list(table.columns)
        df = pd.read_parquet(path, columns=cols)
    if columns is None:
        check_columns(df, table, source=str(path))
    return df


# ---------------------------------------------------------------- reports and audit (SQLite)


@contextlib.contextmanager
def _db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(Path(data_dir) / REPORTS_DB, timeout=10)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS reports ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL,"
            " problem TEXT NOT NULL, text TEXT NOT NULL DEFAULT '', session TEXT NOT NULL,"
            " created TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open')"
        )
        con.execute("CREATE INDEX IF NOT EXISTS reports_station ON reports(station_id, session, created)")
        con.execute(
            "CREATE TABLE IF NOT EXISTS audit ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, user TEXT NOT NULL,"
            " action TEXT NOT NULL, detail TEXT NOT NULL)"
        )
        with con:
            yield con
    finally:
        con.close()


def insert_report(
    data_dir: Path,
    station_id: str,
    problem: str,
    text: str,
    session: str,
    now: dt.datetime,
    *,
    per_hour: int = 1,
) -> bool:
    """Store a courier's report unless this session reported this station within the hour.

    Returns
    -------
    bool
        ``True`` when stored, ``False`` when rate-limited.
    """
    since = (now - dt.timedelta(hours=1)).isoformat()
    with _db(data_dir) as con:
        (n,) = con.execute(
            "SELECT COUNT(*) FROM reports WHERE station_id=? AND session=? AND created>?",
            (station_id, session, since),
        ).fetchone()
        if n >= per_hour:
            return False
        con.execute(
            "INSERT INTO reports(station_id, problem, text, session, created) VALUES (?,?,?,?,?)",
            (station_id, problem, text, session, now.isoformat()),
        )
    return True


def read_reports(data_dir: Path, status: str | None = "open") -> pd.DataFrame:
    """Return reports (all, or those with ``status``) as a DataFrame, newest first."""
    if not (Path(data_dir) / REPORTS_DB).exists():
        return pd.DataFrame(columns=["id", "station_id", "problem", "text", "created", "status"])
    with _db(data_dir) as con:
        q = "SELECT id, station_id, problem, text, created, status FROM reports"
        params: tuple[Any, ...] = ()
        if status is not None:
            q += " WHERE status=?"
            params = (status,)
        return pd.read_sql_query(q + " ORDER BY created DESC", con, params=params)


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
