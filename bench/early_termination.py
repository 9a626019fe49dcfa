"""Early termination: compute saved and result lost, on simulated asynchronous sweeps.

    .venv/bin/python bench/early_termination.py [--seeds 20] [--configs 60] [--workers 4]

Each seed is a sweep of N random configurations run by 4 workers: a worker trains one
configuration epoch by epoch, logs its validation value after each epoch, and, as a hypersweep
agent does, asks after each logged value whether its run stops early; when its run finishes
or stops it takes the next configuration. Epochs take a configuration-dependent time, so runs
reach the bands out of order, as in a real sweep. Compared, on the same sweeps:

- no early termination;
- hyperband (W&B's rule), hypersweep's implementation, and W&B's own engine
  (``sweeps.stop_runs``, wandb/sweeps 0.3.0) asked the same question at the same moments;
- ASHA (``type: asha``), hypersweep's;
- both with ``strict: false`` as well (the default is true, as in W&B).

Tasks (27 epochs each):

- mlp-digits: validation accuracy per epoch of scikit-learn's MLPClassifier on the digits
  data set, trained with ``partial_fit`` (one epoch per call). A pool of 160 random
  configurations (hidden units, sgd/adam, learning rate, L2, batch size); each seed draws N of
  them. The curves are computed once and cached in bench/.cache/.
- synthetic: saturating curves (exponential or power law) with noise; fast starters that
  plateau and late bloomers that end higher, so curves cross.

Reported per method, median [quartiles] over seeds: compute in epochs (and as a share of no
early termination), the best final (epoch-27) value among the runs that finished, and the
regret: the best final value among all N configurations minus that; "best lost" counts the
seeds where early termination stopped every configuration that would have been the best.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import multiprocessing
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hypersweep.config import EarlyTerminate, parse_sweep_config
from hypersweep.search import History, runs_to_stop

EPOCHS = 27
CACHE = Path(__file__).parent / ".cache"
MLP_POOL = 160
GOAL = "maximize"

# A judge answers, for the run that just logged a value: must it stop now?
Judge = Callable[[dict[str, list[float]], str, set[str]], bool]


# --------------------------------------------------------------------- tasks


@dataclass
class Sweep:
    curves: np.ndarray  # (N, EPOCHS) validation values
    epoch_time: np.ndarray  # (N,) simulated duration of one epoch of each configuration


def _mlp_config(rng: np.random.Generator) -> dict:
    return {
        "hidden": int(round(math.exp(rng.uniform(math.log(8), math.log(256))))),
        "solver": str(rng.choice(["sgd", "adam"])),
        "lr": float(math.exp(rng.uniform(math.log(1e-4), math.log(0.3)))),
        "alpha": float(math.exp(rng.uniform(math.log(1e-6), math.log(1e-1)))),
        "batch": int(rng.choice([16, 32, 64, 128, 256])),
    }


def _mlp_curve(job: tuple[int, dict]) -> list[float]:
    """Validation accuracy after each of EPOCHS partial_fit epochs."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    index, config = job
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.33, random_state=0)
    model = MLPClassifier(
        hidden_layer_sizes=(config["hidden"],),
        solver=config["solver"],
        learning_rate_init=config["lr"],
        alpha=config["alpha"],
        batch_size=config["batch"],
        momentum=0.9,
        random_state=index,
    )
    curve = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # diverging configurations are part of the pool
        for _ in range(EPOCHS):
            model.partial_fit(x_train, y_train, classes=np.arange(10))
            curve.append(float(model.score(x_val, y_val)))
    return curve


def mlp_pool(processes: int) -> tuple[list[dict], np.ndarray]:
    """The pool's configurations and curves, from the cache when present."""
    path = CACHE / f"mlp_digits_{MLP_POOL}x{EPOCHS}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        return cached["configs"], np.array(cached["curves"])
    rng = np.random.default_rng(2018)
    configs = [_mlp_config(rng) for _ in range(MLP_POOL)]
    print(f"computing {MLP_POOL} MLP learning curves once (cached in {path}) ...", flush=True)
    with multiprocessing.Pool(processes) as pool:
        curves = pool.map(_mlp_curve, list(enumerate(configs)), chunksize=4)
    CACHE.mkdir(exist_ok=True)
    path.write_text(json.dumps({"configs": configs, "curves": curves}))
    return configs, np.array(curves)


def mlp_sweep(configs: list[dict], curves: np.ndarray, seed: int, n: int) -> Sweep:
    rng = np.random.default_rng([1, seed])
    chosen = rng.choice(len(configs), size=n, replace=False)
    # A deterministic cost proxy: wider layers and smaller batches take longer per epoch.
    cost = np.array(
        [(configs[i]["hidden"] / 64) ** 0.5 * (1 + 32 / configs[i]["batch"]) for i in chosen]
    )
    return Sweep(curves[chosen], cost)


def synthetic_sweep(seed: int, n: int) -> Sweep:
    rng = np.random.default_rng([2, seed])
    epochs = np.arange(1, EPOCHS + 1)
    curves = []
    for _ in range(n):
        late = rng.uniform() < 0.3  # late bloomers: slow start, high plateau
        final = rng.uniform(0.75, 0.97) if late else rng.uniform(0.5, 0.9)
        rate = math.exp(rng.uniform(math.log(0.02), math.log(0.12) if late else math.log(1.5)))
        if rng.uniform() < 0.5:
            progress = 1 - np.exp(-rate * epochs)
        else:
            progress = 1 - (1 + rate * epochs) ** -1.5
        noise = rng.normal(0, rng.uniform(0.003, 0.02), EPOCHS)
        curves.append(0.1 + (final - 0.1) * progress + noise)
    return Sweep(np.array(curves), rng.uniform(0.5, 1.5, n))


# -------------------------------------------------------------------- judges


def hypersweep_judge(et: EarlyTerminate) -> Judge:
    """What a hypersweep agent asks the controller: only its own run is judged."""

    def judge(curves: dict[str, list[float]], run_id: str, running: set[str]) -> bool:
        histories: dict[str, History] = {r: (r == run_id, c) for r, c in curves.items()}
        return run_id in runs_to_stop(et, GOAL, histories)

    return judge


def wandb_judge(early_terminate: dict) -> Judge:
    """W&B's engine, given every run of the sweep as W&B's controller gives them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic v2 warns about the engine's v1 config
        import sweeps
        from sweeps import SweepRun
    config = _sweep_file(early_terminate)
    runs: dict[str, SweepRun] = {}

    def judge(curves: dict[str, list[float]], run_id: str, running: set[str]) -> bool:
        for r, curve in curves.items():
            run = runs.setdefault(r, SweepRun(name=r))
            run.history.extend({"val": v} for v in curve[len(run.history) :])
            run.state = "running" if r in running else "finished"
        stopped = sweeps.stop_runs(config, list(runs.values()))
        return any(run.name == run_id for run in stopped)

    return judge


def _sweep_file(early_terminate: dict) -> dict:
    return {
        "method": "random",
        "metric": {"name": "val", "goal": GOAL},
        "parameters": {"x": {"values": [1]}},
        "early_terminate": early_terminate,
    }


def parsed(early_terminate: dict) -> EarlyTerminate:
    return parse_sweep_config(_sweep_file(early_terminate)).early_terminate


HYPERBAND = {"type": "hyperband", "min_iter": 3, "eta": 3}
ASHA = {"type": "asha", "min_iter": 3, "eta": 3}
METHODS: list[tuple[str, Callable[[], Judge | None]]] = [
    ("none", lambda: None),
    ("hyperband (hypersweep)", lambda: hypersweep_judge(parsed(HYPERBAND))),
    ("hyperband (W&B engine)", lambda: wandb_judge(HYPERBAND)),
    ("hyperband strict:false", lambda: hypersweep_judge(parsed({**HYPERBAND, "strict": False}))),
    ("asha", lambda: hypersweep_judge(parsed(ASHA))),
    ("asha strict:false", lambda: hypersweep_judge(parsed({**ASHA, "strict": False}))),
]


# ---------------------------------------------------------------- simulation


def simulate(sweep: Sweep, judge: Judge | None, workers: int) -> tuple[int, float, int]:
    """Run the sweep; returns (epochs trained, best final value of finished runs, stops)."""
    n = len(sweep.curves)
    curves: dict[str, list[float]] = {}
    running: set[str] = set()
    events: list[tuple[float, int]] = []  # (time the run's next epoch ends, config index)
    next_config = 0

    def start(now: float) -> None:
        nonlocal next_config
        if next_config < n:
            index, next_config = next_config, next_config + 1
            curves[str(index)] = []
            running.add(str(index))
            heapq.heappush(events, (now + sweep.epoch_time[index], index))

    for _ in range(workers):
        start(0.0)
    compute = stops = 0
    best = -math.inf
    while events:
        now, index = heapq.heappop(events)
        run_id, curve = str(index), curves[str(index)]
        curve.append(float(sweep.curves[index, len(curve)]))
        compute += 1
        if len(curve) == EPOCHS:
            running.discard(run_id)
            best = max(best, curve[-1])
            start(now)
        elif judge is not None and judge(curves, run_id, running):
            running.discard(run_id)
            stops += 1
            start(now)
        else:
            heapq.heappush(events, (now + sweep.epoch_time[index], index))
    return compute, best, stops


def one_seed(job: tuple[str, int, int, int]) -> dict[str, tuple[int, float, int, float]]:
    """All methods on one task and seed: {method: (compute, best, stops, oracle)}."""
    task, seed, n, workers = job
    if task == "mlp-digits":
        configs, curves = mlp_pool(1)
        sweep = mlp_sweep(configs, curves, seed, n)
    else:
        sweep = synthetic_sweep(seed, n)
    oracle = float(sweep.curves[:, -1].max())
    results = {}
    for name, make_judge in METHODS:
        compute, best, stops = simulate(sweep, make_judge(), workers)
        results[name] = (compute, best, stops, oracle)
    return results


# -------------------------------------------------------------------- report


def _q(values: list[float], fmt: str) -> str:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return f"{median:{fmt}} [{q1:{fmt}}–{q3:{fmt}}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--configs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    mlp_pool(args.processes)  # fill the cache before the seeds fan out
    tasks = ("mlp-digits", "synthetic")
    jobs = [
        (task, seed, args.configs, args.workers) for task in tasks for seed in range(args.seeds)
    ]
    with multiprocessing.Pool(args.processes) as pool:
        results = pool.map(one_seed, jobs)

    print(
        f"\n{args.configs} configurations per sweep, {args.workers} workers, {EPOCHS} epochs, "
        f"{args.seeds} seeds; median [quartiles]; hyperband/asha: min_iter 3, eta 3\n"
    )
    header = (
        "| task       | method                 | compute (epochs)  | vs none | runs stopped "
        "| best final value       | regret                 | best lost |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for task in tasks:
        per_seed = [r for (t, *_), r in zip(jobs, results, strict=True) if t == task]
        baseline = [r["none"][0] for r in per_seed]
        for name, _ in METHODS:
            compute = [r[name][0] for r in per_seed]
            share = [c / b for c, b in zip(compute, baseline, strict=True)]
            regret = [r[name][3] - r[name][1] for r in per_seed]
            print(
                f"| {task:<10} | {name:<22} | {_q(compute, '.0f'):<17} "
                f"| {np.median(share):>6.0%}  | {_q([r[name][2] for r in per_seed], '.0f'):<12} "
                f"| {_q([r[name][1] for r in per_seed], '.4f'):<22} "
                f"| {_q(regret, '.4f'):<22} | {sum(x > 0 for x in regret):>2}/{len(regret):<6} |"
            )
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
