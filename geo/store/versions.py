"""Versions of a data directory: listing, ``CURRENT``, the write lock, committing, pruning, pinning."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from geo.errors import DataMissingError, InputError, SchemaError
from geo.schema import SCHEMA_VERSION, TABLES
from geo.store.atomic import (
    _VERSION_RE,
    AUDIT_FILE,
    CURRENT_FILE,
    LOCK_FILE,
    MANIFEST_FILE,
    PINNED_FILE,
    StaleBaseError,
    WriteError,
    atomic_write_bytes,
    check_version_id,
    fsync_dir,
    fsync_tree,
)


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
