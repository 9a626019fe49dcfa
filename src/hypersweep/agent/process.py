"""Starting a program in its own process group, and stopping it for good: its group, and
every process it started that left the group (setsid) or was orphaned on the way."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import psutil

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# Set by the agent in each program's environment; every descendant inherits it, so a run's
# processes can be found even after they left its process group and their agent died.
RUN_ID_ENV = "HYPERSWEEP_RUN_ID"
_subreaper = False  # this process is an agent that made itself a child subreaper


def signal_on_parent_death(sig: int) -> Callable[[], None]:
    """A `preexec_fn` that has the kernel send `sig` to the child when its parent dies, even
    by SIGKILL, instead of leaving the child running unsupervised (Linux only)."""
    parent = os.getpid()

    def arm() -> None:  # runs in the child, between fork and exec
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return arm


def become_subreaper() -> bool:
    """Make this process a child subreaper (Linux): a descendant orphaned on its way (a
    program's child that outlived it, a daemon that forked twice or called setsid()) is
    re-parented to us instead of init, so `stop_run_processes` still finds it. We must then
    reap such children (`reap_children`). Returns False where the kernel has no such thing."""
    global _subreaper
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


def exit_description(code: int) -> str:
    """How a program ended, for a run's message. Popen's returncode is -N for a program
    killed by signal N; a shell reports a child killed by signal N as 128 + N."""
    if code < 0:
        return f"killed by {_signal_text(-code)}"
    if code > 128 and _signal_name(code - 128):
        return f"exit code {code} (128 + {_signal_text(code - 128)}, as a shell reports it)"
    return f"exit code {code}"


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def _signal_text(number: int) -> str:
    if number == signal.SIGKILL:  # what the kernel's OOM killer sends
        return f"signal {number} (out of memory?)"
    name = _signal_name(number)
    return f"signal {number} ({name})" if name else f"signal {number}"


def spawn(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `command` as the leader of a new session: its pid is its process-group id, so
    one signal reaches everything it starts. stdout and stderr come back on one pipe."""
    return subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # The agent SIGKILLed: the kernel kills its program too.
        preexec_fn=signal_on_parent_death(signal.SIGKILL),
    )


def process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_same_process(pid: int, started: float | None) -> bool:
    """True if `pid` still names the process recorded as started at `started` (not a reuse)."""
    now_started = process_started(pid)
    if now_started is None:
        return False
    return started is None or abs(now_started - started) < 1.0


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of the group (zombies are already dead: they only await reaping)."""
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_processes(
    pgids: Iterable[int],
    grace: float = 10.0,
    *,
    find: Callable[[], Iterable[psutil.Process]] | None = None,
) -> None:
    """SIGTERM every member of the process groups `pgids` and every process `find()`
    returns (asked again each round, so processes started meanwhile are caught too); wait up
    to `grace` seconds for them to exit, then SIGKILL what is left."""
    pgids = [p for p in pgids if p and p > 1]
    signalled: set[int] = set()

    def strays() -> list[psutil.Process]:
        """What `find` returns outside the groups (the group signal reaches those)."""
        found = []
        for proc in find() if find is not None else ():
            try:
                if proc.pid == os.getpid() or os.getpgid(proc.pid) in pgids:
                    continue
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        return found

    def signal_all(sig: int, again: bool) -> list[psutil.Process]:
        left = strays()
        for proc in left:
            if again or proc.pid not in signalled:
                signalled.add(proc.pid)
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(sig)  # psutil checks the pid was not reused
        return left

    def any_left(sig: int, again: bool) -> bool:
        left = bool(signal_all(sig, again))
        return left or any(group_members(p) for p in pgids)

    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any_left(signal.SIGTERM, False) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pgid in pgids:
        signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any_left(signal.SIGKILL, True) and time.monotonic() < deadline:
        time.sleep(0.05)


def descendants(pid: int | None = None) -> list[psutil.Process]:
    """Every process below `pid` (default: this one), whatever its group or session."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def processes_of_runs(run_ids: Collection[str]) -> list[psutil.Process]:
    """Processes of ours whose environment names one of `run_ids`: a run's program and
    everything it started, even what left its group and outlived its agent (re-parented to
    init). A process that cleared its environment is not found."""
    ids = set(run_ids)
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(RUN_ID_ENV) in ids:
                found.append(proc)
        except psutil.Error:  # gone, or not ours
            continue
    return found


def stop_run_processes(program_pid: int, run_id: str, grace: float = 10.0) -> None:
    """In the agent, when a run ends or must stop: SIGTERM, then SIGKILL after `grace`, to
    the program's process group, to every other process carrying the run's id, and to
    every descendant of this process if it is a subreaper (what the program orphaned is
    ours then, whatever its group or environment; else only the program's descendants: the
    agent may live in a process that has children of its own). Zombies are reaped; the
    program itself is left for its Popen to reap."""

    def leftovers() -> list[psutil.Process]:
        below = descendants() if _subreaper else descendants(program_pid)
        return below + processes_of_runs({run_id})

    stop_processes([program_pid], grace, find=leftovers)
    reap_children(keep=[program_pid])


def stop_runs(runs: Iterable[Mapping], grace: float = 10.0) -> None:
    """From outside the agents (`kill`, a dead agent's runs): the runs' process groups (pid
    is the group) and every process carrying one of their ids in its environment."""
    runs = list(runs)
    ids = {r["id"] for r in runs}
    stop_processes(
        [r["pid"] for r in runs if r.get("pid")], grace, find=lambda: processes_of_runs(ids)
    )


def reap_children(keep: Collection[int] = ()) -> None:
    """Collect the exit status of this process's ended children other than `keep`, so that
    orphans re-parented to us (as subreaper) do not stay zombies. Never blocks. Only in a
    process that made itself subreaper (an agent's own process, whose children are all its
    runs'): elsewhere a Popen could lose its child's exit status."""
    if not _subreaper:
        return
    while True:
        try:  # WNOWAIT: look first; a child in `keep` belongs to its Popen
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # no child at all
            return
        if info is None:  # no child has ended
            return
        if info.si_pid in keep:
            break
        try:
            if os.waitpid(info.si_pid, os.WNOHANG)[0] == 0:
                return  # not reaped after all: never spin
        except ChildProcessError:  # reaped meanwhile by someone else
            continue
    # An ended child in `keep` hides the others from waitid: look at each child instead.
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return
    for child in children:
        if child.pid in keep:
            continue
        with contextlib.suppress(ChildProcessError, psutil.Error):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


def stop_process(pid: int, started: float | None, grace: float = 10.0) -> None:
    """SIGTERM one process (an agent), SIGKILL it if it outlives `grace`."""
    if not is_same_process(pid, started):
        return
    proc = psutil.Process(pid)
    proc.terminate()
    try:
        proc.wait(grace)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    except psutil.NoSuchProcess:
        pass
