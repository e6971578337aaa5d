"""Nearest station: in-process queries, batch queries, the page click and the JSON API.

Full national data (``GEO_BENCH_DATA``, default /tmp/d1: 186,100 stations). Baselines in the
same run: scikit-learn ``BallTree(metric="haversine")`` and geopandas ``sjoin_nearest`` (on
degrees, as it is usually called). Every fast answer is checked against BallTree.

Targets: single query ≤ 50 µs in-process; batch ≥ 1 million queries/s; page click → result
cards ≤ 1 s warm (headless Chromium, when installed); API ≥ 2,000 requests/s with p99 ≤ 50 ms
from a bounded load generator on loopback.

The load generator is ``wrk`` (Debian package ``wrk``; ``make bench`` installs it when
run as root): one thread, ``CONNECTIONS`` keep-alive connections (bounded: a new request
only after an answer), ``API_SECONDS`` seconds, each request a different point from a
list of 20,000 (Lua script). Without wrk a plain-Python generator (``CONNECTIONS``
threads with ``http.client``) is used instead; it needs a whole core itself, so its
figure is a floor and is labelled as such.

The same load against ``uvicorn asgi:app --workers 2`` and ``--workers 1`` in one run gives
the worker scaling (target: 2 workers ≥ 1.6x one).

Run: ``python bench/bench_nearest.py [--no-browser]``, or only the worker comparison:
``python bench/bench_nearest.py --workers-only``.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
from sklearn.neighbors import BallTree

sys.path.insert(0, str(Path(__file__).parents[1]))
from bench.results import bench_data_dir, best_of, row, write_section
from geo import navigation, store
from geo.distance import EARTH_RADIUS_M
from geo.nearest import StationIndex

TITLE = "Nearest (bench_nearest.py)"
ROOT = Path(__file__).parents[1]
DATA = bench_data_dir()
CONNECTIONS = 16
API_REQUESTS = 20_000
API_SECONDS = 15
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def _points(stations: gpd.GeoDataFrame, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Query points where couriers are: near stations, jittered by up to ~5 km."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(stations), n)
    return (
        stations["lat"].to_numpy()[i] + rng.normal(0, 0.02, n),
        stations["lng"].to_numpy()[i] + rng.normal(0, 0.02, n),
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GEO_DATA_DIR": str(DATA)}
    cmd = [sys.executable, "-m", "uvicorn", "asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--no-proxy-headers", "--workers", str(workers)]
    # A worker loading the national dataset may not answer the 5 s health check on a busy machine.
    cmd += ["--timeout-worker-healthcheck", "120"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start")


def _load(port: int, paths: list[str]) -> tuple[float, np.ndarray, int]:
    """Python fallback: send every path once over CONNECTIONS threads; return (s, latencies_s, errors)."""
    latencies = np.zeros(len(paths))
    errors = [0]
    chunks = np.array_split(np.arange(len(paths)), CONNECTIONS)

    def worker(idx: np.ndarray) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in idx.tolist():
            t = time.perf_counter()
            try:
                conn.request("GET", paths[i])
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            latencies[i] = time.perf_counter() - t
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0, latencies, errors[0]


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(port: int, paths: list[str], seconds: int) -> dict[str, float]:
    """Run wrk with a Lua script cycling through ``paths``; return rps, p50/p99 ms, errors, requests."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp, "paths.txt")
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp, "paths.lua")
        script.write_text(WRK_SCRIPT % listing)
        cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script)]
        out = subprocess.run(
            [*cmd, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True
        ).stdout

    def latency_ms(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            raise RuntimeError(f"no {pct}% latency in wrk output:\n{out}")
        return float(m.group(1)) * _UNIT_MS[m.group(2)]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": latency_ms("50"),
        "p99": latency_ms("99"),
        "errors": float(errors),
    }


def _bench_api(lat: np.ndarray, lng: np.ndarray) -> tuple[list[dict], str]:
    port = _free_port()
    proc = _start_server(port)
    try:
        warm = f"/api/v1/nearest?lat={lat[0]:.5f}&lng={lng[0]:.5f}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{warm}", timeout=300) as r:
            r.read()  # builds the index once
        n = API_REQUESTS
        paths = [
            f"/api/v1/nearest?lat={a:.5f}&lng={b:.5f}&k=5" for a, b in zip(lat[:n], lng[:n], strict=True)
        ]
        if shutil.which("wrk"):
            _wrk(port, paths[:2000], 3)  # warm connections and caches
            w = _wrk(port, paths, API_SECONDS)
            rps, p50, p99, errors = w["rps"], w["p50"], w["p99"], int(w["errors"])
            how = (
                f"wrk, 1 thread, {CONNECTIONS} keep-alive connections, {API_SECONDS} s "
                f"({int(w['requests']):,} requests over {n:,} different points)"
            )
            note = (
                f"API: `uvicorn asgi:app` as `make run` starts it (the app and the API in one process, "
                f"one core's worth of Python), load from {how} on the same 2 cores."
            )
        else:
            _load(port, paths[:2000])
            seconds, lat_s, errors = _load(port, paths)
            rps = n / seconds
            p50, p99 = np.percentile(lat_s, [50, 99]) * 1000
            how = f"Python load generator ({CONNECTIONS} threads; wrk not installed: a floor)"
            note = (
                f"API: `uvicorn asgi:app` (the app and the API in one process); load from {how}, "
                "whose own CPU use on the same 2 cores counts against the server."
            )
        return [
            row(
                f"API GET /api/v1/nearest (k=5, links), {how}",
                rps,
                "req/s",
                "≥ 2,000 req/s",
                rps >= 2000 and errors == 0,
            ),
            row(f"API latency p99 (p50 {p50:.1f} ms), errors {errors}", p99, "ms", "≤ 50 ms", p99 <= 50),
        ], note
    finally:
        proc.terminate()


WORKERS_SECONDS = 15
WORKERS_WARM_SECONDS = 20


def _until_warm(port: int, paths: list[str], quick_s: float = 0.2, limit_s: float = 600) -> None:
    quick, deadline, i = 0, time.monotonic() + limit_s, 0
    while quick < 20 and time.monotonic() < deadline:
        t = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{paths[i % len(paths)]}", timeout=300) as r:
            r.read()
        quick = quick + 1 if time.perf_counter() - t < quick_s else 0
        i += 1


def _bench_workers(lat: np.ndarray, lng: np.ndarray) -> tuple[list[dict], str]:
    """API throughput of ``make run WORKERS=2`` against ``WORKERS=1``, same wrk load, same run."""
    if not shutil.which("wrk"):
        return [], "API workers: not measured (wrk is not installed)."
    paths = [
        f"/api/v1/nearest?lat={a:.5f}&lng={b:.5f}&k=5"
        for a, b in zip(lat[:API_REQUESTS], lng[:API_REQUESTS], strict=True)
    ]
    got: dict[int, dict[str, float]] = {}
    for workers in (1, 2):
        port = _free_port()
        proc = _start_server(port, workers)
        try:
            # Each worker loads the dataset (and then the place-search gazetteer) on its first
            # requests: ask on new connections (spread over the workers) until 20 answers in a
            # row are quick, then warm with wrk, then measure.
            _until_warm(port, paths)
            _wrk(port, paths[:2000], WORKERS_WARM_SECONDS)
            got[workers] = _wrk(port, paths, WORKERS_SECONDS)
            print(f"{workers} worker(s): {got[workers]}", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)  # workers finish their requests and exit
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    one, two = got[1], got[2]
    ratio = two["rps"] / one["rps"]
    rows = [
        row(
            f"API GET /api/v1/nearest with 2 workers (p99 {two['p99']:.1f} ms, errors {int(two['errors'])})",
            two["rps"],
            "req/s",
            "≥ 1.6× one worker",
            ratio >= 1.6 and two["errors"] == 0,
            f"1 worker (p99 {one['p99']:.1f} ms, errors {int(one['errors'])})",
            one["rps"],
            ratio,
        )
    ]
    load = os.getloadavg()
    note = (
        f"API workers: `uvicorn asgi:app --workers N --no-proxy-headers` (as `make run WORKERS=N`), "
        f"wrk 1 thread, {CONNECTIONS} keep-alive connections, {WORKERS_SECONDS} s each after "
        f"{WORKERS_WARM_SECONDS} s of warm-up, over {len(paths):,} different points; wrk runs on the "
        f"same {os.cpu_count()} cores, so 2 workers and wrk share them (load average at the end "
        f"{load[0]:.1f}). With 2 cores, 2 workers plus the load generator cannot double one worker's "
        "figure; on a machine with a core per worker they scale with the cores."
    )
    return rows, note


def _bench_page(lat0: float, lng0: float) -> list[dict]:
    """Click on the map of /nearest (phone size) and time until the result cards change."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = _start_server(port)
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ]
    times = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("h1", timeout=120_000)
            page.goto(f"http://127.0.0.1:{port}/nearest")
            page.wait_for_selector("iframe[title*='st_folium']", timeout=120_000)
            for i in range(6):
                for _attempt in range(5):  # the map iframe is replaced after each tap: wait for the new one
                    try:
                        page.wait_for_timeout(800)
                        iframe = page.locator("iframe[title*='st_folium']:visible").last
                        iframe.scroll_into_view_if_needed(timeout=5_000)
                        box = iframe.bounding_box()
                        if box and box["height"] > 100:
                            break
                    except Exception:  # detached while re-rendering: retry
                        continue
                before = page.locator("[data-testid=stMain]").inner_text() if i else ""
                t = time.perf_counter()
                page.mouse.click(box["x"] + box["width"] * (0.3 + 0.08 * i), box["y"] + box["height"] * 0.4)
                page.wait_for_function(
                    """(before) => { const c = document.querySelector("[class*='st-key-nearest_card_0']");
                        return c && document.querySelector('[data-testid=stMain]').innerText !== before; }""",
                    arg=before,
                    timeout=60_000,
                )
                times.append(time.perf_counter() - t)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    warm = float(np.median(times[1:]))
    return [row("page click → result cards, warm (median of 5, 390×844)", warm, "s", "≤ 1 s", warm <= 1.0)]


def main(browser: bool | None = None) -> list[dict]:
    """Run the benchmark; ``browser`` (default: when /usr/bin/chromium exists) adds the page click."""
    if browser is None:
        browser = Path("/usr/bin/chromium").exists()
    stations = store.read_table(DATA, "stations")
    t_build, index = best_of(lambda: StationIndex.from_frame(stations), repeat=1)
    text = navigation.StationText.from_frame(stations)
    lat, lng = _points(stations, 1_000_000, 1)
    rad = np.radians(np.c_[stations["lat"].to_numpy(), stations["lng"].to_numpy()])
    t_ball_build, ball = best_of(lambda: BallTree(rad, metric="haversine"), repeat=1)

    # -- single queries, in process
    n1 = 20_000
    t_one, _ = best_of(lambda: [index.query_arrays(a, b, 5) for a, b in zip(lat[:n1], lng[:n1], strict=True)])
    us_one = t_one / n1 * 1e6
    n_ball = 2_000
    q = np.radians(np.c_[lat[:n_ball], lng[:n_ball]])
    t_ball_one, _ = best_of(lambda: [ball.query(q[i : i + 1], k=5) for i in range(n_ball)], repeat=1)
    us_ball_one = t_ball_one / n_ball * 1e6
    req = navigation.parse_request(lat[0], lng[0], k=5)
    n_rec = 5_000
    t_rec, _ = best_of(
        lambda: [
            navigation.nearest_records(index, text, navigation.NearestRequest(a, b, 5), now_min=600)
            for a, b in zip(lat[:n_rec], lng[:n_rec], strict=True)
        ],
        repeat=1,
    )
    del req

    # -- batch
    t_batch, (dist, pos) = best_of(lambda: index.query_batch(lat, lng, k=1), repeat=3)
    qps = len(lat) / t_batch
    nb = 200_000
    t_ball_batch, (ball_d, ball_i) = best_of(
        lambda: ball.query(np.radians(np.c_[lat[:nb], lng[:nb]]), k=1), repeat=1
    )
    same = np.mean(ball_i[:, 0] == pos[:nb, 0])
    assert np.allclose(ball_d[:, 0] * EARTH_RADIUS_M, dist[:nb, 0], rtol=1e-6, atol=0.01), (
        "BallTree disagrees"
    )
    ns = 50_000
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lng[:ns], lat[:ns]), crs="EPSG:4326")
    st_pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(stations["lng"], stations["lat"]), crs="EPSG:4326")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "geographic CRS" warning: this is the usual (wrong) call
        t_sj, joined = best_of(lambda: gpd.sjoin_nearest(pts, st_pts, how="left"), repeat=1)
    joined = joined[~joined.index.duplicated()]
    wrong = float(np.mean(joined["index_right"].to_numpy() != pos[:ns, 0]))

    rows = [
        row(
            "single query k=5, in process (query_arrays)",
            us_one,
            "µs",
            "≤ 50 µs",
            us_one <= 50,
            "BallTree(haversine).query",
            us_ball_one,
            us_ball_one / us_one,
        ),
        row(
            "single query k=5 → JSON records with links (nearest_records)",
            t_rec / n_rec * 1e6,
            "µs",
            "–",
            True,
        ),
        row(
            f"batch k=1, {len(lat):,} points (query_batch)",
            qps,
            "queries/s",
            "≥ 1,000,000 /s",
            qps >= 1e6,
            f"BallTree(haversine), {nb:,} points",
            nb / t_ball_batch,
            qps / (nb / t_ball_batch),
        ),
        row(
            f"batch vs sjoin_nearest on degrees, {ns:,} points",
            qps,
            "queries/s",
            "faster",
            qps > ns / t_sj,
            "geopandas sjoin_nearest (EPSG:4326)",
            ns / t_sj,
            qps / (ns / t_sj),
        ),
        row("index build, 186,100 stations", t_build, "s", "–", True, "BallTree build", t_ball_build, None),
    ]
    notes = [
        f"Every batch answer agrees with BallTree(haversine) on {nb:,} points "
        f"(same station for {same:.4%}; the rest are exact distance ties).",
        f"sjoin_nearest on degrees picks a different (farther) station for {wrong:.1%} of {ns:,} points: "
        "a degree of longitude is not as long as a degree of latitude.",
    ]
    api_rows, api_note = _bench_api(lat, lng)
    rows += api_rows
    notes.append(api_note)
    worker_rows, worker_note = _bench_workers(lat, lng)
    rows += worker_rows
    notes.append(worker_note)
    if browser:
        rows += _bench_page(float(lat[0]), float(lng[0]))
    else:
        notes.append("Page click → cards: not measured (no /usr/bin/chromium, or --no-browser).")
    load1, load5, _ = os.getloadavg()
    notes.append(
        f"Machine load average during this run: {load1:.1f} (1 min), {load5:.1f} (5 min) on "
        f"{os.cpu_count()} cores; above ~{os.cpu_count()} other processes were competing and every "
        "figure here is pessimistic."
    )
    write_section(TITLE, rows, "\n\n".join(notes))
    return rows


WORKERS_TITLE = "API workers (bench_nearest.py --workers-only)"


def main_workers() -> list[dict]:
    """Only the 1-vs-2-worker API throughput; written as its own section."""
    stations = store.read_table(DATA, "stations")
    lat, lng = _points(stations, API_REQUESTS, 1)
    rows, note = _bench_workers(lat, lng)
    write_section(WORKERS_TITLE, rows, note)
    return rows


if __name__ == "__main__":
    run = (
        main_workers if "--workers-only" in sys.argv else lambda: main(browser="--no-browser" not in sys.argv)
    )
    for r in run():
        print(r)
