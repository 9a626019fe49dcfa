"""Draw values with W&B's laws (sweeps 0.3.0 params.py), from a seeded numpy Generator.

W&B maps one U(0,1) through each distribution's inverse CDF; we use numpy's native samplers,
which give the same law and are faster. Values come back as plain Python types.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from ..config.model import Parameter, decimals_of


def _quantise(x: np.ndarray, q: float) -> list:
    """round(x / q) * q (numpy's half-to-even, like W&B); ints when q is an int."""
    k = np.round(x / q)
    if isinstance(q, int):
        return [int(v) * q for v in k.tolist()]
    ndigits = decimals_of(q)
    # Rounding to q's own decimals drops float noise (0.30000000000000004 -> 0.3).
    return [round(v * q, ndigits) for v in k.tolist()]


def _continuous(param: Parameter, rng: np.random.Generator, n: int) -> np.ndarray:
    d = param.distribution.removeprefix("q_")
    lo, hi = param.min, param.max
    if d == "uniform":
        return rng.uniform(lo, hi, n)
    if d == "log_uniform":  # min/max are natural-log exponents
        return np.exp(rng.uniform(lo, hi, n))
    if d == "log_uniform_values":
        return np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    if d == "inv_log_uniform":  # W&B: 1 / exp(U(min, max))
        return np.exp(-rng.uniform(lo, hi, n))
    if d == "inv_log_uniform_values":
        # W&B computes exp(-U(-ln max, -ln min)), which is exp(U(ln min, ln max)): the same
        # law as log_uniform_values (the inverse of a log-uniform variable is log-uniform).
        return np.exp(-rng.uniform(-math.log(hi), -math.log(lo), n))
    if d == "normal":
        return rng.normal(param.mu, param.sigma, n)
    if d == "log_normal":
        return np.exp(rng.normal(param.mu, param.sigma, n))
    if d == "beta":  # on [0, 1]; W&B has no min/max for beta
        return rng.beta(param.a, param.b, n)
    raise ValueError(f"unsupported distribution {param.distribution!r}")


def _draw(param: Parameter, rng: np.random.Generator, n: int) -> list:
    d = param.distribution
    if d == "constant":
        return [copy.deepcopy(param.value) for _ in range(n)]
    if d in ("categorical", "categorical_w_probabilities"):
        values = param.values or ()
        if d == "categorical":
            idx = rng.integers(0, len(values), n)
        else:
            p = np.asarray(param.probabilities, dtype=float)
            idx = rng.choice(len(values), size=n, p=p / p.sum())  # sum is 1 within 1e-6
        # deepcopy: list/dict values must not alias the config (callers may mutate them)
        return [copy.deepcopy(values[i]) for i in idx.tolist()]
    if d == "int_uniform":
        return rng.integers(int(param.min), int(param.max), n, endpoint=True).tolist()
    x = _continuous(param, rng, n)
    if d.startswith("q_"):
        return _quantise(x, param.q if param.q is not None else 1.0)
    return [float(v) for v in x.tolist()]


def sample_parameter(param: Parameter, rng: np.random.Generator, size: int | None = None) -> Any:
    """One value (size None) or a list of ``size`` values, each a plain Python value."""
    if size is None:
        return _draw(param, rng, 1)[0]
    return _draw(param, rng, size)
