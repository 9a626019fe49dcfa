"""What `hypersweep run` needs of a launcher, whatever starts the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..store import Store
from ..store import schema as s

MAX_RESTARTS_PER_SLOT = 3


class Launcher(Protocol):
    notices: list[str]  # things the user should hear about, drained by the CLI

    def start(self) -> None: ...

    def poll(self) -> None:
        """Notice workers that died, clean up after them, replace them."""

    def alive(self) -> int: ...

    def stop(self) -> None: ...


class Slot(Protocol):
    worker_id: str
    restarts: int


def recover_dead_worker(
    store: Store,
    sweep_id: str,
    slot: Slot,
    *,
    what: str,
    stop_programs: Callable[[list[dict[str, Any]]], None],
    respawn: Callable[[], None],
) -> str:
    """After a worker died without cleaning up (SIGKILL, OOM, a lost Ray node): crash its
    runs so their points run again, stop their programs, and start a replacement while the
    sweep still runs (at most MAX_RESTARTS_PER_SLOT times per slot). Returns the notice for
    the user; `what` says which worker died and how."""
    crashed = store.crash_worker_runs(slot.worker_id, f"its {what}")
    stop_programs(crashed)
    note = what
    if crashed:
        note += f"; run {crashed[0]['id']} marked crashed, its point will run again"
    sweep_state = store.get_sweep(sweep_id)["state"]
    if sweep_state == s.SWEEP_RUNNING and slot.restarts < MAX_RESTARTS_PER_SLOT:
        slot.restarts += 1
        respawn()
        note += "; replaced"
    return note
