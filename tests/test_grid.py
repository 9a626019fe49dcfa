"""Grid search: size, W&B order, index decoding, huge grids, value rules."""

from __future__ import annotations

import itertools
import json

import pytest

from hypersweep.config import ConfigError, parse_sweep_config
from hypersweep.search import grid_point, grid_size


def space(params: dict):
    return parse_sweep_config({"method": "grid", "parameters": params}, "s.yaml").space


GRID48 = {
    "lr": {"values": [0.1, 0.01, 0.001]},
    "batch": {"values": [16, 32]},
    "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "mom": {"value": 0.9}}},
    "layers": {"min": 1, "max": 4},
}


def test_size_and_order_match_itertools_product():
    s = space(GRID48)
    assert s.names() == ["batch", "layers", "lr", "opt.mom", "opt.name"]
    assert grid_size(s) == 48
    axes = [p.grid_values() for p in s.parameters]
    expected = [dict(zip(s.names(), combo, strict=True)) for combo in itertools.product(*axes)]
    points = [grid_point(s, i) for i in range(48)]
    assert points == expected
    assert len({json.dumps(p, sort_keys=True) for p in points}) == 48
    # last parameter varies fastest
    assert [p["opt.name"] for p in points[:2]] == ["adam", "sgd"]
    assert points[0] == {"batch": 16, "layers": 1, "lr": 0.1, "opt.mom": 0.9, "opt.name": "adam"}


def test_out_of_range():
    s = space(GRID48)
    with pytest.raises(IndexError):
        grid_point(s, 48)
    with pytest.raises(IndexError):
        grid_point(s, -1)


def test_huge_grid_is_not_enumerated():
    s = space({f"p{i}": {"min": 1, "max": 1000} for i in range(4)})
    assert grid_size(s) == 10**12
    assert grid_point(s, 0) == {"p0": 1, "p1": 1, "p2": 1, "p3": 1}
    assert grid_point(s, 10**12 - 1) == {"p0": 1000, "p1": 1000, "p2": 1000, "p3": 1000}
    assert grid_point(s, 123_456_789_012) == {"p0": 124, "p1": 457, "p2": 790, "p3": 13}


def test_constants_only():
    s = space({"a": {"value": 1}, "b": {"value": [1, 2]}})
    assert grid_size(s) == 1
    assert grid_point(s, 0) == {"a": 1, "b": [1, 2]}


def test_int_uniform_includes_max():
    assert space({"n": {"min": -1, "max": 2}}).parameters[0].grid_values() == [-1, 0, 1, 2]


def test_q_uniform_includes_max_when_on_grid():
    # W&B uses np.arange(min, max, q), which leaves max out; we include it when it lands.
    vals = space({"d": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1}})
    assert vals.parameters[0].grid_values() == [
        0.0,
        0.1,
        0.2,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
        1.0,
    ]
    ints = space({"d": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5}})
    assert ints.parameters[0].grid_values() == [0, 5, 10]
    off = space({"d": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.3}})
    assert off.parameters[0].grid_values() == [0.0, 0.3, 0.6, 0.9]
    default_q = space({"d": {"distribution": "q_uniform", "min": 1, "max": 3}})
    values = default_q.parameters[0].grid_values()
    assert values == [1.0, 2.0, 3.0] and all(type(v) is float for v in values)
    shifted = space({"d": {"distribution": "q_uniform", "min": 0.05, "max": 0.25, "q": 0.1}})
    assert shifted.parameters[0].grid_values() == [0.05, 0.15, 0.25]


def test_falsy_values_stay_distinct_and_duplicates_collapse():
    s = space({"v": {"values": [0, False, 0.0, "", None, 0, [], {}]}})
    assert grid_size(s) == 7
    got = [grid_point(s, i)["v"] for i in range(7)]
    assert [json.dumps(v) for v in got] == ["0", "false", "0.0", '""', "null", "[]", "{}"]
    assert [type(v) for v in got[:3]] == [int, bool, float]


def test_grid_values_are_copies():
    s = space({"v": {"values": [[1, 2]]}})
    point = grid_point(s, 0)
    point["v"].append(3)
    assert grid_point(s, 0) == {"v": [1, 2]}


@pytest.mark.parametrize(
    "spec",
    [
        {"min": 0.0, "max": 1.0},
        {"distribution": "log_uniform_values", "min": 1e-4, "max": 1},
        {"distribution": "normal"},
        {"distribution": "q_normal", "q": 1},
        {"distribution": "q_log_uniform_values", "min": 1, "max": 10, "q": 1},
        {"distribution": "beta"},
    ],
)
def test_continuous_rejected_at_parse_time(spec):
    with pytest.raises(ConfigError) as info:
        space({"x": spec})
    text = str(info.value)
    assert text.startswith("s.yaml: parameters.x: ") and "grid" in text
    assert "values" in text and "q_uniform" in text


def test_grid_values_raise_for_continuous_parameter():
    p = parse_sweep_config({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    param = p.space.parameters[0]
    assert not param.is_discrete
    with pytest.raises(ValueError, match="continuous"):
        param.grid_values()
