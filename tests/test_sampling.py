"""Random sampling follows W&B's laws: KS / chi-square tests against scipy's distributions."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from hypersweep.config import Parameter, parse_sweep_config
from hypersweep.search import sample_parameter, sample_point

N = 4000
P_MIN = 1e-3


def make(spec: dict) -> Parameter:
    cfg = parse_sweep_config({"method": "random", "parameters": {"p": spec}})
    return cfg.space.parameters[0]


def draw(spec: dict, seed: int = 1) -> list:
    return sample_parameter(make(spec), np.random.default_rng(seed), size=N)


CONTINUOUS = [
    ({"min": -2.0, "max": 3.0}, stats.uniform(loc=-2, scale=5), (-2, 3)),
    ({"distribution": "uniform", "min": 1, "max": 2}, stats.uniform(loc=1, scale=1), (1, 2)),
    (
        {"distribution": "log_uniform", "min": -5, "max": 0},
        stats.loguniform(math.exp(-5), 1.0),
        (math.exp(-5), 1),
    ),
    (
        {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
        stats.loguniform(1e-4, 0.1),
        (1e-4, 0.1),
    ),
    # W&B: inv_log_uniform = 1 / exp(U(min, max)), i.e. log-uniform on [e^-max, e^-min]
    (
        {"distribution": "inv_log_uniform", "min": 0, "max": 3},
        stats.loguniform(math.exp(-3), 1.0),
        (math.exp(-3), 1),
    ),
    (
        {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1},
        stats.loguniform(0.01, 1.0),
        (0.01, 1),
    ),
    ({"distribution": "normal", "mu": 2, "sigma": 0.5}, stats.norm(2, 0.5), None),
    ({"distribution": "normal"}, stats.norm(0, 1), None),
    (
        {"distribution": "log_normal", "mu": 0.5, "sigma": 0.3},
        stats.lognorm(s=0.3, scale=math.exp(0.5)),
        (0, math.inf),
    ),
    ({"distribution": "beta", "a": 2, "b": 5}, stats.beta(2, 5), (0, 1)),
    ({"distribution": "beta"}, stats.beta(1, 1), (0, 1)),
]


@pytest.mark.parametrize(("spec", "law", "bounds"), CONTINUOUS)
def test_continuous_laws(spec, law, bounds):
    xs = draw(spec)
    assert len(xs) == N
    assert all(type(x) is float for x in xs)
    if bounds is not None:
        assert all(bounds[0] <= x <= bounds[1] for x in xs)
    assert stats.kstest(xs, law.cdf).pvalue > P_MIN


def chi_square_quantised(xs: list, law, q: float, lo: float = -math.inf, hi: float = math.inf):
    """Chi-square of quantised draws against P(round(X/q) = k) from the continuous law."""
    counts = Counter(round(x / q) for x in xs)
    ks = sorted(counts)
    expected = []
    for k in ks:
        a, b = max((k - 0.5) * q, lo), min((k + 0.5) * q, hi)
        expected.append(law.cdf(b) - law.cdf(a))
    expected = np.array(expected)
    observed = np.array([counts[k] for k in ks], dtype=float)
    big = expected * N >= 5  # merge sparse tails into one bucket
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    exp = exp / exp.sum() * obs.sum()
    keep = exp > 0
    return stats.chisquare(obs[keep], exp[keep]).pvalue


QUANTISED = [
    ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 1}, stats.uniform(0, 10), 1),
    ({"distribution": "q_uniform", "min": 0, "max": 2, "q": 0.25}, stats.uniform(0, 2), 0.25),
    (
        {"distribution": "q_log_uniform", "min": 0, "max": math.log(100), "q": 5},
        stats.loguniform(1, 100),
        5,
    ),
    (
        {"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 2.5},
        stats.loguniform(1, 100),
        2.5,
    ),
    ({"distribution": "q_normal", "mu": 0, "sigma": 3, "q": 1}, stats.norm(0, 3), 1),
    (
        {"distribution": "q_log_normal", "mu": 1, "sigma": 0.5, "q": 0.5},
        stats.lognorm(s=0.5, scale=math.e),
        0.5,
    ),
    ({"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1}, stats.beta(2, 2), 0.1),
]


@pytest.mark.parametrize(("spec", "law", "q"), QUANTISED)
def test_quantised_laws(spec, law, q):
    xs = draw(spec)
    if isinstance(q, int):
        assert all(type(x) is int for x in xs)
    else:
        assert all(type(x) is float for x in xs)
    for x in xs:
        k = round(x / q)
        assert math.isclose(x, k * q, rel_tol=1e-9, abs_tol=1e-12)
    lo, hi = law.support()
    assert chi_square_quantised(xs, law, q, lo, hi) > P_MIN


def test_quantised_values_have_no_float_noise():
    xs = draw({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1})
    assert set(xs) <= {round(k * 0.1, 1) for k in range(11)}
    assert 0.3 in xs and 0.30000000000000004 not in xs


def test_q_defaults_to_float_one():
    xs = draw({"distribution": "q_uniform", "min": 0, "max": 5})
    assert all(type(x) is float and x.is_integer() for x in xs)
    assert set(xs) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_int_uniform_inclusive():
    xs = draw({"min": -3, "max": 4})
    assert all(type(x) is int for x in xs)
    counts = Counter(xs)
    assert sorted(counts) == list(range(-3, 5))
    assert stats.chisquare([counts[k] for k in range(-3, 5)]).pvalue > P_MIN


def test_categorical_uniform_and_falsy_values_distinct():
    values = ["a", 0, False, 0.0, "", None]
    xs = draw({"values": values})
    counts = Counter(json.dumps(x) for x in xs)
    assert sorted(counts) == sorted(json.dumps(v) for v in values)
    assert stats.chisquare(list(counts.values())).pvalue > P_MIN


def test_categorical_with_probabilities():
    xs = draw({"values": ["x", "y", "z", "never"], "probabilities": [0.2, 0.5, 0.3, 0.0]})
    counts = Counter(xs)
    assert "never" not in counts
    observed = [counts["x"], counts["y"], counts["z"]]
    assert stats.chisquare(observed, [0.2 * N, 0.5 * N, 0.3 * N]).pvalue > P_MIN


def test_probabilities_within_tolerance_are_renormalised():
    xs = draw({"values": [1, 2, 3], "probabilities": [0.3333333, 0.3333333, 0.3333333]})
    assert set(xs) == {1, 2, 3}


def test_constant_and_no_aliasing():
    p = make({"value": [1, 2]})
    rng = np.random.default_rng(0)
    a, b = sample_parameter(p, rng), sample_parameter(p, rng)
    assert a == b == [1, 2]
    a.append(3)
    assert p.value == [1, 2] and b == [1, 2]
    c = make({"values": [{"k": 1}]})
    d = sample_parameter(c, rng)
    d["k"] = 2
    assert c.values == ({"k": 1},)


def test_single_draw_is_plain_python():
    p = make({"min": 0.0, "max": 1.0})
    x = sample_parameter(p, np.random.default_rng(0))
    assert type(x) is float


def test_sample_point_plain_json_and_reproducible():
    cfg = parse_sweep_config(
        {
            "method": "random",
            "parameters": {
                "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                "bs": {"values": [16, 32, 64]},
                "layers": {"min": 1, "max": 8},
                "drop": {"distribution": "q_uniform", "min": 0, "max": 0.5, "q": 0.05},
                "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "m": {"value": 0.9}}},
                "flag": {"values": [True, False]},
            },
        }
    )
    a = sample_point(cfg.space, np.random.default_rng(42))
    b = sample_point(cfg.space, np.random.default_rng(42))
    assert a == b
    assert list(a) == ["bs", "drop", "flag", "layers", "lr", "opt.m", "opt.name"]
    assert json.loads(json.dumps(a)) == a
    plain = (int, float, str, bool)
    assert all(type(v) in plain for v in a.values())
    assert type(a["layers"]) is int and 1 <= a["layers"] <= 8
    assert 1e-5 <= a["lr"] <= 1e-1
