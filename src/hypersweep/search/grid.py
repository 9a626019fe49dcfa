"""Grid search as index arithmetic: point i of the grid without enumerating the grid.

Order is W&B's: parameters sorted by full name, itertools.product over their values, so the
last parameter varies fastest. The store can then hand out grid indices 0..size-1.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from ..config.model import SearchSpace


def grid_size(space: SearchSpace) -> int:
    """Number of grid points (1 when every parameter is constant)."""
    return math.prod(len(p.grid_axis()) for p in space.parameters)


def grid_point(space: SearchSpace, index: int) -> dict[str, Any]:
    """Grid point ``index`` (0-based) as a flat dict; IndexError past either end."""
    axes = [p.grid_axis() for p in space.parameters]
    size = math.prod(len(a) for a in axes)
    if not 0 <= index < size:
        raise IndexError(f"grid index {index} out of range for a grid of {size} points")
    point: dict[str, Any] = {}
    # Mixed-radix decode, least significant digit = last parameter.
    for param, axis in zip(reversed(space.parameters), reversed(axes), strict=True):
        index, digit = divmod(index, len(axis))
        point[param.name] = copy.deepcopy(axis[digit])
    return {p.name: point[p.name] for p in space.parameters}
