"""Agent memory while a program logs a large number of metric values as fast as it can.

    .venv/bin/python bench/agent_memory.py [--values 1000000] [--store URL]

Each row is one `hypersweep run` of a one-run sweep (a fresh SQLite store unless --store
names a PostgreSQL one), the program logging --values values (two metrics per step):
  * through the client, `run.log({...})` in a tight loop;
  * as `loss=... acc=...` lines on stdout, flushed;
  * nothing (the agent's own floor).
The agent's RSS is sampled with psutil every 20 ms while the sweep runs (peak), beside the
program's own peak RSS. Peer, measured in the same run on the same data: the previous reader
(the whole backlog read at once, every record parsed, then one insert), run in a child
process on the metrics file the client wrote and on the same stdout lines, peak RSS likewise.
That is the old agent when the program logs faster than the store takes the values; it is
what made agent memory grow with the backlog (issue 12, item 6).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from sqlalchemy import func, select

from hypersweep.store import Store
from hypersweep.store import schema as s

MB = 1024 * 1024

PROGRAM = """
import sys
mode, steps = sys.argv[1], int(sys.argv[2])
if mode == "client":
    import hypersweep
    run = hypersweep.init()
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1), "acc": i * 1e-6})
    run.finish()
elif mode == "stdout":
    for i in range(steps):
        print(f"loss={1.0 / (i + 1)} acc={i * 1e-6}")
else:  # nothing logged: a second of sleep, so that the agent is sampled meanwhile
    import time
    time.sleep(1.0)
"""

# The reader before the bounds, as a stand-alone script: the whole backlog in one go.
PREVIOUS_READER = """
import json, sys, time
from hypersweep.metrics import parse_metric_line, pinned_summary, rows_and_summary
from hypersweep.store import Store
from hypersweep.store import schema as s
source, kind, url = sys.argv[1:4]
store = Store(url)
with store.write() as conn:
    run_id = store.insert_run(conn, sweep_id=None, params={}, state=s.RUNNING, host="bench")["id"]
records = []
if kind == "client":
    with open(source, "rb") as f:
        data = f.read()
    end = data.rfind(b"\\n") + 1
    for line in data[:end].splitlines():
        records.append(json.loads(line))
else:
    step = 0
    with open(source, "rb") as f:
        for raw in iter(f.readline, b""):
            values = parse_metric_line(raw.decode("utf-8", errors="replace").rstrip("\\r\\n"))
            if values:
                records.append({"t": time.time(), "step": step, "metrics": values})
                step += 1
rows, summary = rows_and_summary(records)
store.add_metrics(run_id, rows, summary, pinned_summary(records))
print(len(rows))
"""


def peak_rss(processes: Callable[[], list[psutil.Process]], until: Callable[[], bool]) -> int:
    """Peak RSS of whatever `processes()` returns, sampled until `until()` is true."""
    peak = 0
    while not until():
        for proc in processes():
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                continue
        time.sleep(0.02)
    return peak


def descendants(pid: int, needle: str) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        try:
            if needle in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def run_sweep(directory: Path, store_url: str, mode: str, steps: int) -> dict[str, float]:
    sweep = directory / f"{mode}.yaml"
    sweep.write_text(
        f"program: prog.py\nmethod: grid\nparameters:\n  x: {{values: [1]}}\n"
        f"command: ['{sys.executable}', '${{program}}', {mode}, '{steps}']\n"
    )
    cmd = [sys.executable, "-m", "hypersweep.cli.main", "--store", store_url, "run", str(sweep)]
    start = time.perf_counter()
    runner = subprocess.Popen(
        [*cmd, "--jobs", "1", "--no-ui"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    program_peak = 0

    def watched() -> list[psutil.Process]:
        nonlocal program_peak
        for proc in descendants(runner.pid, "prog.py"):
            try:
                program_peak = max(program_peak, proc.memory_info().rss)
            except psutil.Error:
                continue
        return descendants(runner.pid, "hypersweep.agent")

    agent_peak = peak_rss(watched, lambda: runner.poll() is not None)
    wall = time.perf_counter() - start
    if runner.returncode != 0:
        raise SystemExit(f"hypersweep run exited {runner.returncode} ({mode})")
    store = Store(store_url)
    [run] = store.list_runs(newest_sweep(store)["id"])
    with store.read() as conn:
        stored = conn.execute(
            select(func.count()).select_from(s.metrics).where(s.metrics.c.run_id == run["id"])
        ).scalar_one()
    store.close()
    return {
        "agent": agent_peak,
        "program": program_peak,
        "stored": stored,
        "wall": wall,
    }


def newest_sweep(store: Store) -> dict:
    return max(store.list_sweeps(), key=lambda sweep: sweep["created_at"])


def previous_reader(source: Path, kind: str, store_url: str) -> tuple[int, int, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", PREVIOUS_READER, str(source), kind, store_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    handle = psutil.Process(proc.pid)
    peak = peak_rss(lambda: [handle], lambda: proc.poll() is not None)
    out = proc.communicate()[0]
    if proc.returncode != 0:
        raise SystemExit(f"the previous reader failed on {source}")
    return peak, int(out.strip() or 0), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000, help="values a program logs")
    parser.add_argument("--store", help="a PostgreSQL URL (default: fresh SQLite per row)")
    args = parser.parse_args()
    steps = args.values // 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "prog.py").write_text(PROGRAM)

        def store_for(name: str) -> str:
            return args.store or f"sqlite:///{directory / name / 'hypersweep.db'}"

        floor = run_sweep(directory, store_for("none"), "none", steps)
        rows.append(("nothing logged (floor)", floor, None))
        for mode in ("client", "stdout"):
            result = run_sweep(directory, store_for(mode), mode, steps)
            if mode == "client":  # the agent removes the run's file: the same records again
                source = directory / "client.jsonl"
                write_client_records(source, steps)
            else:
                source = directory / "stdout.txt"
                with open(source, "w") as f:
                    for i in range(steps):
                        f.write(f"loss={1.0 / (i + 1)} acc={i * 1e-6}\n")
            peer = previous_reader(source, mode, store_for(f"peer-{mode}"))
            rows.append((f"{steps * 2} values via {mode}", result, peer))
    store_kind = "PostgreSQL" if args.store else "SQLite"
    print(
        f"\nAgent peak RSS, a program logging {steps * 2} values (2 a step) as fast as it can;"
        f" store {store_kind}, {os.cpu_count()} CPUs"
    )
    header = (
        f"| {'program logs':<28} | {'agent MB':>8} | {'previous reader MB':>18} |"
        f" {'program MB':>10} | {'values stored':>13} | {'run s':>6} | {'previous s':>10} |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for name, result, peer in rows:
        previous = f"{peer[0] / MB:18.0f}" if peer else f"{'':>18}"
        previous_s = f"{peer[2]:10.1f}" if peer else f"{'':>10}"
        print(
            f"| {name:<28} | {result['agent'] / MB:8.0f} | {previous} |"
            f" {result['program'] / MB:10.0f} | {result['stored']:>13} | {result['wall']:6.1f} |"
            f" {previous_s} |"
        )


def write_client_records(path: Path, steps: int) -> None:
    """The metrics file the client writes for the program's loop (what the agent read)."""
    now = time.time()
    with open(path, "w") as f:
        for i in range(steps):
            record = {"t": now, "step": i, "metrics": {"loss": 1.0 / (i + 1), "acc": i * 1e-6}}
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
