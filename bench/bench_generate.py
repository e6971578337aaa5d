"""National demo data generation (scale 1.0): wall time and peak RSS in a child process.

Targets: ≤ 60 s and ≤ 2 GB peak RSS on 2 cores. Baseline: the same generator at scale 0.1
in the same run (time should grow about linearly with scale).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.results import row, write_section

TITLE = "Demo data generation (bench_generate.py)"
CHILD = """
import sys, time
from bench.results import peak_rss_mb
from geo.cli import main
t = time.perf_counter()
rc = main(["generate", "--scale", sys.argv[1], "--data-dir", sys.argv[2], "--json"])
rss_mb = peak_rss_mb()
print("RESULT", time.perf_counter() - t, rss_mb, file=sys.stderr)
sys.exit(rc)
"""


def run(scale: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(scale), d],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[1],
            check=True,
        )
        wall = time.perf_counter() - t
        line = [ln for ln in proc.stderr.splitlines() if ln.startswith("RESULT")][-1]
        return wall, float(line.split()[2])


def main() -> list[dict]:
    t_small, rss_small = run(0.1)
    t_full, rss_full = run(1.0)
    rows = [
        row(
            "generate --scale 1.0 (wall, incl. start-up and writing)",
            t_full,
            "s",
            "≤ 60 s",
            t_full <= 60,
            "scale 0.1",
            t_small,
            t_full / t_small,
        ),
        row(
            "generate --scale 1.0 peak RSS",
            rss_full,
            "MB",
            "≤ 2048 MB",
            rss_full <= 2048,
            "scale 0.1",
            rss_small,
            rss_full / rss_small,
        ),
    ]
    write_section(
        TITLE, rows, "186,100 stations, 600,000 workplaces, 11.0 M check-ins, 1.2 M campaign events."
    )
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
