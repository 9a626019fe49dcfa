"""`ps` and `logs --follow` against a live sweep, then `kill`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import psutil
from conftest import (
    running_programs,
    start_hypersweep,
    wait_for,
    wait_for_sweep,
)

# Each run prints a line, then holds until the test opens its gate (a file named after the
# run id), with a deadline so that nothing is left behind if the test fails.
GATED_PROGRAM = """
import os, time
gate = os.path.join({gates!r}, os.environ["HYPERSWEEP_RUN_ID"])
print("toy: working", flush=True)
deadline = time.monotonic() + 120
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.05)
print("toy: done", flush=True)
"""

SWEEP = """
program: gated.py
method: grid
parameters:
  x: {values: [1, 2]}
"""


class Reader:
    """Collects a process's stdout lines on a thread, so tests can poll them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self, timeout: float = 10) -> str:
        """All the output, once the process has closed its end."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "output still open"
        return "\n".join(self.lines)


def test_ps_and_logs_follow_on_a_live_sweep_then_kill(cli, store, store_url, tmp_path):
    gates = tmp_path / "gates"
    gates.mkdir()
    (tmp_path / "gated.py").write_text(GATED_PROGRAM.format(gates=str(gates)))
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    runner = start_hypersweep(store_url, "run", "sweep.yaml", "--jobs", "2", cwd=tmp_path)
    runner_out = Reader(runner)
    try:
        sweep_id = wait_for_sweep(store)

        def both_working():
            runs = running_programs(store, sweep_id)
            if len(runs) != 2:
                return None
            for run in runs:
                log = Path(run["log_path"])
                if not log.exists() or "toy: working" not in log.read_text():
                    return None
            return runs

        running = wait_for(both_working, what="two runs printing")
        by_x = {r["params"]["x"]: r for r in running}
        assert set(by_x) == {1, 2}

        # ps --json: the sweep, its two live workers and its two running runs.
        [doc] = json.loads(cli("ps", "--json").stdout)
        assert doc["id"] == sweep_id and doc["state"] == "running"
        assert doc["counts"] == {"running": 2}
        workers = doc["workers"]
        assert len(workers) == 2
        assert {w["id"] for w in workers} == {r["worker_id"] for r in running}
        assert all(w["host"] == socket.gethostname() for w in workers)
        assert len({w["pid"] for w in workers}) == 2
        for worker in workers:
            assert "hypersweep.agent" in " ".join(psutil.Process(worker["pid"]).cmdline())
        assert sorted((r["state"], r["params"]["x"]) for r in doc["runs"]) == [
            ("running", 1),
            ("running", 2),
        ]
        assert {r["pid"] for r in doc["runs"]} == {r["pid"] for r in running}
        assert json.loads(cli("ps", sweep_id, "--json").stdout)[0]["id"] == sweep_id

        # ps as text: the sweep, each worker by id, each running run.
        text = cli("ps").stdout
        assert sweep_id in text and "2 workers" in text and "2 running" in text
        for worker in workers:
            assert f"worker {worker['id']}" in text
            assert f"pid {worker['pid']}" in text
        for run in running:
            assert run["id"] in text

        # logs without --follow: what is there now, and it returns at once.
        first, second = by_x[1], by_x[2]
        now = cli("logs", second["id"]).stdout
        assert "toy: working" in now and "toy: done" not in now

        # logs --follow: prints as the program writes and leaves once the run has ended.
        follower = start_hypersweep(store_url, "logs", first["id"], "--follow", cwd=tmp_path)
        followed = Reader(follower)
        try:
            wait_for(lambda: "toy: working" in followed.lines, what="logs --follow output")
            assert follower.poll() is None  # the run is still going: it keeps following
            (gates / first["id"]).touch()
            assert follower.wait(timeout=30) == 0
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        wait_for(lambda: "toy: done" in followed.lines, timeout=5, what="the end of the log")
        assert store.get_run(first["id"])["state"] == "finished"
        assert followed.lines.index("toy: working") < followed.lines.index("toy: done")

        # kill: the sweep is cancelled, its run killed, every process gone.
        out = cli("kill", sweep_id).stdout
        assert f"sweep {sweep_id} cancelled" in out
        assert runner.wait(timeout=60) == 1
        assert f"sweep {sweep_id} was cancelled" in runner_out.text()
        assert store.get_sweep(sweep_id)["state"] == "cancelled"
        assert store.get_run(second["id"])["state"] == "killed"
        assert store.get_run(first["id"])["state"] == "finished"
        assert store.list_workers(sweep_id) == []
        wait_for(
            lambda: (
                not psutil.pid_exists(second["pid"])
                or psutil.Process(second["pid"]).status() == psutil.STATUS_ZOMBIE
            ),
            timeout=15,
            what="the killed program to exit",
        )
        assert json.loads(cli("ps", "--json").stdout) == []
    finally:
        if runner.poll() is None:
            cli("kill", "--all", check=False)
            try:
                runner.wait(timeout=30)
            except subprocess.TimeoutExpired:
                runner.kill()
                runner.wait()
        for run_id in (r["id"] for r in store.list_runs()):
            (gates / run_id).touch()  # release any program left holding
