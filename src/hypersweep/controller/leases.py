"""A run's lease: its worker's heartbeats. A worker silent past the heartbeat timeout (frozen
by SIGSTOP, a store outage, a suspended laptop) has its run taken for crashed and the point
handed out again. When that worker comes back, one execution of the point must win, and it
should be the one furthest along: the original, unless a retry already has a result."""

from __future__ import annotations

import time

from sqlalchemy import Connection

from ..store import Row, Store
from ..store import schema as s

RESULT_STATES = (s.FINISHED, s.FAILED, s.STOPPED_EARLY)
KEPT, LOST = "kept", "lost"


def later_attempts(store: Store, conn: Connection, run: Row) -> list[Row]:
    """The retries of `run`'s point: the same point, a later attempt."""
    if run["point_index"] is None:
        return []
    return [
        other
        for other in store.list_runs(run["sweep_id"], None, conn, point_index=run["point_index"])
        if other["attempt"] > run["attempt"]
    ]


def _retry_has_result(retries: list[Row]) -> Row | None:
    """A retry whose end is the point's verdict (a failure retried under `retry_failed` is
    superseded: not a verdict)."""
    return next((r for r in retries if r["state"] in RESULT_STATES and not r["superseded"]), None)


def _supersede_retries(store: Store, conn: Connection, run: Row, retries: list[Row]) -> None:
    """Stop the point's retries in favour of `run`: killed and superseded, so they count as
    no result and are not handed out again; their workers stop them at the next heartbeat."""
    why = f"superseded: attempt {run['attempt']} (run {run['id']}) came back after all"
    for retry in retries:
        if retry["state"] in s.ACTIVE_RUN_STATES:
            store.end_run(conn, retry["id"], s.KILLED, message=why)
        if retry["state"] in s.ACTIVE_RUN_STATES or retry["state"] in s.RETRYABLE_RUN_STATES:
            store.update_run(retry["id"], conn, superseded=True)


def reclaim_run(store: Store, run_id: str, worker_id: str) -> str:
    """The worker of a run taken for crashed is alive and its program still runs. KEPT: the
    run is running again (any retry of its point is stopped); LOST: a retry already has the
    point's result, so the program must stop."""
    with store.write() as conn:
        run = store.get_run(run_id, conn)
        store.lock_sweep(conn, run["sweep_id"])
        if run["state"] == s.RUNNING:
            return KEPT
        if run["state"] != s.CRASHED:
            return LOST  # killed, stopped: someone meant it
        retries = later_attempts(store, conn, run)
        if _retry_has_result(retries):
            return LOST
        _supersede_retries(store, conn, run, retries)
        store.update_run(
            run_id,
            conn,
            state=s.RUNNING,
            superseded=False,
            ended_at=None,
            message=None,
            worker_id=worker_id,
            heartbeat_at=time.time(),  # or the next claim takes it for crashed again
        )
        return KEPT


def accept_late_end(
    store: Store, conn: Connection, run: Row, state: str, values: dict[str, object]
) -> bool:
    """A run taken for crashed ended after all (its worker was frozen while the program
    finished). Its result is kept, and any retry still running is stopped, unless a retry
    already produced the point's result: never two results for one point."""
    if run["state"] != s.CRASHED or state not in RESULT_STATES:
        return False
    retries = later_attempts(store, conn, run)
    winner = _retry_has_result(retries)
    if winner is not None:
        store.update_run(
            run["id"],
            conn,
            message=f"ended {state} after its retry {winner['id']} had the point's result",
        )
        return False
    _supersede_retries(store, conn, run, retries)
    store.update_run(run["id"], conn, state=state, superseded=False, **values)
    return True
