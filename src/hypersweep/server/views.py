"""Store rows -> API documents. Reads only; every query is bounded (aggregates, pages,
thinned series) so a page costs the same for 20 runs as for 20,000."""

from __future__ import annotations

import shlex
import threading
import time
from typing import Any

from ..agent.runlog import LogOutsideRoot, open_run_log, read_chunks, tail_start
from ..config import ConfigError
from ..controller import importance, sweep_config, total_points
from ..store import Row, Store
from ..store import schema as s
from . import schemas as api

ENDED_STATES = (s.FINISHED, s.FAILED, s.STOPPED_EARLY)
RECENT_RUNS_FOR_KEYS = 50
LOG_TAIL_MAX = 1 << 20


def metric_info(sweep: Row) -> api.MetricInfo | None:
    metric = sweep["config"].get("metric") or {}
    if not metric.get("name"):
        return None
    goal = metric.get("goal", "minimize")
    return api.MetricInfo(name=metric["name"], goal=goal if goal == "maximize" else "minimize")


def progress(sweep: Row, counts: dict[str, int]) -> api.Progress:
    try:
        total = total_points(sweep_config(sweep))
    except ConfigError:  # a sweep recorded by a newer version: show what we can
        total = None
    return api.Progress(
        counts=counts,
        total=total,
        done=sum(counts.get(st, 0) for st in ENDED_STATES),
        running=counts.get(s.RUNNING, 0) + counts.get(s.PENDING, 0),
    )


def sweep_summary(store: Store, sweep: Row, counts: dict[str, int]) -> dict[str, Any]:
    metric = metric_info(sweep)
    ended = sweep["state"] not in (s.SWEEP_RUNNING, s.SWEEP_PAUSED)
    until = sweep["updated_at"] if ended else time.time()
    return {
        "id": sweep["id"],
        "name": sweep["name"],
        "method": sweep["method"],
        "state": sweep["state"],
        "message": sweep["message"],
        "metric": metric,
        "progress": progress(sweep, counts),
        "best_value": store.sweep_best_value(sweep["id"], metric.name, metric.goal)
        if metric
        else None,
        "created_at": sweep["created_at"],
        "duration_s": max(0.0, until - sweep["created_at"]),
    }


def list_sweeps(store: Store) -> list[api.SweepSummary]:
    counts = store.run_counts()
    sweeps = store.list_sweeps()[::-1]  # newest first
    return [api.SweepSummary(**sweep_summary(store, sw, counts.get(sw["id"], {}))) for sw in sweeps]


def sweep_detail(store: Store, sweep_id: str) -> api.SweepDetail:
    sweep = store.get_sweep(sweep_id)
    counts = store.run_counts(sweep_id).get(sweep_id, {})
    summary = sweep_summary(store, sweep, counts)
    metric = summary["metric"]
    _total, recent = store.runs_page(sweep_id, limit=RECENT_RUNS_FOR_KEYS, sort=None)
    keys = sorted({k for run in recent for k, v in run["summary"].items() if _is_number(v)})
    return api.SweepDetail(
        **summary,
        project=sweep["project"],
        source=sweep["source"],
        config=sweep["config"],
        workers=len(store.list_workers(sweep_id)),
        metric_keys=keys,
        best_so_far=store.best_so_far(sweep_id, metric.name, metric.goal) if metric else [],
    )


class ImportanceCache:
    """Parameter importance fits a GP: computed once per number of scored runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], api.Importance] = {}

    def get(self, store: Store, sweep_id: str) -> api.Importance:
        sweep = store.get_sweep(sweep_id)
        if sweep["method"] != "bayes":
            return api.Importance(available=False, reason="computed for bayes sweeps only")
        counts = store.run_counts(sweep_id).get(sweep_id, {})
        key = (sweep_id, counts.get(s.FINISHED, 0))
        with self._lock:
            if key not in self._cache:
                shares = importance(store, sweep)
                self._cache[key] = (
                    api.Importance(available=True, shares=shares)
                    if shares is not None
                    else api.Importance(available=False, reason="too few finished runs yet")
                )
            return self._cache[key]


def run_row(run: Row) -> dict[str, Any]:
    return {field: run[field] for field in api.RunRow.model_fields}


def run_detail(store: Store, run_id: str) -> api.RunDetail:
    run = store.get_run(run_id)
    sweep = store.get_sweep(run["sweep_id"])
    command = run["command"]
    return api.RunDetail(
        **run_row(run),
        sweep_name=sweep["name"],
        metric=metric_info(sweep),
        command=command,
        command_line=shlex.join(command) if command else None,
        pid=run["pid"],
        gpu_ids=run["gpu_ids"],
        metric_keys=store.metric_keys(run_id),
    )


def run_metrics(store: Store, run_id: str, max_points: int) -> api.RunMetrics:
    store.get_run(run_id)  # 404 for an unknown run rather than an empty answer
    by_key = store.metric_series(run_ids=[run_id], max_points=max_points).get(run_id, {})
    return api.RunMetrics(
        run_id=run_id,
        max_points=max_points,
        series=[_series(key, points) for key, points in sorted(by_key.items())],
    )


def sweep_curves(
    store: Store, sweep_id: str, key: str, budget: int, max_points: int
) -> api.SweepCurves:
    """One metric for every run of the sweep within a total point budget: many runs get
    coarser curves, so the answer stays small however large the sweep is."""
    counts = store.run_counts(sweep_id).get(sweep_id, {})
    store.get_sweep(sweep_id)
    n_runs = max(1, sum(counts.values()))
    per_run = max(2, min(max_points, budget // n_runs))
    series = store.metric_series(sweep_id=sweep_id, keys=[key], max_points=per_run)
    states = {row["id"]: row["state"] for row in store.run_points(sweep_id, None, limit=n_runs + 1)}
    curves = []
    for run_id, by_key in series.items():
        points = by_key.get(key, [])
        curves.append(
            api.RunCurve(
                run_id=run_id,
                state=states.get(run_id, "?"),
                steps=[p[0] for p in points],
                values=[p[1] for p in points],
            )
        )
    return api.SweepCurves(key=key, points_per_run=per_run, runs=curves)


def parallel_data(store: Store, sweep_id: str, limit: int) -> api.ParallelData:
    sweep = store.get_sweep(sweep_id)
    metric = metric_info(sweep)
    rows = store.run_points(sweep_id, metric.name if metric else None, limit)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row["params"]))
    return api.ParallelData(
        metric=metric,
        params=list(names),
        runs=[api.ParallelRun(**row) for row in rows],
    )


def log_tail(store: Store, run_id: str, max_bytes: int) -> api.LogTail:
    """The end of the run's log file (written by its agent), else the tail kept in the store
    (the file is on another machine). Only a file inside the log root is read: a log path
    that leads elsewhere (an edited row, a symlink) gets the store's tail."""
    run = store.get_run(run_id)
    max_bytes = min(max_bytes, LOG_TAIL_MAX)
    try:
        log = open_run_log(store, run)
    except LogOutsideRoot:
        log = None
    if log is not None:
        with log:
            size, start = tail_start(log, max_bytes)
            data = b"".join(read_chunks(log, start, size))
        return api.LogTail(
            run_id=run_id,
            text=data.decode("utf-8", errors="replace"),
            size=size,
            truncated=start > 0,
            source="file",
        )
    if run["log_tail"]:
        text = run["log_tail"]
        if len(text) > max_bytes:
            text = text[-max_bytes:]
        return api.LogTail(run_id=run_id, text=text, size=len(text), truncated=True, source="store")
    return api.LogTail(run_id=run_id, text="", size=0, truncated=False, source="none")


def _series(key: str, points: list[tuple[int, float | None]]) -> api.Series:
    return api.Series(key=key, steps=[p[0] for p in points], values=[p[1] for p in points])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
