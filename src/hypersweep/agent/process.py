"""Starting a program in its own process group, and stopping a whole group for good."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import psutil

_PR_SET_PDEATHSIG = 1


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


def stop_groups(pgids: Iterable[int], grace: float = 10.0) -> None:
    """SIGTERM each process group, wait up to `grace` seconds for all members to exit,
    then SIGKILL what is left. Returns once no member is left (or after a last SIGKILL)."""
    pgids = [p for p in pgids if p and p > 1]
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_members(p) for p in pgids):
        time.sleep(0.1)
    for pgid in pgids:
        signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(group_members(p) for p in pgids):
        time.sleep(0.05)


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
