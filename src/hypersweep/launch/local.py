"""Local workers: N agent processes on this machine, replaced if one dies, stopped together."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from ..agent import log_root
from ..agent.process import (
    processes_of_runs,
    signal_on_parent_death,
    stop_process,
    stop_processes,
    stop_runs,
)
from ..files import open_private, private_dir
from ..store import Store, new_id
from ..store import schema as s
from .base import recover_dead_worker


@dataclass
class WorkerSlot:
    index: int
    gpu_ids: str | None
    worker_id: str = ""
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0


class LocalLauncher:
    """Starts and supervises the agents of one sweep. The agents do the work; this only
    keeps N of them alive and cleans up after one that died."""

    def __init__(
        self, store: Store, sweep_id: str, gpu_layout: list[str | None], workdir: str
    ) -> None:
        self.store = store
        self.sweep_id = sweep_id
        self.workdir = workdir
        self.slots = [WorkerSlot(i, gpus) for i, gpus in enumerate(gpu_layout)]
        self.notices: list[str] = []  # things the user should hear about, drained by the CLI
        self._log_dir = log_root(store) / sweep_id
        private_dir(self._log_dir)  # 0700, as the agents' run logs in it

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: WorkerSlot) -> None:
        slot.worker_id = new_id()
        log = open_private(self._log_dir / f"worker-{slot.worker_id}.log")
        slot.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypersweep.agent",
                self.store.url,
                self.sweep_id,
                slot.worker_id,
                *([] if slot.gpu_ids is None else [slot.gpu_ids]),
            ],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C in the terminal reaches only us; we stop the agents in order.
            start_new_session=True,
            # We SIGKILLed: each agent gets SIGTERM, stops its program and records the run
            # as killed, rather than running on unsupervised.
            preexec_fn=signal_on_parent_death(signal.SIGTERM),
        )
        log.close()

    def alive(self) -> int:
        return sum(1 for slot in self.slots if slot.process and slot.process.poll() is None)

    def poll(self) -> None:
        """Notice agents that died without cleaning up (SIGKILL, OOM): their runs are
        crashed and their programs stopped, then a replacement takes the slot."""
        for slot in self.slots:
            if slot.process is None or slot.process.poll() is None:
                continue
            code = slot.process.returncode
            slot.process = None
            if code == 0:
                continue  # left normally: the sweep has nothing more for it
            note = recover_dead_worker(
                self.store,
                self.sweep_id,
                slot,
                what=f"worker process {slot.worker_id} died (exit code {code})",
                stop_programs=lambda runs: stop_runs(runs, 5),
                respawn=lambda slot=slot: self._spawn(slot),
            )
            self.notices.append(note)

    def stop(self, grace: float = 15.0) -> None:
        """Ask every agent to stop (they kill their programs and record the runs as killed),
        then make sure: SIGKILL stragglers and their programs' process groups."""
        live = [slot.process for slot in self.slots if slot.process and slot.process.poll() is None]
        for proc in live:
            proc.terminate()
        deadline = time.monotonic() + grace
        for proc in live:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for slot in self.slots:
            if slot.worker_id:
                leftovers = self.store.crash_worker_runs(slot.worker_id, "stopped with its worker")
                stop_runs(leftovers, grace=5)
            slot.process = None


def this_host() -> str:
    return socket.gethostname()


def stop_sweep_processes(store: Store, sweep_id: str, grace: float = 10.0) -> dict[str, int]:
    """Stop, on this host, every program and worker of the sweep (used by `kill`). The caller
    has already set the sweep cancelled, so agents elsewhere stop at their next heartbeat.
    Programs go first, with every process that carries one of the sweep's run ids, so that
    what left a program's group (setsid) goes too, even if its agent is gone; then the
    agents, which stop and reap what is left below them."""
    host = this_host()
    runs_here = [r for r in store.list_runs(sweep_id) if r["host"] == host]
    active = [r for r in runs_here if r["state"] in s.ACTIVE_RUN_STATES]
    with store.write() as conn:
        for run in active:
            store.end_run(conn, run["id"], s.KILLED, message="sweep killed")
    # Ended runs' ids too (a leftover of an agent that died earlier), but not their pids:
    # a group that ended long ago may since have been reused.
    ids = {r["id"] for r in runs_here}
    stop_processes(
        [r["pid"] for r in active if r["pid"]], grace, find=lambda: processes_of_runs(ids)
    )
    workers = [w for w in store.list_workers(sweep_id) if w["host"] == host]
    for worker in workers:
        stop_process(worker["pid"], worker["pid_started"], grace)
        store.end_worker(worker["id"], "stopped")
    remote = [r for r in store.list_runs(sweep_id, s.ACTIVE_RUN_STATES) if r["host"] != host]
    return {"runs": len(active), "workers": len(workers), "remote_runs": len(remote)}
