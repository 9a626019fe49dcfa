"""Claims: which run a worker starts next, and when a sweep is over.

Every decision happens inside one store transaction that holds the sweep row, so two
workers can never be handed the same point, and a crashed run's point is handed out again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection

if TYPE_CHECKING:
    from ..search import bayes

from ..config import SweepConfig, parse_sweep_config
from ..search import grid_point, grid_size, sample_point
from ..store import Row, Store
from ..store import schema as s

HEARTBEAT_TIMEOUT_ENV = "HYPERSWEEP_HEARTBEAT_TIMEOUT"
DEFAULT_HEARTBEAT_TIMEOUT = 60.0
DEFAULT_SETTINGS = {"seed": None, "fail_fast": 5, "max_attempts": 3}


def heartbeat_timeout() -> float:
    return float(os.environ.get(HEARTBEAT_TIMEOUT_ENV, DEFAULT_HEARTBEAT_TIMEOUT))


@dataclass(frozen=True)
class Claim:
    """What a worker asked for: a run to start, or why there is none."""

    run: Row | None
    reason: str  # "run", "wait" (runs in flight may still need a retry), or the sweep's state


@lru_cache(maxsize=64)
def _parse_cached(raw_json: str, source: str) -> SweepConfig:
    return parse_sweep_config(json.loads(raw_json), source=source)


def sweep_config(sweep: Row) -> SweepConfig:
    """The parsed config of a stored sweep (parsed once per process)."""
    return _parse_cached(json.dumps(sweep["config"], sort_keys=True), f"sweep {sweep['id']}")


def total_points(config: SweepConfig) -> int | None:
    """How many distinct points the sweep will try; None when unbounded."""
    if config.method == "grid":
        size = grid_size(config.space)
        return min(size, config.run_cap) if config.run_cap else size
    return config.run_cap


def claim_next_run(
    store: Store, sweep_id: str, worker_id: str, host: str, *, reap_stale: bool = True
) -> Claim:
    """The next run for this worker. `reap_stale=False` right after a store outage: nobody's
    heartbeat could arrive then, so silence is no sign that a worker died."""
    with store.write() as conn:
        sweep = store.lock_sweep(conn, sweep_id)
        if sweep["state"] != s.SWEEP_RUNNING:
            return Claim(None, sweep["state"])
        if reap_stale:
            store.crash_stale(conn, sweep_id, heartbeat_timeout())
        config = sweep_config(sweep)
        params_and_point = _next_point(store, conn, sweep, config)
        if params_and_point is None:
            state = _settle(store, conn, sweep)
            return Claim(None, state)
        params, point_index, attempt = params_and_point
        run = store.insert_run(
            conn,
            sweep_id=sweep_id,
            point_index=point_index,
            attempt=attempt,
            params=params,
            state=s.RUNNING,
            worker_id=worker_id,
            host=host,
            started_at=None,
            heartbeat_at=None,
        )
        return Claim(run, "run")


def retry_failed_limit(sweep: Row, config: SweepConfig) -> int:
    """How many times a failed run's point is handed out again: the sweep's setting (`run`,
    `resume` and `agent --retry-failed`), else the sweep file's `retry_failed`, else 0."""
    return int(sweep["settings"].get("retry_failed", config.retry_failed) or 0)


def _retry(
    store: Store, conn: Connection, sweep: Row, config: SweepConfig
) -> tuple[dict, int, int] | None:
    """The point of an ended run handed out again (attempt + 1), that run superseded.
    Crashed or killed: until the point has crashed `max_attempts` times. Failed: until it has
    failed `retry_failed` + 1 times; the last failure is the point's verdict and stays."""
    max_attempts = int(sweep["settings"].get("max_attempts", DEFAULT_SETTINGS["max_attempts"]))
    retry_failed = retry_failed_limit(sweep, config)
    states = (*s.RETRYABLE_RUN_STATES, s.FAILED) if retry_failed else s.RETRYABLE_RUN_STATES
    candidates = store.list_runs(sweep["id"], states, conn, superseded=False)
    if not candidates:
        return None
    every = store.list_runs(sweep["id"], states, conn)  # superseded ones too: the counts
    crashes = Counter(r["point_index"] for r in every if r["state"] in s.RETRYABLE_RUN_STATES)
    failures = Counter(r["point_index"] for r in every if r["state"] == s.FAILED)
    for run in candidates:
        point = run["point_index"]
        if run["state"] == s.FAILED and failures[point] > retry_failed:
            continue  # the point's verdict: the model and fail-fast see it as failed
        # Superseded either way: retried now, or (crashed) given up after max_attempts.
        store.update_run(run["id"], conn, superseded=True)
        if run["state"] == s.FAILED or crashes[point] < max_attempts:
            return run["params"], point, run["attempt"] + 1
    return None


def _next_point(
    store: Store, conn: Connection, sweep: Row, config: SweepConfig
) -> tuple[dict, int, int] | None:
    """A retry first (a crashed/killed point, or a failed one under `retry_failed`), else a
    fresh point, else None."""
    retry = _retry(store, conn, sweep, config)
    if retry is not None:
        return retry

    index = sweep["points_issued"]
    limit = total_points(config)
    if limit is not None and index >= limit:
        return None
    if target_reached(store, conn, sweep, config):
        return None
    if config.method == "grid":
        params = grid_point(config.space, index)
    elif config.method == "random":
        # One generator per point: reproducible for a seeded sweep whatever the worker order.
        seed = sweep["settings"].get("seed")
        rng = np.random.default_rng(None if seed is None else [int(seed), index])
        params = sample_point(config.space, rng)
    else:  # bayes: the model sees every point handed out so far
        from ..search import bayes  # scipy: only bayes sweeps pay for the import

        seed = sweep["settings"].get("seed")
        rng = np.random.default_rng(None if seed is None else [int(seed), index])
        params = bayes.suggest(
            config.space,
            model_trials(store, conn, sweep, config),
            config.metric.goal if config.metric else "minimize",
            rng,
        )
    store.update_sweep(sweep["id"], conn, points_issued=index + 1)
    return params, index, 1


def _settle(store: Store, conn: Connection, sweep: Row) -> str:
    """No point to hand out: the sweep is finished once nothing is in flight."""
    active = store.list_runs(sweep["id"], s.ACTIVE_RUN_STATES, conn)
    if active:
        return "wait"
    store.update_sweep(sweep["id"], conn, state=s.SWEEP_FINISHED)
    return s.SWEEP_FINISHED


def model_trials(
    store: Store, conn: Connection | None, sweep: Row, config: SweepConfig
) -> list[bayes.Trial]:
    """Every point's result: finished runs with the metric's value, runs in flight as
    pending, failed runs (or finished without a value) as failed. Crashed and killed runs
    are left out: not the point's fault, and their retry is a run of its own; so are failed
    runs whose point was handed out again (`retry_failed`): the retry gives the verdict."""
    from ..search import bayes

    name = config.metric.name if config.metric else ""
    trials = []
    for run in store.list_runs(sweep["id"], None, conn):
        if run["state"] in s.ACTIVE_RUN_STATES:
            trials.append(bayes.Trial(run["params"], None, bayes.RUNNING))
        elif run["state"] in (s.FINISHED, s.STOPPED_EARLY):
            value = run["summary"].get(name)
            state = bayes.FINISHED if isinstance(value, (int, float)) else bayes.FAILED
            trials.append(bayes.Trial(run["params"], value, state))
        elif run["state"] == s.FAILED and not run["superseded"]:
            trials.append(bayes.Trial(run["params"], None, bayes.FAILED))
    return trials


def target_reached(store: Store, conn: Connection, sweep: Row, config: SweepConfig) -> bool:
    """`metric.target`: once a run has reached it, no new point is handed out."""
    if config.metric is None or config.metric.target is None:
        return False
    name, target = config.metric.name, config.metric.target
    for run in store.list_runs(sweep["id"], [s.RUNNING, s.FINISHED, s.STOPPED_EARLY], conn):
        value = run["summary"].get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if value >= target if config.metric.goal == "maximize" else value <= target:
            return True
    return False
