"""Early termination through the store (in-process) and through real processes, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import PROGRAMS, start_hypersweep, wait_for, wait_for_sweep

from hypersweep import controller
from hypersweep.config import parse_sweep_config
from hypersweep.store import Store
from hypersweep.store import schema as s

SWEEP = {
    "program": "train.py",
    "method": "grid",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"a": {"values": list(range(10))}},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
}


def _sweep(store: Store, config: dict = SWEEP) -> str:
    parsed = parse_sweep_config(config)
    return store.create_sweep(
        config=parsed.raw, name="t", method=parsed.method, settings=controller.DEFAULT_SETTINGS
    )


def _run(store: Store, sweep_id: str, values: list[float | None], state: str = s.RUNNING) -> str:
    """A run that logged `values` of acc, one per step (None: a non-finite value, which the
    store keeps as NULL), with a `loss` row beside each that must not count."""
    claim = controller.claim_next_run(store, sweep_id, "w", "host")
    rows = []
    for step, value in enumerate(values):
        rows += [(step, "acc", value, time.time()), (step, "loss", 0.0, time.time())]
    store.add_metrics(claim.run["id"], rows, {})
    if state != s.RUNNING:
        controller.record_run_end(store, claim.run["id"], state)
    return claim.run["id"]


def test_a_run_worse_than_its_peers_is_marked_to_stop(store):
    sweep_id = _sweep(store)
    _run(store, sweep_id, [0.5, 0.9, 0.95], s.FINISHED)
    _run(store, sweep_id, [0.5, 0.8, 0.85], s.STOPPED_EARLY)
    fine = _run(store, sweep_id, [0.5, 0.85])
    assert controller.check_early_stop(store, fine) is None
    # band 2: 0.9, 0.8, 0.85, 0.3 -> threshold at position int(4/2) = 2 of best first: 0.8
    bad = _run(store, sweep_id, [None, 0.9, None, 0.3, None])
    why = controller.check_early_stop(store, bad)
    assert why == (
        "stopped early by hyperband at band 2: acc 0.3 at iteration 2 is worse than the "
        "threshold 0.8 from the 4 runs that reached it"
    )
    run = store.get_run(bad)
    assert run["stop_requested"] and run["message"] == why and run["state"] == s.RUNNING
    # Asking again answers the same; the worker's heartbeat carries the reason too.
    assert controller.check_early_stop(store, bad) == why
    worker_id = store.register_worker(sweep_id=sweep_id, host="h", pid=1, pid_started=None)
    status = store.heartbeat(worker_id, bad)
    assert status["stop_requested"] and status["stop_message"] == why


def test_no_verdict_before_the_first_band_without_early_terminate_or_once_ended(store):
    plain = {k: v for k, v in SWEEP.items() if k != "early_terminate"}
    sweep_id = _sweep(store, plain)
    _run(store, sweep_id, [0.9, 0.9], s.FINISHED)
    assert controller.check_early_stop(store, _run(store, sweep_id, [0.1, 0.1])) is None

    sweep_id = _sweep(store)
    _run(store, sweep_id, [0.9, 0.9], s.FINISHED)
    assert controller.check_early_stop(store, _run(store, sweep_id, [0.1, None])) is None
    ended = _run(store, sweep_id, [0.1, 0.1], s.FAILED)
    assert controller.check_early_stop(store, ended) is None
    assert not store.get_run(ended)["stop_requested"]


def test_peers_are_read_only_up_to_the_band_reached(store):
    sweep_id = _sweep(store)
    long = _run(store, sweep_id, [0.1, None, 0.2, 0.3, 0.4], s.FINISHED)
    short = _run(store, sweep_id, [0.5])
    with store.read() as conn:
        assert store.sweep_metric_values(conn, sweep_id, "acc") == {
            long: [0.1, 0.2, 0.3, 0.4],
            short: [0.5],
        }
        assert store.sweep_metric_values(conn, sweep_id, "acc", first=2) == {
            long: [0.1, 0.2],
            short: [0.5],
        }
        assert store.metric_values(conn, long, "acc") == [0.1, 0.2, 0.3, 0.4]


# ------------------------------------------------------------ through processes

CURVE_SWEEP = """
program: {program}
method: grid
metric: {{name: score, goal: maximize}}
early_terminate: {early_terminate}
parameters:
  quality: {{values: [0.9, 0.1]}}
  seed: {{values: [1, 2, 3]}}
  epochs: {{value: 10}}
  epoch_s: {{value: 0.05}}
  gate: {{value: 0.5}}
  go_file: {{value: {go_file}}}
"""


@pytest.mark.parametrize(
    "early_terminate", ["{type: hyperband, min_iter: 1, eta: 3}", "{type: asha, min_iter: 1}"]
)
def test_bad_runs_stop_early_and_the_sweep_goes_on(store_url, tmp_path, early_terminate):
    # Grid order: the three good runs (quality 0.9, identical curves: they tie, so none stops)
    # are claimed first; the three bad ones wait for the go file, which we create once the
    # good runs are finished. With at most 6 runs at a band and eta 3, the threshold is always
    # a good run's value, so every bad run stops at its first verdict, at whatever band.
    # Bad runs never exit by themselves: only early termination ends them.
    go_file = tmp_path / "go"
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        CURVE_SWEEP.format(
            program=PROGRAMS / "curve.py", early_terminate=early_terminate, go_file=go_file
        )
    )
    runner = start_hypersweep(store_url, "run", str(sweep_file), "--jobs", "2", cwd=tmp_path)
    try:
        store = Store(store_url)
        sweep_id = wait_for_sweep(store)
        wait_for(
            lambda: len(store.list_runs(sweep_id, [s.FINISHED])) == 3,
            timeout=120,
            what="the three good runs to finish",
        )
        Path(go_file).touch()
        output, _ = runner.communicate(timeout=180)
    finally:
        runner.kill()
    assert runner.returncode == 0, output

    runs = store.list_runs(sweep_id)
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FINISHED
    good = [r for r in runs if r["params"]["quality"] == 0.9]
    bad = [r for r in runs if r["params"]["quality"] < 0.5]
    assert [r["state"] for r in good] == [s.FINISHED] * 3
    assert all(len(store.metric_history(r["id"], "score")) == 10 for r in good)
    assert [r["state"] for r in bad] == [s.STOPPED_EARLY] * 3
    rule = "hyperband at band" if "hyperband" in early_terminate else "asha at rung"
    pattern = (
        rf"stopped early by {rule} (1|3|9): score [0-9.]+ at iteration \1 is worse than "
        r"the threshold 0\.[0-9]+ from the \d+ runs that reached it"
    )
    for run in bad:
        assert re.fullmatch(pattern, run["message"]), run["message"]
    # A worker whose run was stopped went on to claim the next one.
    assert any(
        later["worker_id"] == stopped["worker_id"] and later["created_at"] > stopped["ended_at"]
        for stopped in bad
        for later in runs
    )
    # Stopped-early runs are results, never retried, and the best run is a good one.
    assert len(runs) == 6
    assert controller.best_runs(store, store.get_sweep(sweep_id))[0]["params"]["quality"] == 0.9
