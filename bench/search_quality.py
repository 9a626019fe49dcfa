"""Search quality: hypersweep's random and bayes beside W&B's engine and Optuna, same run.

    .venv/bin/python bench/search_quality.py                  # the full benchmark (hours)
    .venv/bin/python bench/search_quality.py --seeds 2 --budget 30 --no-timing   # a quick check
    .venv/bin/python bench/search_quality.py --optimizers hs-bayes --workers 2
    .venv/bin/python bench/search_quality.py --report-only    # print what the cache holds

What it measures
    Every optimizer minimises every task with the same budgets and seeds (0..N-1), in one
    process tree, single-threaded (BLAS, OpenMP and torch limited to one thread each), in two
    modes:
      sequential  ask, evaluate, tell, repeat.
      parallel    4 suggestions in flight: each step one of the 4 pending suggestions completes
                  (picked by an rng seeded from the seed alone, so every optimizer sees the same
                  completion pattern), its result is told and one new suggestion is asked while
                  the other 3 are still pending (running trials for hypersweep, RunState.running
                  runs for W&B, un-told trials for Optuna).
    Each cell (task, optimizer, mode, seed) runs the largest budget once and records the values
    in completion order; budget B reads the best of the first B results (for parallel mode,
    "the first B results to come back").

    Tables: per task, mode and budget, the median and quartiles over seeds of the simple regret
    (best - known optimum) or, for the model-tuning tasks, of the best value (lower is better);
    wins/ties/losses of hs-bayes against each peer over tasks x budgets x modes (medians
    compared; a tie is a difference of at most REL_TOL = 5 % of the larger median or the task's
    absolute tolerance, whichever is larger); per optimizer the median over tasks of its rank
    and of its normalised score ((worst median - its median) / (worst - best median): 1 = the
    best of the optimizers compared, 0 = the worst); suggestion time (median of a few
    suggestions) with 10, 100 and 1,000 random finished runs in the history; time spent per
    optimizer and cost of one evaluation per task.

Optimizers
    hs-random        hypersweep.search.sample_point, rng = np.random.default_rng([seed, i])
    hs-bayes         hypersweep.search.bayes.suggest, same rng scheme
    wandb-random     W&B's engine (`sweeps` package), method random
    wandb-bayes      W&B's engine, method bayes. It is not seedable: numpy's and Python's global
                     generators are seeded from (seed, i) before each suggestion.
    optuna-tpe       TPESampler(seed=seed): Optuna's default (multivariate since Optuna 5)
    optuna-tpe-indep TPESampler(multivariate=False, seed=seed): the independent TPE that was
                     Optuna's default before 5.0
    optuna-gp        GPSampler(seed=seed) (needs torch)
    optuna-tpe-mv    TPESampler(multivariate=True, seed=seed); not in the default set because it
                     is identical to optuna-tpe under Optuna >= 5 (same suggestions)
    A peer that is not installed is listed as "not installed".

Tasks (all W&B sweep configs, minimised)
    branin        2-d, optimum 0.397887
    hartmann6     6-d on [0, 1]^6, optimum -3.32237
    levy10        10-d Levy on [-10, 10]^10, optimum 0. Levy rather than Rosenbrock: it is
                  multimodal with a global trend on a moderate scale, while Rosenbrock's values
                  span 1e6 and 100 trials mostly measure leaving the steep corners.
    mixed         Branin core whose 5-level categorical `optimizer` shifts, scales and offsets
                  it and moves the best log-scaled `lr`, plus 3 irrelevant dimensions (uniform,
                  int_uniform, q_uniform); 7-d, optimum 0.198944
    gbm-cancer    GradientBoostingClassifier on breast_cancer, 3-fold stratified CV log-loss;
                  learning_rate and subsample continuous (lr log-scaled), n_estimators, max_depth
                  and min_samples_leaf ints, max_features categorical
    mlp-digits    MLPClassifier on a stratified 600-image subsample of digits, full-batch Adam,
                  3-fold CV log-loss; learning_rate and alpha log-scaled, hidden_units and
                  epochs ints, activation categorical. (An SVC's error rate was tried first: every
                  optimizer, random search included, reached the same floor of 16/600 errors
                  within 30 trials, so it could not tell optimizers apart.)
    Model-tuning tasks are deterministic (fixed random_state, fixed folds).

Options
    --tasks, --optimizers   comma-separated names (default: all)
    --seeds N               seeds 0..N-1 (default 10)
    --budget 30,100         budgets read from each trajectory; cells run to the largest
    --modes                 sequential,parallel
    --workers N             processes running cells (ProcessPoolExecutor); 1 runs inline
    --timing-only           only the suggestion-time table; --no-timing skips it
    --report-only           run nothing, print what the cache holds
    --results FILE          the cache (default bench/.cache/search_quality.jsonl)
    --fresh NAMES           drop these optimizers' cached cells and timings first

Cache
    One JSON line per finished cell (and per suggestion-time measurement), appended as soon as
    it finishes, so an interrupted run resumes and a re-run only prints. The key holds the
    task's version, the harness version and the optimizer's code version: for hs-* a hash of
    the source of its module (search/bayes.py, search/random_search.py) and of every
    hypersweep module it imports, so editing bayes.py or gp.py invalidates hs-bayes cells by
    itself (and so does changing an environment variable that source reads by name); for
    peers the package versions. Use --fresh NAME after a change the key cannot see. Several
    runs may append at once (the file is locked per write).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import random
import re
import signal
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hypersweep.config import Parameter, SearchSpace, parse_sweep_config
from hypersweep.search import sample_point

HARNESS_VERSION = "1"
METRIC = "loss"
IN_FLIGHT = 4  # suggestions pending at once in parallel mode
REL_TOL = 0.05  # medians within 5 % of the larger one tie (see Task.tie_abs for the floor)
MATCH_TOL = 0.05  # normalised scores within 0.05 "match"
TIMING_TASKS = ("hartmann6", "mixed")
TIMING_HISTORY = (10, 100, 1000)
TIMING_REPS = 7
# Bumped when the timing procedure changes (cells keep HARNESS_VERSION).
TIMING_HARNESS_VERSION = "2-warm"
TIMING_CAP_S = 30.0  # a suggestion slower than this is reported as "> 30 s"
TIMING_SETUP_S = 120.0  # allowance for building a 1,000-run history before timing starts
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "search_quality.jsonl"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

Params = Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A minimisation problem written as a W&B sweep's parameters section."""

    name: str
    description: str
    parameters: dict[str, dict[str, Any]]
    objective: Callable[[Params], float]
    optimum: float | None  # known minimum: regret is reported; None: the best value
    tie_abs: float  # medians closer than this always tie (below it a task counts as solved)
    uses_sklearn: bool = False
    version: str = "1"

    def sweep_config(self, method: str) -> dict[str, Any]:
        return {
            "method": method,
            "metric": {"name": METRIC, "goal": "minimize"},
            "parameters": json.loads(json.dumps(self.parameters)),  # a deep copy
        }

    def score(self, best: float) -> float:
        """What the tables show: simple regret when the optimum is known, else the value."""
        return best - self.optimum if self.optimum is not None else best

    def code_version(self) -> str:
        if not self.uses_sklearn:
            return self.version
        return f"{self.version}-sklearn{importlib.metadata.version('scikit-learn')}"


def _uniform(lo: float, hi: float) -> dict[str, Any]:
    return {"distribution": "uniform", "min": lo, "max": hi}


def _log_uniform(lo: float, hi: float) -> dict[str, Any]:
    return {"distribution": "log_uniform_values", "min": lo, "max": hi}


def _int_uniform(lo: int, hi: int) -> dict[str, Any]:
    return {"distribution": "int_uniform", "min": lo, "max": hi}


def _q_uniform(lo: float, hi: float, q: float) -> dict[str, Any]:
    return {"distribution": "q_uniform", "min": lo, "max": hi, "q": q}


def _categorical(*values: Any) -> dict[str, Any]:
    return {"distribution": "categorical", "values": list(values)}


BRANIN_OPTIMUM = 0.397887357729738


def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> float:
    return float(-_H6_ALPHA @ np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)))


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


# level -> (scale, shift of x1, offset, best log10(lr)); "adam" holds the optimum.
MIXED_LEVELS: dict[str, tuple[float, float, float, float]] = {
    "sgd": (1.0, 0.0, 1.0, -1.5),
    "momentum": (2.0, -1.0, 0.5, -2.0),
    "adam": (0.5, 1.5, 0.0, -3.0),
    "adagrad": (1.0, 2.0, 2.0, -1.0),
    "rmsprop": (3.0, -2.0, 0.0, -3.5),
}
MIXED_OPTIMUM = min(s * BRANIN_OPTIMUM + off for s, _, off, _ in MIXED_LEVELS.values())


def mixed(p: Params) -> float:
    """Branin shifted/scaled/offset by the categorical, plus a log-lr bowl; unused_* ignored."""
    scale, shift, offset, best_log_lr = MIXED_LEVELS[p["optimizer"]]
    lr_penalty = (math.log10(p["lr"]) - best_log_lr) ** 2
    return scale * branin(p["x1"] - shift, p["x2"]) + offset + lr_penalty


@cache
def _cv_folds(dataset: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed 3-fold stratified splits: (X_train, y_train, X_valid, y_valid) per fold."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if dataset == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        _, X, _, y = train_test_split(X, y, test_size=600, stratify=y, random_state=0)
    splits = StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y)
    return [(X[tr], y[tr], X[va], y[va]) for tr, va in splits]


def _cross_validate(make_model: Callable[[], Any], dataset: str, loss: Callable) -> float:
    import sklearn

    losses = []
    # Skipping sklearn's per-call validation makes a fit ~20 % cheaper; inputs are clean.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for X_train, y_train, X_valid, y_valid in _cv_folds(dataset):
            losses.append(loss(make_model().fit(X_train, y_train), X_valid, y_valid))
    return float(np.mean(losses))


def _log_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    proba = model.predict_proba(X)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(proba, 1e-15, 1.0))))


def _error_rate(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X) != y))


def gbm_cancer(p: Params) -> float:
    from sklearn.ensemble import GradientBoostingClassifier

    def make() -> Any:
        return GradientBoostingClassifier(
            learning_rate=p["learning_rate"],
            n_estimators=p["n_estimators"],
            max_depth=p["max_depth"],
            min_samples_leaf=p["min_samples_leaf"],
            subsample=p["subsample"],
            max_features=None if p["max_features"] == "all" else p["max_features"],
            random_state=0,
        )

    return _cross_validate(make, "breast_cancer", _log_loss)


MLP_BATCH = 400  # a whole training fold: full-batch Adam, ~4x cheaper than mini-batches


def mlp_digits(p: Params) -> float:
    from sklearn.neural_network import MLPClassifier

    def make() -> Any:
        return MLPClassifier(
            hidden_layer_sizes=(p["hidden_units"],),
            activation=p["activation"],
            alpha=p["alpha"],
            learning_rate_init=p["learning_rate"],
            max_iter=p["epochs"],
            batch_size=MLP_BATCH,
            random_state=0,
        )

    return _cross_validate(make, "digits", _log_loss)


def _vector(p: Params, names: Sequence[str]) -> np.ndarray:
    return np.array([float(p[n]) for n in names])


_H6_NAMES = [f"x{i}" for i in range(1, 7)]
_LEVY_NAMES = [f"x{i:02d}" for i in range(1, 11)]

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "branin",
            "Branin, 2-d",
            {"x1": _uniform(-5.0, 10.0), "x2": _uniform(0.0, 15.0)},
            lambda p: branin(p["x1"], p["x2"]),
            BRANIN_OPTIMUM,
            1e-3,
        ),
        Task(
            "hartmann6",
            "Hartmann, 6-d",
            {n: _uniform(0.0, 1.0) for n in _H6_NAMES},
            lambda p: hartmann6(_vector(p, _H6_NAMES)),
            -3.32236801141551,
            1e-3,
        ),
        Task(
            "levy10",
            "Levy, 10-d",
            {n: _uniform(-10.0, 10.0) for n in _LEVY_NAMES},
            lambda p: levy(_vector(p, _LEVY_NAMES)),
            0.0,
            1e-2,
        ),
        Task(
            "mixed",
            "Branin + 5-level categorical + log-scaled lr + 3 irrelevant dims, 7-d",
            {
                "x1": _uniform(-5.0, 10.0),
                "x2": _uniform(0.0, 15.0),
                "optimizer": _categorical(*MIXED_LEVELS),
                "lr": _log_uniform(1e-5, 1e-1),
                "unused_float": _uniform(0.0, 1.0),
                "unused_int": _int_uniform(1, 100),
                "unused_q": _q_uniform(0.0, 1.0, 0.05),
            },
            mixed,
            MIXED_OPTIMUM,
            1e-3,
        ),
        Task(
            "gbm-cancer",
            "GradientBoostingClassifier on breast_cancer, 3-fold CV log-loss, 6-d",
            {
                "learning_rate": _log_uniform(0.01, 1.0),
                "n_estimators": _int_uniform(5, 30),
                "max_depth": _int_uniform(1, 3),
                "min_samples_leaf": _int_uniform(1, 30),
                "subsample": _uniform(0.3, 1.0),
                "max_features": _categorical("sqrt", "log2", "all"),
            },
            gbm_cancer,
            None,
            1e-3,
            uses_sklearn=True,
        ),
        Task(
            "mlp-digits",
            "MLPClassifier on 600 digits, 3-fold CV log-loss, 5-d",
            {
                "learning_rate": _log_uniform(1e-4, 0.3),
                "alpha": _log_uniform(1e-6, 1.0),
                "hidden_units": _int_uniform(4, 64),
                "epochs": _int_uniform(5, 30),
                "activation": _categorical("relu", "tanh", "logistic"),
            },
            mlp_digits,
            None,
            1e-3,
            uses_sklearn=True,
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Optimizers: one ask/tell interface over every implementation
# --------------------------------------------------------------------------------------------


class Searcher(ABC):
    """Ask for a point (a ticket and flat params), tell its value when it completes."""

    def __init__(self, task: Task, seed: int):
        self.task, self.seed, self.asked = task, seed, 0

    def ask(self) -> tuple[int, dict[str, Any]]:
        ticket, params = self._ask()
        self.asked += 1
        return ticket, params

    @abstractmethod
    def _ask(self) -> tuple[int, dict[str, Any]]: ...

    @abstractmethod
    def tell(self, ticket: int, value: float) -> None: ...

    @abstractmethod
    def add_finished(self, params: Params, value: float) -> None:
        """Put one already finished run into the history (for the suggestion-time table)."""


class HypersweepSearcher(Searcher):
    """hypersweep.search: random (sample_point) or bayes (bayes.suggest)."""

    def __init__(self, task: Task, seed: int, method: str):
        super().__init__(task, seed)
        from hypersweep.search import bayes

        self.bayes, self.method = bayes, method
        config = parse_sweep_config(task.sweep_config(method))
        self.space, self.goal = config.space, config.metric.goal
        self.trials: list[Any] = []

    def _ask(self) -> tuple[int, dict[str, Any]]:
        rng = np.random.default_rng([self.seed, self.asked])
        if self.method == "bayes":
            params = self.bayes.suggest(self.space, list(self.trials), self.goal, rng)
        else:
            params = sample_point(self.space, rng)
        self.trials.append(self.bayes.Trial(params=params, value=None, state="running"))
        return len(self.trials) - 1, params

    def tell(self, ticket: int, value: float) -> None:
        params = self.trials[ticket].params
        self.trials[ticket] = self._finished(params, value)

    def add_finished(self, params: Params, value: float) -> None:
        self.trials.append(self._finished(dict(params), value))

    def _finished(self, params: dict[str, Any], value: float) -> Any:
        if not math.isfinite(value):
            return self.bayes.Trial(params=params, value=None, state="failed")
        return self.bayes.Trial(params=params, value=value, state="finished")


def _plain(value: Any) -> Any:
    """numpy scalars and 0-d arrays (W&B's ppf returns them) -> Python values."""
    return value.item() if isinstance(value, np.generic | np.ndarray) else value


class WandbSearcher(Searcher):
    """W&B's own engine (sweeps 0.3.0): ``next_run(config, runs)``.

    What it reads: for bayes, a finished run's metric is the extremum over ``history`` and
    ``summary_metrics`` (both given here), failed runs are imputed as the worst, and running
    runs (no metric) become fantasies at the GP mean. Parameters are read from
    ``run.config[name]["value"]`` (tasks here are flat: no nested parameters).
    """

    def __init__(self, task: Task, seed: int, method: str):
        super().__init__(task, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydantic v1-style Config in sweeps 0.3.0
            import sweeps
        self.sweeps = sweeps
        self.config = task.sweep_config(method)
        self.runs: list[Any] = []

    def _ask(self) -> tuple[int, dict[str, Any]]:
        # The engine draws from numpy's and Python's global generators: seed them per call.
        np.random.seed([self.seed, self.asked])
        random.seed(f"{self.seed}-{self.asked}")
        suggestion = self.sweeps.next_run(self.config, self.runs)
        params = {name: _plain(entry["value"]) for name, entry in suggestion.config.items()}
        state = self.sweeps.RunState.running
        self.runs.append(self.sweeps.SweepRun(config=suggestion.config, state=state))
        return len(self.runs) - 1, params

    def tell(self, ticket: int, value: float) -> None:
        self.runs[ticket] = self._finished(self.runs[ticket].config, value)

    def add_finished(self, params: Params, value: float) -> None:
        self.runs.append(self._finished({k: {"value": v} for k, v in params.items()}, value))

    def _finished(self, config: dict[str, Any], value: float) -> Any:
        run_state = self.sweeps.RunState
        if not math.isfinite(value):
            return self.sweeps.SweepRun(config=config, state=run_state.failed)
        return self.sweeps.SweepRun(
            config=config,
            state=run_state.finished,
            summary_metrics={METRIC: value},
            history=[{METRIC: value}],
        )


def optuna_distribution(param: Parameter) -> Any:
    """The Optuna distribution equivalent to a W&B parameter (the forms the tasks use)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    d, lo, hi = param.distribution, param.min, param.max
    if d == "uniform":
        return FloatDistribution(lo, hi)
    if d == "log_uniform_values":
        return FloatDistribution(lo, hi, log=True)
    if d == "log_uniform":  # min/max are natural-log exponents
        return FloatDistribution(math.exp(lo), math.exp(hi), log=True)
    if d == "int_uniform":
        return IntDistribution(int(lo), int(hi))
    if d == "q_uniform":
        q = param.q if param.q is not None else 1.0
        if all(isinstance(v, int) for v in (lo, hi, q)):
            return IntDistribution(lo, hi, step=q)
        return FloatDistribution(lo, hi, step=q)
    if d == "categorical":
        return CategoricalDistribution(list(param.values or ()))
    raise ValueError(f"parameter {param.name!r}: no Optuna equivalent for {d!r}")


class OptunaSearcher(Searcher):
    """Optuna ask/tell with fixed distributions; in-flight trials stay un-told."""

    def __init__(self, task: Task, seed: int, make_sampler: Callable[[Any, int], Any]):
        super().__init__(task, seed)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        space = parse_sweep_config(task.sweep_config("random")).space
        self.constants = {p.name: p.value for p in space if p.distribution == "constant"}
        self.distributions = {
            p.name: optuna_distribution(p) for p in space if p.distribution != "constant"
        }
        sampler = make_sampler(optuna.samplers, seed)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.trials: list[Any] = []

    def _ask(self) -> tuple[int, dict[str, Any]]:
        trial = self.study.ask(self.distributions)
        self.trials.append(trial)
        return len(self.trials) - 1, {**trial.params, **self.constants}

    def tell(self, ticket: int, value: float) -> None:
        if math.isfinite(value):
            self.study.tell(self.trials[ticket], value)
        else:
            self.study.tell(self.trials[ticket], state=self.optuna.trial.TrialState.FAIL)

    def add_finished(self, params: Params, value: float) -> None:
        searched = {k: v for k, v in params.items() if k in self.distributions}
        trial = self.optuna.trial.create_trial(
            params=searched, distributions=self.distributions, value=value
        )
        self.study.add_trial(trial)


def _gp_sampler(samplers: Any, seed: int) -> Any:
    import torch

    torch.set_num_threads(1)
    return samplers.GPSampler(seed=seed)


def _source_hash(module: str) -> str:
    """Hash of the source of `module` and of every hypersweep module it imports, transitively.

    Only what the optimizer runs counts: editing hyperband.py does not invalidate bayes cells.
    Environment variables that the source reads by name are part of the hash too (their
    values now), so experiments with settings read from the environment do not mix.
    """
    digest = hashlib.sha256()
    for path in _import_closure(module):
        source = path.read_text()
        digest.update(path.name.encode())
        digest.update(source.encode())
        for name in sorted(set(_ENV_READ.findall(source))):
            digest.update(f"{name}={os.environ.get(name)!r}".encode())
    return digest.hexdigest()[:12]


# os.environ["X"], os.environ.get("X"), os.getenv("X")
_ENV_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Za-z_]\w*)["']""")


def _import_closure(module: str) -> list[Path]:
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        spec = _find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        seen[name] = Path(spec.origin)
        todo += [m for m in _imported_names(seen[name], name) if m.startswith("hypersweep.")]
    return sorted(seen.values())


def _find_spec(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # "module.attribute" is not a module
        return None


def _imported_names(path: Path, module: str) -> list[str]:
    """Absolute names a module imports (`from .x import y` gives both .x and .x.y)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(part for part in (base, node.module) if part)
            names.append(target)
            names += [f"{target}.{alias.name}" for alias in node.names]
    return names


def _package_version(*packages: str) -> str:
    """ "optuna-5.0.0 torch-2.13.0": a package that is not installed reads "NAME-none"."""
    versions = []
    for package in packages:
        try:
            versions.append(f"{package}-{importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package}-none")
    return " ".join(versions)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    build: Callable[[Task, int], Searcher]
    requires: tuple[str, ...]  # importable modules
    version: Callable[[], str]  # part of the cache key
    default: bool = True

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    o.name: o
    for o in (
        OptimizerSpec(
            "hs-random",
            lambda t, s: HypersweepSearcher(t, s, "random"),
            ("hypersweep",),
            lambda: "src-" + _source_hash("hypersweep.search.random_search"),
        ),
        OptimizerSpec(
            "hs-bayes",
            lambda t, s: HypersweepSearcher(t, s, "bayes"),
            ("hypersweep",),
            lambda: "src-" + _source_hash("hypersweep.search.bayes"),
        ),
        OptimizerSpec(
            "wandb-random",
            lambda t, s: WandbSearcher(t, s, "random"),
            ("sweeps",),
            lambda: _package_version("sweeps"),
        ),
        OptimizerSpec(
            "wandb-bayes",
            lambda t, s: WandbSearcher(t, s, "bayes"),
            ("sweeps", "sklearn"),
            lambda: _package_version("sweeps", "scikit-learn"),
        ),
        OptimizerSpec(
            "optuna-tpe",
            lambda t, s: OptunaSearcher(t, s, lambda m, seed: m.TPESampler(seed=seed)),
            ("optuna",),
            lambda: _package_version("optuna"),
        ),
        OptimizerSpec(
            "optuna-tpe-indep",
            lambda t, s: OptunaSearcher(
                t, s, lambda m, seed: m.TPESampler(multivariate=False, seed=seed)
            ),
            ("optuna",),
            lambda: _package_version("optuna"),
        ),
        OptimizerSpec(
            "optuna-gp",
            lambda t, s: OptunaSearcher(t, s, _gp_sampler),
            ("optuna", "torch"),
            # greenlet lets GPSampler optimise its acquisition in batches (faster)
            lambda: _package_version("optuna", "torch", "greenlet"),
        ),
        OptimizerSpec(
            "optuna-tpe-mv",
            lambda t, s: OptunaSearcher(
                t, s, lambda m, seed: m.TPESampler(multivariate=True, seed=seed)
            ),
            ("optuna",),
            lambda: _package_version("optuna"),
            default=False,
        ),
    )
}
PEERS_OF_OPTUNA = ("optuna-tpe", "optuna-tpe-indep", "optuna-gp", "optuna-tpe-mv")


# --------------------------------------------------------------------------------------------
# Running one cell
# --------------------------------------------------------------------------------------------


@dataclass
class Trajectory:
    values: list[float] = field(default_factory=list)  # in completion order
    suggest_s: float = 0.0  # time inside ask() and tell()
    eval_s: float = 0.0  # time inside the objective


class TimedSearcher:
    """Wraps a Searcher and a Task, accumulating suggestion and evaluation time."""

    def __init__(self, searcher: Searcher, task: Task):
        self.searcher, self.task, self.log = searcher, task, Trajectory()

    def ask(self) -> tuple[int, dict[str, Any]]:
        start = time.perf_counter()
        suggestion = self.searcher.ask()
        self.log.suggest_s += time.perf_counter() - start
        return suggestion

    def evaluate_and_tell(self, ticket: int, params: Params) -> None:
        start = time.perf_counter()
        value = float(self.task.objective(params))
        middle = time.perf_counter()
        self.searcher.tell(ticket, value)
        self.log.eval_s += middle - start
        self.log.suggest_s += time.perf_counter() - middle
        self.log.values.append(value)


def run_sequential(timed: TimedSearcher, budget: int, seed: int) -> None:
    for _ in range(budget):
        timed.evaluate_and_tell(*timed.ask())


def run_parallel(timed: TimedSearcher, budget: int, seed: int) -> None:
    completion_rng = np.random.default_rng([seed, 4242])  # the same for every optimizer
    pending = [timed.ask() for _ in range(min(IN_FLIGHT, budget))]
    asked = len(pending)
    while pending:
        ticket, params = pending.pop(int(completion_rng.integers(len(pending))))
        timed.evaluate_and_tell(ticket, params)
        if asked < budget:
            pending.append(timed.ask())
            asked += 1


MODES: dict[str, Callable[[TimedSearcher, int, int], None]] = {
    "sequential": run_sequential,
    "parallel": run_parallel,
}


@dataclass(frozen=True)
class Cell:
    task: str
    optimizer: str
    mode: str
    seed: int


def run_cell(cell: Cell, budget: int) -> dict[str, Any]:
    """Run one trajectory; returns its measurements (no cache key)."""
    _limit_threads()
    task = TASKS[cell.task]
    timed = TimedSearcher(OPTIMIZERS[cell.optimizer].build(task, cell.seed), task)
    start = time.perf_counter()
    MODES[cell.mode](timed, budget, cell.seed)
    return {
        "values": timed.log.values,
        "suggest_s": round(timed.log.suggest_s, 4),
        "eval_s": round(timed.log.eval_s, 4),
        "wall_s": round(time.perf_counter() - start, 4),
    }


_THREAD_LIMITER: Any = None


def _limit_threads() -> None:
    """One thread for BLAS/OpenMP (numpy, sklearn) and torch, in this process."""
    global _THREAD_LIMITER
    if _THREAD_LIMITER is None:
        from threadpoolctl import threadpool_limits

        _THREAD_LIMITER = threadpool_limits(limits=1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    warnings.filterwarnings("ignore")


# --------------------------------------------------------------------------------------------
# Cache: JSON lines, appended under a lock
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path, mode: str) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def append_record(path: Path, record: dict[str, Any]) -> None:
    with _locked(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()


def load_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    with _locked(path, "r") as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):  # a line cut by a crash
                records.append(json.loads(line))
    return records


def drop_optimizers(path: Path, names: Iterable[str]) -> int:
    """Remove every record of these optimizers (rewritten in place, under the lock)."""
    names = set(names)
    if not path.exists():
        return 0
    with _locked(path, "r+") as f:
        lines = f.readlines()
        kept = [line for line in lines if _record_optimizer(line) not in names]
        f.seek(0)
        f.truncate()
        f.writelines(kept)
    return len(lines) - len(kept)


def _record_optimizer(line: str) -> str | None:
    try:
        return json.loads(line).get("optimizer")
    except json.JSONDecodeError:
        return None


class Versions:
    """Code versions of tasks and optimizers, computed once per run."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], str] = {}

    def task(self, name: str) -> str:
        return self._get("task", name, lambda: TASKS[name].code_version())

    def optimizer(self, name: str) -> str:
        return self._get("opt", name, OPTIMIZERS[name].version)

    def _get(self, kind: str, name: str, compute: Callable[[], str]) -> str:
        if (kind, name) not in self._cache:
            self._cache[(kind, name)] = compute()
        return self._cache[(kind, name)]

    def cell_key(self, cell: Cell) -> dict[str, Any]:
        return {
            "kind": "cell",
            "harness": f"{HARNESS_VERSION}-inflight{IN_FLIGHT}",
            "task": cell.task,
            "task_version": self.task(cell.task),
            "optimizer": cell.optimizer,
            "optimizer_version": self.optimizer(cell.optimizer),
            "mode": cell.mode,
            "seed": cell.seed,
        }

    def timing_key(self, task: str, optimizer: str, history: int) -> dict[str, Any]:
        return {
            "kind": "timing",
            "harness": TIMING_HARNESS_VERSION,
            "task": task,
            "task_version": self.task(task),
            "optimizer": optimizer,
            "optimizer_version": self.optimizer(optimizer),
            "history": history,
        }


def _key_of(record: Mapping[str, Any], fields: Iterable[str]) -> str:
    return json.dumps({k: record.get(k) for k in sorted(fields)})


class Results:
    """The cache's current records, indexed by key (the longest trajectory wins)."""

    def __init__(self, records: Iterable[dict[str, Any]], versions: Versions):
        self.versions = versions
        self.cells: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, dict[str, Any]] = {}
        for record in records:
            self.add(record)

    def add(self, record: dict[str, Any]) -> None:
        if record.get("kind") == "timing":
            self.timings[_key_of(record, _TIMING_FIELDS)] = record
            return
        key = _key_of(record, _CELL_FIELDS)
        old = self.cells.get(key)
        if old is None or len(record["values"]) >= len(old["values"]):
            self.cells[key] = record

    def cell(self, cell: Cell, budget: int = 0) -> dict[str, Any] | None:
        record = self.cells.get(_key_of(self.versions.cell_key(cell), _CELL_FIELDS))
        return record if record is not None and len(record["values"]) >= budget else None

    def timing(self, task: str, optimizer: str, history: int) -> dict[str, Any] | None:
        key = self.versions.timing_key(task, optimizer, history)
        return self.timings.get(_key_of(key, _TIMING_FIELDS))


_CELL_FIELDS = ("kind", "harness", "task", "task_version", "optimizer", "optimizer_version")
_CELL_FIELDS += ("mode", "seed")
_TIMING_FIELDS = ("kind", "harness", "task", "task_version", "optimizer", "optimizer_version")
_TIMING_FIELDS += ("history",)


# --------------------------------------------------------------------------------------------
# Running the missing cells
# --------------------------------------------------------------------------------------------


def _init_worker() -> None:
    _limit_threads()


def _spawn_context() -> Any:
    # spawn, not fork: forking a process that already ran torch or OpenMP can deadlock.
    return multiprocessing.get_context("spawn")


def run_cells(cells: list[Cell], budget: int, workers: int, results: Results, path: Path) -> None:
    """Run cells (inline or in a process pool), caching each as soon as it finishes."""
    if not cells:
        return
    progress = Progress(len(cells))
    if workers <= 1:
        for cell in cells:
            _finish(cell, lambda c=cell: run_cell(c, budget), results, path, progress)
        return
    with ProcessPoolExecutor(workers, _spawn_context(), initializer=_init_worker) as pool:
        futures: dict[Future, Cell] = {pool.submit(run_cell, c, budget): c for c in cells}
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    _finish(futures.pop(future), future.result, results, path, progress)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _finish(
    cell: Cell,
    get: Callable[[], dict[str, Any]],
    results: Results,
    path: Path,
    progress: Progress,
) -> None:
    try:
        measured = get()
    except Exception as error:  # one optimizer failing must not stop the others
        progress.report(cell, f"FAILED: {type(error).__name__}: {error}", 0.0)
        return
    record = {**results.versions.cell_key(cell), **measured}
    append_record(path, record)
    results.add(record)
    task = TASKS[cell.task]
    best = task.score(min(measured["values"]))
    progress.report(cell, f"{_label(task)} {best:.4g}", measured["wall_s"])


class Progress:
    """One line per finished cell on stderr, with an estimate of the time left."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.perf_counter()

    def report(self, cell: Cell, outcome: str, seconds: float) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] {cell.task} {cell.optimizer} {cell.mode} "
            f"seed={cell.seed}: {outcome} ({seconds:.1f} s; ~{_duration(left)} left)",
            file=sys.stderr,
            flush=True,
        )


def _label(task: Task) -> str:
    return "regret" if task.optimum is not None else "best"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------------------------
# Suggestion time with 10 / 100 / 1,000 finished runs
# --------------------------------------------------------------------------------------------


def random_history(task: Task, size: int) -> list[tuple[dict[str, Any], float]]:
    space: SearchSpace = parse_sweep_config(task.sweep_config("random")).space
    rng = np.random.default_rng([20240, size])
    points = [sample_point(space, rng) for _ in range(size)]
    return [(p, float(task.objective(p))) for p in points]


def time_suggestions(task_name: str, optimizer: str, history: int) -> list[float]:
    """Seconds per suggestion (TIMING_REPS of them) after `history` random finished runs.

    One suggestion is made and told first, untimed: it pays each library's lazy imports and
    first-call setup, which a sweep pays once per worker, not per run."""
    _limit_threads()
    task = TASKS[task_name]
    searcher = OPTIMIZERS[optimizer].build(task, 0)
    for params, value in random_history(task, history):
        searcher.add_finished(params, value)
    seconds = []
    for rep in range(TIMING_REPS + 1):
        start = time.perf_counter()
        ticket, params = searcher.ask()
        elapsed = time.perf_counter() - start
        if rep > 0:
            seconds.append(elapsed)
        if elapsed > TIMING_CAP_S:
            break
        searcher.tell(ticket, float(task.objective(params)))
    return seconds


def measure_timings(
    optimizers: Sequence[str], results: Results, path: Path, tasks: Sequence[str]
) -> None:
    """Fill the suggestion-time cache; each measurement in a child process with a deadline."""
    todo = [
        (t, o, n)
        for o in optimizers
        for t in tasks
        for n in TIMING_HISTORY
        if results.timing(t, o, n) is None
    ]
    capped: set[tuple[str, str]] = set()
    for task, optimizer, history in todo:
        if (task, optimizer) in capped:  # a smaller history was already too slow
            seconds: list[float] = []
        else:
            seconds = _timed_in_child(task, optimizer, history)
        slow = not seconds or max(seconds) > TIMING_CAP_S
        if slow:
            capped.add((task, optimizer))
        record = {
            **results.versions.timing_key(task, optimizer, history),
            "seconds": seconds,
            "capped": slow,
        }
        append_record(path, record)
        results.add(record)
        shown = f"> {TIMING_CAP_S:.0f} s" if slow else _seconds(float(np.median(seconds)))
        print(f"timing {task} {optimizer} history={history}: {shown}", file=sys.stderr)


def _timed_in_child(task: str, optimizer: str, history: int) -> list[float]:
    deadline = TIMING_SETUP_S + TIMING_CAP_S * TIMING_REPS
    pool = _spawn_context().Pool(1, initializer=_init_worker)
    try:
        return pool.apply_async(time_suggestions, (task, optimizer, history)).get(deadline)
    except multiprocessing.TimeoutError:
        return []
    finally:
        pool.terminate()
        pool.join()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + (":" if i else "-") if i else ":" + "-" * (w + 1)
        for i, w in enumerate(widths)
    )
    return "\n".join([line(headers), rule + "|", *(line(r) for r in rows)])


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _seconds(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


@dataclass(frozen=True)
class Setting:
    budget: int
    mode: str

    def label(self) -> str:
        return f"{self.mode} {self.budget}"


@dataclass
class Scores:
    """Per (task, setting, optimizer): the table values over seeds."""

    by: dict[tuple[str, Setting, str], list[float]] = field(default_factory=dict)

    def get(self, task: str, setting: Setting, optimizer: str) -> list[float]:
        return self.by.get((task, setting, optimizer), [])

    def median(self, task: str, setting: Setting, optimizer: str) -> float:
        values = self.get(task, setting, optimizer)
        return float(np.median(values)) if values else math.nan


def collect_scores(
    results: Results,
    tasks: Sequence[str],
    optimizers: Sequence[str],
    settings: Sequence[Setting],
    seeds: int,
) -> Scores:
    scores = Scores()
    for task_name in tasks:
        task = TASKS[task_name]
        for setting in settings:
            for optimizer in optimizers:
                values = []
                for seed in range(seeds):
                    record = results.cell(Cell(task_name, optimizer, setting.mode, seed))
                    if record is not None and len(record["values"]) >= setting.budget:
                        values.append(task.score(min(record["values"][: setting.budget])))
                scores.by[(task_name, setting, optimizer)] = values
    return scores


def task_tables(
    scores: Scores,
    tasks: Sequence[str],
    optimizers: Sequence[str],
    missing: Sequence[str],
    settings: Sequence[Setting],
) -> list[str]:
    out = []
    modes = list(dict.fromkeys(s.mode for s in settings))
    for task_name in tasks:
        task = TASKS[task_name]
        what = "simple regret" if task.optimum is not None else "best value"
        for mode in modes:
            mode_settings = [s for s in settings if s.mode == mode]
            columns = [f"{s.budget} trials: median [25%, 75%]" for s in mode_settings]
            headers = ["optimizer", *columns, "seeds"]
            rows = [
                _task_row(scores, task_name, optimizer, mode_settings) for optimizer in optimizers
            ]
            rows += [[name, *("not installed" for _ in mode_settings), "0"] for name in missing]
            out.append(f"### {task_name} ({task.description}), {mode}: {what}, lower is better")
            out.append(markdown_table(headers, rows))
    return out


def _task_row(scores: Scores, task: str, optimizer: str, settings: Sequence[Setting]) -> list[str]:
    row = [optimizer]
    counts = []
    for setting in settings:
        values = scores.get(task, setting, optimizer)
        counts.append(len(values))
        if values:
            q25, q50, q75 = np.percentile(values, [25, 50, 75])
            row.append(f"{_fmt(q50)} [{_fmt(q25)}, {_fmt(q75)}]")
        else:
            row.append("-")
    row.append(str(min(counts)) if counts else "0")
    return row


def compare(a: float, b: float, tie_abs: float) -> int:
    """-1 if a is better (lower), 1 if worse, 0 on a tie."""
    tolerance = max(REL_TOL * max(abs(a), abs(b)), tie_abs)
    if abs(a - b) <= tolerance:
        return 0
    return -1 if a < b else 1


def wins_table(
    scores: Scores,
    tasks: Sequence[str],
    optimizers: Sequence[str],
    settings: Sequence[Setting],
    ours: str = "hs-bayes",
) -> str | None:
    if ours not in optimizers:
        return None
    rows = []
    for peer in optimizers:
        if peer == ours:
            continue
        tally = [0, 0, 0]  # wins, ties, losses
        for task in tasks:
            for setting in settings:
                a, b = scores.median(task, setting, ours), scores.median(task, setting, peer)
                if math.isfinite(a) and math.isfinite(b):
                    tally[compare(a, b, TASKS[task].tie_abs) + 1] += 1
        rows.append([peer, *map(str, tally)])
    headers = [f"{ours} against", "wins", "ties", "losses"]
    return markdown_table(headers, rows)


def ranks_and_normalised(
    scores: Scores, task: str, setting: Setting, optimizers: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Per optimizer with results: (rank by median, 1 = best; normalised score in [0, 1])."""
    from scipy.stats import rankdata

    medians = {o: scores.median(task, setting, o) for o in optimizers}
    medians = {o: m for o, m in medians.items() if math.isfinite(m)}
    if not medians:
        return {}
    names = list(medians)
    ranks = rankdata([medians[o] for o in names])
    best, worst = min(medians.values()), max(medians.values())
    return {
        o: (float(r), (worst - medians[o]) / (worst - best) if worst > best else 1.0)
        for o, r in zip(names, ranks, strict=True)
    }


def summary_tables(
    scores: Scores,
    tasks: Sequence[str],
    optimizers: Sequence[str],
    settings: Sequence[Setting],
) -> tuple[str, str, dict[str, float]]:
    """Median over tasks of rank and of normalised score, per setting and over all."""
    per: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for setting in settings:
        for task in tasks:
            for o, pair in ranks_and_normalised(scores, task, setting, optimizers).items():
                per[(o, setting.label())].append(pair)
                per[(o, "all")].append(pair)
    columns = [s.label() for s in settings] + ["all"]

    def table(index: int) -> str:
        rows = []
        for o in optimizers:
            cells = [per.get((o, c), []) for c in columns]
            rows.append(
                [o, *(_fmt(float(np.median([p[index] for p in c]))) if c else "-" for c in cells)]
            )
        return markdown_table(["optimizer", *columns], rows)

    overall = {
        o: float(np.median([p[1] for p in per[(o, "all")]]))
        for o in optimizers
        if per.get((o, "all"))
    }
    return table(0), table(1), overall


def verdict(overall: Mapping[str, float], ours: str = "hs-bayes") -> str | None:
    optuna = {o: s for o, s in overall.items() if o in PEERS_OF_OPTUNA}
    if ours not in overall or not optuna:
        return None
    best_peer = max(optuna, key=optuna.__getitem__)
    a, b = overall[ours], optuna[best_peer]
    word = "beats" if a > b + MATCH_TOL else "matches" if a >= b - MATCH_TOL else "is behind"
    return (
        f"{ours} {word} Optuna's best sampler here ({best_peer}): median normalised score "
        f"over tasks x budgets x modes {a:.3f} vs {b:.3f} (match = within {MATCH_TOL})."
    )


def timing_table(
    results: Results, optimizers: Sequence[str], missing: Sequence[str], tasks: Sequence[str]
) -> str:
    columns = [(t, n) for t in tasks for n in TIMING_HISTORY]
    rows = []
    for o in optimizers:
        row = [o]
        for task, history in columns:
            record = results.timing(task, o, history)
            if record is None:
                row.append("-")
            elif record["capped"]:
                row.append(f"> {TIMING_CAP_S:.0f} s")
            else:
                row.append(_seconds(float(np.median(record["seconds"]))))
        rows.append(row)
    rows += [[o, *("not installed" for _ in columns)] for o in missing]
    headers = ["optimizer", *(f"{t} {n:,} runs" for t, n in columns)]
    return markdown_table(headers, rows)


def cost_tables(
    results: Results, tasks: Sequence[str], optimizers: Sequence[str], cells: Sequence[Cell]
) -> tuple[str, str]:
    """Time spent per optimizer (cells in this report) and evaluation cost per task."""
    per_opt: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    per_task: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for cell in cells:
        record = results.cell(cell)
        if record is None:
            continue
        totals = per_opt[cell.optimizer]
        totals[0] += 1
        totals[1] += record["suggest_s"]
        totals[2] += record["eval_s"]
        per_task[cell.task][0] += len(record["values"])
        per_task[cell.task][1] += record["eval_s"]
    opt_rows = [
        [o, str(int(t[0])), _duration(t[1]), _duration(t[2]), _duration(t[1] + t[2])]
        for o, t in ((o, per_opt[o]) for o in optimizers)
    ]
    task_rows = [
        [t, f"{per_task[t][1] / per_task[t][0] * 1e3:.2f} ms" if per_task[t][0] else "-"]
        for t in tasks
    ]
    return (
        markdown_table(["optimizer", "cells", "suggesting", "evaluating", "total"], opt_rows),
        markdown_table(["task", "one evaluation"], task_rows),
    )


def print_report(
    results: Results,
    tasks: Sequence[str],
    optimizers: Sequence[str],
    missing: Sequence[str],
    settings: Sequence[Setting],
    seeds: int,
    timing: bool,
    quality: bool,
) -> None:
    sections: list[str] = []
    if quality:
        scores = collect_scores(results, tasks, optimizers, settings, seeds)
        sections += task_tables(scores, tasks, optimizers, missing, settings)
        wins = wins_table(scores, tasks, optimizers, settings)
        if wins:
            sections += [_wins_heading(), wins]
        rank, normalised, overall = summary_tables(scores, tasks, optimizers, settings)
        sections += ["### Median over tasks of the rank by median (1 = best)", rank]
        sections += [_normalised_heading(), normalised]
        line = verdict(overall)
        if line:
            sections.append(line)
        modes = dict.fromkeys(s.mode for s in settings)
        cells = [
            Cell(t, o, m, seed)
            for t in tasks
            for o in optimizers
            for m in modes
            for seed in range(seeds)
        ]
        per_opt, per_task = cost_tables(results, tasks, optimizers, cells)
        sections += ["### Time spent per optimizer (cells above)", per_opt]
        sections += ["### Cost of one evaluation", per_task]
    if timing:
        sections += [_timing_heading(), timing_table(results, optimizers, missing, TIMING_TASKS)]
    print("\n\n".join(sections))


def _wins_heading() -> str:
    return (
        "### hs-bayes against each peer: wins/ties/losses over tasks x budgets x modes\n"
        f"Medians compared; a tie is a difference within {REL_TOL:.0%} of the larger median or "
        "the task's absolute tolerance (1e-3; 1e-2 for levy10)."
    )


def _normalised_heading() -> str:
    return (
        "### Median over tasks of the normalised score\n"
        "(worst median - median) / (worst median - best median), over the optimizers in the "
        "table: 1 = the best, 0 = the worst."
    )


def _timing_heading() -> str:
    return (
        f"### Suggestion time: median of {TIMING_REPS} suggestions after N random finished runs"
        " (single thread)"
    )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _names(text: str | None, known: Mapping[str, Any], what: str, default: list[str]) -> list[str]:
    if not text or text == "all":
        return default
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Search quality of hypersweep beside W&B's engine and Optuna.",
    )
    parser.add_argument("--tasks", help=f"comma-separated, default all: {', '.join(TASKS)}")
    default_opts = [o.name for o in OPTIMIZERS.values() if o.default]
    parser.add_argument("--optimizers", help=f"comma-separated, default: {', '.join(default_opts)}")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--budget", default="30,100", help="budgets, comma-separated")
    parser.add_argument("--modes", default="sequential,parallel")
    parser.add_argument("--workers", type=int, default=1, help="processes running cells")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="run nothing, print")
    parser.add_argument("--results", type=Path, default=DEFAULT_CACHE, help="the cache file")
    parser.add_argument("--fresh", help="drop these optimizers' cached results first")
    args = parser.parse_args(argv)
    args.tasks = _names(args.tasks, TASKS, "task", list(TASKS))
    args.optimizers = _names(args.optimizers, OPTIMIZERS, "optimizer", default_opts)
    args.modes = _names(args.modes, MODES, "mode", list(MODES))
    args.fresh = _names(args.fresh, OPTIMIZERS, "optimizer", []) if args.fresh else []
    args.budgets = sorted({int(b) for b in args.budget.split(",")})
    return args


def _stop_on_signals() -> None:
    """SIGTERM (kill, timeout) stops like Ctrl-C; Ctrl-C works even when started with `&`."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    _stop_on_signals()
    for var in THREAD_VARS:  # inherited by the worker processes
        os.environ[var] = "1"
    _limit_threads()
    if args.fresh:
        dropped = drop_optimizers(args.results, args.fresh)
        print(f"dropped {dropped} cached records of {', '.join(args.fresh)}", file=sys.stderr)
    installed = [o for o in args.optimizers if OPTIMIZERS[o].installed()]
    missing = [o for o in args.optimizers if o not in installed]
    versions = Versions()
    results = Results(load_records(args.results), versions)
    settings = [Setting(b, m) for m in args.modes for b in args.budgets]
    quality = not args.timing_only
    timing = args.timing_only or not args.no_timing
    started = time.perf_counter()
    if not args.report_only:
        if quality:
            todo = [
                Cell(t, o, m, seed)
                for seed in range(args.seeds)
                for t in args.tasks
                for o in installed
                for m in args.modes
                if results.cell(Cell(t, o, m, seed), max(args.budgets)) is None
            ]
            print(f"{len(todo)} cells to run, cache {args.results}", file=sys.stderr)
            run_cells(todo, max(args.budgets), args.workers, results, args.results)
        if timing:
            measure_timings(installed, results, args.results, TIMING_TASKS)
    print_report(results, args.tasks, installed, missing, settings, args.seeds, timing, quality)
    print(f"\n(wall time of this run: {_duration(time.perf_counter() - started)})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: finished cells are cached; run again to resume", file=sys.stderr)
        sys.exit(130)
