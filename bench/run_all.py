"""Run every benchmark (``bench/bench_*.py``) and rewrite the header of ``bench/RESULTS.md``.

``make bench`` calls this. Each benchmark's ``main()`` writes its own ``## …`` section
(see :mod:`bench.results`); this script then rewrites everything above the first section:
the machine and date of the run and a summary table of every measure (target, pass).
A benchmark that raises is reported as failed in the summary and the others still run.

Usage: ``python bench/run_all.py [NAME ...]`` (e.g. ``h3 scale``; default: all of them).
"""

from __future__ import annotations

import importlib
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.results import RESULTS, machine

BENCH_DIR = Path(__file__).parent


def discover() -> list[str]:
    """Names of the benchmark modules present (``bench_*.py``), sorted."""
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


_SECTION = re.compile(r"^## .*\((bench_\w+)\.py\)\n\nRun: ([^·\n]+)", re.M)


def section_rows(text: str) -> dict[str, tuple[str, list[list[str]]]]:
    """Per benchmark, the run date and the table rows of its ``## … (bench_x.py)`` section."""
    out: dict[str, tuple[str, list[list[str]]]] = {}
    matches = list(_SECTION.finditer(text))
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        body = text[m.end() : nxt.start() if nxt else len(text)].splitlines()
        start = next((i for i, line in enumerate(body) if line.startswith("| measure |")), len(body))
        rows = []
        for line in body[start + 2 :]:  # the measures table only (notes may hold other tables)
            if not line.startswith("| "):
                break
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        out[m.group(1)] = (m.group(2).strip(), rows)
    return out


def summary_header(
    results: dict[str, list[dict[str, Any]] | str], seconds: dict[str, float], text: str = ""
) -> str:
    """Markdown for the top of RESULTS.md: one line per measure of every section in ``text``.

    The sections are the record (a benchmark run alone rewrites only its own), so the
    summary is read back from them; a benchmark of this run that raised is listed as failed.
    """
    lines = [
        "# Benchmark results",
        "",
        "Written by the scripts in `bench/`; `make bench` (`bench/run_all.py`) runs them all and "
        "rewrites this summary from the sections below, which have the details and the baseline "
        "each figure is compared with (measured in the same run).",
        "",
        f"Summary written: {machine()} · this run: {', '.join(results) or 'none'}",
        "",
        "| benchmark | run | measure | value | unit | baseline | ratio | target | pass |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    n_pass = n_all = 0
    sections = section_rows(text)
    for name in sorted(set(sections) | set(results)):
        failed = results.get(name)
        if isinstance(failed, str):  # the benchmark raised in this run
            n_all += 1
            lines.append(f"| {name} | this run | did not complete: {failed} | – | – | – | – | – | ❌ |")
            continue
        run, rows = sections.get(name, ("–", []))
        for r in rows:
            if len(r) != 8:
                continue
            measure, value, unit, base_name, base_value, ratio, target, ok = r
            n_all += 1
            n_pass += ok == "✅"
            baseline = f"{base_value} ({base_name})" if base_name not in ("", "–") else "–"
            lines.append(
                f"| {name} | {run} | {measure} | {value} | {unit} | {baseline} | {ratio} | {target} | {ok} |"
            )
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    wall = f" Wall time in this run: {timing}." if timing else ""
    lines += ["", f"{n_pass} of {n_all} measures pass their target.{wall}", ""]
    return "\n".join(lines) + "\n"


def rewrite_header(header: str, path: Path = RESULTS) -> None:
    """Replace everything above the first ``## `` section of ``path`` with ``header``."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    m = re.search(r"^## ", text, re.M)
    body = text[m.start() :] if m else ""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + "\n" + body, encoding="utf-8")
    tmp.replace(path)


def main(names: list[str] | None = None) -> dict[str, list[dict[str, Any]] | str]:
    """Run the benchmarks (all by default), then rewrite the RESULTS.md header."""
    wanted = discover()
    if names:
        wanted = [n for n in wanted if n in names or n.removeprefix("bench_") in names]
    results: dict[str, list[dict[str, Any]] | str] = {}
    seconds: dict[str, float] = {}
    for name in wanted:
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            rows = module.main()
            results[name] = list(rows or [])
        except Exception as exc:  # one failing benchmark must not stop the others
            traceback.print_exc()
            results[name] = f"{type(exc).__name__}: {str(exc)[:200]}".replace("|", "/").replace("\n", " ")
        seconds[name] = time.perf_counter() - t
        print(f"   {seconds[name]:.0f} s", flush=True)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    rewrite_header(summary_header(results, seconds, text))
    return results


if __name__ == "__main__":
    out = main(sys.argv[1:])
    # A missed target is a finding, reported in RESULTS.md; only a benchmark that crashed fails the run.
    sys.exit(1 if any(isinstance(v, str) for v in out.values()) else 0)
