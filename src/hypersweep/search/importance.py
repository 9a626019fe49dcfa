"""Which parameters mattered: a fANOVA-style main-effect estimate from the bayes model.

A GP is fitted to the finished runs (same model and unit cube as the search). For each
parameter, its main effect is the model's mean prediction averaged over random settings of
all the other parameters, as a function of that one parameter alone; the importance is the
variance of that curve, normalised so the shares sum to 1. Interactions are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..config.model import SearchSpace
from .bayes import FINISHED, Trial, encode_trials, standardise
from .encoding import Encoding
from .gp import GaussianProcess, fit_hyperparameters

MIN_RUNS = 5
N_BACKGROUND = 128  # random settings of the other parameters
N_LEVELS = 12  # values of the parameter itself (all categories when fewer)
MAX_RUNS = 200


def parameter_importance(
    space: SearchSpace, trials: Sequence[Trial], seed: int = 0
) -> dict[str, float] | None:
    """Share of the explained variation per swept parameter, largest first; None when
    fewer than MIN_RUNS runs finished with a value."""
    encoding = Encoding(space)
    finished = [t for t in trials if t.state == FINISHED]
    x, y, _failed, _pending = encode_trials(encoding, finished, "minimize")
    if len(encoding) == 0 or len(y) < MIN_RUNS:
        return None
    rng = np.random.default_rng(seed)
    if len(y) > MAX_RUNS:
        keep = rng.choice(len(y), MAX_RUNS, replace=False)
        x, y = x[keep], y[keep]
    with threadpool_limits(1):
        z = standardise(y)
        gp = GaussianProcess(
            x, z, encoding.categorical, fit_hyperparameters(x, z, encoding.categorical)
        )
        background = rng.random((N_BACKGROUND, len(encoding)))
        for j, dim in enumerate(encoding.dims):
            if dim.is_categorical:
                background[:, j] = rng.integers(0, dim.n_categories, N_BACKGROUND)
        effects = {}
        for j, dim in enumerate(encoding.dims):
            levels = (
                np.arange(dim.n_categories, dtype=float)
                if dim.is_categorical
                else (np.arange(N_LEVELS) + 0.5) / N_LEVELS
            )
            grid = np.repeat(background[None, :, :], len(levels), axis=0)
            grid[:, :, j] = levels[:, None]
            mean, _ = gp.predict(grid.reshape(-1, len(encoding)))
            effects[dim.name] = float(mean.reshape(len(levels), -1).mean(axis=1).var())
    total = sum(effects.values())
    if total <= 0:
        return {name: 0.0 for name in effects}
    shares = {name: v / total for name, v in effects.items()}
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))
