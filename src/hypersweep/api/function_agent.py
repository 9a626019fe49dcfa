"""`hypersweep.agent(sweep_id, function=train)`: Python functions as a sweep's runs, as
`wandb.agent` does. Each call is a run like a program's: claimed by the same controller,
heartbeated, stoppable, recorded finished / failed / killed / stopped early.

- Default: N worker processes forked from the caller (each in its own session; it made
  itself a child subreaper), each running the ordinary claim loop; every run is a forked
  child of its worker (agent/function_call.py). Forked, not spawned: a function defined in a
  notebook cell exists in the children too.
- in_process=True: the function runs in the calling process (a debugger works); a thread
  heartbeats and stores what the client logs meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from ..agent.function_call import call_function, exit_code_of, function_label
from ..agent.output import MetricsFileReader, OutputCollector
from ..agent.process import (
    become_subreaper,
    process_started,
    signal_on_parent_death,
    stop_runs,
)
from ..agent.worker import STOP_GRACE_S, Prepared, Worker, heartbeat_interval
from ..client import run as client_run
from ..launch.gpus import assign_gpus, detect_gpus
from ..store import Row, Store, StoreError, new_id
from ..store import schema as s

__all__ = ["agent"]

Function = Callable[..., object]


def agent(
    sweep_id: str,
    function: Function,
    count: int | None = None,
    jobs: int = 1,
    in_process: bool = False,
    store: Store | str | None = None,
    raise_errors: bool = False,
) -> None:
    """Run `function` for the runs of sweep `sweep_id` until the sweep has no more, or
    `count` runs per agent are done. `function(config)` gets the run's config
    (hypersweep.Config); `function()` reads it from `hypersweep.init().config`. What it logs
    with `hypersweep.init()` / `run.log()` (or prints as `name=value` lines) is the run's.

    jobs: agents in parallel, one GPU each where GPUs exist. in_process: call the function
    in this process (for debugging; jobs must be 1); an exception is recorded as a failed
    run and raised only with raise_errors=True. Ctrl-C stops every agent: running calls are
    stopped and their runs recorded killed, then KeyboardInterrupt is raised again."""
    if not callable(function):
        raise TypeError(f"function must be callable, got {function!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, got {jobs}")
    if count is not None and count < 1:
        raise ValueError(f"count must be 1 or more, got {count}")
    if in_process and jobs != 1:
        raise ValueError("in_process=True runs one call at a time: use jobs=1")
    opened = store if isinstance(store, Store) else Store(store)
    try:
        opened.get_sweep(sweep_id)  # an unknown id: NotFound, one line, before anything starts
        if in_process:
            worker = InProcessWorker(
                opened,
                sweep_id,
                gpu_ids=os.environ.get("CUDA_VISIBLE_DEVICES"),
                backend="function",
                function=function,
                raise_errors=raise_errors,
            )
            worker.run(count)
            return
        layout = assign_gpus(detect_gpus(), jobs, 1)
        opened.engine.dispose()  # no pooled connection is shared with the forked agents
        _run_forked_agents(opened, sweep_id, function, count, layout)
    finally:
        if not isinstance(store, Store):
            opened.close()


# ------------------------------------------------------------------ forked agents


def _run_forked_agents(
    store: Store, sweep_id: str, function: Function, count: int | None, layout: list[str | None]
) -> None:
    agents = {}  # pid -> worker id
    try:
        for gpu_ids in layout:
            worker_id = new_id()
            agents[_fork_agent(store.url, sweep_id, worker_id, function, count, gpu_ids)] = (
                worker_id
            )
        failed = []
        for pid in list(agents):
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            del agents[pid]
            if code != 0:
                failed.append(code)
    except BaseException:  # Ctrl-C (KeyboardInterrupt), also in a notebook
        _stop_agents(store, agents)
        raise
    if failed:
        raise RuntimeError(
            f"{len(failed)} function agent(s) of sweep {sweep_id} failed (exit code"
            f" {', '.join(map(str, failed))}); their message is above"
        )


def _fork_agent(
    store_url: str,
    sweep_id: str,
    worker_id: str,
    function: Function,
    count: int | None,
    gpu_ids: str | None,
) -> int:
    arm = signal_on_parent_death(signal.SIGTERM)  # the caller dies: stop the run, record it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # Own session: Ctrl-C reaches the caller only, which stops its agents in order.
        os.setsid()
        arm()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        code = _agent_main(store_url, sweep_id, worker_id, function, count, gpu_ids)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # never the caller's atexit handlers or finalizers


def _agent_main(
    store_url: str,
    sweep_id: str,
    worker_id: str,
    function: Function,
    count: int | None,
    gpu_ids: str | None,
) -> int:
    # A store of its own: the caller's pooled connections are not shared across fork.
    worker = Worker(
        Store(store_url),
        sweep_id,
        gpu_ids=gpu_ids,
        worker_id=worker_id,
        backend="function",
        function=function,
    )
    worker.install_signal_handlers()  # SIGTERM from the caller: stop the call, record killed
    become_subreaper()  # what a call orphans comes back to this agent, to be stopped
    try:
        worker.run(count)
    except StoreError as exc:  # the store stayed away past the retry limit: one line
        print(f"hypersweep agent {worker_id}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def _stop_agents(store: Store, agents: dict[int, str], grace: float = STOP_GRACE_S + 5) -> None:
    """SIGTERM each agent (it stops its call and records the run killed), wait, SIGKILL what
    is left and stop its runs' processes, recording them crashed."""
    for pid in agents:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = dict(agents)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            if os.waitpid(pid, os.WNOHANG)[0]:
                del left[pid]
        time.sleep(0.05)
    for pid, worker_id in left.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with contextlib.suppress(StoreError):
            stop_runs(store.crash_worker_runs(worker_id, "stopped with its agent"), grace=5)


# ------------------------------------------------------------------ in the calling process


class _Call:
    """What _supervise waits on: the call running in the main thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.done = threading.Event()

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        if not self.done.wait(timeout):
            raise subprocess.TimeoutExpired("in-process call", timeout or 0.0)
        return 0


class InProcessWorker(Worker):
    """Calls the function in this process. A thread heartbeats and stores what the client
    logs meanwhile; a stop asked for meanwhile (early termination, kill) cannot interrupt
    the call: the run is recorded as stopped once it returns."""

    def __init__(self, *args: Any, raise_errors: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raise_errors = raise_errors

    def _launch(self, run: Row, prepared: Prepared) -> None:
        assert self.function is not None
        now = time.time()
        self.retry.call(
            self.store.update_run,
            run["id"],
            pid=None,  # never this process's group: `kill` would end the caller's shell job
            pid_started=process_started(os.getpid()),
            command=[function_label(self.function)],
            log_path=str(prepared.log_path.resolve()),
            gpu_ids=self.gpu_ids,
            started_at=now,
            heartbeat_at=now,
        )
        read_fd, write_fd = os.pipe()
        output = OutputCollector(os.fdopen(read_fd, "rb"), prepared.log_path, prepared.redactions)
        metrics = MetricsFileReader(prepared.metrics_path, warn=output.warn)
        config = prepared.config
        judged = config.metric.name if config.early_terminate and config.metric else None
        call = _Call()
        verdict: list[tuple[str, str] | None] = []

        def supervise() -> None:
            try:
                verdict.append(self._supervise(run["id"], call, output, metrics, judged))  # type: ignore[arg-type]
                while not call.done.wait(heartbeat_interval()):  # the call goes on: alive
                    self.retry.call(self.store.heartbeat, self.worker_id, run["id"])
            except Exception as exc:  # the store gave up: the run will be seen crashed
                self._say(f"run {run['id']}: {exc}")

        thread = threading.Thread(target=supervise, name="hypersweep-supervise", daemon=True)
        changed = {k: v for k, v in prepared.env.items() if os.environ.get(k) != v}
        saved = {k: os.environ.get(k) for k in changed}
        keep = client_run.open_runs()  # the caller's own runs are not this call's
        error: BaseException | None = None
        exit_code = 0
        os.environ.update(changed)  # hypersweep.init() inside reads them, each call anew
        thread.start()
        try:
            call_function(self.function, prepared.nested)
        except SystemExit as exc:
            exit_code = exit_code_of(exc)
        except BaseException as exc:  # noqa: BLE001 - recorded; raised again below if asked
            error = exc
            exit_code = 1
            os.write(write_fd, traceback.format_exc().encode("utf-8", "backslashreplace"))
        finally:
            client_run.finish_open_runs(exit_code, keep=keep)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            call.done.set()
            os.close(write_fd)
            thread.join()
        self._flush(run["id"], output, metrics, final=True)
        output.close()
        if not metrics.more:
            prepared.metrics_path.unlink(missing_ok=True)
        interrupted = isinstance(error, KeyboardInterrupt)
        if verdict and verdict[0] is not None:
            state, message = verdict[0]
        elif interrupted:
            state, message = s.KILLED, "interrupted (KeyboardInterrupt)"
        elif exit_code == 0:
            state, message = s.FINISHED, None
        elif error is not None:
            state, message = s.FAILED, f"{type(error).__name__}: {error}"[:500]
        else:
            state, message = s.FAILED, f"exit code {exit_code}"
        self._end(run, state, exit_code=exit_code, log_tail=output.tail(), message=message)
        if error is not None and (
            interrupted or self.raise_errors or not isinstance(error, Exception)
        ):
            raise error
