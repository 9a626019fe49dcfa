"""Ctrl-C on `hypersweep run`, resuming, and a worker process dying under `run`."""

from __future__ import annotations

import os
import shlex
import signal

import psutil
from conftest import (
    running_programs,
    start_hypersweep,
    wait_for,
    wait_for_sweep,
    write_sweep,
)

from hypersweep.store import Store

SLOW_GRID = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4]}
  sleep: {values: [0, 60]}
"""


def _start_run(store_url, sweep_file, tmp_path, jobs="2"):
    return start_hypersweep(store_url, "run", str(sweep_file), "--jobs", jobs, cwd=tmp_path)


def test_ctrl_c_pauses_cleanly_and_resume_finishes_the_sweep(cli, store_url, tmp_path, monkeypatch):
    sweep_file = write_sweep(tmp_path, SLOW_GRID)
    runner = _start_run(store_url, sweep_file, tmp_path)
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    running = wait_for(
        lambda: (
            running_programs(store, sweep_id)
            if any(r["params"]["sleep"] == 60 for r in store.list_runs(sweep_id, ["running"]))
            else None
        ),
        what="a long run",
    )
    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 130
    # The command to continue, with the store given on the command line: ready to paste.
    [hint] = [line for line in out.splitlines() if line.startswith("interrupted; resume with: ")]
    hint_args = shlex.split(hint.removeprefix("interrupted; resume with: hypersweep "))
    assert hint_args == ["--store", store_url, "resume", sweep_id, "--jobs", "2"], hint
    assert store.get_sweep(sweep_id)["state"] == "paused"
    assert not any(psutil.pid_exists(r["pid"]) for r in running)
    interrupted = [r for r in store.list_runs(sweep_id) if r["state"] == "killed"]
    assert interrupted

    # Resume: the interrupted points run again (quickly now), then the rest.
    monkeypatch.setenv("TOY_NO_SLEEP", "1")
    cli("resume", sweep_id, "--jobs", "2")
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == "finished"
    runs = store.list_runs(sweep_id)
    finished_points = {r["point_index"] for r in runs if r["state"] == "finished"}
    assert finished_points == set(range(8))
    assert all(r["superseded"] for r in runs if r["state"] == "killed")


def test_a_dead_worker_under_run_is_replaced_and_its_point_rerun(store_url, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3]}
  sleep: {value: 2}
""",
    )
    runner = _start_run(store_url, sweep_file, tmp_path, jobs="1")
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    victim = wait_for(lambda: running_programs(store, sweep_id), what="a run")[0]
    worker_pid = store.list_workers(sweep_id)[0]["pid"]
    os.kill(worker_pid, signal.SIGKILL)
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 0, out
    assert "died" in out and "replaced" in out
    assert store.get_run(victim["id"])["state"] == "crashed"
    runs = store.list_runs(sweep_id)
    assert sorted(r["params"]["x"] for r in runs if r["state"] == "finished") == [1, 2, 3]
    assert store.get_sweep(sweep_id)["state"] == "finished"


def test_workers_and_programs_stop_when_run_itself_is_sigkilled(store_url, tmp_path):
    """No handler runs in a SIGKILLed `run`: the kernel tells its agents (SIGTERM), and
    each stops its program and records the run as killed instead of running on."""
    sweep_file = write_sweep(tmp_path, SLOW_GRID)
    runner = _start_run(store_url, sweep_file, tmp_path)
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    long_run = wait_for(
        lambda: [
            r
            for r in store.list_runs(sweep_id, ["running"])
            if r["pid"] and r["params"]["sleep"] == 60
        ],
        what="a long run",
    )[0]
    agents = [w["pid"] for w in store.list_workers(sweep_id)]
    assert agents
    runner.kill()
    runner.communicate(timeout=30)

    def alive(pid: int) -> bool:
        try:  # a zombie has exited: it only waits for a reaper
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def everything_gone() -> bool:
        return not any(alive(pid) for pid in [*agents, long_run["pid"]])

    wait_for(everything_gone, what="agents and programs to exit", timeout=30)
    assert store.get_run(long_run["id"])["state"] == "killed"
