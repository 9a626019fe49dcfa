"""Sweep-file parsing: every parameter form, inference rule and bad-input class."""

from __future__ import annotations

import json

import pytest

from hypersweep.config import (
    ConfigError,
    EarlyTerminate,
    MetricSpec,
    Parameter,
    describe_space,
    load_sweep_file,
    nest_params,
    parse_sweep_config,
)


def parse(params: dict, **top) -> object:
    return parse_sweep_config({"method": "random", "parameters": params, **top}, "sweep.yaml")


def param(spec: dict, name: str = "p") -> Parameter:
    return parse({name: spec}).space.parameters[0]


def error(data, source: str = "sweep.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_sweep_config(data, source)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{source}: ")
    return text


def perror(spec: dict, method: str = "random") -> str:
    return error({"method": method, "parameters": {"p": spec}})


# --------------------------------------------------------------------------- inference


@pytest.mark.parametrize(
    ("spec", "dist"),
    [
        ({"value": 3}, "constant"),
        ({"value": None}, "constant"),
        ({"values": [1, 2]}, "categorical"),
        ({"values": ["a", "b"], "probabilities": [0.3, 0.7]}, "categorical_w_probabilities"),
        ({"min": 1, "max": 5}, "int_uniform"),
        ({"min": 1, "max": 5.0}, "uniform"),
        ({"min": 0.5, "max": 5}, "uniform"),
        ({"min": 0.1, "max": 0.2}, "uniform"),
    ],
)
def test_inference(spec, dist):
    assert param(spec).distribution == dist


def test_int_uniform_keeps_ints_and_uniform_keeps_given_numbers():
    p = param({"min": 1, "max": 5})
    assert (p.min, p.max) == (1, 5) and isinstance(p.min, int)
    assert param({"min": 0.1, "max": 2}).max == 2


def test_booleans_are_never_numbers():
    assert "must be a number, got a boolean" in perror({"min": True, "max": 5})
    assert "must be a number" in perror({"distribution": "normal", "mu": False})
    assert param({"values": [True, False]}).values == (True, False)
    assert param({"value": True}).value is True


def test_explicit_distributions_and_defaults():
    assert param({"distribution": "uniform", "min": 1, "max": 2}).distribution == "uniform"
    q = param({"distribution": "q_uniform", "min": 0, "max": 10})
    assert q.q == 1.0 and isinstance(q.q, float)  # W&B's default
    assert param({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}).q == 2
    n = param({"distribution": "normal"})
    assert (n.mu, n.sigma) == (0.0, 1.0)
    ln = param({"distribution": "log_normal", "mu": 1, "sigma": 0.5})
    assert (ln.mu, ln.sigma) == (1, 0.5)
    b = param({"distribution": "beta"})
    assert (b.a, b.b) == (1.0, 1.0)
    qb = param({"distribution": "q_beta", "a": 2, "b": 3, "q": 0.1})
    assert (qb.a, qb.b, qb.q) == (2, 3, 0.1)
    assert param({"distribution": "constant", "value": "x"}).value == "x"
    assert param({"distribution": "categorical", "values": [1]}).values == (1,)
    # W&B wants the long name with probabilities; the intent is clear so we accept it.
    cp = param({"distribution": "categorical", "values": [1, 2], "probabilities": [0.5, 0.5]})
    assert cp.distribution == "categorical_w_probabilities"
    assert cp.probabilities == (0.5, 0.5)


@pytest.mark.parametrize(
    "dist",
    [
        "log_uniform",
        "inv_log_uniform",
        "q_log_uniform",
        "log_uniform_values",
        "inv_log_uniform_values",
        "q_log_uniform_values",
        "int_uniform",
    ],
)
def test_min_max_distributions(dist):
    p = param({"distribution": dist, "min": 1, "max": 3})
    assert (p.distribution, p.min, p.max) == (dist, 1, 3)


def test_log_exponents_may_be_negative_but_values_variants_need_positive_min():
    assert param({"distribution": "log_uniform", "min": -9, "max": -1}).min == -9
    text = perror({"distribution": "log_uniform_values", "min": 0, "max": 1})
    assert "parameters.p.min" in text and "greater than 0" in text
    assert "greater than 0" in perror({"distribution": "q_log_uniform_values", "min": -1, "max": 1})


def test_scientific_notation_is_a_float(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-5 as a string; we read it as the float it is.
    f = tmp_path / "s.yaml"
    f.write_text("method: random\nparameters:\n  lr: {min: 1e-5, max: 1E-1}\n")
    p = load_sweep_file(f).space.parameters[0]
    assert (p.distribution, p.min, p.max) == ("uniform", 1e-5, 0.1)


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"values": [1, 2], "min": 0}, "'values' cannot be combined with 'min'"),
        ({"value": 1, "values": [1]}, "'value' cannot be combined with 'values'"),
        ({"min": 0.1, "max": 0.01}, "'min' (0.1) must be less than 'max' (0.01)"),
        ({"min": 3, "max": 3}, "'min' (3) must be less than 'max' (3)"),
        ({"min": 1}, "'min' given without 'max'"),
        ({"max": 1}, "'max' given without 'min'"),
        ({"min": "a", "max": 2}, "must be a number, got the string 'a'"),
        ({"min": "0.5", "max": 2}, "(remove the quotes)"),
        ({}, "empty parameter"),
        ({"mu": 1}, "'mu' needs 'distribution'"),
        ({"probabilities": [1.0]}, "'probabilities' needs 'values'"),
        ({"values": []}, "must not be empty"),
        ({"values": "abc"}, "must be a list"),
        ({"values": [1, 2], "probabilities": [0.5]}, "has 1 entries but 'values' has 2"),
        ({"values": [1, 2], "probabilities": [0.5, 0.6]}, "must sum to 1, got 1.1"),
        ({"values": [1, 2], "probabilities": [1.5, -0.5]}, "must not be negative"),
        ({"values": [1, 2], "probabilities": ["a", 1]}, "must be a number"),
        ({"distribution": "normal", "min": 0, "max": 1}, "'min' is not used by distribution"),
        ({"distribution": "uniform", "min": 0, "max": 1, "q": 1}, "'q' is not used"),
        ({"distribution": "uniform", "min": 0}, "distribution 'uniform' needs 'max'"),
        ({"distribution": "categorical"}, "distribution 'categorical' needs 'values'"),
        ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "needs an integer, got 0.5"),
        ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "greater than 0, got 0"),
        ({"distribution": "normal", "sigma": -1}, "must be 0 or more"),
        ({"distribution": "beta", "a": 0}, "must be greater than 0"),
        ({"distribution": 3}, "unknown distribution 3"),
        ({"min": float("inf"), "max": 1.0}, "must be a finite number"),
    ],
)
def test_bad_parameters(spec, expected):
    text = perror(spec)
    assert expected in text
    assert "parameters.p" in text


def test_unknown_distribution_did_you_mean():
    text = perror({"distribution": "log_unifrom", "min": 0, "max": 1})
    assert text == (
        "sweep.yaml: parameters.p.distribution: unknown distribution 'log_unifrom' "
        "(did you mean 'log_uniform'?)"
    )
    assert "one of: constant" in perror({"distribution": "zzz"})


def test_unknown_parameter_key_did_you_mean():
    text = perror({"valus": [1, 2]})
    assert text == "sweep.yaml: parameters.p.valus: unknown key 'valus' (did you mean 'values'?)"


def test_min_max_message_matches_spec():
    text = error({"method": "random", "parameters": {"lr": {"min": 0.1, "max": 0.01}}})
    assert text == "sweep.yaml: parameters.lr: 'min' (0.1) must be less than 'max' (0.01)"


def test_parameter_must_be_mapping():
    text = error({"method": "grid", "parameters": {"lr": 0.1}})
    assert "parameters.lr" in text and "value: 0.1" in text


@pytest.mark.parametrize("name", ["1abc", "a b", "a/b", ""])
def test_bad_parameter_names(name):
    assert "invalid parameter name" in error({"method": "grid", "parameters": {name: {"value": 1}}})


def test_good_parameter_names():
    names = ["a", "_x", "b.c-d_e", "A9"]
    space = parse({n: {"value": 1} for n in names}).space
    assert space.names() == sorted(names)


def test_non_json_values_rejected():
    import datetime

    text = perror({"values": [datetime.date(2020, 1, 1)]})
    assert "parameters.p.values[0]" in text and "quote it" in text


# --------------------------------------------------------------------------- nesting


def test_nested_parameters_flatten_to_dotted_sorted_names():
    space = parse(
        {
            "optimizer": {
                "parameters": {
                    "lr": {"min": 0.001, "max": 0.1},
                    "name": {"values": ["adam", "sgd"]},
                    "inner": {"parameters": {"beta": {"value": 0.9}}},
                }
            },
            "epochs": {"value": 3},
            "z": {"value": 1},
        }
    ).space
    assert space.names() == [
        "epochs",
        "optimizer.inner.beta",
        "optimizer.lr",
        "optimizer.name",
        "z",
    ]
    assert space.parameters[2].distribution == "uniform"


def test_nested_errors_name_the_file_path():
    text = error(
        {"method": "random", "parameters": {"opt": {"parameters": {"lr": {"min": 2, "max": 1}}}}}
    )
    assert "parameters.opt.parameters.lr:" in text
    text = error({"method": "random", "parameters": {"opt": {"parameters": {}, "value": 1}}})
    assert "takes only 'parameters'" in text
    text = error({"method": "random", "parameters": {"opt": {"parameters": {}}}})
    assert "parameters.opt.parameters: must define at least one parameter" in text


def test_dotted_names_clash_with_nesting():
    text = error(
        {
            "method": "random",
            "parameters": {"a.b": {"value": 1}, "a": {"parameters": {"b": {"value": 2}}}},
        }
    )
    assert "defined twice" in text
    text = error({"method": "random", "parameters": {"a": {"value": 1}, "a.b": {"value": 2}}})
    assert "clashes" in text


def test_nest_params():
    assert nest_params({"optimizer.lr": 0.1, "epochs": 3, "optimizer.x.y": 1}) == {
        "optimizer": {"lr": 0.1, "x": {"y": 1}},
        "epochs": 3,
    }
    assert nest_params({}) == {}
    with pytest.raises(ValueError):
        nest_params({"a": 1, "a.b": 2})


# --------------------------------------------------------------------------- top level


def test_full_config():
    data = {
        "program": "train.py",
        "method": "bayes",
        "name": "n",
        "description": "d",
        "project": "p",
        "entity": "e",
        "metric": {
            "name": "val_loss",
            "goal": "maximize",
            "target": 0.9,
            "impute": "worst",
            "impute_while_running": False,
        },
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2, "strict": True},
        "command": ["${env}", "${interpreter}", "${program}", "--epochs", 3, "${args}"],
        "run_cap": 20,
        "controller": {"type": "local"},
        "env": {"TOKEN": "secret:HF_TOKEN", "CUDA_VISIBLE_DEVICES": 0},
        "parameters": {"lr": {"min": 0.1, "max": 1.0}},
    }
    c = parse_sweep_config(data, "s.yaml")
    assert c.method == "bayes" and c.program == "train.py"
    assert c.metric == MetricSpec("val_loss", "maximize", 0.9)
    assert c.early_terminate == EarlyTerminate("hyperband", 3, None, None, 2.0, True)
    assert c.command == ("${env}", "${interpreter}", "${program}", "--epochs", "3", "${args}")
    assert c.run_cap == 20
    assert (c.name, c.description, c.project, c.entity) == ("n", "d", "p", "e")
    assert c.env == {"TOKEN": "secret:HF_TOKEN", "CUDA_VISIBLE_DEVICES": "0"}
    assert c.raw == data and c.raw is not data
    json.dumps(c.raw)


def test_minimal_config_defaults():
    c = parse_sweep_config({"method": "grid", "parameters": {"a": {"value": 1}}})
    assert c.metric is None and c.early_terminate is None and c.command is None
    assert c.env == {} and c.run_cap is None and c.program is None


def test_wandb_only_keys_are_accepted_and_kept():
    data = {
        "method": "random",
        "parameters": {"a": {"value": 1}},
        "metrics": [{"name": "a"}, {"name": "b"}],
        "scheduler": {"engine": "wandb"},
        "job": "j",
        "image_uri": "x",
        "apiVersion": "1",
        "kind": "sweep",
    }
    assert parse_sweep_config(data).raw["scheduler"] == {"engine": "wandb"}


def test_metric_defaults_and_errors():
    c = parse({"a": {"value": 1}}, metric={"name": "loss"})
    assert c.metric == MetricSpec("loss", "minimize", None)
    base = {"method": "random", "parameters": {"a": {"value": 1}}}
    assert error({**base, "metric": {"name": "loss", "goal": "max"}}) == (
        "sweep.yaml: metric.goal: must be 'minimize' or 'maximize', got 'max'"
    )
    assert "did you mean 'maximize'" in error({**base, "metric": {"name": "l", "goal": "maximise"}})
    assert "metric: missing 'name'" in error({**base, "metric": {"goal": "minimize"}})
    assert "metric.nmae: unknown key 'nmae' (did you mean 'name'?)" in error(
        {**base, "metric": {"nmae": "x"}}
    )
    assert "metric.target: must be a number" in error(
        {**base, "metric": {"name": "l", "target": "x"}}
    )
    assert "metric.impute" in error({**base, "metric": {"name": "l", "impute": "mean"}})
    assert "metric: must be a mapping" in error({**base, "metric": "loss"})


def test_method_errors():
    params = {"a": {"value": 1}}
    assert "method: missing" in error({"parameters": params})
    text = error({"method": "custom", "parameters": params})
    assert "method: 'custom'" in text and "not supported" in text
    assert "did you mean 'random'" in error({"method": "randm", "parameters": params})
    assert "metric: method 'bayes' needs a 'metric'" in error(
        {"method": "bayes", "parameters": params}
    )


def test_top_level_errors():
    assert "parameters: missing" in error({"method": "grid"})
    assert "parameters: must define at least one" in error({"method": "grid", "parameters": {}})
    assert "parameters: must be a mapping" in error({"method": "grid", "parameters": [1]})
    text = error({"method": "grid", "parameters": {"a": {"value": 1}}, "paramters": {}})
    assert text == "sweep.yaml: paramters: unknown key 'paramters' (did you mean 'parameters'?)"
    assert "must be a mapping" in error([1, 2])
    assert "must be a mapping" in error("method: grid")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"run_cap": 0}, "run_cap: must be at least 1"),
        ({"run_cap": True}, "run_cap: must be a number, got a boolean"),
        ({"run_cap": 2.5}, "run_cap: must be an integer"),
        ({"command": "python train.py"}, "command: must be a non-empty list"),
        ({"command": []}, "command: must be a non-empty list"),
        ({"command": ["a", None]}, "command[1]: must be a string"),
        ({"command": ["${args_jsn}"]}, "unknown macro ${args_jsn} (did you mean ${args_json}"),
        ({"command": ["--x=${args}"]}, "command[0]: ${args} expands to several arguments"),
        ({"command": ["${HOME}"]}, "${envvar:HOME}"),
        ({"program": 3}, "program: must be a string"),
        ({"program": ""}, "program: must not be empty"),
        ({"env": {"1X": "a"}}, "invalid environment variable name"),
        ({"env": {"X": True}}, "env.X: must be a string"),
        ({"env": ["X"]}, "env: must be a mapping"),
        ({"controller": {"type": "remote"}}, "controller.type"),
        ({"metrics": "x"}, "metrics: must be a list"),
        ({"early_terminate": {"type": "hyperband", "min_iter": 3}}, "metric: early_terminate"),
    ],
)
def test_top_level_value_errors(extra, expected):
    text = error({"method": "random", "parameters": {"a": {"value": 1}}, **extra})
    assert expected in text


def test_name_may_be_a_number():
    assert parse({"a": {"value": 1}}, name=2024).name == "2024"


@pytest.mark.parametrize(
    ("et", "expected"),
    [
        ({"min_iter": 3}, "early_terminate: missing 'type'"),
        ({"type": "hyperbnd", "min_iter": 3}, "did you mean 'hyperband'"),
        ({"type": "hyperband"}, "give 'min_iter', or 'max_iter' and 's'"),
        ({"type": "hyperband", "max_iter": 27}, "'max_iter' needs 's'"),
        ({"type": "hyperband", "min_iter": 0}, "early_terminate.min_iter: must be at least 1"),
        ({"type": "hyperband", "min_iter": 1.5}, "must be an integer"),
        ({"type": "hyperband", "min_iter": 3, "eta": 1}, "eta: must be greater than 1"),
        ({"type": "hyperband", "min_iter": 3, "strict": "yes"}, "strict: must be true or false"),
        ({"type": "hyperband", "min_iter": 3, "etta": 2}, "unknown key 'etta' (did you mean"),
    ],
)
def test_early_terminate_errors(et, expected):
    data = {
        "method": "random",
        "parameters": {"a": {"value": 1}},
        "metric": {"name": "loss"},
        "early_terminate": et,
    }
    assert expected in error(data)


def test_early_terminate_forms():
    c = parse(
        {"a": {"value": 1}},
        metric={"name": "loss"},
        early_terminate={"type": "hyperband", "max_iter": 27, "s": 2},
    )
    assert c.early_terminate == EarlyTerminate("hyperband", None, 27, 2, 3.0, True)
    c = parse(
        {"a": {"value": 1}},
        metric={"name": "loss"},
        early_terminate={"type": "asha", "min_iter": 1},
    )
    assert c.early_terminate.type == "asha"


def test_grid_rejects_continuous_parameters():
    text = error(
        {"method": "grid", "parameters": {"opt": {"parameters": {"lr": {"min": 0.1, "max": 1.0}}}}}
    )
    assert text.startswith("sweep.yaml: parameters.opt.parameters.lr: distribution 'uniform'")
    assert "values:" in text and "q_uniform" in text
    text = error(
        {"method": "grid", "parameters": {"p": {"values": [1, 2], "probabilities": [0.5, 0.5]}}}
    )
    assert "parameters.p.probabilities" in text
    for dist in ("normal", "beta", "log_normal"):
        assert "continuous" in perror({"distribution": dist}, method="grid")


# --------------------------------------------------------------------------- files


def write(tmp_path, text: str, name: str = "sweep.yaml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_load_yaml_file(tmp_path):
    f = write(
        tmp_path,
        "program: train.py\nmethod: grid\nparameters:\n  flag: {values: [true, false]}\n"
        "  day: {value: 2020-01-01}\n",
    )
    c = load_sweep_file(f)
    assert c.space.parameters[1].values == (True, False)
    assert c.space.parameters[0].value == "2020-01-01"  # dates stay strings
    json.dumps(c.raw)


def test_load_json_file(tmp_path):
    f = write(tmp_path, json.dumps({"method": "grid", "parameters": {"a": {"value": 1}}}), "s.json")
    assert load_sweep_file(str(f)).method == "grid"
    f = write(tmp_path, '{"method": "grid",\n "parameters": }', "bad.json")
    with pytest.raises(ConfigError, match=r"bad.json: line 2: invalid JSON"):
        load_sweep_file(f)


def test_file_errors(tmp_path):
    def fails(path, pattern):
        with pytest.raises(ConfigError, match=pattern) as info:
            load_sweep_file(path)
        assert "\n" not in str(info.value)
        return str(info.value)

    fails(tmp_path / "missing.yaml", r"missing.yaml: file not found")
    fails(tmp_path, "is a directory")
    fails(write(tmp_path, ""), r"sweep.yaml: file is empty")
    fails(write(tmp_path, "# only a comment\n"), "file is empty")
    fails(write(tmp_path, "- 1\n- 2\n"), "must be a mapping")
    text = fails(
        write(tmp_path, "method: grid\nparameters:\n  a:\n    values: [1, 2\n  b: 3\n"),
        r"sweep.yaml: line \d+: invalid YAML",
    )
    assert "line 5" in text or "line 6" in text
    text = fails(write(tmp_path, "method: grid\nmethod: random\n"), "duplicate key 'method'")
    assert "line 2" in text
    p = write(tmp_path, "method: grid\nparameters:\n  lr:\n    distribution: log_unifrom\n")
    assert fails(p, "did you mean") == (
        f"{p}: parameters.lr.distribution: unknown distribution 'log_unifrom' "
        "(did you mean 'log_uniform'?)"
    )
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"method: \xff\n")
    fails(bad, "not a UTF-8")


def test_yaml_merge_keys_still_work(tmp_path):
    text = "method: random\nparameters:\n  a: &b {min: 1, max: 2}\n  c:\n    <<: *b\n    max: 5\n"
    c = load_sweep_file(write(tmp_path, text))
    assert [(p.name, p.max) for p in c.space.parameters] == [("a", 2), ("c", 5)]


def test_config_error_attributes():
    e = ConfigError("f.yaml", "a.b", "bad\nthing")
    assert (e.source, e.path, e.message) == ("f.yaml", "a.b", "bad thing")
    assert str(e) == "f.yaml: a.b: bad thing"
    assert str(ConfigError("f.yaml", "", "file not found")) == "f.yaml: file not found"
    import pickle

    assert str(pickle.loads(pickle.dumps(e))) == str(e)


# --------------------------------------------------------------------------- describe


def test_describe_space():
    c = parse_sweep_config(
        {
            "method": "grid",
            "parameters": {
                "bs": {"values": [16, 32]},
                "epochs": {"min": 1, "max": 3},
                "drop": {"distribution": "q_uniform", "min": 0, "max": 0.5, "q": 0.1},
                "opt": {"parameters": {"name": {"value": "adam"}}},
            },
        }
    )
    lines = describe_space(c)
    assert len(lines) == 5
    assert lines[0].startswith("bs") and "one of [16, 32]" in lines[0]
    assert "q_uniform" in lines[1] and "step q=0.1" in lines[1]
    assert "int_uniform between 1 and 3" in lines[2]
    assert "constant 'adam'" in lines[3]
    assert lines[-1] == "grid: 36 points"
    lines = describe_space(
        parse(
            {
                "lr": {"distribution": "log_uniform", "min": -9.2, "max": -2.3},
                "x": {"distribution": "normal"},
                "y": {"values": ["a", "b"], "probabilities": [0.25, 0.75]},
            }
        )
    )
    assert len(lines) == 3 and "natural-log" in lines[0] and "mu=0" in lines[1]
    assert "(p=0.25)" in lines[2]
