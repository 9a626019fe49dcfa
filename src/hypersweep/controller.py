"""The single decision point: which run a worker starts next, and when a sweep is over.

Every decision happens inside one store transaction that holds the sweep row, so two
workers can never be handed the same point, and a crashed run's point is handed out again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sqlalchemy import Connection

from .config import SweepConfig, parse_sweep_config
from .search import grid_point, grid_size, sample_point
from .store import Row, Store
from .store import schema as s

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


def claim_next_run(store: Store, sweep_id: str, worker_id: str, host: str) -> Claim:
    with store.write() as conn:
        sweep = store.lock_sweep(conn, sweep_id)
        if sweep["state"] != s.SWEEP_RUNNING:
            return Claim(None, sweep["state"])
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


def _next_point(
    store: Store, conn: Connection, sweep: Row, config: SweepConfig
) -> tuple[dict, int, int] | None:
    """A retry of a crashed/killed point first, else a fresh point, else None."""
    max_attempts = int(sweep["settings"].get("max_attempts", DEFAULT_SETTINGS["max_attempts"]))
    for run in store.list_runs(sweep["id"], s.RETRYABLE_RUN_STATES, conn, superseded=False):
        # Superseded either way: retried now, or given up after max_attempts.
        store.update_run(run["id"], conn, superseded=True)
        if run["attempt"] < max_attempts:
            return run["params"], run["point_index"], run["attempt"] + 1

    index = sweep["points_issued"]
    limit = total_points(config)
    if limit is not None and index >= limit:
        return None
    if config.method == "grid":
        params = grid_point(config.space, index)
    elif config.method == "random":
        # One generator per point: reproducible for a seeded sweep whatever the worker order.
        seed = sweep["settings"].get("seed")
        rng = np.random.default_rng(None if seed is None else [int(seed), index])
        params = sample_point(config.space, rng)
    else:
        raise ValueError(f"method {config.method!r} is not yet supported")
    store.update_sweep(sweep["id"], conn, points_issued=index + 1)
    return params, index, 1


def _settle(store: Store, conn: Connection, sweep: Row) -> str:
    """No point to hand out: the sweep is finished once nothing is in flight."""
    active = store.list_runs(sweep["id"], s.ACTIVE_RUN_STATES, conn)
    if active:
        return "wait"
    store.update_sweep(sweep["id"], conn, state=s.SWEEP_FINISHED)
    return s.SWEEP_FINISHED


def record_run_end(
    store: Store,
    run_id: str,
    state: str,
    *,
    exit_code: int | None = None,
    log_tail: str | None = None,
    message: str | None = None,
) -> bool:
    """Record a run's end, then decide whether the sweep must stop or is complete."""
    with store.write() as conn:
        run = store.get_run(run_id, conn)
        if run["sweep_id"] is None:
            return store.end_run(
                conn, run_id, state, exit_code=exit_code, log_tail=log_tail, message=message
            )
        sweep = store.lock_sweep(conn, run["sweep_id"])
        ended = store.end_run(
            conn, run_id, state, exit_code=exit_code, log_tail=log_tail, message=message
        )
        if ended and state == s.FAILED:
            _stop_if_failing_fast(store, conn, sweep)
        return ended


def _stop_if_failing_fast(store: Store, conn: Connection, sweep: Row) -> None:
    """The first `fail_fast` ended runs all failed: the program is broken, not the params.
    Stop before burning the whole search space."""
    limit = int(sweep["settings"].get("fail_fast", DEFAULT_SETTINGS["fail_fast"]) or 0)
    if limit <= 0 or sweep["state"] != s.SWEEP_RUNNING:
        return
    counts = store.run_counts(sweep["id"], conn).get(sweep["id"], {})
    failures = counts.get(s.FAILED, 0) - sweep["settings"].get("failures_before_resume", 0)
    if counts.get(s.FINISHED, 0) > 0 or failures < limit:
        return
    last = store.list_runs(sweep["id"], [s.FAILED], conn)[-1]
    message = (
        f"stopped: the first {failures} runs all failed (last: run {last['id']}, "
        f"exit code {last['exit_code']}); fix the program, then "
        f"`hypersweep resume {sweep['id']}`"
    )
    store.update_sweep(sweep["id"], conn, state=s.SWEEP_FAILED, message=message)


def best_runs(store: Store, sweep: Row, top: int = 1) -> list[Row]:
    """Finished runs ranked by the sweep metric's summary value."""
    config = sweep_config(sweep)
    if config.metric is None:
        return []
    name = config.metric.name
    scored = [
        r
        for r in store.list_runs(sweep["id"], [s.FINISHED, s.STOPPED_EARLY])
        if isinstance(r["summary"].get(name), (int, float)) and np.isfinite(r["summary"][name])
    ]
    scored.sort(key=lambda r: r["summary"][name], reverse=config.metric.goal == "maximize")
    return scored[:top]
