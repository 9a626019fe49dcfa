"""What makes an ended sweep a failure (`run` exits non-zero on it): every run failed, points
given up after repeated crashes, or no run logged the metric."""

from __future__ import annotations

import time

from hypersweep import controller
from hypersweep.config import parse_sweep_config
from hypersweep.controller.outcome import missing_metric_warning, sweep_problems
from hypersweep.store import Store
from hypersweep.store import schema as s

SWEEP = {
    "program": "train.py",
    "method": "grid",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _sweep(store: Store) -> tuple[str, object]:
    parsed = parse_sweep_config(SWEEP)
    settings = {**controller.DEFAULT_SETTINGS, "fail_fast": 0}
    sweep_id = store.create_sweep(
        config=parsed.raw, name="t", method=parsed.method, settings=settings
    )
    return sweep_id, parsed


def _end_next(store: Store, sweep_id: str, state: str, **summary: float) -> str:
    run = controller.claim_next_run(store, sweep_id, "w", "host").run
    assert run is not None
    if summary:
        rows = [(0, key, value, time.time()) for key, value in summary.items()]
        store.add_metrics(run["id"], rows, summary)
    controller.record_run_end(store, run["id"], state)
    return run["id"]


def test_a_healthy_sweep_has_no_problem(store):
    sweep_id, config = _sweep(store)
    _end_next(store, sweep_id, s.FINISHED, acc=0.5)
    _end_next(store, sweep_id, s.FAILED)
    assert missing_metric_warning(store, sweep_id, config) is None
    assert sweep_problems(store, store.get_sweep(sweep_id), config) == []


def test_finished_runs_without_the_metric_name_what_they_logged(store):
    sweep_id, config = _sweep(store)
    assert missing_metric_warning(store, sweep_id, config) is None  # nothing finished yet
    first = _end_next(store, sweep_id, s.FINISHED, accuracy=0.9, loss=0.1)
    assert missing_metric_warning(store, sweep_id, config) == (
        f"warning: run {first} finished without logging metric 'acc' (logged: accuracy, "
        "loss); check metric.name in the sweep file and what the program logs"
    )
    _end_next(store, sweep_id, s.FINISHED)
    assert "2 runs finished without logging metric 'acc'" in missing_metric_warning(
        store, sweep_id, config
    )
    problems = sweep_problems(store, store.get_sweep(sweep_id), config)
    assert problems == ["no run logged metric 'acc' (finished runs logged: accuracy, loss)"]


def test_every_run_failed(store):
    sweep_id, config = _sweep(store)
    for _ in range(3):
        _end_next(store, sweep_id, s.FAILED)
    assert sweep_problems(store, store.get_sweep(sweep_id), config) == [
        f"every run failed (3 runs; see `hypersweep runs {sweep_id}`)"
    ]


def test_points_given_up_after_repeated_crashes(store):
    sweep_id, config = _sweep(store)
    crashed = [_end_next(store, sweep_id, s.CRASHED) for _ in range(3)]  # attempts 1, 2, 3
    assert [store.get_run(r)["attempt"] for r in crashed] == [1, 2, 3]
    _end_next(store, sweep_id, s.FINISHED, acc=0.5)
    _end_next(store, sweep_id, s.FINISHED, acc=0.7)
    assert controller.claim_next_run(store, sweep_id, "w", "host").run is None
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == s.SWEEP_FINISHED
    assert sweep_problems(store, sweep, config) == [
        f"1 point(s) given up after 3 crashed attempts (last: run {crashed[-1]})"
    ]
