"""No process outlives its run: a program's child that calls setsid() leaves the program's
process group, so a group signal misses it. The agent is a child subreaper and stops every
descendant at the end of a run; `kill` also finds such processes by the run id in their
environment. Processes are read from /proc (tests/programs/toy.py --setsid_child)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import hypersweep_cmd, start_hypersweep, wait_for, wait_for_sweep, write_sweep

from hypersweep.store import Store

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, prctl")

LONG_RUNS = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4]}
  sleep: {value: 120}
  setsid_child: {value: true}
"""

# One worker: a quick run, then a long one that keeps the agent busy meanwhile.
QUICK_THEN_LONG = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {value: 1}
  sleep: {values: [0, 120]}
  setsid_child: {value: true}
"""


def _proc(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def _state_and_ppid(pid: int) -> tuple[str, int]:
    fields = _proc(pid, "stat").decode().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def tagged(marker: Path) -> dict[int, dict[str, str]]:
    """Live processes (zombies have exited) whose environment has TOY_PID_DIR=marker:
    pid -> {"run": its HYPERSWEEP_RUN_ID, "loner": whether it is the setsid'd grandchild}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            env = dict(
                item.split(b"=", 1) for item in _proc(pid, "environ").split(b"\0") if b"=" in item
            )
            if env.get(b"TOY_PID_DIR") != str(marker).encode() or _state_and_ppid(pid)[0] == "Z":
                continue
            found[pid] = {
                "run": env.get(b"HYPERSWEEP_RUN_ID", b"").decode(),
                "loner": b"os.setsid()" in _proc(pid, "cmdline"),
            }
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours
    return found


def loners(marker: Path) -> dict[int, str]:
    """The setsid'd grandchildren: pid -> run id."""
    return {pid: p["run"] for pid, p in tagged(marker).items() if p["loner"]}


def zombie_children(pid: int) -> list[int]:
    zombies = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                state, ppid = _state_and_ppid(int(entry))
            except OSError:
                continue
            if ppid == pid and state == "Z":
                zombies.append(int(entry))
    return zombies


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "pids"
    path.mkdir()
    return path


def _running_with_loners(store: Store, sweep_id: str, marker: Path, n: int) -> list[dict]:
    """Wait until `n` long runs are running, each with its setsid'd grandchild."""

    def ready() -> list[dict] | None:
        running = [r for r in store.list_runs(sweep_id, ["running"]) if r["pid"]]
        long_runs = [r for r in running if r["params"]["sleep"] == 120]
        with_loner = set(loners(marker).values())
        return (
            long_runs
            if len(long_runs) >= n and {r["id"] for r in long_runs} <= with_loner
            else None
        )

    return wait_for(ready, what=f"{n} long runs with a setsid'd grandchild each")


def test_end_of_run_stops_and_reaps_what_left_the_group(store_url, tmp_path, marker):
    sweep_file = write_sweep(tmp_path, QUICK_THEN_LONG)
    store = Store(store_url)
    sweep_id = subprocess.run(
        hypersweep_cmd("--store", store_url, "sweep", str(sweep_file)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    agent = start_hypersweep(
        store_url, "agent", sweep_id, cwd=tmp_path, env={"TOY_PID_DIR": str(marker)}
    )
    try:
        [long_run] = _running_with_loners(store, sweep_id, marker, 1)
        [quick] = [r for r in store.list_runs(sweep_id) if r["params"]["sleep"] == 0]
        assert quick["state"] == "finished"
        # The quick run's grandchild left its group; its run is over, so it is gone too,
        # and the agent (its subreaper) has collected it: no zombie left behind.
        assert quick["id"] not in loners(marker).values()
        agent_pid = store.list_workers(sweep_id)[0]["pid"]
        assert zombie_children(agent_pid) == []
        assert long_run["id"] in loners(marker).values()
        # Ctrl-C on `agent`: the long run is stopped with everything below it.
        agent.send_signal(signal.SIGINT)
        agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert tagged(marker) == {}
    assert store.get_run(long_run["id"])["state"] == "killed"


def test_kill_leaves_no_setsid_grandchild(cli, store_url, tmp_path, marker):
    sweep_file = write_sweep(tmp_path, LONG_RUNS)
    runner = start_hypersweep(
        store_url, "run", str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path,
        env={"TOY_PID_DIR": str(marker)},
    )  # fmt: skip
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    _running_with_loners(store, sweep_id, marker, 2)
    cli("kill", sweep_id)
    runner.communicate(timeout=60)
    wait_for(lambda: not tagged(marker), timeout=15, what="no process of the sweep left")


def test_ctrl_c_on_run_leaves_no_setsid_grandchild(store_url, tmp_path, marker):
    sweep_file = write_sweep(tmp_path, LONG_RUNS)
    runner = start_hypersweep(
        store_url, "run", str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path,
        env={"TOY_PID_DIR": str(marker)},
    )  # fmt: skip
    store = Store(store_url)
    sweep_id = wait_for_sweep(store)
    _running_with_loners(store, sweep_id, marker, 2)
    runner.send_signal(signal.SIGINT)
    runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert tagged(marker) == {}


def test_kill_finds_what_a_sigkilled_agent_left(cli, store_url, tmp_path, marker):
    """A SIGKILLed agent cannot clean up: its program dies with it (parent-death signal),
    but the setsid'd grandchild is re-parented to init and runs on. `kill` finds it by the
    run id in its environment."""
    sweep_file = write_sweep(tmp_path, LONG_RUNS)
    sweep_id = cli("sweep", str(sweep_file)).stdout.strip()
    agent = start_hypersweep(
        store_url, "agent", sweep_id, cwd=tmp_path, env={"TOY_PID_DIR": str(marker)}
    )
    store = Store(store_url)
    [run] = _running_with_loners(store, sweep_id, marker, 1)
    agent.kill()
    agent.communicate(timeout=30)
    wait_for(
        lambda: list(loners(marker)) == list(tagged(marker)),
        timeout=15,
        what="the program to die with its agent",
    )
    assert list(loners(marker).values()) == [run["id"]]  # what remains after a SIGKILL
    cli("kill", sweep_id)
    wait_for(lambda: not tagged(marker), timeout=15, what="no process of the sweep left")
