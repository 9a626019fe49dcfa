"""Early termination: must a running run stop now (``early_terminate`` in the sweep file)?

Each agent asks about its own run, right after it recorded new values of the sweep's metric,
so a decision follows the value that caused it within a flush. No daemon is needed, and a run
that logs nothing new is not judged again (its band and value have not changed; it will be
judged against the latest peers when it logs its next value).
"""

from __future__ import annotations

from ..search import highest_band, hyperband_bands, stop_decisions
from ..store import Store
from ..store import schema as s
from .claims import sweep_config


def check_early_stop(store: Store, run_id: str) -> str | None:
    """If the run must stop early, mark it (``stop_requested`` and the reason as its
    ``message``) and return the reason; else None.

    Reads one metric of one sweep: all of this run's values, and the other runs' values only
    up to the band this run has reached, which is all its verdict depends on.
    """
    with store.read() as conn:
        run = store.get_run(run_id, conn)
        if run["state"] != s.RUNNING or run["sweep_id"] is None:
            return None
        if run["stop_requested"]:
            return run["message"]
        config = sweep_config(store.get_sweep(run["sweep_id"], conn))
        et, metric = config.early_terminate, config.metric
        if et is None or metric is None:
            return None
        own = store.metric_values(conn, run_id, metric.name)
        band = highest_band(hyperband_bands(et), len(own))
        if band is None:
            return None
        peers = store.sweep_metric_values(conn, run["sweep_id"], metric.name, first=band)
    # Only this run is judged: the others are its peers, whatever their state.
    histories = {peer_id: (False, values) for peer_id, values in peers.items()}
    histories[run_id] = (True, own)
    decisions = stop_decisions(et, metric.goal, histories)
    if not decisions:
        return None
    message = decisions[0].message(metric.name)
    with store.write() as conn:
        if not store.request_stop(conn, run_id, message):
            return None  # it ended meanwhile (finished, killed): that verdict stands
    return message
