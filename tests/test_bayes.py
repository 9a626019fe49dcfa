"""Contracts of the bayes search: bounds, types, determinism, pending and failed runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hypersweep.config import parse_sweep_config
from hypersweep.search import gp, sample_point, warping
from hypersweep.search.bayes import FAILED, FINISHED, RUNNING, Trial, suggest, warmup_size

MIXED = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "x": {"min": -2.0, "max": 3.0},
        "n": {"min": 1, "max": 8},
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1},
        "q": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
        "opt": {"values": ["adam", "sgd", "rmsprop"]},
        "w": {"distribution": "normal", "mu": 1.0, "sigma": 0.5},
        "nested": {"parameters": {"depth": {"values": [2, 4]}}},
        "fixed": {"value": "yes"},
    },
}


def space():
    return parse_sweep_config(MIXED).space


def loss(p: dict) -> float:
    return (p["x"] - 1) ** 2 + abs(math.log10(p["lr"]) + 3) + (p["opt"] != "sgd") + p["n"] / 8


def run_sequence(n: int, seed: int, goal: str = "minimize") -> list[Trial]:
    trials: list[Trial] = []
    for i in range(n):
        params = suggest(space(), trials, goal, np.random.default_rng([seed, i]))
        value = loss(params)
        trials.append(Trial(params, -value if goal == "maximize" else value, FINISHED))
    return trials


def test_every_suggestion_is_in_bounds_and_typed():
    for trial in run_sequence(20, seed=1):
        p = trial.params
        assert set(p) == {"x", "n", "lr", "q", "opt", "w", "nested.depth", "fixed"}
        assert isinstance(p["x"], float) and -2.0 <= p["x"] <= 3.0
        assert isinstance(p["n"], int) and 1 <= p["n"] <= 8
        assert isinstance(p["lr"], float) and 1e-5 <= p["lr"] <= 0.1
        assert isinstance(p["q"], int) and p["q"] % 2 == 0
        assert p["opt"] in ("adam", "sgd", "rmsprop")
        assert isinstance(p["w"], float)
        assert p["nested.depth"] in (2, 4)
        assert p["fixed"] == "yes"


def test_same_seed_same_sequence():
    first = [t.params for t in run_sequence(15, seed=7)]
    again = [t.params for t in run_sequence(15, seed=7)]
    assert first == again
    assert first != [t.params for t in run_sequence(15, seed=8)]


def test_model_beats_its_own_warmup():
    trials = run_sequence(25, seed=3)
    warm = warmup_size(7)
    assert min(t.value for t in trials[warm:]) < min(t.value for t in trials[:warm])


def test_maximize_is_the_mirror_of_minimize():
    trials = run_sequence(20, seed=4, goal="maximize")
    best = max(t.value for t in trials)
    assert best > -1.5  # the optimum is -0.125 (x=1, lr=1e-3, sgd, n=1)


def test_pending_points_are_not_proposed_again():
    """Four workers asking at once must get four different points, and none of them a
    point already in flight."""
    cfg = parse_sweep_config(
        {
            "method": "bayes",
            "metric": {"name": "v", "goal": "minimize"},
            "parameters": {"a": {"values": [1, 2, 3, 4, 5, 6]}, "b": {"values": [0, 1]}},
        }
    )
    trials = [Trial({"a": a, "b": 0}, float(a), FINISHED) for a in (1, 2, 3, 4, 5, 6)]
    for i in range(4):
        params = suggest(cfg.space, trials, "minimize", np.random.default_rng(i))
        assert all(t.params != params for t in trials)
        trials.append(Trial(params, None, RUNNING))


def test_in_flight_points_spread_the_batch():
    s = parse_sweep_config(
        {
            "method": "bayes",
            "metric": {"name": "v", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    ).space
    trials = [Trial({"x": x}, (x - 0.3) ** 2, FINISHED) for x in (0.0, 0.2, 0.5, 0.8, 1.0)]
    batch = []
    for i in range(3):
        p = suggest(s, trials, "minimize", np.random.default_rng(i))
        trials.append(Trial(p, None, RUNNING))
        batch.append(p["x"])
    gaps = np.diff(sorted(batch))
    assert gaps.min() >= 0.02, batch


def test_failed_runs_count_as_bad_not_good():
    s = parse_sweep_config(
        {
            "method": "bayes",
            "metric": {"name": "v", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    ).space
    # Everything near x=0.9 failed; the finished runs slope down towards it.
    trials = [Trial({"x": x}, 1.0 - x, FINISHED) for x in (0.0, 0.1, 0.3, 0.5, 0.6)]
    trials += [Trial({"x": x}, None, FAILED) for x in (0.85, 0.9, 0.95, 1.0)]
    picks = [suggest(s, trials, "minimize", np.random.default_rng(i))["x"] for i in range(5)]
    assert all(not 0.85 <= x <= 1.0 for x in picks), picks


def test_points_from_an_older_space_are_ignored():
    trials = [Trial({"x": 0.5, "opt": "gone"}, 1.0, FINISHED)] + run_sequence(8, seed=2)
    params = suggest(space(), trials, "minimize", np.random.default_rng(0))
    assert params["opt"] in ("adam", "sgd", "rmsprop")


@pytest.mark.parametrize("n", [0, 1])
def test_few_or_no_trials(n):
    assert suggest(space(), run_sequence(n, seed=5), "minimize", np.random.default_rng(0))


def test_importance_ranks_what_drives_the_metric():
    from hypersweep.search.importance import parameter_importance

    cfg = parse_sweep_config(
        {
            "method": "bayes",
            "metric": {"name": "v"},
            "parameters": {
                "strong": {"min": 0.0, "max": 1.0},
                "weak": {"min": 0.0, "max": 1.0},
                "cat": {"values": ["a", "b", "c"]},
                "irrelevant": {"min": 0.0, "max": 1.0},
            },
        }
    )
    rng = np.random.default_rng(0)
    trials = []
    for _ in range(40):
        p = sample_point(cfg.space, rng)
        v = 5 * p["strong"] ** 2 + p["weak"] + (2 if p["cat"] == "c" else 0)
        trials.append(Trial(p, v, FINISHED))
    shares = parameter_importance(cfg.space, trials)
    assert list(shares)[:3] == ["strong", "cat", "weak"]
    assert shares["irrelevant"] < 0.01
    assert parameter_importance(cfg.space, trials[:3]) is None


@pytest.mark.parametrize(
    "sample",
    [
        lambda rng: rng.lognormal(0.0, 1.0, 200),  # a long tail of bad runs
        lambda rng: rng.normal(size=30),
        lambda rng: np.concatenate([rng.normal(size=30), [40.0]]),  # one outlier
    ],
)
def test_output_warp_matches_scipys_yeo_johnson(sample):
    y = sample(np.random.default_rng(3))
    z = (y - y.mean()) / y.std()
    exponent = warping.fit_exponent(z)
    assert exponent == pytest.approx(stats.yeojohnson_normmax(z), abs=0.06)  # grid step 0.1
    warped = warping.warp(z)
    np.testing.assert_allclose(warped, stats.yeojohnson(z, exponent), atol=1e-9)
    assert (np.argsort(warped) == np.argsort(z)).all()  # order kept: EI's incumbent too


@pytest.mark.parametrize("categorical", [[0, 0, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
def test_fast_kernel_distance_equals_the_per_dimension_one(categorical):
    rng = np.random.default_rng(4)
    cat = np.array(categorical, dtype=bool)
    a, b = rng.random((30, 4)), rng.random((20, 4))
    a[:, cat], b[:, cat] = rng.integers(0, 3, (30, cat.sum())), rng.integers(0, 3, (20, cat.sum()))
    scales = rng.random(4) + 0.1
    slow = np.sqrt((gp.squared_differences(a, b, cat) / scales**2).sum(axis=2))
    np.testing.assert_allclose(gp.ard_distances(a, b, cat, scales), slow, atol=1e-12)
