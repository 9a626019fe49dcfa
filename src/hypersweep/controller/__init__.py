"""The single decision layer: which run starts next, when a sweep ends, which runs stop early.

Every decision happens inside one store transaction that holds the sweep row, so two workers
can never be handed the same point, and a crashed run's point is handed out again.
"""

from .claims import (
    DEFAULT_SETTINGS,
    Claim,
    claim_next_run,
    heartbeat_timeout,
    sweep_config,
    total_points,
)
from .ending import record_run_end
from .leases import KEPT, LOST, reclaim_run
from .ranking import best_runs, importance
from .stopping import check_early_stop

__all__ = [
    "DEFAULT_SETTINGS",
    "KEPT",
    "LOST",
    "Claim",
    "best_runs",
    "check_early_stop",
    "claim_next_run",
    "heartbeat_timeout",
    "importance",
    "reclaim_run",
    "record_run_end",
    "sweep_config",
    "total_points",
]
