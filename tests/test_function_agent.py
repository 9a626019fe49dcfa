"""hypersweep.agent(sweep_id, function=...): functions as runs, in forked children (real
processes) and in the calling process, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import PROGRAMS, start_hypersweep, wait_for

import hypersweep
from hypersweep import controller
from hypersweep import sweeps as sweep_ops
from hypersweep.agent.process import processes_of_runs
from hypersweep.config import parse_sweep_config
from hypersweep.store import Store
from hypersweep.store import schema as s


@pytest.fixture(autouse=True)
def _log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERSWEEP_LOG_DIR", str(tmp_path / "logs"))  # PostgreSQL: not cwd
    monkeypatch.chdir(tmp_path)


def _sweep(store: Store, values: list, program: bool = False) -> str:
    config = {
        "method": "grid",
        "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"x": {"values": values}},
    }
    if program:  # runnable by a CLI agent as well
        config["program"] = str(PROGRAMS / "toy.py")
    parsed = parse_sweep_config(config)
    return store.create_sweep(
        config=parsed.raw, name="f", method=parsed.method, settings=controller.DEFAULT_SETTINGS
    )


def _runs(store: Store, sweep_id: str) -> dict:
    """The sweep's runs by x (each point once: a second run of a point fails here)."""
    runs = {}
    for run in store.list_runs(sweep_id):
        assert run["params"]["x"] not in runs, f"point x={run['params']['x']} ran twice"
        runs[run["params"]["x"]] = run
    return runs


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def train(config):
    run = hypersweep.init()
    assert run.config == config and run.id == os.environ["HYPERSWEEP_RUN_ID"]
    time.sleep(0.2)
    run.log({"score": config.x * 10})


def test_function_agents_and_a_cli_agent_share_a_grid(store, store_url, tmp_path):
    sweep_id = _sweep(store, list(range(16)), program=True)
    cli_agent = start_hypersweep(store_url, "agent", sweep_id, cwd=tmp_path)
    try:
        wait_for(lambda: store.list_workers(sweep_id), what="the CLI agent", timeout=30)
        hypersweep.agent(sweep_id, function=train, jobs=2, store=store_url)
        out, _ = cli_agent.communicate(timeout=60)
    finally:
        if cli_agent.poll() is None:
            cli_agent.kill()
    assert cli_agent.returncode == 0, out
    runs = _runs(store, sweep_id)
    assert sorted(runs) == list(range(16))
    assert all(r["state"] == s.FINISHED for r in runs.values()), runs
    by_function = [r for r in runs.values() if r["command"] == ["<function train>"]]
    # toy.py logs x * 10 + step for steps 0..2; train logs x * 10
    assert all(
        r["summary"]["score"] == r["params"]["x"] * 10 + (0 if r in by_function else 2)
        for r in runs.values()
    )
    workers = {r["worker_id"] for r in by_function}
    assert by_function and len(by_function) < 16 and len(workers) == 2
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FINISHED


def no_parameters():
    run = hypersweep.init()
    print(f"score={run.config.x + 1}")  # a metric line on stdout, as a program's
    run.log({"seen": run.config["x"]})


def test_config_forms_failures_and_exit_codes(store):
    sweep_id = _sweep(store, [1, 2, 3, 4, 5])

    def varied(config):
        if config.x == 2:
            raise ValueError(f"boom at {config.x}")
        if config.x == 3:
            sys_stdout_line = "about to leave"
            print(sys_stdout_line, flush=True)
            os._exit(3)
        if config.x == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        if config.x == 5:
            return no_parameters()  # no config parameter: hypersweep.init().config
        hypersweep.init().log({"score": config.x})

    hypersweep.agent(sweep_id, function=varied, store=store)
    runs = _runs(store, sweep_id)
    assert runs[1]["state"] == s.FINISHED and runs[1]["summary"]["score"] == 1
    assert runs[2]["state"] == s.FAILED and runs[2]["exit_code"] == 1
    assert "Traceback" in runs[2]["log_tail"]
    assert "ValueError: boom at 2" in runs[2]["log_tail"].splitlines()[-1]
    assert runs[3]["state"] == s.FAILED and runs[3]["message"] == "exit code 3"
    assert "about to leave" in runs[3]["log_tail"]
    assert runs[4]["state"] == s.FAILED
    assert runs[4]["message"] == "killed by signal 9 (out of memory?)"

    sweep_id = _sweep(store, [7])
    hypersweep.agent(sweep_id, function=no_parameters, store=store)
    run = _runs(store, sweep_id)[7]
    assert run["state"] == s.FINISHED and run["summary"]["seen"] == 7
    # The client spoke: its records are the metrics, the stdout line only a log line.
    assert "score=8" in run["log_tail"] and "score" not in run["summary"]


def test_count_per_agent_and_a_function_defined_at_runtime(store):
    namespace: dict = {}
    # As a notebook cell: the function exists only in this process's memory.
    exec(
        "import hypersweep\n"
        "def cell(config):\n"
        "    hypersweep.init().log({'score': config['x'] * 2})\n",
        namespace,
    )
    sweep_id = _sweep(store, list(range(6)))
    hypersweep.agent(sweep_id, function=namespace["cell"], count=2, store=store)
    assert len(store.list_runs(sweep_id)) == 2
    hypersweep.agent(sweep_id, function=namespace["cell"], count=1, jobs=2, store=store)
    runs = _runs(store, sweep_id)
    assert len(runs) == 4
    assert all(r["state"] == s.FINISHED and r["summary"]["score"] == x * 2 for x, r in runs.items())
    assert all(r["command"] == ["<function cell>"] for r in runs.values())


def test_in_process_records_exceptions_and_restores_the_environment(store):
    seen = []

    def flaky():
        run = hypersweep.init()  # each call reads this run's environment anew
        seen.append((run.id, run.config.x, os.getpid()))
        run.log({"score": run.config.x})
        if run.config.x == 2:
            raise RuntimeError("not this one")

    sweep_id = _sweep(store, [1, 2, 3])
    hypersweep.agent(sweep_id, function=flaky, in_process=True, store=store)
    runs = _runs(store, sweep_id)
    assert [(x, pid) for _, x, pid in seen] == [
        (1, os.getpid()),
        (2, os.getpid()),
        (3, os.getpid()),
    ]
    assert [run_id for run_id, _, _ in seen] == [runs[x]["id"] for x in (1, 2, 3)]
    assert runs[1]["state"] == runs[3]["state"] == s.FINISHED
    assert runs[2]["state"] == s.FAILED and runs[2]["summary"]["score"] == 2
    assert runs[2]["message"] == "RuntimeError: not this one"
    assert "RuntimeError: not this one" in runs[2]["log_tail"]
    assert "HYPERSWEEP_RUN_ID" not in os.environ and "HYPERSWEEP_METRICS_FILE" not in os.environ

    sweep_id = _sweep(store, [2])
    with pytest.raises(RuntimeError, match="not this one"):
        hypersweep.agent(sweep_id, function=flaky, in_process=True, raise_errors=True, store=store)
    assert _runs(store, sweep_id)[2]["state"] == s.FAILED


def test_ctrl_c_stops_the_calls_and_records_them_killed(store, tmp_path):
    sweep_id = _sweep(store, list(range(4)))

    def sleeper(config):
        hypersweep.init()
        time.sleep(120)

    def interrupt() -> None:
        wait_for(lambda: len(store.list_runs(sweep_id, [s.RUNNING])) == 2, what="two runs")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal or a notebook sends it

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        hypersweep.agent(sweep_id, function=sleeper, jobs=2, store=store)
    assert time.monotonic() - started < 60
    runs = store.list_runs(sweep_id)
    assert len(runs) == 2 and all(r["state"] == s.KILLED for r in runs), runs
    assert not any(_alive(r["pid"]) for r in runs)  # each call's child, stopped and reaped
    assert not processes_of_runs({r["id"] for r in runs})
    assert all(w["state"] != "running" for w in store.list_workers(sweep_id, running_only=False))


def test_stop_from_the_dashboard_and_kill_reach_a_call(store, cli):
    sweep_id = _sweep(store, [1, 2, 3])

    def sleeper(config):
        hypersweep.init().log({"score": config.x})
        time.sleep(120)

    def operate() -> None:
        first = wait_for(lambda: store.list_runs(sweep_id, [s.RUNNING]), what="run 1")[0]
        wait_for(lambda: store.get_run(first["id"])["summary"], what="run 1's score")
        sweep_ops.stop_run(store, first["id"])  # as the dashboard's Stop button
        wait_for(
            lambda: [r for r in store.list_runs(sweep_id, [s.RUNNING]) if r["id"] != first["id"]],
            what="run 2",
        )
        cli("kill", sweep_id)

    thread = threading.Thread(target=operate, daemon=True)
    thread.start()
    hypersweep.agent(sweep_id, function=sleeper, store=store)
    thread.join(30)
    runs = _runs(store, sweep_id)
    assert sorted(runs) == [1, 2]
    assert runs[1]["state"] == s.STOPPED_EARLY and runs[1]["summary"]["score"] == 1
    assert runs[2]["state"] == s.KILLED
    assert not any(_alive(r["pid"]) for r in runs.values())
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_CANCELLED


def test_a_sweep_without_program_is_for_function_agents(store, cli):
    sweep_id = _sweep(store, [1, 2])  # no program, as a W&B function sweep
    result = cli("agent", sweep_id)  # nothing to spawn: it leaves without claiming a point
    assert "the sweep has no program" in result.stderr
    assert store.list_runs(sweep_id) == []
    hypersweep.agent(sweep_id, function=train, store=store)
    runs = _runs(store, sweep_id)
    assert {x: r["state"] for x, r in runs.items()} == {1: s.FINISHED, 2: s.FINISHED}
