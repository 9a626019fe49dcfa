"""`run = hypersweep.init()`: the params of this run, and a buffered metric logger."""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
import weakref
from collections.abc import Collection, Mapping
from typing import Any

from .sinks import FileSink, Record, Sink, StoreSink

FLUSH_INTERVAL_S = 1.0


class Config(dict):
    """The run's parameters; also readable as attributes (`run.config.lr`), as in W&B."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return Config(value) if isinstance(value, dict) else value


class Summary(dict):
    """Final values shown for the run. Defaults to the last logged value of each metric;
    assigning a key overrides it (e.g. the best accuracy instead of the last)."""

    def __init__(self, run: Run) -> None:
        super().__init__()
        self._run = run

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._run._enqueue({"t": time.time(), "summary": {key: value}})

    def update(self, other: Mapping[str, Any] = (), **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(other, **kwargs).items():
            self[key] = value


class Run:
    """One run. `log()` only appends to a buffer; a background thread writes it out every
    second, and `finish()` (also called at exit) writes the rest."""

    def __init__(self, run_id: str | None, config: dict, sink: Sink) -> None:
        self.id = run_id
        self.config = Config(config)
        self.summary = Summary(self)
        self._sink = sink
        self._buffer: list[Record] = []
        self._lock = threading.Lock()
        self._next_step = 0
        self._finished = False
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="hypersweep-flush")
        self._flusher.daemon = True
        self._flusher.start()
        atexit.register(_finish_at_exit, weakref.ref(self))
        _open_runs.add(self)

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at `step` (default: one past the previous step)."""
        if self._finished:
            raise RuntimeError("run.log() after run.finish()")
        with self._lock:
            if step is None:
                step = self._next_step
            self._next_step = max(self._next_step, int(step) + 1)
            self._buffer.append({"t": time.time(), "step": int(step), "metrics": dict(data)})

    def finish(self, exit_code: int = 0) -> None:
        if self._finished:
            return
        self._finished = True
        _open_runs.discard(self)
        self._wake.set()
        self._flusher.join(timeout=10)
        self._flush()
        self._sink.close(exit_code)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.finish(0 if exc_type is None else 1)

    def _enqueue(self, record: Record) -> None:
        with self._lock:
            self._buffer.append(record)

    def _flush(self) -> None:
        with self._lock:
            records, self._buffer = self._buffer, []
        if records:
            self._sink.write(records)

    def _flush_loop(self) -> None:
        while not self._wake.wait(FLUSH_INTERVAL_S):
            try:
                self._flush()
            except Exception as exc:  # never kill training over a metrics write
                print(f"hypersweep: could not write metrics: {exc}", file=sys.stderr)


_exit_status = {"code": 0}
_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()  # started and not finished


def open_runs() -> list[Run]:
    return list(_open_runs)


def forget_open_runs() -> None:
    """In a forked child: the parent's runs are not the child's to finish."""
    _open_runs.clear()


def finish_open_runs(exit_code: int = 0, keep: Collection[Run] = ()) -> None:
    """Finish every run not yet finished except `keep`: a function agent's call has ended,
    and what the function logged must reach the agent (as at a program's exit)."""
    for run in list(_open_runs):
        if run not in keep:
            run.finish(exit_code)


def _watch_exit_status() -> None:
    """atexit cannot see why the interpreter exits, so note it on the way: an uncaught
    exception, or `sys.exit(code)`. (`raise SystemExit(code)` is not seen: it ends as 0.)"""
    previous_hook, previous_exit = sys.excepthook, sys.exit

    def excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        _exit_status["code"] = 1
        previous_hook(exc_type, exc, tb)

    def exit_(status: object = None) -> None:
        _exit_status["code"] = 0 if status is None else status if isinstance(status, int) else 1
        previous_exit(status)

    sys.excepthook, sys.exit = excepthook, exit_  # type: ignore[assignment]


def _finish_at_exit(ref: weakref.ReferenceType[Run]) -> None:
    run = ref()
    if run is not None:
        run.finish(_exit_status["code"])


def init(config: Mapping[str, Any] | None = None, name: str | None = None) -> Run:
    """Start logging for this process. Inside a sweep the agent has set HYPERSWEEP_* variables
    and `run.config` holds this run's params; outside a sweep a stand-alone run is recorded in
    the store (HYPERSWEEP_STORE or ./.hypersweep) with `config` as its params."""
    metrics_file = os.environ.get("HYPERSWEEP_METRICS_FILE")
    if metrics_file:
        params = json.loads(os.environ.get("HYPERSWEEP_PARAMS", "{}"))
        if config:
            params = {**dict(config), **params}  # the sweep's values win over defaults
        return Run(os.environ.get("HYPERSWEEP_RUN_ID"), params, FileSink(metrics_file))
    sink = StoreSink(dict(config or {}), name)
    _watch_exit_status()
    return Run(sink.run_id, dict(config or {}), sink)
