"""H3 indexing: vectorised (polars-h3) vs an h3-py loop on the same points.

Target: vectorised ≥ 2.5× faster than the h3-py loop. Both must agree cell for cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h3
import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.results import best_of, row, write_section
from geo import hexes

TITLE = "H3 indexing (bench_h3.py)"


def main(n: int = 1_000_000) -> list[dict]:
    rng = np.random.default_rng(0)
    lat = rng.uniform(18, 53, n)
    lng = rng.uniform(73, 135, n)
    t_vec, cells = best_of(lambda: hexes.latlng_to_cells(lat, lng, 9), repeat=3)
    t_loop, ref = best_of(
        lambda: [h3.latlng_to_cell(a, b, 9) for a, b in zip(lat, lng, strict=True)], repeat=1
    )
    assert list(cells) == ref, "vectorised cells disagree with h3-py"
    cells7 = hexes.cells_to_parent(cells, 7)
    t_par, _ = best_of(lambda: hexes.cells_to_parent(cells, 7), repeat=3)
    t_par_loop, ref7 = best_of(lambda: [h3.cell_to_parent(c, 7) for c in cells], repeat=1)
    assert list(cells7) == ref7
    rows = [
        row(
            f"latlng_to_cells, {n:,} points, res 9",
            t_vec,
            "s",
            "≥ 2.5× faster than h3-py loop",
            t_loop / t_vec >= 2.5,
            "h3-py loop",
            t_loop,
            t_loop / t_vec,
        ),
        row(
            f"cells_to_parent res 9→7, {n:,} cells",
            t_par,
            "s",
            "faster than h3-py loop",
            t_par < t_par_loop,
            "h3-py loop",
            t_par_loop,
            t_par_loop / t_par,
        ),
    ]
    write_section(TITLE, rows, "Both paths agree cell for cell (asserted in the run).")
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
