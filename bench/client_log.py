"""Cost of `run.log()` inside a training loop, beside the ways a program could log instead,
and the cost of capturing what a W&B program logs with `wandb.log()`.

    .venv/bin/python bench/client_log.py [--calls 200000] [--wandb-calls 50] [--repeats 400]

Measures, in one process and run: an empty loop (the floor), hypersweep's `run.log()` in
sweep mode (buffered, written by a background thread), printing a `name=value` metric line
(what stdout-only programs do, here to /dev/null), and writing one JSON line per call
straight to a file (logging without a buffer). Prints microseconds per call.

Then, if wandb is installed: `wandb.log()` in offline mode, in a child process started the
way the agent starts a program (the capture hook on PYTHONPATH), without and with the
capture: blocks of calls through W&B's own method and through our wrapper take turns on the
same run (medians of the blocks); and the capture alone (its wrapper around a method that
does nothing, the writing of the records included). Last, what the hook adds to `import
site` at an interpreter's start, all that a program which does not use wandb pays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def per_call_us(body: Callable[[int], None], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        body(i)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--wandb-calls", type=int, default=50, help="wandb.log calls a block")
    parser.add_argument("--repeats", type=int, default=400, help="blocks with and without")
    parser.add_argument("--wandb-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wandb_worker:
        wandb_worker(args.wandb_calls, args.repeats)
        return
    calls = args.calls
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
    added_error, wandb_rows = wandb_comparison(args.wandb_calls, args.repeats, workdir)
    plain_start, hooked_start = startup_ms(workdir)
    print(f"{calls} calls, 2 metrics each\n")
    print(f"| {'method':<36} | {'us/call':>8} | {'over floor':>10} |")
    print(f"|{'-' * 38}|{'-' * 10}|{'-' * 12}|")
    floor = rows[0][1]
    for name, us in rows + wandb_rows:
        over = "" if name.startswith(" ") else f"{us - floor:10.2f}"
        print(f"| {name:<36} | {us:8.2f} | {over:>10} |")
    print(f"\nrun.finish() writing the remaining buffer: {finish_ms:.1f} ms")
    print(
        f"Start-up, `import site` (`python -X importtime -c pass`, median of 25):"
        f" {plain_start:.2f} ms, with the capture hook on PYTHONPATH {hooked_start:.2f} ms"
        f" ({hooked_start - plain_start:+.2f} ms)"
    )
    if wandb_rows:
        plain, _captured, added, alone = (us for _name, us in wandb_rows)
        print(
            f"wandb.log: medians of {args.repeats} blocks of {args.wandb_calls} calls each way;"
            f" the capture adds {added:+.2f} us a call ({added / plain:+.1%}) end to end"
            f" (median of the block pairs' differences, standard error {added_error:.1f} us)"
            f" and costs {alone:.2f} us alone"
            f" ({alone / plain:.1%} of offline wandb.log)."
        )


# ------------------------------------------------------------------ wandb.log, captured


def hook_dir() -> str:
    from hypersweep.client import wandb_hook_dir

    return wandb_hook_dir()


def wandb_comparison(
    calls: int, repeats: int, workdir: str
) -> tuple[float, list[tuple[str, float]]]:
    """wandb.log offline without and with the capture, in one child process started with the
    hook: W&B's own method and our wrapper take turns on the same run, block by block."""
    import importlib.util

    if importlib.util.find_spec("wandb") is None:
        print("wandb is not installed: no wandb rows (pip install wandb)\n")
        return 0.0, []
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSWEEP_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=workdir)
    env.update(PYTHONPATH=hook_dir(), HYPERSWEEP_METRICS_FILE=os.path.join(workdir, "w.jsonl"))
    command = [sys.executable, os.path.abspath(__file__), "--wandb-worker"]
    command += ["--wandb-calls", str(calls), "--repeats", str(repeats)]
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wandb worker failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    added = [c - p for p, c in zip(result["plain"], result["captured"], strict=True)]
    # wandb.log's own speed swings 3-4x from block to block: say how sure the median is
    error = 1.2533 * statistics.stdev(added) / len(added) ** 0.5
    return error, [
        ("wandb.log() offline", statistics.median(result["plain"])),
        ("wandb.log() offline, captured", statistics.median(result["captured"])),
        ("  difference, block pairs", statistics.median(added)),
        ("capture alone (writing included)", statistics.median(result["alone"])),
    ]


def startup_ms(workdir: str, runs: int = 25) -> tuple[float, float]:
    """What `import site` takes at start-up (it runs sitecustomize), from `python -X
    importtime -c pass`, without and with the hook (HYPERSWEEP_METRICS_FILE set), taking
    turns; bytecode caching on, as in an installed package. Medians in ms."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTHONPATH", None)
    hooked = dict(env, PYTHONPATH=hook_dir())
    hooked["HYPERSWEEP_METRICS_FILE"] = os.path.join(workdir, "start.jsonl")
    times: dict[bool, list[float]] = {False: [], True: []}
    command = [sys.executable, "-X", "importtime", "-c", "pass"]
    for i in range(runs + 1):
        for hook in (False, True):
            done = subprocess.run(command, env=hooked if hook else env, capture_output=True)
            (line,) = [x for x in done.stderr.decode().splitlines() if x.endswith("| site")]
            if i:  # the first round writes the bytecode
                times[hook].append(int(line.split("|")[1]) / 1e3)
    return statistics.median(times[False]), statistics.median(times[True])


def wandb_worker(calls: int, repeats: int) -> None:
    """In the child: alternate blocks of wandb.log through W&B's own method and through our
    wrapper (ABBA order, so a drift in wandb's speed evens out); each captured block ends by
    writing its records, so their encoding is counted."""
    import wandb
    from wandb.sdk.wandb_run import Run

    hook = sys.modules["_hypersweep_wandb"]
    name = next(n for n in ("_log", "log") if getattr(Run.__dict__.get(n), "__hypersweep__", 0))
    wrapped = Run.__dict__[name]
    run = wandb.init(project="hypersweep-bench")

    def block(captured: bool) -> float:
        setattr(Run, name, wrapped if captured else wrapped.__wrapped__)
        start = time.perf_counter()
        for i in range(calls):
            wandb.log({"loss": 1.0 / (i + 1), "accuracy": i * 1e-6})
        if captured:
            hook._capture.flush()
        return (time.perf_counter() - start) / calls * 1e6

    block(False)  # warm-up
    result: dict[str, list[float]] = {"plain": [], "captured": [], "alone": []}
    for i in range(repeats):
        for captured in (False, True) if i % 2 == 0 else (True, False):
            result["captured" if captured else "plain"].append(block(captured))
        result["alone"].append(capture_alone_us(hook, run, calls))
    setattr(Run, name, wrapped)
    run.finish()
    print(json.dumps(result))


def capture_alone_us(hook: Any, run: Any, calls: int) -> float:
    """The hook's wrapper around a method that does nothing, plus writing what it buffered."""
    wrapped = hook._wrap_log(lambda self, *args, **kwargs: None, hook._capture)
    start = time.perf_counter()
    for i in range(calls):
        wrapped(run, {"loss": 1.0 / (i + 1), "accuracy": i * 1e-6})
    hook._capture.flush()
    return (time.perf_counter() - start) / calls * 1e6


if __name__ == "__main__":
    main()
