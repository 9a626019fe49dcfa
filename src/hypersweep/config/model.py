"""The validated sweep: plain frozen dataclasses, built only by ``parse.py``."""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

# Every distribution name W&B's schema knows, in the order the docs list them.
DISTRIBUTIONS: tuple[str, ...] = (
    "constant",
    "categorical",
    "categorical_w_probabilities",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)

# What grid search can enumerate (W&B's list; probabilities make no sense on a grid).
GRID_DISTRIBUTIONS = frozenset({"constant", "categorical", "int_uniform", "q_uniform"})

# Tolerance, in units of q, for "max lands on the q grid" (float steps such as 0.1).
_Q_TOLERANCE = 1e-9


def decimals_of(x: float) -> int:
    """Decimal places in the shortest repr of ``x`` (0.25 -> 2, 1e-05 -> 5, 3 -> 0).

    Used to print quantised values without float noise (0.3, not 0.30000000000000004).
    """
    if isinstance(x, int):
        return 0
    exponent = decimal.Decimal(repr(float(x))).as_tuple().exponent
    if not isinstance(exponent, int):  # nan / inf
        return 17
    return min(max(0, -exponent), 17)


class QGrid(Sequence):
    """The lazy grid ``min, min+q, ...`` up to and including ``max`` when max lands on it."""

    def __init__(self, lo: float, hi: float, q: float):
        self.lo, self.q = lo, q
        self._as_int = isinstance(lo, int) and isinstance(q, int)
        self._ndigits = max(decimals_of(lo), decimals_of(q))
        self._len = math.floor((hi - lo) / q + _Q_TOLERANCE) + 1

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._len))]
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        if self._as_int:
            return self.lo + k * self.q
        return round(self.lo + k * self.q, self._ndigits)


def _identity_key(value: Any) -> str:
    # JSON keeps 0, 0.0, False, "" and None apart (W&B's YAML hash folds 0.0 into 0).
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _distinct(values: Sequence[Any]) -> tuple:
    seen: set[str] = set()
    out = []
    for v in values:
        key = _identity_key(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class Parameter:
    """One swept (or constant) hyperparameter; ``name`` is the full dotted name."""

    name: str
    distribution: str
    value: Any = None
    values: tuple | None = None
    probabilities: tuple[float, ...] | None = None
    min: float | None = None
    max: float | None = None
    mu: float = 0.0
    sigma: float = 1.0
    q: float | None = None
    a: float = 1.0
    b: float = 1.0

    @property
    def is_discrete(self) -> bool:
        """True when grid search can enumerate it."""
        return self.distribution in GRID_DISTRIBUTIONS

    def grid_axis(self) -> Sequence:
        """The grid values as a lazy sequence (a range or QGrid: never materialised)."""
        d = self.distribution
        if d == "constant":
            return (self.value,)
        if d == "categorical":
            return _distinct(self.values or ())
        if d == "int_uniform":
            return range(int(self.min), int(self.max) + 1)
        if d == "q_uniform":
            return QGrid(self.min, self.max, self.q if self.q is not None else 1.0)
        raise ValueError(
            f"parameter {self.name!r} has continuous distribution {d!r}: grid search needs "
            "'values', 'int_uniform' or 'q_uniform'"
        )

    def grid_values(self) -> list:
        """Every value grid search tries, in order (ValueError if continuous)."""
        return list(self.grid_axis())

    def describe(self) -> str:
        """One human line: what this parameter draws from."""
        d = self.distribution
        if d == "constant":
            return f"constant {_show(self.value)}"
        if d == "categorical":
            return f"one of {_show(list(self.values or ()))}"
        if d == "categorical_w_probabilities":
            pairs = ", ".join(
                f"{_show(v)} (p={p:g})"
                for v, p in zip(self.values or (), self.probabilities or (), strict=False)
            )
            return f"one of {pairs}"
        if d in ("normal", "log_normal", "q_normal", "q_log_normal"):
            text = f"{d} with mu={self.mu:g}, sigma={self.sigma:g}"
        elif d in ("beta", "q_beta"):
            text = f"{d} with a={self.a:g}, b={self.b:g}"
        elif d in ("log_uniform", "inv_log_uniform", "q_log_uniform"):
            lo, hi = _exp(self.min), _exp(self.max)
            if d == "inv_log_uniform":  # 1/exp(U(min, max))
                lo, hi = _exp(-self.max), _exp(-self.min)
            text = f"{d} between {lo:.4g} and {hi:.4g} (min/max are natural-log exponents)"
        else:
            text = f"{d} between {_show(self.min)} and {_show(self.max)}"
        if d.startswith("q_"):
            text += f", step q={_show(self.q)}"
        if d == "int_uniform":
            text += " (inclusive)"
        return text


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True)
class SearchSpace:
    """All parameters, flattened and sorted by full dotted name (W&B's grid order)."""

    parameters: tuple[Parameter, ...]

    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def __iter__(self):
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    goal: str  # "minimize" | "maximize"
    target: float | None = None


@dataclass(frozen=True)
class EarlyTerminate:
    type: str  # "hyperband" | "asha"
    min_iter: int | None
    max_iter: int | None
    s: int | None
    eta: float
    strict: bool


@dataclass(frozen=True)
class SweepConfig:
    raw: dict  # the mapping exactly as loaded (kept in the store)
    method: str  # "grid" | "random" | "bayes"
    space: SearchSpace
    metric: MetricSpec | None
    program: str | None
    command: tuple[str, ...] | None
    run_cap: int | None
    name: str | None
    description: str | None
    project: str | None
    entity: str | None
    early_terminate: EarlyTerminate | None
    env: dict[str, str] = field(default_factory=dict)
    retry_failed: int = 0  # our extension: a failed point runs again up to N times


def nest_params(flat: dict[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
    """``{"optimizer.lr": 0.1, "epochs": 3}`` -> ``{"optimizer": {"lr": 0.1}, "epochs": 3}``.
    Names in ``keep`` stay flat keys (a sweep file's own dotted top-level names)."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = [key] if key in keep else key.split(".")
        node = nested
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"parameter {key!r} clashes with parameter {part!r}")
            node = child
        if leaf in node and isinstance(node[leaf], dict) and not isinstance(value, dict):
            raise ValueError(f"parameter {key!r} clashes with nested parameters under it")
        node[leaf] = value
    return nested


def describe_space(config: SweepConfig) -> list[str]:
    """Human lines for ``hypersweep validate``: one per parameter, then the grid size."""
    width = max((len(p.name) for p in config.space.parameters), default=0)
    lines = [f"{p.name.ljust(width)}  {p.describe()}" for p in config.space.parameters]
    if config.method == "grid":
        size = math.prod(len(p.grid_axis()) for p in config.space.parameters)
        lines.append(f"grid: {size:,} point{'s' if size != 1 else ''}")
    return lines
