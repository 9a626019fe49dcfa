"""One worker: claim a run, start the program, heartbeat, stop it when asked, record the end.
A worker runs one program at a time and leaves when the sweep has nothing more for it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from .. import controller
from ..config import SweepConfig
from ..config.command import args_json, render_command, run_config, uses_macro
from ..credentials.env import EnvSecretError, resolve_env
from ..metrics import pinned_summary, rows_and_summary
from ..store import Row, Store
from ..store import schema as s
from .output import MetricsFileReader, OutputCollector
from .process import process_started, spawn, stop_groups
from .wandb_env import wandb_args_json_file, wandb_run_env, write_param_file

HEARTBEAT_INTERVAL_ENV = "HYPERSWEEP_HEARTBEAT_INTERVAL"
LOG_DIR_ENV = "HYPERSWEEP_LOG_DIR"
STOP_GRACE_S = 10.0
TICK_S = 0.5  # how often metrics are flushed and stop requests noticed


def heartbeat_interval() -> float:
    return float(os.environ.get(HEARTBEAT_INTERVAL_ENV, "5"))


def log_root(store: Store) -> Path:
    """HYPERSWEEP_LOG_DIR, else beside a SQLite store, else ./.hypersweep/logs."""
    if os.environ.get(LOG_DIR_ENV):
        return Path(os.environ[LOG_DIR_ENV])
    url = make_url(store.engine.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / "logs"
    return Path.cwd() / ".hypersweep" / "logs"


@dataclass
class Worker:
    store: Store
    sweep_id: str
    gpu_ids: str | None = None
    worker_id: str | None = None
    backend: str = "local"
    node: str | None = None  # the Ray node a Ray worker runs on
    host: str = field(default_factory=socket.gethostname)
    stopping: threading.Event = field(default_factory=threading.Event)

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
        self.worker_id = self.store.register_worker(
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
            while True:
                if self.stopping.is_set():
                    return "stopped"
                if count is not None and done >= count:
                    return "count reached"
                claim = controller.claim_next_run(
                    self.store, self.sweep_id, self.worker_id, self.host
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
            self.store.end_worker(self.worker_id)

    def _idle(self, seconds: float) -> None:
        self.store.heartbeat(self.worker_id, None)
        self.stopping.wait(seconds)

    # --------------------------------------------------------------- one run

    def _execute(self, run: Row) -> None:
        sweep = self.store.get_sweep(self.sweep_id)
        config = controller.sweep_config(sweep)
        run_dir = log_root(self.store) / self.sweep_id
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run_dir / f"{run['id']}.log"
        metrics_path = run_dir / f"{run['id']}.metrics.jsonl"
        config_path = run_dir / f"{run['id']}.config.json"
        nested = run_config(run["params"], config)
        config_path.write_text(json.dumps(nested, indent=2))
        workdir = sweep["workdir"] if sweep["workdir"] and Path(sweep["workdir"]).is_dir() else "."
        try:
            # Secrets are read here, at spawn time, and go only into the program's environment.
            resolved = resolve_env(config.env)
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
            json_file = self._write_wandb_files(
                config, sweep, run, nested, workdir, env, resolved.env
            )
            command = render_command(config, run["params"], args_json_file=json_file, environ=env)
        except (ValueError, OSError) as exc:
            message = f"cannot build the command: {exc}"
            log_path.write_text(f"hypersweep: {message}\n")
            self._end(run, s.FAILED, message=message, log_tail=message)
            return
        try:
            proc = spawn(command, workdir, env)
        except OSError as exc:
            log_path.write_text(f"hypersweep: cannot start {command[0]!r}: {exc}\n")
            self._end(run, s.FAILED, message=f"cannot start {command[0]!r}: {exc.strerror}")
            return
        now = time.time()
        self.store.update_run(
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
            redact=resolved.redactions(),  # a program that prints a secret does not log it
        )
        metrics_file = MetricsFileReader(metrics_path)
        # The metric early termination judges on; None when the sweep has no early_terminate.
        judged = config.metric.name if config.early_terminate and config.metric else None
        stop_reason = self._supervise(run["id"], proc, output, metrics_file, judged)
        if stop_reason is not None:
            stop_groups([proc.pid], STOP_GRACE_S)
        exit_code = proc.wait()
        stop_groups([proc.pid], 0)  # leftovers the program started and did not wait for
        output.join()
        self._flush(run["id"], output, metrics_file)
        if stop_reason is not None:
            state, message = stop_reason
        elif exit_code == 0:
            state, message = s.FINISHED, None
        else:
            state, message = s.FAILED, f"exit code {exit_code}"
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
            new_keys = self._flush(run_id, output, metrics)
            if self.stopping.is_set():
                return s.KILLED, "worker stopped"
            # Judged only when the metric moved: a flush without it cannot change the verdict.
            if judged_metric in new_keys:
                why = controller.check_early_stop(self.store, run_id)
                if why is not None:
                    return s.STOPPED_EARLY, why
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + heartbeat_interval()
                status = self.store.heartbeat(self.worker_id, run_id)
                if status.get("stop_requested"):  # early termination, or Stop in the dashboard
                    return s.STOPPED_EARLY, status.get("stop_message") or "stopped early"
                if status.get("sweep_state") == s.SWEEP_CANCELLED:
                    return s.KILLED, "sweep cancelled"
                if status.get("run_state") not in (s.RUNNING, None):
                    # Someone else already ended it (e.g. taken for crashed): let it go.
                    return status["run_state"], "ended elsewhere"

    def _flush(self, run_id: str, output: OutputCollector, metrics: MetricsFileReader) -> set[str]:
        """Move new metric records into the store; returns the keys that got finite values."""
        client_records = metrics.take_records()
        stdout_records = output.take_records()
        # A program that logs with the client may also print "loss=0.1" lines for humans;
        # once the client has spoken, its records are the metrics and stdout is just a log.
        records = client_records if metrics.used else client_records + stdout_records
        if not records:
            return set()
        rows, summary = rows_and_summary(records)
        self.store.add_metrics(run_id, rows, summary, pinned_summary(records))
        return {key for _step, key, value, _time in rows if value is not None}

    def _end(self, run: Row, state: str, **values: object) -> None:
        controller.record_run_end(self.store, run["id"], state, **values)  # type: ignore[arg-type]
