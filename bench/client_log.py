"""Cost of `run.log()` inside a training loop, beside the ways a program could log instead.

    .venv/bin/python bench/client_log.py [--calls 200000]

Measures, in one process and run: an empty loop (the floor), hypersweep's `run.log()` in
sweep mode (buffered, written by a background thread), printing a `name=value` metric line
(what stdout-only programs do, here to /dev/null), and writing one JSON line per call
straight to a file (logging without a buffer). Prints microseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable


def per_call_us(body: Callable[[int], None], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        body(i)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    workdir = tempfile.mkdtemp()
    os.environ["HYPERSWEEP_METRICS_FILE"] = os.path.join(workdir, "metrics.jsonl")
    os.environ["HYPERSWEEP_PARAMS"] = "{}"
    import hypersweep

    run = hypersweep.init()
    devnull = open(os.devnull, "w")  # noqa: SIM115
    direct = open(os.path.join(workdir, "direct.jsonl"), "w")  # noqa: SIM115

    def empty(i: int) -> None:
        _ = {"loss": 1.0 / (i + 1), "accuracy": i * 1e-6}

    def hypersweep_log(i: int) -> None:
        run.log({"loss": 1.0 / (i + 1), "accuracy": i * 1e-6})

    def print_line(i: int) -> None:
        print(f"loss={1.0 / (i + 1)} accuracy={i * 1e-6}", file=devnull, flush=True)

    def json_per_call(i: int) -> None:
        direct.write(json.dumps({"step": i, "loss": 1.0 / (i + 1), "accuracy": i * 1e-6}))
        direct.write("\n")
        direct.flush()

    rows = [
        ("empty loop (floor)", per_call_us(empty, calls)),
        ("hypersweep run.log()", per_call_us(hypersweep_log, calls)),
        ("print metric line, flushed", per_call_us(print_line, calls)),
        ("json line per call, flushed", per_call_us(json_per_call, calls)),
    ]
    start = time.perf_counter()
    run.finish()
    finish_ms = (time.perf_counter() - start) * 1e3
    print(f"{calls} calls, 2 metrics each\n")
    print(f"| {'method':<30} | {'us/call':>8} | {'over floor':>10} |")
    print(f"|{'-' * 32}|{'-' * 10}|{'-' * 12}|")
    floor = rows[0][1]
    for name, us in rows:
        print(f"| {name:<30} | {us:8.2f} | {us - floor:10.2f} |")
    print(f"\nrun.finish() writing the remaining buffer: {finish_ms:.1f} ms")


if __name__ == "__main__":
    main()
