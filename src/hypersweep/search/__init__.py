"""Pure search algorithms: functions of (search space, observations, rng), no I/O."""

from .distributions import sample_parameter
from .grid import grid_point, grid_size
from .random_search import sample_point

__all__ = ["grid_point", "grid_size", "sample_parameter", "sample_point"]
