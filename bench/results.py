"""Shared helpers for benchmarks: result rows, machine facts, and RESULTS.md sections.

Each benchmark returns rows ``{name, value, unit, baseline, baseline_value, ratio, target, pass}``
and rewrites only its own ``## <title>`` section of ``bench/RESULTS.md``, so benchmarks can
run one at a time or all together (``make bench``).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nWritten by the scripts in `bench/` (`make bench` runs them all).\n"


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Return the best wall time (s) of ``repeat`` runs of ``fn`` and its last result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def row(
    name: str,
    value: float,
    unit: str,
    target: str,
    ok: bool,
    baseline: str = "",
    baseline_value: float | None = None,
    ratio: float | None = None,
) -> dict[str, Any]:
    """Build one result row."""
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": ratio,
        "target": target,
        "pass": bool(ok),
    }


def machine() -> str:
    """One line describing this machine and run."""
    return (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
        f"{os.cpu_count()} cores · {psutil.virtual_memory().total / 2**30:.0f} GiB · "
        f"Python {platform.python_version()}"
    )


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def to_markdown(title: str, rows: list[dict[str, Any]], notes: str = "") -> str:
    """Render a results section."""
    lines = [
        f"## {title}",
        "",
        f"Run: {machine()}",
        "",
        "| measure | value | unit | baseline (same run) | baseline value | ratio | target | pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            "| {name} | {v} | {unit} | {b} | {bv} | {ratio} | {target} | {ok} |".format(
                name=r["name"],
                v=_fmt(r["value"]),
                unit=r["unit"],
                b=r["baseline"] or "–",
                bv=_fmt(r["baseline_value"]),
                ratio=_fmt(r["ratio"]),
                target=r["target"],
                ok="✅" if r["pass"] else "❌",
            )
        )
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


def write_section(title: str, rows: list[dict[str, Any]], notes: str = "", path: Path = RESULTS) -> None:
    """Replace (or append) the ``## title`` section of RESULTS.md."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    section = to_markdown(title, rows, notes)
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _m: section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux ``VmHWM``).

    Not ``getrusage``: Linux carries a parent's high-water mark into a child across
    fork + exec, so a child of a big benchmark process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the best available

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_data_dir() -> Path:
    """The national dataset the benchmarks read: ``GEO_BENCH_DATA``, else ``/tmp/d1``.

    ``make bench`` sets ``GEO_BENCH_DATA`` to the app's data directory after generating the
    national demo there if missing (``python -m geo generate --scale 1.0``).
    """
    return Path(os.environ.get("GEO_BENCH_DATA", "/tmp/d1"))
