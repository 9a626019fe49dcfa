"""Random search: one independent draw per parameter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config.model import SearchSpace
from .distributions import sample_parameter


def sample_point(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    """A flat dict, dotted name -> value, drawn from every parameter's law."""
    return {p.name: sample_parameter(p, rng) for p in space.parameters}
