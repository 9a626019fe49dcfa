"""The core loop through the real CLI and real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
from conftest import (
    LONG_RUNS_GRID,
    hypersweep_cmd,
    running_programs,
    start_hypersweep,
    wait_for,
    wait_for_sweep,
    write_sweep,
)

from hypersweep.store import Store

GRID_48 = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [0, 1, 2, 3, 4, 5, 6, 7]}
  y: {values: [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]}
"""


def test_grid_runs_every_point_exactly_once_with_6_workers(cli, store_url, tmp_path):
    command = '\ncommand: ["${env}", "${interpreter}", "${program}", "--stdout=True", "${args}"]'
    sweep_file = write_sweep(tmp_path, GRID_48 + command)
    cli("run", str(sweep_file), "--jobs", "6")
    sweeps = json.loads(cli("sweeps", "--json").stdout)
    assert len(sweeps) == 1 and sweeps[0]["state"] == "finished"
    assert sweeps[0]["counts"] == {"finished": 48}
    runs = json.loads(cli("runs", sweeps[0]["id"], "--json").stdout)
    points = {(r["params"]["x"], r["params"]["y"]) for r in runs}
    assert len(runs) == 48 and len(points) == 48
    # Metrics printed on stdout were recorded: last value of score at step 2.
    assert all(r["summary"]["score"] == r["params"]["x"] * 10 + r["params"]["y"] + 2 for r in runs)
    workers = {r["worker_id"] for r in runs}
    assert len(workers) > 1


def test_best_and_client_metrics(cli, store_url, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 3, 2]}
  y: {value: 0.5}
""",
    )
    out = cli("run", str(sweep_file), "--jobs", "2").stdout
    assert "#1 run" in out and "score=32.5" in out
    sweep_id = json.loads(cli("sweeps", "--json").stdout)[0]["id"]
    best = json.loads(cli("best", sweep_id, "--top", "2", "--json").stdout)
    assert [r["params"]["x"] for r in best["runs"]] == [3, 2]
    assert best["runs"][0]["value"] == 32.5
    history = Store(store_url).metric_history(best["runs"][0]["id"], "loss")
    assert [row["step"] for row in history] == [0, 1, 2]


def test_failing_run_is_recorded_and_the_sweep_goes_on(cli, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4]}
  fail_on: {value: 2}
""",
    )
    cli("run", str(sweep_file), "--jobs", "2")
    sweep_id = json.loads(cli("sweeps", "--json").stdout)[0]["id"]
    runs = json.loads(cli("runs", sweep_id, "--json").stdout)
    by_x = {r["params"]["x"]: r for r in runs}
    assert by_x[2]["state"] == "failed" and by_x[2]["exit_code"] == 3
    assert "boom at x=2.0" in by_x[2]["log_tail"]
    assert [by_x[x]["state"] for x in (1, 3, 4)] == ["finished"] * 3
    logs = cli("logs", by_x[2]["id"]).stdout
    assert "toy: boom at x=2.0" in logs


def test_fail_fast_stops_a_broken_program(cli, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: broken.py
method: grid
parameters:
  x: {values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
""",
    )
    (tmp_path / "broken.py").write_text(
        "import sys\nprint('ModuleNotFoundError: torchh')\nsys.exit(1)\n"
    )
    result = cli("run", str(sweep_file), "--jobs", "2", check=False)
    assert result.returncode == 1
    assert "runs all failed" in result.stderr
    assert "ModuleNotFoundError: torchh" in result.stderr  # the log tail of the last run
    assert "Traceback" not in result.stderr
    sweep = json.loads(cli("sweeps", "--json").stdout)[0]
    assert sweep["state"] == "failed"
    assert sweep["counts"].get("failed", 0) < 20


def test_worker_killed_with_sigkill_crashes_its_run_and_the_point_runs_again(
    cli, store_url, tmp_path
):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2]}
  sleep: {value: 3}
""",
    )
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    sweep_id = cli("sweep", str(sweep_file)).stdout.strip()
    env = {**os.environ, "TOY_PID_DIR": str(pid_dir)}
    agent = subprocess.Popen(
        hypersweep_cmd("--store", store_url, "agent", sweep_id),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = Store(store_url)
    first = wait_for(lambda: running_programs(store, sweep_id), what="a run")[0]
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    # The program dies with its agent (no orphan left running unsupervised).
    wait_for(
        lambda: (
            not psutil.pid_exists(first["pid"])
            or psutil.Process(first["pid"]).status() == psutil.STATUS_ZOMBIE
        ),
        timeout=10,
        what="the orphaned program to die",
    )
    # A new worker finds the silent run, marks it crashed and runs its point again.
    cli("agent", sweep_id)
    runs = store.list_runs(sweep_id)
    crashed = store.get_run(first["id"])
    assert crashed["state"] == "crashed"
    again = [r for r in runs if r["params"] == first["params"] and r["id"] != first["id"]]
    assert len(again) == 1 and again[0]["state"] == "finished" and again[0]["attempt"] == 2
    finished_points = {r["params"]["x"] for r in runs if r["state"] == "finished"}
    assert finished_points == {1, 2}
    assert store.get_sweep(sweep_id)["state"] == "finished"


def _program_processes(marker: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            if str(marker) in " ".join(proc.info["cmdline"] or []) or (
                proc.info["environ"] or {}
            ).get("TOY_PID_DIR") == str(marker):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_kill_stops_every_process_and_keeps_results(cli, store_url, tmp_path):
    sweep_file = write_sweep(tmp_path, LONG_RUNS_GRID)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    runner = start_hypersweep(
        store_url, "run", str(sweep_file), "--jobs", "3", cwd=tmp_path,
        env={"TOY_PID_DIR": str(pid_dir)},
    )  # fmt: skip
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    wait_for(
        lambda: (
            store.run_counts(sweep_id).get(sweep_id, {}).get("finished", 0) >= 1
            and len(running_programs(store, sweep_id)) == 3
        ),
        what="one finished run and three running",
    )
    assert _program_processes(pid_dir)
    out = cli("kill", sweep_id).stdout
    assert "cancelled" in out
    runner.wait(60)
    wait_for(lambda: not _program_processes(pid_dir), timeout=15, what="no program left")
    assert not [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE
        and "hypersweep" in " ".join(p.cmdline())
    ]
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == "cancelled"
    runs = store.list_runs(sweep_id)
    assert {r["state"] for r in runs} <= {"finished", "killed"}
    finished = [r for r in runs if r["state"] == "finished"]
    assert finished and all("score" in r["summary"] for r in finished)
    assert not store.list_workers(sweep_id)
