"""The unit cube the bayes model works in: one coordinate per swept parameter.

Each parameter is mapped through the CDF of its own law, so a coordinate of 0.5 is the
median of the parameter's prior: log-uniform parameters are searched in log space, normal
ones in quantile space, and so on. Integers and quantised values are snapped to the points
they can really take, so the model is scored where a run will actually go. Categoricals keep
their index and are compared only for equality by the kernel (never as an ordering).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats

from ..config.model import Parameter, SearchSpace, decimals_of

# Quantile space is open at both ends for unbounded laws (normal, log-normal).
_EDGE = 1e-6


def _key(value: Any) -> str:
    if isinstance(value, str):  # the common case, without a JSON round trip
        return "s" + value
    return json.dumps(value, sort_keys=True, default=repr)


@dataclass(frozen=True)
class Dimension:
    """One swept parameter as a coordinate in [0, 1] (categoricals: an index)."""

    param: Parameter

    @property
    def name(self) -> str:
        return self.param.name

    @property
    def is_categorical(self) -> bool:
        return self.param.distribution in ("categorical", "categorical_w_probabilities")

    @cached_property
    def _category_index(self) -> dict[str, int]:
        return {_key(v): i for i, v in enumerate(self.param.values or ())}

    @property
    def n_categories(self) -> int:
        return len(self.param.values or ())

    # -- value space <-> the law's own "base" variable --------------------------------------

    def _base_law(self) -> tuple[str, float, float]:
        """(kind, a, b): the parameter is g(B) with B uniform(a, b), normal(a, b) or beta(a, b).

        g is the identity or exp; quantisation (q_*) comes after g.
        """
        p = self.param
        d = p.distribution.removeprefix("q_")
        if d in ("uniform", "int_uniform"):
            return "uniform", float(p.min), float(p.max)
        if d == "log_uniform":
            return "log_uniform", float(p.min), float(p.max)
        if d in ("log_uniform_values", "inv_log_uniform_values"):
            return "log_uniform", math.log(p.min), math.log(p.max)
        if d == "inv_log_uniform":  # 1 / exp(U(min, max)) = exp(U(-max, -min))
            return "log_uniform", -float(p.max), -float(p.min)
        if d == "normal":
            return "normal", p.mu, p.sigma
        if d == "log_normal":
            return "log_normal", p.mu, p.sigma
        if d == "beta":
            return "beta", p.a, p.b
        raise ValueError(f"unsupported distribution {p.distribution!r}")

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Values (floats; categoricals as indices) -> coordinates in [0, 1]."""
        if self.is_categorical:
            return values.astype(float)
        if self.param.distribution == "int_uniform":
            lo, hi = self.param.min, self.param.max
            return np.clip((values - lo + 0.5) / (hi - lo + 1), 0.0, 1.0)
        kind, a, b = self._base_law()
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "uniform":
                u = (values - a) / (b - a)
            elif kind == "log_uniform":
                u = (np.log(values) - a) / (b - a)
            elif kind == "normal":
                u = stats.norm.cdf(values, a, b)
            elif kind == "log_normal":
                u = stats.norm.cdf(np.log(values), a, b)
            else:
                u = stats.beta.cdf(values, a, b)
        return np.clip(np.nan_to_num(u, nan=0.5), 0.0, 1.0)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Coordinates -> values a run can take (snapped to integers / the q grid)."""
        if self.is_categorical:
            return np.clip(np.round(u), 0, self.n_categories - 1)
        p = self.param
        if p.distribution == "int_uniform":
            lo, hi = p.min, p.max
            return np.clip(np.floor(lo + u * (hi - lo + 1)), lo, hi)
        kind, a, b = self._base_law()
        if kind == "uniform":
            x = a + u * (b - a)
        elif kind == "log_uniform":
            x = np.exp(a + u * (b - a))
        elif kind == "normal":
            x = stats.norm.ppf(np.clip(u, _EDGE, 1 - _EDGE), a, b)
        elif kind == "log_normal":
            x = np.exp(stats.norm.ppf(np.clip(u, _EDGE, 1 - _EDGE), a, b))
        else:
            x = stats.beta.ppf(np.clip(u, _EDGE, 1 - _EDGE), a, b)
        if p.distribution.removeprefix("q_") in ("uniform", "log_uniform_values"):
            x = np.clip(x, p.min, p.max)  # exp(log(max)) is not always max
        if p.distribution.startswith("q_"):
            q = p.q if p.q is not None else 1.0
            x = np.round(x / q) * q
        return x

    def snap(self, u: np.ndarray) -> np.ndarray:
        """The coordinate of the value a run would really get."""
        if self.is_categorical:
            return self.from_unit(u)
        return self.to_unit(self.from_unit(u))

    # -- single values as handed to runs ----------------------------------------------------

    def encode_column(self, values: list[Any]) -> np.ndarray:
        """Runs' values -> value-space floats (index for categoricals); NaN where a value is
        missing or foreign (not, or no longer, one of the choices)."""
        if self.is_categorical:
            index = self._category_index
            return np.array([index.get(_key(v), math.nan) for v in values], dtype=float)
        return np.array(
            [
                v if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
                for v in values
            ],
            dtype=float,
        )

    def decode_value(self, x: float) -> Any:
        """A value-space float -> the plain Python value handed to the run."""
        p = self.param
        if self.is_categorical:
            return copy.deepcopy((p.values or ())[int(x)])
        if p.distribution == "int_uniform":
            return int(x)
        if p.distribution.startswith("q_"):
            q = p.q if p.q is not None else 1.0
            if isinstance(q, int):
                return int(round(x))
            return round(float(x), decimals_of(q))
        return float(x)


class Encoding:
    """A search space's swept parameters as unit-cube coordinates; constants ride along."""

    def __init__(self, space: SearchSpace):
        self.dims = [Dimension(p) for p in space.parameters if p.distribution != "constant"]
        self.constants = {p.name: p.value for p in space.parameters if p.distribution == "constant"}
        self.names = [p.name for p in space.parameters]
        self.categorical = np.array([d.is_categorical for d in self.dims], dtype=bool)

    def __len__(self) -> int:
        return len(self.dims)

    def encode(self, params: dict[str, Any]) -> np.ndarray | None:
        """A run's params -> a unit-cube row; None when a value is missing or foreign."""
        rows, _ = self.encode_many([params])
        return rows[0] if len(rows) else None

    def encode_many(self, many: list[dict[str, Any]]) -> tuple[np.ndarray, list[int]]:
        """Many runs' params -> unit-cube rows (one pass per dimension), and the
        indices of the runs that could be encoded."""
        values = np.empty((len(many), len(self.dims)))
        for j, dim in enumerate(self.dims):
            values[:, j] = dim.encode_column([params.get(dim.name) for params in many])
        ok = ~np.isnan(values).any(axis=1)
        values = values[ok]
        for j, dim in enumerate(self.dims):
            values[:, j] = dim.to_unit(values[:, j])
        return values, [int(i) for i in np.flatnonzero(ok)]

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Rows of coordinates -> the coordinates of the points runs would really get."""
        out = np.empty_like(u)
        for j, dim in enumerate(self.dims):
            out[:, j] = dim.snap(u[:, j])
        return out

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """A unit-cube row -> a run's flat params (constants included, in space order)."""
        values = dict(copy.deepcopy(self.constants))
        for j, dim in enumerate(self.dims):
            values[dim.name] = dim.decode_value(dim.from_unit(np.array([row[j]]))[0])
        return {name: values[name] for name in self.names}
