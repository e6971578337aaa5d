"""Atomic file primitives of the store: fsync, write-by-rename, hashes; file names, version ids, errors."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

from geo.errors import GeoError, InputError

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
