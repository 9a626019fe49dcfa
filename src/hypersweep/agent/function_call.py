"""A Python function as a run's "program": called in a forked child (os.fork, not spawn, so
that a function defined in a notebook cell exists there too), with the surface of the Popen
the worker supervises (`pid`, `stdout`, `poll()`, `wait(timeout)`, `returncode`).

The child is the leader of a new session (one signal reaches what it starts), dies with the
worker (PR_SET_PDEATHSIG), has the run's environment (so `hypersweep.init()` inside writes
the metrics file the worker follows) and its stdout/stderr on the pipe the worker reads.
It exits 0 when the function returns, 1 on an exception (the traceback printed first), the
code of a SystemExit as a program would."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import IO, Any

from ..client import run as client_run
from .process import signal_on_parent_death


def function_label(function: Callable[..., object]) -> str:
    """What a function run records as its command: `<function train>`."""
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return f"<function {name or type(function).__name__}>"


def takes_config(function: Callable[..., object]) -> bool:
    """Whether `function` is called as function(config) rather than function()."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in positional for p in parameters)


def call_function(function: Callable[..., object], config: Mapping[str, Any]) -> None:
    """Call `function` with the run's config if it takes one (hypersweep.Config: a dict that
    also reads as attributes), else with nothing (it reads hypersweep.init().config)."""
    if takes_config(function):
        function(client_run.Config(config))
    else:
        function()


def exit_code_of(exc: SystemExit) -> int:
    """The exit status a program raising `exc` would have (a message goes to stderr)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


class ForkedCall:
    def __init__(
        self,
        function: Callable[..., object],
        config: Mapping[str, Any],
        cwd: str,
        env: Mapping[str, str],
    ) -> None:
        self.args = function_label(function)
        self.returncode: int | None = None
        arm = signal_on_parent_death(signal.SIGKILL)  # made here: it notes the parent's pid
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12 warns on fork() in a process with threads; forking is the point.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(function, config, cwd, env, write_fd, arm)
        os.close(write_fd)
        self.pid = pid
        self.stdout: IO[bytes] = os.fdopen(read_fd, "rb")

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: its status is lost
                self.returncode = 255
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)  # -N: signal N
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]


def _child(
    function: Callable[..., object],
    config: Mapping[str, Any],
    cwd: str,
    env: Mapping[str, str],
    out_fd: int,
    arm: Callable[[], None],
) -> None:
    code = 1
    try:
        os.setsid()  # its own session and process group, as a spawned program
        arm()
        # The worker's handlers (stop the worker) must not run here: a program's defaults.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(null)
        os.close(out_fd)
        # New Python streams on the pipe (a notebook's sys.stdout is the kernel's, not fd 1),
        # line-buffered so that metric lines arrive as they are printed.
        sys.stdin = open(os.devnull)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)  # HYPERSWEEP_*: hypersweep.init() inside logs to this run
        client_run.forget_open_runs()  # the parent's runs are not this child's to finish
        code = 0
        try:
            call_function(function, config)
        except SystemExit as exc:
            code = exit_code_of(exc)
        except BaseException:
            traceback.print_exc()
            code = 1
        client_run.finish_open_runs(code)  # what the function logged reaches the file
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # no atexit handlers, no finalizers of the parent's objects
