"""Recording a run's end, and stopping a sweep whose program is broken."""

from __future__ import annotations

import time

from sqlalchemy import Connection

from ..store import Row, Store
from ..store import schema as s
from .claims import DEFAULT_SETTINGS
from .leases import accept_late_end


def record_run_end(
    store: Store,
    run_id: str,
    state: str,
    *,
    exit_code: int | None = None,
    log_tail: str | None = None,
    message: str | None = None,
) -> bool:
    """Record a run's end, then decide whether the sweep must stop or is complete."""
    with store.write() as conn:
        run = store.get_run(run_id, conn)
        if run["sweep_id"] is None:
            return store.end_run(
                conn, run_id, state, exit_code=exit_code, log_tail=log_tail, message=message
            )
        sweep = store.lock_sweep(conn, run["sweep_id"])
        values = {"exit_code": exit_code, "log_tail": log_tail, "message": message}
        ended = store.end_run(conn, run_id, state, **values)
        if not ended:  # taken for crashed while its worker was frozen: a late result?
            run = store.get_run(run_id, conn)
            ended = accept_late_end(store, conn, run, state, {**values, "ended_at": time.time()})
        if ended and state == s.FAILED:
            _stop_if_failing_fast(store, conn, sweep)
        return ended


def _stop_if_failing_fast(store: Store, conn: Connection, sweep: Row) -> None:
    """The first `fail_fast` ended runs all failed: the program is broken, not the params.
    Stop before burning the whole search space. Every failed run counts, those whose point
    is handed out again (`retry_failed`) too: retries must not delay finding a broken
    program. One finished run, a retry's included, turns this off."""
    limit = int(sweep["settings"].get("fail_fast", DEFAULT_SETTINGS["fail_fast"]) or 0)
    if limit <= 0 or sweep["state"] != s.SWEEP_RUNNING:
        return
    counts = store.run_counts(sweep["id"], conn).get(sweep["id"], {})
    failures = counts.get(s.FAILED, 0) - sweep["settings"].get("failures_before_resume", 0)
    if counts.get(s.FINISHED, 0) > 0 or failures < limit:
        return
    last = store.list_runs(sweep["id"], [s.FAILED], conn)[-1]
    how = last["message"] or f"exit code {last['exit_code']}"  # "killed by signal 9 (...)"
    message = (
        f"stopped: the first {failures} runs all failed (last: run {last['id']}, {how}); "
        "fix the program, then "
        f"`hypersweep resume {sweep['id']}`"
    )
    store.update_sweep(sweep["id"], conn, state=s.SWEEP_FAILED, message=message)
