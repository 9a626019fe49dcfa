"""Orchestration overhead per run: what hypersweep adds to starting a program.

    .venv/bin/python bench/scale.py [--runs 48] [--workers 1,2,4,8] [--store URL] [--no-ray]

The program is a no-op Python script, so everything measured beyond starting it is ours:
claiming a run in a store transaction, spawning, supervising, recording the end.
  * floor, measured in the same run: `subprocess.run([python, noop.py])`, one after another;
  * `hypersweep run` with 1, 2, 4 and 8 local workers (a grid of --runs points);
  * the same with `--backend ray` on a one-node Ray head this script starts and stops
    (needs the `ray` extra; skipped with a note without it).
Each row gives the wall time of the whole command (start-up and the end-of-sweep wait
included), and per run: the busy span (first start to last end, from the store) times the
workers over the runs, i.e. the time one worker spends per run, next to the floor.
The store is a fresh SQLite file per row unless --store names a PostgreSQL one.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hypersweep.store import Store

NOOP = "pass\n"


def floor_ms(program: Path, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run([sys.executable, str(program)], check=True)
    return (time.perf_counter() - start) / runs * 1000


def sweep_file(directory: Path, runs: int) -> Path:
    path = directory / "sweep.yaml"
    values = ", ".join(str(i) for i in range(runs))
    path.write_text(f"program: noop.py\nmethod: grid\nparameters:\n  i: {{values: [{values}]}}\n")
    return path


def run_sweep(
    directory: Path, store_url: str, runs: int, workers: int, ray_address: str | None
) -> dict[str, float]:
    cmd = [sys.executable, "-m", "hypersweep.cli.main", "--store", store_url, "run"]
    cmd += [str(sweep_file(directory, runs)), "--jobs", str(workers), "--no-ui"]
    if ray_address:
        cmd += ["--backend", "ray", "--ray-address", ray_address, "--gpus-per-job", "0"]
    before = {s["id"] for s in Store(store_url).list_sweeps()}
    start = time.perf_counter()
    subprocess.run(cmd, cwd=directory, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    store = Store(store_url)
    sweep = next(s for s in store.list_sweeps() if s["id"] not in before)
    done = [r for r in store.list_runs(sweep["id"]) if r["state"] == "finished"]
    if len(done) != runs:
        raise SystemExit(f"expected {runs} finished runs, got {len(done)}")
    span = max(r["ended_at"] for r in done) - min(r["started_at"] for r in done)
    store.close()
    return {"wall_s": wall, "per_run_ms": span * workers / runs * 1000}


def start_ray_head(workers: int) -> tuple[subprocess.Popen[bytes], str] | None:
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", f"--port={port}", f"--num-cpus={workers}"]
        + ["--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = [str(ray), "status", f"--address={address}"]
        if subprocess.run(status, capture_output=True).returncode == 0:
            return head, address
        time.sleep(1)
    stop_ray_head(head)
    raise SystemExit("the Ray head did not start within 120 s")


def stop_ray_head(head: subprocess.Popen[bytes]) -> None:
    head.send_signal(signal.SIGTERM)  # --block: ray stops what it started
    try:
        head.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=48)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--store", help="a PostgreSQL URL (default: fresh SQLite per row)")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    # Fast heartbeats: workers waiting for the last runs notice the end sooner.
    os.environ.setdefault("HYPERSWEEP_HEARTBEAT_INTERVAL", "1")
    rows: list[tuple[str, int, float | None, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "noop.py").write_text(NOOP)
        floor = floor_ms(directory / "noop.py", args.runs)
        rows.append(("subprocess.run (floor)", 1, None, floor))

        def store_for(name: str) -> str:
            return args.store or f"sqlite:///{directory / name / 'hypersweep.db'}"

        for workers in counts:
            result = run_sweep(directory, store_for(f"local{workers}"), args.runs, workers, None)
            rows.append(("hypersweep local", workers, result["wall_s"], result["per_run_ms"]))
        head = None if args.no_ray else start_ray_head(max(counts))
        if head is None and not args.no_ray:
            print("ray not installed (pip install -e '.[ray]'): Ray rows skipped")
        if head is not None:
            try:
                for workers in counts:
                    result = run_sweep(
                        directory, store_for(f"ray{workers}"), args.runs, workers, head[1]
                    )
                    rows.append(("hypersweep ray", workers, result["wall_s"], result["per_run_ms"]))
            finally:
                stop_ray_head(head[0])
    store_kind = "PostgreSQL" if args.store else "SQLite"
    print(f"\n{args.runs} runs of a no-op program, store {store_kind}, {os.cpu_count()} CPUs")
    print(f"{'launcher':<24} {'workers':>7} {'wall s':>8} {'ms/run/worker':>14} {'vs floor':>9}")
    for name, workers, wall, per_run in rows:
        wall_text = "" if wall is None else f"{wall:.1f}"
        print(f"{name:<24} {workers:>7} {wall_text:>8} {per_run:>14.0f} {per_run - floor:>+8.0f}")


if __name__ == "__main__":
    main()
