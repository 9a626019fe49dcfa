"""Bayesian optimisation (``method: bayes``). Placeholder: samples at random until the model lands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config.model import SearchSpace
from .random_search import sample_point

FINISHED, RUNNING, FAILED = "finished", "running", "failed"


@dataclass(frozen=True)
class Trial:
    """One point the sweep has already handed out, as the search model sees it.

    ``params`` are flat dotted names -> values exactly as handed out; ``value`` is the metric
    (in the user's units, not negated) for a finished run, None otherwise. ``state`` is
    "finished", "running" (in flight: must not be proposed again) or "failed" (the program
    failed or reported no value: never taken as a good result).
    """

    params: dict[str, Any]
    value: float | None
    state: str


def suggest(
    space: SearchSpace, trials: Sequence[Trial], goal: str, rng: np.random.Generator
) -> dict[str, Any]:
    """The next point to try: a flat dict, dotted name -> value."""
    return sample_point(space, rng)
