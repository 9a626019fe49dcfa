"""What a program logs through the wandb package, copied to the metrics file the hypersweep
agent follows (HYPERSWEEP_METRICS_FILE), in the client's JSON-lines records:
`{"t": time, "step": N, "metrics": {...}}` and `{"t": time, "summary": {...}}`.

Imported by the hook's sitecustomize when the program imports `wandb`; standard library only,
because the program's interpreter may not have hypersweep installed. wandb is wrapped, never
changed: each wrapper calls wandb's own method first and returns what it returns, and nothing
of ours raises into the program. A wandb whose classes are not where we expect is left alone,
with one line on stderr.

History steps follow what wandb 0.31 commits, checked by logging in offline mode and reading
the rows back from the run's .wandb file (tests/test_wandb_capture.py does it again):
- rows are committed at W&B's `_step`, which starts at 0 (or the run's starting step);
- `log(d)` merges d into the pending row and commits it; the step goes up by one, also for
  an empty `log({})`;
- `log(d, commit=False)` only merges; `commit=True` commits (with or without `step`);
- `log(d, step=s)`: s above the current step commits the pending row first and moves to s;
  s equal merges; neither commits unless commit=True; s below the current step drops d
  entirely, its commit=True included (W&B warns);
- the pending row is committed at `run.finish()`, at the end of `with wandb.init()`, and at
  exit, also an exit by an uncaught exception.
Numbers only: ints and floats, and numpy/torch/jax values holding one number (W&B logs those
as numbers too); bools, strings, media, tables, histograms and lists are skipped. A nested
dict is flattened with "." ({"val": {"acc": 1}} -> "val.acc"): W&B records it as the key
path val -> acc, which its app shows as "val.acc"; "/" would merge it with a flat "val/acc"
key, a different W&B metric.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

FLUSH_INTERVAL_S = 1.0
RESERVED_KEYS = frozenset({"_step", "_runtime", "_timestamp"})  # W&B's own, not metrics
LOG_PARAMETERS = ["self", "data", "step", "commit"]

_said: set[str] = set()


def say_once(topic: str, line: str) -> None:
    """One stderr line per topic (it ends up in the run's log)."""
    if topic in _said:
        return
    _said.add(topic)
    with contextlib.suppress(Exception):  # a closed stderr is no reason to fail
        print(f"hypersweep: {line}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ values


def scalar(value: Any) -> int | float | None:
    """A numpy, torch or jax value holding exactly one number (a scalar, or an array or
    tensor of size 1, which W&B logs as that number) as a Python number, else None."""
    try:
        numel = getattr(value, "numel", None)  # torch; numpy and jax have `size`
        if (numel() if callable(numel) else getattr(value, "size", None)) != 1:
            return None
        item = value.item()
    except Exception:
        return None
    return item if type(item) is int or type(item) is float else None


def collect(data: Any, prefix: str, out: dict[str, Any], strings: bool) -> dict[str, Any]:
    """The numbers in `data` (and strings, for the summary), nested dicts flattened with '.'."""
    for key, value in data.items():
        kind = type(value)
        if kind is float or kind is int or (strings and kind is str):
            if prefix or key not in RESERVED_KEYS:
                out[prefix + key] = value
        elif isinstance(value, dict):
            collect(value, f"{prefix}{key}.", out, strings)
        elif kind is not bool and kind is not str:
            number = scalar(value)
            if number is not None:
                out[prefix + key] = number
    return out


# ------------------------------------------------------------------ records

# A record is (time, step, metrics) for a history row or (time, None, values) for summary
# values: cheap to make on the program's thread; the flusher encodes it as a JSON line.

MAX_TEMPLATES = 256
_templates: dict[tuple[str, ...], str] = {}


def encode(record: tuple[float, int | None, dict[str, Any]]) -> str:
    """One JSON line. A row's line is filled into a format made once per set of keys (float
    repr is JSON's own, and this takes half the time json.dumps does); rows with NaN or
    infinity, summaries, and key sets past MAX_TEMPLATES go through json.dumps."""
    t, step, values = record
    if step is None:
        return json.dumps({"t": t, "summary": values}) + "\n"
    keys, numbers = tuple(values), tuple(values.values())
    template = _templates.get(keys)
    if template is None and len(_templates) < MAX_TEMPLATES:
        template = _templates[keys] = _row_template(keys)
    for number in numbers:
        if number - number:  # NaN or infinity: JSON's spelling differs from repr's
            template = None
    if template is None:
        return json.dumps({"t": t, "step": step, "metrics": values}) + "\n"
    return template % (t, step, *numbers)


def _row_template(keys: tuple[str, ...]) -> str:
    pairs = ", ".join(json.dumps(key).replace("%", "%%") + ": %r" for key in keys)
    return '{"t": %r, "step": %d, "metrics": {' + pairs + "}}\n"


# ------------------------------------------------------------------ history


class History:
    """W&B's history rows, committed as wandb 0.31 commits them (see the module docstring)."""

    def __init__(self) -> None:
        self.step = 0
        self.pending: dict[str, Any] = {}
        self.pending_t = 0.0
        self.records: list[tuple[float, int | None, dict[str, Any]]] = []  # for the flusher

    def log(self, values: dict[str, Any], step: Any, commit: Any, now: float) -> None:
        if step is None and commit is None and not self.pending:  # the usual log(d): a row
            if values:
                self.records.append((now, self.step, values))
            self.step += 1
            return
        if step is not None:
            step = int(step)
            if step < self.step:
                return  # W&B drops it, commit and all
            if step > self.step:
                self.commit()
                self.step = step
        elif commit is None:
            commit = True
        if values:
            self.pending.update(values)
            self.pending_t = now
        if commit:
            self.commit()

    def commit(self) -> None:
        if self.pending:
            self.records.append((self.pending_t, self.step, self.pending))
            self.pending = {}
        self.step += 1

    def close_row(self) -> None:
        """End of a run: the pending row is committed, as W&B does at finish and exit."""
        if self.pending:
            self.commit()


# ------------------------------------------------------------------ capture


class Capture:
    """The process's one stream of records. A program that runs several wandb runs one after
    another (finish, then init) continues the same steps, as W&B does when a sweep run is
    resumed; while one run is active, another run's logging is not captured."""

    def __init__(self, path: str, background: bool = True) -> None:
        self.path = path
        self.background = background  # tests flush by hand
        self.history = History()
        self.run: object | None = None
        self.restoring = 0  # inside wandb's resume: summary writes are not the program's
        self.tensorboard: dict[str, Any] = {}
        self._lock = threading.Lock()  # the history and its records
        self._write_lock = threading.Lock()  # one flush at a time, in order
        self._file: Any = None
        self._flusher: threading.Thread | None = None

    def log(self, run: object, data: Any, step: Any, commit: Any) -> None:
        values = collect(data, "", {}, False) if data else {}
        if step is not None and self.tensorboard.get("tensorboard"):
            step = None  # W&B does not pass the step on while it syncs tensorboard
        now = time.time()
        with self._lock:
            if run is not self.run and not self._adopt(run):
                return
            self.history.log(values, step, commit, now)
            if self._flusher is None and self.history.records:
                self._start_flusher()

    def summary(self, data: Any) -> None:
        if self.restoring or not data:
            return
        values = collect(data, "", {}, True)
        if values:
            with self._lock:
                self.history.records.append((time.time(), None, values))
                if self._flusher is None:
                    self._start_flusher()

    def finish(self, run: object) -> None:
        with self._lock:
            if run is self.run:
                self.history.close_row()
                self.run = None
        self.flush()

    def at_exit(self) -> None:
        with self._lock:
            self.history.close_row()
        self.flush()

    def flush(self) -> None:
        """Write what is buffered. Encoding happens here, off the program's thread."""
        with self._write_lock:
            with self._lock:
                records, self.history.records = self.history.records, []
            if not records:
                return
            try:
                lines = "".join([encode(record) for record in records])
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                self._file.write(lines)
                self._file.flush()
            except Exception as exc:
                say_once("write", f"could not write wandb metrics to {self.path} ({exc})")

    def after_fork_in_child(self) -> None:
        """A forked child inherits the parent's buffer, which the parent writes itself."""
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.history.records = []
        self.history.pending = {}
        self._file = None
        self._flusher = None

    def _adopt(self, run: object) -> bool:
        if self.run is not None:
            say_once(
                "second-run",
                "a second wandb run is active in this process: only the"
                " first one's metrics are captured",
            )
            return False
        self.run = run
        try:
            starting = int(getattr(run, "starting_step", 0) or 0)
        except Exception:
            starting = 0
        self.history.step = max(self.history.step, starting)
        return True

    def _start_flusher(self) -> None:
        if not self.background:
            return
        self._flusher = threading.Thread(target=self._flush_loop, name="hypersweep-wandb-flush")
        self._flusher.daemon = True
        self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            self.flush()


# ------------------------------------------------------------------ wrapping wandb


class NotUnderstood(Exception):
    """wandb's classes or methods are not where, or not what, we expect."""


def _wrap_log(original: Callable, capture: Capture) -> Callable:
    # The same parameters as the original (checked in _log_method): no argument juggling.
    def log(self, data, step=None, commit=None):  # noqa: ANN001, ANN202
        result = original(self, data, step, commit)
        try:
            capture.log(self, data, step, commit)
        except Exception as exc:
            say_once(
                "capture", f"capturing a wandb log failed ({exc!r}): some metrics may be missing"
            )
        return result

    return _like(log, original)


def _wrap_summary_update(original: Callable, capture: Capture) -> Callable:
    def update(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        result = original(self, *args, **kwargs)
        try:
            capture.summary(args[0] if args else next(iter(kwargs.values()), None))
        except Exception as exc:
            say_once(
                "capture", f"capturing a wandb summary failed ({exc!r}): some values may be missing"
            )
        return result

    return _like(update, original)


def _wrap_finish(original: Callable, capture: Capture) -> Callable:
    def _finish(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        try:
            return original(self, *args, **kwargs)
        finally:
            try:
                capture.finish(self)
            except Exception as exc:
                say_once("capture", f"capturing wandb's finish failed ({exc!r})")

    return _like(_finish, original)


def _wrap_restore(original: Callable, capture: Capture) -> Callable:
    def _set_run_obj(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        capture.restoring += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            capture.restoring -= 1

    return _like(_set_run_obj, original)


def _like(wrapper: Callable, original: Callable) -> Callable:
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(wrapper, name, getattr(original, name, None))
    wrapper.__dict__.update(getattr(original, "__dict__", {}))
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    wrapper.__hypersweep__ = True  # type: ignore[attr-defined]
    return wrapper


def _log_method(run_class: type) -> tuple[str, Callable]:
    """Where every history write passes: `_log` (wandb.log, run.log, tensorboard sync,
    wandb.watch), else the public `log`; either with the parameters we mirror."""
    import inspect  # wandb has already imported it

    for name in ("_log", "log"):
        method = run_class.__dict__.get(name)
        if callable(method):
            parameters = list(inspect.signature(method).parameters)
            if parameters == LOG_PARAMETERS:
                return name, method
    raise NotUnderstood("Run.log(data, step, commit) not found")


def wrap_wandb(wandb: Any, capture: Capture) -> None:
    """Wrap wandb's run logging, summary writes and finish; all of them or nothing."""
    from wandb.sdk import wandb_run, wandb_summary

    run_class, summary_class = wandb_run.Run, wandb_summary.Summary
    log_name, log = _log_method(run_class)
    if getattr(log, "__hypersweep__", False):
        return  # already wrapped (wandb reloaded)
    update, finish = getattr(summary_class, "update", None), run_class.__dict__.get("_finish")
    if not callable(update) or not callable(finish):
        raise NotUnderstood("Summary.update or Run._finish not found")
    restore = run_class.__dict__.get("_set_run_obj")
    patched = getattr(wandb, "patched", None)
    capture.tensorboard = patched if isinstance(patched, dict) else {}
    setattr(run_class, log_name, _wrap_log(log, capture))
    summary_class.update = _wrap_summary_update(update, capture)
    run_class._finish = _wrap_finish(finish, capture)
    if callable(restore):
        run_class._set_run_obj = _wrap_restore(restore, capture)


_capture: Capture | None = None


def start(wandb: Any) -> None:
    """Called once wandb has loaded. Never raises."""
    global _capture
    try:
        path = os.environ.get("HYPERSWEEP_METRICS_FILE")
        if not path:
            return
        capture = _capture or Capture(path)
        wrap_wandb(wandb, capture)
        if _capture is None:
            _capture = capture
            atexit.register(capture.at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=capture.after_fork_in_child)
    except Exception as exc:
        version = getattr(wandb, "__version__", "?")
        reason = str(exc) if isinstance(exc, NotUnderstood) else repr(exc)
        say_once(
            "wrap",
            f"wandb {version} not understood ({reason}): metrics logged with"
            " wandb are not captured",
        )


def find_wandb_spec(fullname: str, path: Any, target: Any) -> Any:
    """The spec the other finders give for `wandb`, set to call `start` once it has loaded.
    On any trouble: None, and Python looks wandb up as if we were not there."""
    try:
        spec = None
        for finder in list(sys.meta_path):
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is not None:
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    break
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or isinstance(loader, type):
            return None
        exec_module = loader.exec_module

        def exec_then_start(module: Any) -> None:
            try:
                exec_module(module)
            finally:
                del loader.exec_module  # back to the loader's own method
            start(module)

        loader.exec_module = exec_then_start
        return spec
    except Exception as exc:
        say_once(
            "wrap",
            f"wandb capture not installed ({exc!r}): metrics logged with wandb are not captured",
        )
        return None
