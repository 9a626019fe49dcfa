"""Fault injection with real processes: a PostgreSQL server of the test's own (its own data
directory and port, stopped and started again mid-sweep), SQLite locked past its busy
timeout, and an agent frozen with SIGSTOP past the heartbeat timeout. Nothing finished
during a fault may be lost, and no point may end with two results."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import PROGRAMS, start_hypersweep, wait_for, wait_for_sweep

from hypersweep.store import Store
from hypersweep.store import schema as s

pytestmark = pytest.mark.faults

GRID = """
program: {toy}
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: [1, 2, 3, 4]}}
  sleep: {{value: {sleep}}}
  release: {{value: {release}}}
"""


def write_grid(directory: Path, sleep: float, release: Path | str = "") -> Path:
    path = directory / "sweep.yaml"
    path.write_text(GRID.format(toy=PROGRAMS / "toy.py", sleep=sleep, release=release or "''"))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnPostgres:
    """A PostgreSQL server for one test, run as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        # Outside pytest's tmp_path: the postgres user cannot enter root's 0700 folders.
        self.root = Path(tempfile.mkdtemp(prefix="hypersweep-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*prefix, *command], check=True, capture_output=True, timeout=120, cwd="/tmp"
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed")
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def assert_each_point_once(store: Store, sweep_id: str, points: int) -> list[dict]:
    finished = store.list_runs(sweep_id, [s.FINISHED])
    assert sorted(r["params"]["x"] for r in finished) == list(range(1, points + 1))
    for run in finished:
        assert run["summary"].get("score") is not None, run
    return finished


def test_a_postgresql_outage_is_ridden_out_and_nothing_is_lost(own_postgres, tmp_path):
    """`run` with a worker and a hand-started agent; the server goes away while programs
    run and finish, for longer than the heartbeat timeout, then comes back."""
    release = tmp_path / "release"
    sweep_file = write_grid(tmp_path, sleep=60, release=release)
    runner = start_hypersweep(own_postgres.url, "run", str(sweep_file), "--no-ui", cwd=tmp_path)
    store = Store(own_postgres.url)
    agent = None
    try:
        sweep_id = wait_for(
            lambda: runner.poll() is not None or store.list_sweeps(), what="the sweep"
        )
        assert runner.poll() is None, runner.communicate()[0]
        sweep_id = store.list_sweeps()[0]["id"]
        agent = start_hypersweep(own_postgres.url, "agent", sweep_id, cwd=tmp_path)
        wait_for(lambda: len(store.list_runs(sweep_id, [s.RUNNING])) == 2, what="two runs")
        store.close()
        own_postgres.stop()
        release.touch()  # both programs finish during the outage, exit 0
        time.sleep(6)  # the fault itself: longer than the heartbeat timeout (4 s here)
        own_postgres.start()
        output, _ = runner.communicate(timeout=180)
        agent_output, _ = agent.communicate(timeout=60)
    finally:
        runner.kill()
        if agent is not None:
            agent.kill()
    assert runner.returncode == 0, output
    assert agent.returncode == 0, agent_output
    assert "store unreachable, retrying" in output
    store = Store(own_postgres.url)
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FINISHED
    assert_each_point_once(store, sweep_id, 4)
    runs = store.list_runs(sweep_id)
    assert [r["state"] for r in runs] == [s.FINISHED] * 4, [
        (r["state"], r["message"]) for r in runs
    ]
    store.close()


def test_sqlite_locked_past_its_busy_timeout_is_ridden_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERSWEEP_SQLITE_BUSY_TIMEOUT", "0.5")
    database = tmp_path / "store.db"
    url = f"sqlite:///{database}"
    release = tmp_path / "release"
    sweep_file = write_grid(tmp_path, sleep=60, release=release)
    runner = start_hypersweep(url, "run", str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path)
    try:
        store = Store(url)
        sweep_id = wait_for_sweep(store)
        wait_for(lambda: len(store.list_runs(sweep_id, [s.RUNNING])) == 2, what="two runs")
        blocker = sqlite3.connect(database, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")  # every other writer and reader waits
        release.touch()
        time.sleep(3)  # the fault: six busy timeouts long
        blocker.rollback()
        blocker.close()
        output, _ = runner.communicate(timeout=180)
    finally:
        runner.kill()
    assert runner.returncode == 0, output
    # WAL readers are not blocked, so `run` saw nothing; its agents' writes waited it out.
    agent_logs = "".join(p.read_text() for p in (tmp_path / "logs" / sweep_id).glob("worker-*"))
    assert "store unreachable, retrying" in agent_logs
    assert "store reachable again" in agent_logs
    assert [r["state"] for r in store.list_runs(sweep_id)] == [s.FINISHED] * 4
    assert_each_point_once(store, sweep_id, 4)


def _agent_of(store: Store, run: dict) -> psutil.Process:
    [worker] = [
        w for w in store.list_workers(run["sweep_id"], False) if w["id"] == run["worker_id"]
    ]
    return psutil.Process(worker["pid"])


def test_a_frozen_agent_keeps_its_late_result_and_the_retry_stops(tmp_path):
    """SIGSTOP an agent past the heartbeat timeout: its run is taken for crashed and the
    point is retried. Its program finishes meanwhile; when the agent wakes, that result is
    kept and the retry, still running, is stopped: one result for the point."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        f"program: {PROGRAMS / 'toy.py'}\nmethod: grid\n"
        "metric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1, 2]}\n  sleep: {value: 3}\n"
    )
    runner = start_hypersweep(url, "run", str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path)
    try:
        store = Store(url)
        sweep_id = wait_for_sweep(store)
        first = wait_for(
            lambda: [r for r in store.list_runs(sweep_id, [s.RUNNING]) if r["pid"]],
            what="a program",
        )[0]
        agent = _agent_of(store, first)
        agent.send_signal(signal.SIGSTOP)
        try:
            wait_for(
                lambda: store.get_run(first["id"])["state"] == s.CRASHED,
                timeout=60,
                what="the frozen agent's run taken for crashed",
            )
            retry = wait_for(
                lambda: [
                    r
                    for r in store.list_runs(sweep_id, [s.RUNNING])
                    if r["point_index"] == first["point_index"] and r["attempt"] == 2
                ],
                timeout=60,
                what="the retry",
            )[0]
            # The original program ran to its end while its agent was frozen.
            wait_for(
                lambda: psutil.Process(first["pid"]).status() == psutil.STATUS_ZOMBIE,
                what="the original program to exit",
            )
        finally:
            agent.send_signal(signal.SIGCONT)
        output, _ = runner.communicate(timeout=120)
    finally:
        runner.kill()
    assert runner.returncode == 0, output + str(
        [(r["id"], r["attempt"], r["state"], r["message"]) for r in store.list_runs(sweep_id)]
    )
    original = store.get_run(first["id"])
    assert original["state"] == s.FINISHED and original["exit_code"] == 0
    stopped = store.get_run(retry["id"])
    assert stopped["state"] == s.KILLED and stopped["superseded"]
    assert stopped["message"].startswith(f"superseded: attempt 1 (run {first['id']})")
    assert_each_point_once(store, sweep_id, 2)
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FINISHED


def test_a_frozen_agent_whose_program_still_runs_takes_its_run_back(tmp_path):
    """Woken while its program still runs: the agent learns at once that its run was taken
    for crashed, takes it back (the retry stops), and the original runs to its end."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    release = tmp_path / "release"
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        f"program: {PROGRAMS / 'toy.py'}\nmethod: grid\n"
        "metric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1]}\n  sleep: {value: 60}\n"
        f"  release: {{value: {release}}}\n"
    )
    runner = start_hypersweep(url, "run", str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path)
    try:
        store = Store(url)
        sweep_id = wait_for_sweep(store)
        first = wait_for(
            lambda: [r for r in store.list_runs(sweep_id, [s.RUNNING]) if r["pid"]],
            what="a program",
        )[0]
        agent = _agent_of(store, first)
        agent.send_signal(signal.SIGSTOP)
        try:
            retry = wait_for(
                lambda: [r for r in store.list_runs(sweep_id, [s.RUNNING]) if r["attempt"] == 2],
                timeout=60,
                what="the retry",
            )[0]
        finally:
            agent.send_signal(signal.SIGCONT)
        wait_for(
            lambda: store.get_run(retry["id"])["state"] == s.KILLED,
            timeout=30,
            what="the retry to be stopped",
        )
        assert store.get_run(first["id"])["state"] == s.RUNNING
        release.touch()
        output, _ = runner.communicate(timeout=120)
    finally:
        runner.kill()
    assert runner.returncode == 0, output
    assert store.get_run(first["id"])["state"] == s.FINISHED
    assert [r["id"] for r in store.list_runs(sweep_id, [s.FINISHED])] == [first["id"]]
