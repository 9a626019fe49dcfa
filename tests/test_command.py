"""Command rendering: every W&B macro, nested params, value formatting."""

from __future__ import annotations

import json
import sys

import pytest

from hypersweep.config import DEFAULT_COMMAND, format_value, parse_sweep_config, render_command
from hypersweep.config import command as command_mod

PARAMS = {"lr": 0.001, "epochs": 3, "flag": True, "off": False, "name": "adam"}


def config(command=None, program="train.py", **params):
    data = {"method": "random", "parameters": {"a": {"value": 1}}}
    if program is not None:
        data["program"] = program
    if command is not None:
        data["command"] = command
    return parse_sweep_config(data, "s.yaml")


def render(command, params=None, **kw):
    return render_command(config(command), PARAMS if params is None else params, **kw)


@pytest.fixture
def with_env(monkeypatch):
    monkeypatch.setattr(command_mod, "_env_available", lambda: True)


def test_default_command(with_env):
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")
    argv = render_command(config(), {"lr": 0.1, "bs": 16})
    assert argv == ["/usr/bin/env", sys.executable, "train.py", "--bs=16", "--lr=0.1"]
    argv = render_command(config(), {"lr": 0.1}, interpreter="python3")
    assert argv[:2] == ["/usr/bin/env", "python3"]


def test_env_omitted_without_usr_bin_env(monkeypatch):
    monkeypatch.setattr(command_mod, "_env_available", lambda: False)
    argv = render_command(config(), {"x": 1}, interpreter="py")
    assert argv == ["py", "train.py", "--x=1"]


def test_args():
    assert render(["${args}"]) == [
        "--epochs=3",
        "--flag=True",
        "--lr=0.001",
        "--name=adam",
        "--off=False",
    ]


def test_args_no_equals():
    assert render(["${args_no_equals}"], {"lr": 0.5, "b": False}) == [
        "--b",
        "False",
        "--lr",
        "0.5",
    ]


def test_args_no_hyphens():
    assert render(["${args_no_hyphens}"], {"lr": 0.5, "b": "x"}) == ["b=x", "lr=0.5"]


def test_args_no_boolean_flags():
    assert render(["${args_no_boolean_flags}"]) == [
        "--epochs=3",
        "--flag",
        "--lr=0.001",
        "--name=adam",
    ]


def test_hydra_macros():
    assert render(["${args_append_hydra}"], {"opt.lr": 0.1, "n": 2}) == ["+n=2", "+opt.lr=0.1"]
    assert render(["${args_override_hydra}"], {"opt.lr": 0.1}) == ["++opt.lr=0.1"]


def test_args_json_is_one_token_with_nested_params():
    argv = render(["prog", "${args_json}"], {"opt.lr": 0.1, "opt.name": "sgd", "e": [1, 2]})
    assert len(argv) == 2
    assert json.loads(argv[1]) == {"opt": {"lr": 0.1, "name": "sgd"}, "e": [1, 2]}


def test_args_json_file():
    argv = render(["${program}", "--config", "${args_json_file}"], args_json_file="/tmp/c.json")
    assert argv == ["train.py", "--config", "/tmp/c.json"]
    with pytest.raises(ValueError, match="args_json_file"):
        render(["${args_json_file}"])


def test_macro_inside_a_token():
    argv = render(
        ["--cfg=${args_json_file}", "${interpreter}-x", "--p=${program}:${envvar:X}"],
        args_json_file="c.json",
        interpreter="py",
        environ={"X": "1"},
    )
    assert argv == ["--cfg=c.json", "py-x", "--p=train.py:1"]


def test_envvar():
    assert render(["${envvar:HOME_DIR}"], environ={"HOME_DIR": "/h"}) == ["/h"]
    with pytest.raises(ValueError, match="environment variable MISSING is not set") as info:
        render(["${envvar:MISSING}"], environ={})
    assert "\n" not in str(info.value)


def test_envvar_defaults_to_os_environ(monkeypatch):
    monkeypatch.setenv("HS_TEST_VAR", "v")
    assert render(["${envvar:HS_TEST_VAR}"]) == ["v"]


def test_program_missing():
    with pytest.raises(ValueError, match="program"):
        render_command(config(program=None), {"a": 1})
    # a command that does not mention ${program} needs none
    assert render_command(config(["run", "${args}"], program=None), {"a": 1}) == ["run", "--a=1"]


def test_literal_tokens_pass_through():
    assert render(["python", "-m", "pkg", "--x", "3"]) == ["python", "-m", "pkg", "--x", "3"]


def test_nested_params_become_dotted_flags():
    params = {"optimizer.lr": 0.1, "optimizer.name": "adam", "epochs": 2}
    assert render(["${args}"], params) == [
        "--epochs=2",
        "--optimizer.lr=0.1",
        "--optimizer.name=adam",
    ]


def test_empty_params_give_no_args():
    assert render(["a", "${args}", "b"], {}) == ["a", "b"]


def test_render_rejects_bad_templates_even_unparsed():
    # SweepConfig objects built by hand (not via the parser) still get clear errors.
    cfg = config()
    bad = type(cfg)(**{**cfg.__dict__, "command": ("--x=${args}",)})
    with pytest.raises(ValueError, match="list item of its own"):
        render_command(bad, {"a": 1})
    bad = type(cfg)(**{**cfg.__dict__, "command": ("${nope}",)})
    with pytest.raises(ValueError, match="unknown macro"):
        render_command(bad, {"a": 1})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "True"),
        (False, "False"),
        (None, "None"),
        (0.001, "0.001"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-5, "1e-05"),
        (3.0, "3.0"),
        (7, "7"),
        ("adam", "adam"),
        ("", ""),
        ([1, 2], "[1, 2]"),
        (["a", True, None], '["a", true, null]'),
        ({"k": 1}, '{"k": 1}'),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_uses_macro_and_args_json_helpers():
    assert command_mod.uses_macro(config(["x", "--c=${args_json_file}"]), "args_json_file")
    assert not command_mod.uses_macro(config(), "args_json_file")
    assert json.loads(command_mod.args_json({"a.b": 1})) == {"a": {"b": 1}}
