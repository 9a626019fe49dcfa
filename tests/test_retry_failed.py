"""Failed runs: a program killed by a signal says so, and `retry_failed` (the sweep file's
key, `--retry-failed N` on run/resume/agent) hands a failed point out again."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from conftest import write_sweep
from fastapi.testclient import TestClient

from hypersweep import controller, sweeps
from hypersweep.agent.process import exit_description
from hypersweep.config import parse_sweep_config
from hypersweep.controller.claims import model_trials
from hypersweep.controller.outcome import sweep_problems
from hypersweep.server import create_app
from hypersweep.store import Store
from hypersweep.store import schema as s

GRID = {
    "program": "train.py",
    "method": "grid",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"a": {"values": [1, 2]}},
}


def _sweep(store: Store, config: dict = GRID, **settings: object) -> str:
    parsed = parse_sweep_config(config)
    return store.create_sweep(
        config=parsed.raw,
        name="t",
        method=parsed.method,
        settings={**controller.DEFAULT_SETTINGS, "fail_fast": 0, **settings},
    )


def _claim(store: Store, sweep_id: str) -> dict | None:
    return controller.claim_next_run(store, sweep_id, "w", "host").run


def _end(store: Store, run: dict, state: str, acc: float | None = None) -> None:
    if acc is not None:
        store.add_metrics(run["id"], [(0, "acc", acc, time.time())], {"acc": acc})
    code = {s.FINISHED: 0, s.FAILED: -9}.get(state)
    message = exit_description(code) if state == s.FAILED else None
    controller.record_run_end(store, run["id"], state, exit_code=code, message=message)


# ------------------------------------------------------------------------ messages


def test_exit_descriptions_name_the_signal():
    assert exit_description(3) == "exit code 3"
    assert exit_description(-signal.SIGKILL) == "killed by signal 9 (out of memory?)"
    assert exit_description(-signal.SIGTERM) == "killed by signal 15 (SIGTERM)"
    assert exit_description(-signal.SIGSEGV) == "killed by signal 11 (SIGSEGV)"
    # A shell (bash -c '...') reports its child's signal as 128 + N.
    assert exit_description(137) == (
        "exit code 137 (128 + signal 9 (out of memory?), as a shell reports it)"
    )
    assert exit_description(255) == "exit code 255"


def test_retry_failed_is_our_sweep_file_extension():
    assert parse_sweep_config(GRID).retry_failed == 0
    assert parse_sweep_config({**GRID, "retry_failed": 2}).retry_failed == 2


# ------------------------------------------------------------------- the controller


def test_failed_points_are_final_by_default(store):
    sweep_id = _sweep(store)
    first = _claim(store, sweep_id)
    _end(store, first, s.FAILED)
    second = _claim(store, sweep_id)
    assert second["point_index"] == 1 and second["attempt"] == 1
    assert not store.get_run(first["id"])["superseded"]


def test_a_failed_point_runs_again_up_to_retry_failed_times(store):
    sweep_id = _sweep(store, retry_failed=2)
    runs = [_claim(store, sweep_id)]
    for attempt in (2, 3):
        _end(store, runs[-1], s.FAILED)
        runs.append(_claim(store, sweep_id))
        assert runs[-1]["point_index"] == 0 and runs[-1]["attempt"] == attempt
        assert store.get_run(runs[-2]["id"])["superseded"]
    _end(store, runs[-1], s.FAILED)  # the third failure is the point's verdict
    fresh = _claim(store, sweep_id)
    assert fresh["point_index"] == 1 and fresh["attempt"] == 1
    assert not store.get_run(runs[-1]["id"])["superseded"]
    _end(store, fresh, s.FINISHED, acc=0.5)
    assert _claim(store, sweep_id) is None
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == s.SWEEP_FINISHED
    # The model sees point 0 failed once (its verdict), not three times.
    trials = model_trials(store, None, sweep, controller.sweep_config(sweep))
    assert sorted(t.state for t in trials) == ["failed", "finished"]


def test_a_point_that_succeeds_on_retry_is_no_failure(store):
    sweep_id = _sweep(store, retry_failed=1)
    first = _claim(store, sweep_id)
    _end(store, first, s.FAILED)
    retry = _claim(store, sweep_id)
    _end(store, retry, s.FINISHED, acc=0.9)
    other = _claim(store, sweep_id)
    _end(store, other, s.FINISHED, acc=0.1)
    assert _claim(store, sweep_id) is None
    sweep = store.get_sweep(sweep_id)
    config = controller.sweep_config(sweep)
    assert [t.state for t in model_trials(store, None, sweep, config)] == ["finished"] * 2
    assert sweep_problems(store, sweep, config) == []


def test_the_sweep_file_setting_applies_when_the_sweep_has_none(store):
    sweep_id = _sweep(store, {**GRID, "retry_failed": 1})
    first = _claim(store, sweep_id)
    _end(store, first, s.FAILED)
    assert _claim(store, sweep_id)["attempt"] == 2


def test_crashes_and_failures_are_counted_apart(store):
    """max_attempts counts a point's crashes, retry_failed its failures: one kind of
    trouble does not use up the other's allowance."""
    sweep_id = _sweep(store, {**GRID, "parameters": {"a": {"value": 1}}}, retry_failed=1)
    run = _claim(store, sweep_id)
    _end(store, run, s.FAILED)  # failure 1: retried
    for attempt in (2, 3):  # crashes 1 and 2: retried
        run = _claim(store, sweep_id)
        assert run["attempt"] == attempt
        controller.record_run_end(store, run["id"], s.CRASHED)
    run = _claim(store, sweep_id)
    assert run["attempt"] == 4
    controller.record_run_end(store, run["id"], s.CRASHED)  # crash 3: given up
    assert _claim(store, sweep_id) is None
    sweep = store.get_sweep(sweep_id)
    assert sweep_problems(store, sweep, controller.sweep_config(sweep)) == [
        f"1 point(s) given up after 3 crashed attempts (last: run {run['id']})"
    ]


def test_a_crashed_point_that_is_retried_is_not_reported_given_up(store):
    sweep_id = _sweep(store, {**GRID, "parameters": {"a": {"value": 1}}}, retry_failed=3)
    for _ in range(2):
        _end(store, _claim(store, sweep_id), s.FAILED)
    crashed = _claim(store, sweep_id)  # attempt 3: its number alone would say "given up"
    controller.record_run_end(store, crashed["id"], s.CRASHED)
    _end(store, _claim(store, sweep_id), s.FINISHED, acc=0.5)
    assert _claim(store, sweep_id) is None
    sweep = store.get_sweep(sweep_id)
    assert sweep_problems(store, sweep, controller.sweep_config(sweep)) == []


def test_fail_fast_counts_every_failed_attempt_and_names_the_signal(store):
    """Retries must not delay finding a broken program: 3 failed attempts stop the sweep,
    though the first point still had retries left."""
    sweep_id = _sweep(store, fail_fast=3, retry_failed=5)
    for _ in range(3):
        run = _claim(store, sweep_id)
        assert run["point_index"] == 0
        _end(store, run, s.FAILED)
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == s.SWEEP_FAILED
    assert sweep["message"] == (
        f"stopped: the first 3 runs all failed (last: run {run['id']}, killed by signal 9 "
        f"(out of memory?)); fix the program, then `hypersweep resume {sweep_id}`"
    )


def test_resume_can_set_retry_failed_and_failed_points_run_again(store):
    sweep_id = _sweep(store, {**GRID, "parameters": {"a": {"value": 1}}}, fail_fast=1)
    first = _claim(store, sweep_id)
    _end(store, first, s.FAILED)
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FAILED
    sweeps.resume_sweep(store, sweep_id, retry_failed=1)
    assert store.get_sweep(sweep_id)["settings"]["retry_failed"] == 1
    again = _claim(store, sweep_id)
    assert again["point_index"] == 0 and again["attempt"] == 2


# ------------------------------------------------------------------ real programs

SIGKILLED = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3]}
  sigkill_on: {value: 2}
  once_dir: {value: ONCE}
"""


def _write(directory: Path, extra: str = "") -> Path:
    directory.mkdir(exist_ok=True)
    once = directory / "once"
    once.mkdir(exist_ok=True)
    return write_sweep(directory, SIGKILLED.replace("ONCE", str(once)) + extra)


def _runs(cli, sweep_id: str) -> list[dict]:
    return json.loads(cli("runs", sweep_id, "--json").stdout)


def _only_sweep(cli) -> str:
    [sweep] = json.loads(cli("sweeps", "--json").stdout)
    return sweep["id"]


def _attempts(runs: list[dict], x: int) -> list[tuple[str, int]]:
    return sorted((r["state"], r["attempt"]) for r in runs if r["params"]["x"] == x)


def test_a_sigkilled_program_says_so_and_is_not_retried_by_default(cli, store_url, tmp_path):
    cli("run", str(_write(tmp_path)), "--jobs", "2", "--no-ui")
    sweep_id = _only_sweep(cli)
    [killed] = [r for r in _runs(cli, sweep_id) if r["params"]["x"] == 2]
    assert killed["state"] == "failed" and killed["attempt"] == 1
    assert killed["exit_code"] == -9  # Popen's returncode: -N for signal N
    assert killed["message"] == "killed by signal 9 (out of memory?)"
    # `runs` shows why it ended, in its message column; so does the dashboard's run page.
    table = cli("runs", sweep_id).stdout
    assert "message" in table and "killed by signal 9 (out of memory?)" in table
    store = Store(store_url)
    page = TestClient(create_app(store=store)).get(f"/api/runs/{killed['id']}").json()
    assert page["message"] == "killed by signal 9 (out of memory?)"
    assert page["exit_code"] == -9


def test_retry_failed_flag_runs_the_point_again(cli, tmp_path):
    result = cli("run", str(_write(tmp_path)), "--jobs", "2", "--retry-failed", "1", "--no-ui")
    assert "done 3/3" in result.stdout  # a retried point counts once
    runs = _runs(cli, _only_sweep(cli))
    assert _attempts(runs, 2) == [("failed", 1), ("finished", 2)]
    assert sorted(r["params"]["x"] for r in runs if r["state"] == "finished") == [1, 2, 3]


def test_retry_failed_from_the_sweep_file_or_the_agent_flag(cli, store_url, tmp_path):
    from_file = cli("sweep", str(_write(tmp_path / "a", "retry_failed: 1\n"))).stdout.strip()
    cli("agent", from_file)
    assert _attempts(_runs(cli, from_file), 2) == [("failed", 1), ("finished", 2)]

    from_flag = cli("sweep", str(_write(tmp_path / "b"))).stdout.strip()
    cli("agent", from_flag, "--retry-failed", "1")
    assert _attempts(_runs(cli, from_flag), 2) == [("failed", 1), ("finished", 2)]
    # For the whole sweep, as any other worker claims through the same controller.
    assert Store(store_url).get_sweep(from_flag)["settings"]["retry_failed"] == 1


def test_fail_fast_message_names_the_signal(cli, tmp_path):
    (tmp_path / "oom.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        f"program: oom.py\nmethod: grid\nparameters:\n  x: {{values: {list(range(10))}}}\n"
        f"command: [{sys.executable}, '${{program}}', '${{args}}']\n"
    )
    result = cli("run", str(sweep_file), "--fail-fast", "2", "--no-ui", check=False)
    assert result.returncode == 1
    assert "runs all failed" in result.stderr
    assert "killed by signal 9 (out of memory?)" in result.stderr
