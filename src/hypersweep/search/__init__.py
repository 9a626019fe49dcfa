"""Pure search algorithms: functions of (search space, observations, rng), no I/O."""

from .distributions import sample_parameter
from .early_termination import runs_to_stop, stop_decisions
from .grid import grid_point, grid_size
from .hyperband import History, StopDecision, highest_band, hyperband_bands
from .random_search import sample_point

__all__ = [
    "History",
    "StopDecision",
    "grid_point",
    "grid_size",
    "highest_band",
    "hyperband_bands",
    "runs_to_stop",
    "sample_parameter",
    "sample_point",
    "stop_decisions",
]
