"""One worker: claim a run, start the program, heartbeat, stop it when asked, record the end.
A worker runs one program at a time and leaves when the sweep has nothing more for it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import controller
from ..config import SweepConfig
from ..config.command import args_json, render_command, run_config, uses_macro
from ..credentials.env import EnvSecretError, redact, resolve_env
from ..files import create_private, private_dir
from ..metrics import pinned_summary, rows_and_summary
from ..store import Row, Store, StoreUnavailable
from ..store import schema as s
from ..store.retry import StoreRetry
from .function_call import ForkedCall, function_label
from .output import MetricsFileReader, OutputCollector
from .process import (
    exit_description,
    process_started,
    reap_children,
    spawn,
    stop_run_processes,
)
from .runlog import log_root
from .wandb_env import wandb_args_json_file, wandb_run_env, write_param_file

HEARTBEAT_INTERVAL_ENV = "HYPERSWEEP_HEARTBEAT_INTERVAL"
STOP_GRACE_S = 10.0
TICK_S = 0.5  # how often metrics are flushed and stop requests noticed
FLUSH_BUDGET_S = 2.0  # storing a backlog of metrics yields to heartbeats this often
OUTPUT_WAIT_S = 10.0  # how long output may go on after the program exited (its leftovers)


def heartbeat_interval() -> float:
    return float(os.environ.get(HEARTBEAT_INTERVAL_ENV, "5"))


@dataclass
class Prepared:
    """A claimed run, ready to start: its files written, its environment and command built."""

    config: SweepConfig
    command: list[str]
    nested: dict
    workdir: str
    env: dict[str, str]
    log_path: Path
    metrics_path: Path
    redactions: list[bytes]


@dataclass
class Worker:
    store: Store
    sweep_id: str
    gpu_ids: str | None = None
    worker_id: str | None = None
    backend: str = "local"
    node: str | None = None  # the Ray node a Ray worker runs on
    host: str = field(default_factory=socket.gethostname)
    # A function agent: each run calls this in a forked child instead of the sweep's program.
    function: Callable[..., object] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    retry: StoreRetry = field(init=False)
    masked: tuple[str, ...] = field(default=(), init=False)  # the run's secrets, never recorded

    def __post_init__(self) -> None:
        # Every store call rides out an outage; the program goes on running meanwhile.
        self.retry = StoreRetry(self._say, stop=self.stopping)

    def _say(self, line: str) -> None:
        print(f"hypersweep agent {self.worker_id}: {line}", file=sys.stderr, flush=True)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: stop the current program (run -> killed) and leave."""

        def _stop(_signum: int, _frame: object) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run(self, count: int | None = None) -> str:
        """Run programs until the sweep is over, `count` runs are done, or we are stopped.
        Returns why the worker left."""
        pid = os.getpid()
        self.worker_id = self.retry.call(
            self.store.register_worker,
            sweep_id=self.sweep_id,
            host=self.host,
            pid=pid,
            pid_started=process_started(pid),
            gpu_ids=self.gpu_ids,
            backend=self.backend,
            worker_id=self.worker_id,
            node=self.node,
        )
        done = 0
        try:
            if self.function is None and self._lacks_program():
                return "the sweep has no program: run it with hypersweep.agent(SWEEP, function=...)"
            while True:
                if self.stopping.is_set():
                    return "stopped"
                if count is not None and done >= count:
                    return "count reached"
                claim = self.retry.call(
                    controller.claim_next_run,
                    self.store,
                    self.sweep_id,
                    self.worker_id,
                    self.host,
                    reap_stale=not self.retry.recently_recovered(controller.heartbeat_timeout()),
                )
                if claim.run is not None:
                    self._execute(claim.run)
                    done += 1
                elif claim.reason in ("wait", s.SWEEP_PAUSED):
                    # Runs still in flight elsewhere may crash and need a retry, and a paused
                    # sweep may be resumed (e.g. from the dashboard): stay around.
                    self._idle(heartbeat_interval())
                else:
                    return f"sweep {claim.reason}"
        finally:
            with contextlib.suppress(StoreUnavailable):  # unrecorded: it will be seen lost
                self.retry.call(self.store.end_worker, self.worker_id)

    def _lacks_program(self) -> bool:
        """A W&B function sweep (no program, a command that starts one): nothing to spawn;
        claiming would only fail its points."""
        config = controller.sweep_config(self.retry.call(self.store.get_sweep, self.sweep_id))
        return config.program is None and uses_macro(config, "program")

    def _idle(self, seconds: float) -> None:
        self.retry.call(self.store.heartbeat, self.worker_id, None)
        self.stopping.wait(seconds)

    # --------------------------------------------------------------- one run

    def _execute(self, run: Row) -> None:
        sweep = self.retry.call(self.store.get_sweep, self.sweep_id)
        config = controller.sweep_config(sweep)
        run_dir = log_root(self.store) / self.sweep_id
        private_dir(run_dir)  # 0700; the files in it 0600
        log_path = run_dir / f"{run['id']}.log"
        metrics_path = run_dir / f"{run['id']}.metrics.jsonl"
        config_path = run_dir / f"{run['id']}.config.json"
        nested = run_config(run["params"], config)
        create_private(log_path)
        create_private(config_path).write_text(json.dumps(nested, indent=2))
        workdir = sweep["workdir"] if sweep["workdir"] and Path(sweep["workdir"]).is_dir() else "."
        try:
            # Secrets are read here, at spawn time, and go only into the program's environment.
            resolved = resolve_env(config.env)
            self.masked = resolved.masked()
        except EnvSecretError as exc:
            message = f"env.{exc.variable}: {exc}"
            log_path.write_text(f"hypersweep: {message}\n")
            self._end(run, s.FAILED, message=message, log_tail=message)
            return
        env = {
            **os.environ,
            **resolved.env,
            "HYPERSWEEP_SWEEP_ID": self.sweep_id,
            "HYPERSWEEP_RUN_ID": run["id"],
            "HYPERSWEEP_PARAMS": json.dumps(nested),
            "HYPERSWEEP_PARAMS_FILE": str(config_path),
            "HYPERSWEEP_METRICS_FILE": str(metrics_path),
            "PYTHONUNBUFFERED": "1",  # metric lines printed on stdout arrive as they happen
        }
        if self.gpu_ids is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu_ids
        try:
            if self.function is not None:  # no command line, no W&B files to write
                command = [function_label(self.function)]
            else:
                json_file = self._write_wandb_files(
                    config, sweep, run, nested, workdir, env, resolved.env
                )
                command = render_command(
                    config, run["params"], args_json_file=json_file, environ=env
                )
            if redact(command, self.masked) != command:
                raise ValueError(
                    "a secret's value would be on its command line, where `ps` shows it"
                )
        except (ValueError, OSError) as exc:
            message = f"cannot build the command: {exc}"
            log_path.write_text(f"hypersweep: {message}\n")
            self._end(run, s.FAILED, message=message, log_tail=message)
            return
        create_private(metrics_path)  # the client appends to it: 0600 from the start
        prepared = Prepared(
            config, command, nested, workdir, env, log_path, metrics_path, resolved.redactions()
        )
        self._launch(run, prepared)

    def _launch(self, run: Row, prepared: Prepared) -> None:
        """Start the run's program (or fork its function call), supervise it, record its end."""
        config, command, nested, workdir, env, log_path, metrics_path, redactions = (
            prepared.config,
            prepared.command,
            prepared.nested,
            prepared.workdir,
            prepared.env,
            prepared.log_path,
            prepared.metrics_path,
            prepared.redactions,
        )
        try:
            if self.function is not None:
                proc = ForkedCall(self.function, nested, workdir, env)
            else:
                proc = spawn(command, workdir, env)
        except OSError as exc:
            log_path.write_text(f"hypersweep: cannot start {command[0]!r}: {exc}\n")
            self._end(run, s.FAILED, message=f"cannot start {command[0]!r}: {exc.strerror}")
            return
        now = time.time()
        self.retry.call(
            self.store.update_run,
            run["id"],
            pid=proc.pid,
            pid_started=process_started(proc.pid),
            command=command,
            log_path=str(log_path.resolve()),
            gpu_ids=self.gpu_ids,
            started_at=now,
            heartbeat_at=now,
        )
        output = OutputCollector(
            proc.stdout,  # type: ignore[arg-type]
            log_path,
            redact=redactions,  # a program that prints a secret does not log it
        )
        metrics_file = MetricsFileReader(metrics_path, warn=output.warn)
        # The metric early termination judges on; None when the sweep has no early_terminate.
        judged = config.metric.name if config.early_terminate and config.metric else None
        try:
            stop_reason = self._supervise(run["id"], proc, output, metrics_file, judged)
        except StoreUnavailable:  # gave up on the store, or told to stop during an outage
            stop_run_processes(proc.pid, run["id"], STOP_GRACE_S)
            raise
        if stop_reason is not None:
            stop_run_processes(proc.pid, run["id"], STOP_GRACE_S)
        exit_code = proc.wait()
        # Leftovers: what the program started and did not wait for, in its group or not.
        stop_run_processes(proc.pid, run["id"], STOP_GRACE_S)
        self._flush(run["id"], output, metrics_file, final=True)  # waits for the output's end
        output.close()
        if not metrics_file.more:
            # Its records are in the store (masked): the file was only their way in, and a
            # secret the program logged is in it in clear.
            metrics_path.unlink(missing_ok=True)
        if stop_reason is not None:
            state, message = stop_reason
        elif exit_code == 0:
            state, message = s.FINISHED, None
        elif self.stopping.is_set() and exit_code in (-signal.SIGTERM, -signal.SIGINT):
            # Stopped with us (a Ctrl-C, a node going down) before we could stop it: the
            # point was interrupted, not at fault, and runs again.
            state, message = s.KILLED, f"worker stopped ({exit_description(exit_code)})"
        else:
            state, message = s.FAILED, exit_description(exit_code)  # exit_code < 0: signal
        self._end(run, state, exit_code=exit_code, log_tail=output.tail(), message=message)

    def _write_wandb_files(
        self,
        config: SweepConfig,
        sweep: Row,
        run: Row,
        nested: dict,
        workdir: str,
        env: dict[str, str],
        explicit: dict[str, str],
    ) -> str | None:
        """Write the run's parameters in W&B's format, so `wandb.init()` fills `wandb.config`,
        and add W&B's variables to `env`. Returns ${args_json_file}'s path when the command
        uses it: where W&B's agent writes it, so the argv is the same as W&B's."""
        param_path = log_root(self.store) / self.sweep_id / f"{run['id']}.wandb-config.yaml"
        write_param_file(param_path, nested)
        env.update(
            wandb_run_env(
                env,
                sweep=sweep,
                run_id=run["id"],
                param_path=param_path.resolve(),
                explicit=explicit,
            )
        )
        if not uses_macro(config, "args_json_file"):
            return None
        json_file = wandb_args_json_file(env, self.sweep_id, run["id"])
        target = Path(workdir) / json_file  # an absolute WANDB_DIR stays as it is
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(args_json(run["params"], config), encoding="utf-8")
        return json_file

    def _supervise(
        self,
        run_id: str,
        proc: subprocess.Popen[bytes],
        output: OutputCollector,
        metrics: MetricsFileReader,
        judged_metric: str | None = None,
    ) -> tuple[str, str] | None:
        """Wait for the program, flushing metrics and heartbeating. Returns (state, why)
        if the program must be stopped, None once it exits on its own."""
        next_beat = 0.0
        while True:
            try:
                proc.wait(timeout=TICK_S)
                return None
            except subprocess.TimeoutExpired:
                pass
            reap_children(keep=[proc.pid])  # orphans re-parented to us that have ended
            new_keys = self._flush(run_id, output, metrics)
            if self.stopping.is_set():
                return s.KILLED, "worker stopped"
            # Judged only when the metric moved: a flush without it cannot change the verdict.
            if judged_metric in new_keys:
                why = self.retry.call(controller.check_early_stop, self.store, run_id)
                if why is not None:
                    return s.STOPPED_EARLY, why
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + heartbeat_interval()
                status = self.retry.call(self.store.heartbeat, self.worker_id, run_id)
                if status.get("stop_requested"):  # early termination, or Stop in the dashboard
                    return s.STOPPED_EARLY, status.get("stop_message") or "stopped early"
                if status.get("sweep_state") == s.SWEEP_CANCELLED:
                    return s.KILLED, "sweep cancelled"
                if status.get("run_state") == s.CRASHED and self._reclaim(run_id):
                    continue  # we were silent too long, but the run is ours again
                if status.get("run_state") not in (s.RUNNING, None):
                    # Someone else already ended it (killed, or a retry has the point's
                    # result): let it go.
                    return status["run_state"], "ended elsewhere"

    def _reclaim(self, run_id: str) -> bool:
        """Our run was taken for crashed while we were silent (frozen, store outage). Take it
        back, stopping its retry, unless the retry already has the point's result."""
        outcome = self.retry.call(controller.reclaim_run, self.store, run_id, self.worker_id)
        if outcome == controller.KEPT:
            self._say(f"run {run_id} was taken for crashed while we were silent; it goes on")
            return True
        return False

    def _flush(
        self,
        run_id: str,
        output: OutputCollector,
        metrics: MetricsFileReader,
        final: bool = False,
    ) -> set[str]:
        """Move new metric records into the store, a bounded batch at a time (the agent's
        memory stays flat however fast the program logs; the rest waits in the metrics file
        or, for stdout lines, in the pipe). Returns the keys that got finite values. Stops
        after FLUSH_BUDGET_S with more to do; `final` (the program has exited): goes on until
        everything is stored, waiting up to OUTPUT_WAIT_S for the output to close."""
        keys: set[str] = set()
        budget = OUTPUT_WAIT_S if final else min(FLUSH_BUDGET_S, heartbeat_interval())
        deadline = time.monotonic() + budget
        next_beat = time.monotonic() + heartbeat_interval()
        while True:
            reading = final and output.reading()  # checked first: lines may still come
            client_records = metrics.take_records()
            stdout_records = output.take_records()
            # A program that logs with the client may also print "loss=0.1" lines for humans;
            # once the client has spoken, its records are the metrics and stdout is a log.
            records = client_records if metrics.used else client_records + stdout_records
            if records:
                records = redact(records, self.masked)  # a secret as a metric name or value
                rows, summary = rows_and_summary(records, output.warn)
                pinned = pinned_summary(records)
                self.retry.call(self.store.add_metrics, run_id, rows, summary, pinned)
                keys.update(key for _step, key, value, _time in rows if value is not None)
            now = time.monotonic()
            if client_records or stdout_records or metrics.more:
                if final and now >= next_beat:  # a long backlog: the run is alive meanwhile
                    next_beat = now + heartbeat_interval()
                    self.retry.call(self.store.heartbeat, self.worker_id, run_id)
                if now < deadline or (final and not reading):  # a backlog is stored whole
                    continue
                return keys
            if not reading or now >= deadline:
                return keys
            output.join(0.05)

    def _end(self, run: Row, state: str, **values: object) -> None:
        values = redact(values, self.masked)
        self.retry.call(controller.record_run_end, self.store, run["id"], state, **values)
