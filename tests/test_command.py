"""Command rendering: every W&B macro, nested params, value formatting."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    # conftest puts this interpreter's bin dir first on PATH: `python` is found, as W&B writes
    assert argv == ["/usr/bin/env", "python", "train.py", "--bs=16", "--lr=0.1"]
    argv = render_command(config(), {"lr": 0.1}, interpreter="python3")
    assert argv[:2] == ["/usr/bin/env", "python3"]


def test_env_omitted_without_usr_bin_env(monkeypatch):
    monkeypatch.setattr(command_mod, "_env_available", lambda: False)
    argv = render_command(config(), {"x": 1}, interpreter="py")
    assert argv == ["py", "train.py", "--x=1"]


def _fake_python(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    python = directory / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    return python


def test_interpreter_is_python_on_the_runs_path(tmp_path):
    python = _fake_python(tmp_path / "bin")
    environ = {"PATH": f"{tmp_path / 'empty'}{os.pathsep}{python.parent}"}
    assert command_mod.resolve_interpreter(environ) == "python"
    assert command_mod.interpreter_path(environ) == str(python)
    assert render(["${interpreter}"], environ=environ) == ["python"]


def test_interpreter_falls_back_to_the_agents_own(tmp_path):
    environ = {"PATH": str(tmp_path)}  # no python there (only python3, say)
    assert command_mod.resolve_interpreter(environ) == sys.executable
    assert command_mod.interpreter_path(environ) == sys.executable
    assert render(["${interpreter}"], environ=environ) == [sys.executable]


def test_interpreter_follows_the_given_environment_not_ours(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    python = _fake_python(tmp_path / "venv" / "bin")
    assert render(["${interpreter}"], environ={"PATH": str(python.parent)}) == ["python"]
    assert render(["${interpreter}"]) == [sys.executable]  # default: os.environ


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
    assert render(["${args_append_hydra}"], {"opt.lr": 0.1, "n": 2}) == [
        "+n=2",
        "+opt={'lr': 0.1}",
    ]
    assert render(["${args_override_hydra}"], {"opt.lr": 0.1}) == ["++opt={'lr': 0.1}"]


def test_args_json_is_one_token_with_nested_params():
    argv = render(["prog", "${args_json}"], {"opt.name": "sgd", "opt.lr": 0.1, "e": [1, 2]})
    assert argv == ["prog", '{"e": [1, 2], "opt": {"lr": 0.1, "name": "sgd"}}']


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


def test_nested_params_become_one_flag_per_top_level_key():
    # W&B's agent writes str() of the nested block; keys sorted at every level.
    params = {"optimizer.nadam.beta": 0.9, "optimizer.lr": 0.001, "epochs": 2}
    assert render(["${args}"], params) == [
        "--epochs=2",
        "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}",
    ]
    assert render(["${args_no_equals}"], params)[2:] == [
        "--optimizer",
        "{'lr': 0.001, 'nadam': {'beta': 0.9}}",
    ]
    assert render(["${args_no_hyphens}"], {"o.b": True, "o.a": False}) == [
        "o={'a': False, 'b': True}"
    ]


def test_no_boolean_flags_only_for_real_booleans():
    params = {"on": True, "off": False, "o.flag": True, "none": None, "zero": 0, "s": "False"}
    assert render(["${args_no_boolean_flags}"], params) == [
        "--none=None",
        "--o={'flag': True}",
        "--on",
        "--s=False",
        "--zero=0",
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
        (1e20, "1e+20"),
        (3.0, "3.0"),
        (7, "7"),
        ("adam", "adam"),
        ("", ""),
        ([1, 2], "[1, 2]"),
        (["a", True, None], "['a', True, None]"),
        ({"k": 1, "b": [{"z": 1, "a": "it's"}]}, "{'b': [{'a': \"it's\", 'z': 1}], 'k': 1}"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_uses_macro_and_args_json_helpers():
    assert command_mod.uses_macro(config(["x", "--c=${args_json_file}"]), "args_json_file")
    assert not command_mod.uses_macro(config(), "args_json_file")
    assert command_mod.args_json({"a.c": 1, "a.b": "é"}) == '{"a": {"b": "\\u00e9", "c": 1}}'
    assert command_mod.args_flags({"b": 1, "a.x": [1]}) == ["--a={'x': [1]}", "--b=1"]
    config_dict = command_mod.run_config({"b.y": 1, "b.x": {"q": 1, "p": 2}, "a": 0})
    assert str(config_dict) == "{'a': 0, 'b': {'x': {'p': 2, 'q': 1}, 'y': 1}}"  # order too


def test_a_dotted_top_level_name_stays_one_flat_key_as_in_wandb(with_env):
    """Hydra-style sweeps name parameters `model.lr` at the top level and pass them with
    ${args_no_hyphens}: W&B keeps such a name flat, and so do we; a nested block is one flag."""
    sweep = parse_sweep_config(
        {
            "program": "train.py",
            "method": "grid",
            "command": ["${interpreter}", "${program}", "${args_no_hyphens}"],
            "parameters": {
                "model.lr": {"values": [0.1]},
                "optimizer": {"parameters": {"beta": {"values": [0.9]}}},
            },
        },
        "s.yaml",
    )
    params = {"model.lr": 0.1, "optimizer.beta": 0.9}
    argv = render_command(sweep, params, interpreter="python")
    assert argv == ["python", "train.py", "model.lr=0.1", "optimizer={'beta': 0.9}"]
    assert command_mod.run_config(params, sweep) == {"model.lr": 0.1, "optimizer": {"beta": 0.9}}
    assert command_mod.args_json(params, sweep) == '{"model.lr": 0.1, "optimizer": {"beta": 0.9}}'
