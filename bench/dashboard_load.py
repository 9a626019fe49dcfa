"""How long the sweep page of a large sweep takes to load: 2,000 runs x 100 steps.

    .venv/bin/python bench/dashboard_load.py [--runs 2000] [--steps 100] [--repeat 5]
                                             [--store URL] [--no-browser]

Builds a store (a fresh SQLite file unless --store is given) with one random sweep, inserting
runs and metric rows in bulk, serves it with the dashboard's app, and times:
  * ours: the API calls the sweep page makes when it opens (sweep, first page of runs,
    curves of all runs thinned to a point budget, parallel coordinates, importance);
  * naive peer, measured in the same run: one app that returns every run and every metric
    row of the sweep (no paging, no thinning), which is what a dashboard without them loads;
  * the full page in headless chromium (Debian's /usr/bin/chromium) until its runs table,
    curves chart and parallel coordinates are drawn.
Prints a table (median of --repeat, bytes transferred).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from fastapi import FastAPI
from sqlalchemy import insert, select

from hypersweep.server.serve import BackgroundServer, bind
from hypersweep.store import Store
from hypersweep.store import schema as s

CHROMIUM = Path("/usr/bin/chromium")
METRIC = "accuracy"
CHUNK = 20_000


def build_store(store: Store, n_runs: int, steps: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    config = {
        "program": "train.py",
        "method": "random",
        "metric": {"name": METRIC, "goal": "maximize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
            "layers": {"values": [1, 2, 3, 4]},
            "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
            "dropout": {"min": 0.0, "max": 0.5},
        },
    }
    sweep_id = store.create_sweep(config=config, name="load", method="random", settings={})
    now = time.time()
    runs, metric_rows = [], []
    for i in range(n_runs):
        run_id = f"r{i:07d}"
        ceiling = rng.uniform(0.5, 0.99)
        curve = [ceiling * (1 - 0.9**st) for st in range(steps)]
        runs.append(
            {
                "id": run_id,
                "sweep_id": sweep_id,
                "point_index": i,
                "attempt": 1,
                "superseded": False,
                "params": {
                    "lr": 10 ** rng.uniform(-5, -1),
                    "layers": rng.randint(1, 4),
                    "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
                    "dropout": rng.uniform(0, 0.5),
                },
                "state": s.FINISHED,
                "summary": {METRIC: curve[-1], "loss": 1 - curve[-1]},
                "stop_requested": False,
                "host": "bench",
                "exit_code": 0,
                "created_at": now - n_runs + i,
                "started_at": now - n_runs + i,
                "ended_at": now - n_runs + i + 0.5,
            }
        )
        for st, value in enumerate(curve):
            metric_rows.append(
                {"run_id": run_id, "step": st, "key": METRIC, "value": value, "time": now}
            )
    with store.write() as conn:
        conn.execute(insert(s.runs), runs)
        for start in range(0, len(metric_rows), CHUNK):
            conn.execute(insert(s.metrics), metric_rows[start : start + CHUNK])
    return sweep_id


def naive_app(store: Store) -> FastAPI:
    """The peer: everything of the sweep in one answer, no paging, no thinning."""
    app = FastAPI()

    @app.get("/naive/sweeps/{sweep_id}")
    def everything(sweep_id: str) -> dict:
        runs = store.list_runs(sweep_id)
        query = (
            select(s.metrics.c.run_id, s.metrics.c.step, s.metrics.c.key, s.metrics.c.value)
            .join(s.runs, s.runs.c.id == s.metrics.c.run_id)
            .where(s.runs.c.sweep_id == sweep_id)
            .order_by(s.metrics.c.run_id, s.metrics.c.step)
        )
        with store.read() as conn:
            metrics = [list(row) for row in conn.execute(query)]
        return {"sweep": store.get_sweep(sweep_id), "runs": runs, "metrics": metrics}

    return app


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def fetch_all(http: httpx2.Client, urls: list[str]) -> int:
    total = 0
    for url in urls:
        response = http.get(url)
        response.raise_for_status()
        total += len(response.content)
    return total


def browser_time(url: str, repeat: int) -> float | None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(url)
            expect(page.locator("#runs-table tbody tr")).to_have_count(50, timeout=60_000)
            expect(page.locator("#curves-chart .uplot")).to_have_count(1, timeout=60_000)
            expect(page.locator("#parallel svg")).to_have_count(1, timeout=60_000)
            times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.store or f"sqlite:///{Path(tmp) / 'bench.db'}")
        start = time.perf_counter()
        sweep_id = build_store(store, args.runs, args.steps)
        print(
            f"store {store.display_url}: {args.runs} runs x {args.steps} steps "
            f"built in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
        ours = BackgroundServer(store, bind("127.0.0.1", 0))
        naive = BackgroundServer(store, bind("127.0.0.1", 0), app=naive_app(store))
        ours.start()
        naive.start()
        try:
            base = ours.bound.url("")
            api = f"{base}/api/sweeps/{sweep_id}"
            page_calls = [
                api,
                f"{api}/runs?sort=created&offset=0&limit=50",
                f"{api}/curves?key={METRIC}",
                f"{api}/parallel",
                f"{api}/importance",
            ]
            with httpx2.Client(timeout=120) as http:
                fetch_all(http, page_calls)  # warm up (imports, caches)
                ours_t, ours_b = timed(lambda: fetch_all(http, page_calls), args.repeat)
                naive_url = f"{naive.bound.url('')}/naive/sweeps/{sweep_id}"
                naive_t, naive_b = timed(lambda: fetch_all(http, [naive_url]), args.repeat)
            page_t = (
                None if args.no_browser else browser_time(f"{base}/sweeps/{sweep_id}", args.repeat)
            )
        finally:
            ours.stop()
            naive.stop()
            store.close()

    print(f"\nsweep page of {args.runs} runs x {args.steps} steps, median of {args.repeat}\n")
    print("| what | hypersweep (paged, thinned) | naive peer (everything) |")
    print("|---|---|---|")
    print(
        f"| API data of the sweep page | {ours_t:.3f} s, {ours_b / 1e6:.2f} MB | "
        f"{naive_t:.3f} s, {naive_b / 1e6:.2f} MB |"
    )
    browser = "not measured (no chromium/playwright)" if page_t is None else f"{page_t:.3f} s"
    print(f"| full page in headless chromium | {browser} | - |")


if __name__ == "__main__":
    main()
