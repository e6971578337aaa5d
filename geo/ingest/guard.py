"""Upload-bomb guards: what a file declares is checked before it is read; reading runs under a memory cap.

A small upload can cost far more than its size: a 0.25 MB workbook whose sheet repeats one
shared string a million times, a 23 kB Parquet file declaring five million rows. So, before
any reader runs:

* Parquet: the footer's row count, column count and uncompressed size are checked against
  the limits (:func:`check_parquet`).
* XLSX: the zip members' unpacked sizes (total and ratio to the upload), and the shared-string
  table's declared ``count`` (cells that reference it) and the text those references expand
  to (:func:`check_xlsx`).

Then a compressed file (XLSX, Parquet) is read in a child process (``forkserver``, so the
threaded app is never forked) whose address space is capped with ``RLIMIT_AS``
(:func:`run_capped`): whatever a file manages to hide from the checks ends in a clear
refusal, not in the app running out of memory. The child hands the cells back as Arrow
IPC, which materialises every text cell: shared strings cannot expand again behind the cap.
CSV and GeoJSON cost memory in proportion to their (limited) size and are read in place.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import re
import resource
import zipfile
from collections.abc import Callable
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from geo.errors import InputError
from geo.ingest.report import ImportFileError

MAX_UNPACK_RATIO: Final = 100
"""An XLSX (or a Parquet footer) may declare at most this many unpacked bytes per uploaded byte.

Real registries compress 5–20×; a zip bomb compresses ~1000×. Checked only above
:data:`RATIO_FLOOR_BYTES`, so small files never trip it."""
RATIO_FLOOR_BYTES: Final = 16 * 1024 * 1024
"""Unpacked size (bytes) below which the ratio checks do not apply."""
MAX_TEXT_FACTOR: Final = 10
"""The text a file expands to may be at most this many times the upload limit (bytes)."""
CELLS_PER_ROW: Final = 64
"""Cells allowed per row of the row limit (a registry has a dozen or two columns)."""
DEFAULT_READ_MEMORY_MB: Final = 3072
"""Address space (MB) a file's reader may use beyond what the child process starts with."""

_SST_HEAD: Final = re.compile(rb"<(?:\w+:)?sst\b[^>]*>")
_ATTR: Final = {k: re.compile(rb"\b" + k + rb'="(\d+)"') for k in (b"count", b"uniqueCount")}


def _too_big(mb: float) -> ImportFileError:
    return ImportFileError("file_xlsx_bomb", mb=f"{mb:.0f}")


def check_xlsx(data: bytes, *, max_rows: int, max_bytes: int, max_expansion: int) -> None:
    """Refuse a workbook whose declared sizes exceed the limits, before it is parsed.

    Parameters
    ----------
    data : bytes
        The XLSX file.
    max_rows, max_bytes : int
        The import's row limit and upload limit (bytes).
    max_expansion : int
        The total unpacked size may be at most ``max_expansion × max_bytes``.

    Raises
    ------
    ImportFileError
        ``file_xlsx_bad`` (not a zip), ``file_xlsx_bomb`` (unpacks or expands too far),
        ``file_xlsx_cells`` (more string cells than the row limit allows).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            unpacked = sum(i.file_size for i in infos)
            if unpacked > max_bytes * max_expansion or (
                unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_UNPACK_RATIO * len(data)
            ):
                raise _too_big(unpacked / 1e6)
            sst = [i for i in infos if i.filename.lower().rsplit("/", 1)[-1] == "sharedstrings.xml"]
            if not sst:
                return
            with zf.open(sst[0]) as f:
                head = f.read(65536)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ImportFileError("file_xlsx_bad", detail=str(exc)[:120]) from exc
    found = _SST_HEAD.search(head)
    if found is None:
        return
    attrs = {k.decode(): int(m.group(1)) for k, rx in _ATTR.items() if (m := rx.search(found.group(0)))}
    count, unique = attrs.get("count"), attrs.get("uniqueCount")
    if count is None:
        return  # not declared: the memory cap of the reader stands in
    limit = (max_rows + 50) * CELLS_PER_ROW
    if count > limit:
        raise ImportFileError("file_xlsx_cells", n=f"{count:,}", limit=f"{limit:,}")
    # Each reference becomes its own text once cells are checked: estimate the expansion
    # from the average length of the distinct strings.
    text_bytes = count * sst[0].file_size / max(unique or 1, 1)
    if text_bytes > max_bytes * MAX_TEXT_FACTOR or (
        text_bytes > RATIO_FLOOR_BYTES and text_bytes > MAX_UNPACK_RATIO * len(data)
    ):
        raise _too_big(text_bytes / 1e6)


def check_parquet(data: bytes, *, max_rows: int, max_bytes: int, max_columns: int) -> None:
    """Refuse a Parquet file whose footer declares too many rows, columns or bytes.

    Raises
    ------
    ImportFileError
        ``file_parquet_bad`` (unreadable footer), ``file_rows``, ``file_properties`` or
        ``file_parquet_bomb``.
    """
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ImportFileError("file_parquet_bad", detail=type(exc).__name__) from exc
    if meta.num_rows > max_rows:
        raise ImportFileError("file_rows", limit=f"{max_rows:,}")
    if meta.num_columns > max_columns:
        raise ImportFileError("file_properties", n=meta.num_columns)
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > max_bytes * MAX_TEXT_FACTOR or (
        unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_UNPACK_RATIO * len(data)
    ):
        raise ImportFileError("file_parquet_bomb", mb=f"{unpacked / 1e6:.0f}")


# ---------------------------------------------------------------- reading under a memory cap


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def frame_to_ipc(frame: pd.DataFrame) -> bytes:
    """Return a frame of text cells (``str`` or ``None``) as Arrow IPC bytes."""
    arrays = [pa.array(frame[c].to_numpy(dtype=object), type=pa.string(), from_pandas=True) for c in frame]
    table = pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def ipc_to_frame(data: bytes) -> pd.DataFrame:
    """Return Arrow IPC bytes of :func:`frame_to_ipc` as a frame of ``object`` columns."""
    table = pa.ipc.open_stream(data).read_all()
    out = pd.DataFrame(
        {f"\0{i}": table.column(i).to_numpy(zero_copy_only=False) for i in range(table.num_columns)}
    )
    out.columns = table.column_names
    return out.astype(object).where(out.notna(), None) if len(out.columns) else out


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...], budget: int) -> None:  # noqa: ANN401
    """Run ``fn(*args)`` under an address-space cap; send the outcome through ``conn``."""
    from geo.errors import GeoError

    try:
        try:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = _address_space_bytes() + budget
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            result = fn(*args)
            frame = getattr(result, "frame", None)
            if isinstance(frame, pd.DataFrame):
                result.frame = frame_to_ipc(frame)  # materialised here, under the cap
            out: tuple[Any, ...] = ("ok", result)
        except MemoryError:
            out = ("memory",)
        except ImportFileError as exc:
            out = ("file", exc.code, exc.params)
        except GeoError as exc:
            out = ("input", str(exc))
        except RecursionError as exc:
            out = ("complex", type(exc).__name__)
        except Exception as exc:  # a damaged file: the parent turns it into a report error
            out = ("error", f"{type(exc).__name__}: {str(exc)[:200]}")
        conn.send(out)
    except MemoryError:
        conn.send(("memory",))
    finally:
        conn.close()


_CONTEXT: mp.context.ForkServerContext | None = None


def _context() -> mp.context.ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        ctx: mp.context.ForkServerContext = mp.get_context("forkserver")
        # Preload the readers in the server (each child then starts in milliseconds); not
        # "__main__", which under Streamlit or pytest is not a module to import again.
        ctx.set_forkserver_preload(["geo.ingest.read"])
        _CONTEXT = ctx
    return _CONTEXT


def run_capped(fn: Callable[..., Any], *args: Any, memory_mb: int = DEFAULT_READ_MEMORY_MB) -> Any:  # noqa: ANN401
    """Run a reader ``fn(*args)`` in a child process whose address space grows by at most ``memory_mb``.

    ``fn`` must be a module-level function returning an object with a ``frame`` of text
    cells (a :class:`~geo.ingest.read.SourceFrame`); the frame travels back as Arrow IPC.

    Raises
    ------
    ImportFileError
        ``file_memory`` when the reader needs more memory (or the child dies), and the
        reader's own file errors.
    geo.errors.InputError
        For a bad option (e.g. an unknown encoding).
    """
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args, int(memory_mb) * 1024 * 1024), daemon=True)
    proc.start()
    send.close()
    try:
        try:
            out = receive.recv()
        except EOFError:  # killed (e.g. the allocator aborted at the cap)
            out = ("memory",)
    finally:
        receive.close()
        proc.join()
    kind = out[0]
    if kind == "ok":
        result = out[1]
        if isinstance(getattr(result, "frame", None), bytes):
            result.frame = ipc_to_frame(result.frame)
        return result
    if kind == "memory":
        raise ImportFileError("file_memory", mb=f"{memory_mb:,}")
    if kind == "file":
        raise ImportFileError(out[1], **out[2])
    if kind == "input":
        raise InputError(out[1])
    if kind == "complex":
        raise ImportFileError("file_complex", detail=out[1])
    raise ImportFileError("file_unexpected", detail=out[1])
