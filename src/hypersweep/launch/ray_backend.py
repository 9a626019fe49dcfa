"""Ray workers: each worker is a Ray task that asks Ray for its CPUs and GPUs, so Ray places
it on a node with room; inside the task the usual agent process claims and runs programs.
Ray is an optional dependency: it is imported only when this backend is used."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ..agent import log_root
from ..agent.process import signal_on_parent_death, stop_runs
from ..store import Store, new_id
from .base import recover_dead_worker
from .local import this_host

INSTALL_HINT = "--backend ray needs Ray: pip install 'hypersweep[ray]' (or 'ray[default]')"
# Not shipped to the cluster with the working directory: stores, logs, environments.
WORKING_DIR_EXCLUDES = [".hypersweep/", ".git/", ".venv/", "venv/", "__pycache__/"]
# The agent's own settings (heartbeat interval and timeout, log directory) follow it.
FORWARDED_ENV_PREFIX = "HYPERSWEEP_"
AGENT_STOP_GRACE_S = 15.0


class RayLaunchError(Exception):
    """Ray cannot run this sweep as asked. str() is one line."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayLaunchError(INSTALL_HINT) from None
    return ray


def run_agent(store_url: str, sweep_id: str, worker_id: str, env: dict[str, str]) -> int:
    """The Ray task: run one agent process here and return its exit code. The agent is a
    child process, as with local workers. A plain ray.cancel stops it in order (SIGTERM:
    it records its run killed); if the task's worker dies (node loss, force cancel) the
    agent gets SIGTERM from its parent-death signal or is SIGKILLed by Ray."""
    import ray

    from ..agent.__main__ import BACKEND_ENV, NODE_ENV

    # Ray sets CUDA_VISIBLE_DEVICES to the GPUs it gave this task; record them as the
    # worker's (an empty string when it asked for none).
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES") if ray.get_gpu_ids() else None
    node = ray.get_runtime_context().get_node_id()
    command = [sys.executable, "-m", "hypersweep.agent", store_url, sweep_id, worker_id]
    with _interruptible():
        proc = subprocess.Popen(
            [*command, *([] if gpus is None else [gpus])],
            env={**os.environ, **env, BACKEND_ENV: "ray", NODE_ENV: node},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=signal_on_parent_death(15),  # SIGTERM: the agent records its run killed
        )
        try:
            while True:
                # Waiting with a timeout runs Python code between polls: ray.cancel's
                # KeyboardInterrupt can only be raised there, never inside a blocking waitpid.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return proc.wait(timeout=1.0)
        except KeyboardInterrupt:  # ray.cancel(force=False): stop the agent in order
            proc.terminate()
            try:
                return proc.wait(AGENT_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """A plain ray.cancel interrupts the task as Ctrl-C would (_thread.interrupt_main), which
    does nothing where SIGINT is ignored, as in the Ray instance that `run` starts (see
    connect). Python's own Ctrl-C handler while the task runs; the worker's afterwards."""
    try:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: nothing to restore
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class RaySlot:
    index: int
    worker_id: str = ""
    ref: Any = None  # the ObjectRef of the running task, None once it ended
    restarts: int = 0


@dataclass
class RayResources:
    cpus: float = 1.0
    gpus: float = 0.0


class RayLauncher:
    """Same contract as LocalLauncher (start, poll, alive, stop, notices), with Ray tasks
    instead of local processes. The store stays the source of truth: the tasks only host
    agents, and a task that died has its run crashed and its point handed out again."""

    def __init__(
        self, store: Store, jobs: int, resources: RayResources, address: str | None = None
    ) -> None:
        self.store = store
        self.sweep_id = ""  # set by attach(): we connect before the sweep exists
        self.resources = resources
        self.address = address
        self.slots = [RaySlot(i) for i in range(jobs)]
        self.notices: list[str] = []
        self._ray: Any = None
        self._task: Any = None
        self._env: dict[str, str] = {}
        self.cluster_is_local = False

    # ------------------------------------------------------------ connecting

    def connect(self, working_dir: str) -> dict[str, float]:
        """Join the Ray cluster (or start a local one) shipping `working_dir`, check the
        cluster can hold one worker and reach the store. Returns the cluster's resources."""
        ray = import_ray()
        target = ray_target(self.address)
        check_reachable(ray, target)  # ray.init retries an unreachable address for ever
        runtime_env = {"working_dir": working_dir, "excludes": WORKING_DIR_EXCLUDES}
        # A Ray instance started here would share our process group: Ctrl-C in the terminal
        # would kill it under its workers. Started with SIGINT ignored (inherited), it
        # stays up while we stop the workers in order.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if target == "local" else None
        try:
            ray.init(
                address=target,
                runtime_env=runtime_env,
                log_to_driver=False,  # agents' chatter would garble the progress display
                logging_level="ERROR",
            )
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; each becomes one line
            raise RayLaunchError(self._connect_error(exc, working_dir)) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        try:
            total = ray.cluster_resources()
            self.cluster_is_local = _all_nodes_here(ray)
            self._check(total)
        except RayLaunchError:
            ray.shutdown()
            raise
        self._ray = ray
        self._env = self._agent_env()
        return total

    def _make_task(self) -> Any:
        return self._ray.remote(run_agent).options(
            num_cpus=self.resources.cpus,
            num_gpus=self.resources.gpus,
            max_retries=0,  # a lost worker's run is handed out again by the store, not Ray
            name="hypersweep-agent",
        )

    def _connect_error(self, exc: Exception, working_dir: str) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "exceeds the maximum size" in text:
            return (
                f"working directory {working_dir} is too large to ship to Ray ({text}) "
                "list big files in .gitignore or move them out, then run again"
            )
        where = self.address or os.environ.get("RAY_ADDRESS") or "a new local Ray instance"
        return f"cannot start Ray workers on {where}: {text}"

    def _check(self, total: dict[str, float]) -> None:
        for name, wanted in (("CPU", self.resources.cpus), ("GPU", self.resources.gpus)):
            if wanted > total.get(name, 0.0):
                raise RayLaunchError(
                    f"each worker asks for {wanted:g} {name}s but the Ray cluster has "
                    f"{total.get(name, 0.0):g}: lower --{name.lower()}s-per-job"
                )
        backend = make_url(self.store.engine.url).get_backend_name()
        if backend == "sqlite" and not self.cluster_is_local:
            raise RayLaunchError(
                "the Ray cluster has nodes on other machines, which cannot reach a SQLite "
                "store: use --store postgresql://user@host/db"
            )

    def _agent_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIX)}
        env.pop("HYPERSWEEP_STORE", None)  # the store URL is passed explicitly
        if self.cluster_is_local:
            # Logs where `hypersweep logs` looks, not in Ray's copy of the working directory.
            env.setdefault("HYPERSWEEP_LOG_DIR", str(log_root(self.store).resolve()))
        return env

    def attach(self, sweep_id: str) -> None:
        self.sweep_id = sweep_id

    def describe(self) -> str:
        jobs = len(self.slots)
        asks = f"{self.resources.cpus:g} CPU"
        if self.resources.gpus:
            asks += f" + {self.resources.gpus:g} GPU"
        where = "local Ray" if self.cluster_is_local else "Ray cluster"
        return f"{jobs} Ray worker{'s' if jobs > 1 else ''} ({asks} each) on {where}"

    # ------------------------------------------------------------- workers

    def start(self) -> None:
        self._task = self._make_task()
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: RaySlot) -> None:
        slot.worker_id = new_id()
        slot.ref = self._task.remote(
            worker_store_url(self.store), self.sweep_id, slot.worker_id, self._env
        )

    def alive(self) -> int:
        """Workers whose task has not ended (running, or waiting for Ray to place it)."""
        return sum(1 for slot in self.slots if slot.ref is not None)

    def poll(self) -> None:
        """Notice tasks that ended badly (worker crash, node lost, cancelled): their runs
        are crashed (their points run again) and a replacement task takes the slot."""
        by_ref = {slot.ref: slot for slot in self.slots if slot.ref is not None}
        if not by_ref:
            return
        ended, _ = self._ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
        for ref in ended:
            slot = by_ref[ref]
            slot.ref = None
            why = self._failure(ref)
            if why is None:
                continue  # the agent left normally: the sweep has nothing more for it
            note = recover_dead_worker(
                self.store,
                self.sweep_id,
                slot,
                what=f"Ray worker {slot.worker_id} {why}",
                stop_programs=_stop_local_programs,
                respawn=lambda slot=slot: self._spawn(slot),
            )
            self.notices.append(note)

    def _failure(self, ref: Any) -> str | None:
        """Why the task ended badly, or None if its agent exited with code 0."""
        try:
            code = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return f"died ({_first_line(exc)})"
        return None if code == 0 else f"agent exited with code {code}"

    def stop(self, grace: float = AGENT_STOP_GRACE_S + 5) -> None:
        """End every worker in order: a plain ray.cancel raises KeyboardInterrupt in its
        task, which SIGTERMs its agent: the agent kills its program, records the run
        killed and leaves. Tasks still there after `grace` are force-cancelled (Ray then
        SIGKILLs the agent); runs no agent recorded are crashed."""
        if self._ray is None:
            return
        ours = {slot.worker_id for slot in self.slots if slot.worker_id}
        running = [slot.ref for slot in self.slots if slot.ref is not None]
        for ref in running:
            self._ray.cancel(ref, force=False)
        _, stuck = self._ray.wait(running, num_returns=len(running), timeout=grace)
        for ref in stuck:
            self._ray.cancel(ref, force=True)
        for slot in self.slots:
            slot.ref = None
        for worker_id in ours:
            leftovers = self.store.crash_worker_runs(worker_id, "stopped with its worker")
            _stop_local_programs(leftovers)
        self._ray.shutdown()
        self._ray = None


def ray_target(address: str | None) -> str:
    """What ray.init gets: the address given, else RAY_ADDRESS, else "local" (a new Ray
    instance: Ray's own default would join whatever `ray start` last ran on this machine,
    and hang if that has stopped since)."""
    return address or os.environ.get("RAY_ADDRESS") or "local"


def check_reachable(ray: Any, target: str) -> None:
    """Fail in one line, at once, when nothing answers at the cluster's address."""
    if target == "local":
        return
    if target.startswith("ray://"):
        host_port = target.removeprefix("ray://")
    elif target == "auto":
        try:  # Ray's own lookup of the cluster `ray start` last ran here
            host_port = ray._private.services.canonicalize_bootstrap_address(target)
        except Exception:  # noqa: BLE001 - a private API: if it changed, let ray.init tell
            return
        if not host_port:
            raise RayLaunchError(
                "--ray-address auto: no Ray cluster was started on this machine "
                "(start one with `ray start --head`, or give its address)"
            )
    else:
        host_port = target
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise RayLaunchError(
            f"cannot reach the Ray cluster at {host_port} ({why}): is it running? "
            "(`ray status --address ADDRESS` checks)"
        ) from None


def worker_store_url(store: Store) -> str:
    """The store URL as workers must see it: a SQLite path made absolute, since Ray runs
    them in its copy of the working directory."""
    url = make_url(store.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return url.set(database=str(Path(url.database).resolve())).render_as_string(False)
    return store.url


def _all_nodes_here(ray: Any) -> bool:
    here = ray.util.get_node_ip_address()
    return all(n["NodeManagerAddress"] == here for n in ray.nodes() if n.get("Alive"))


def _stop_local_programs(runs: list[dict[str, Any]]) -> None:
    """A pid means something only on its own host: programs elsewhere end with their node
    or by their agent's parent-death signal."""
    host = this_host()
    stop_runs([r for r in runs if r["host"] == host], grace=5)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
