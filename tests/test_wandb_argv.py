"""Our argv is W&B's, byte for byte: `render_command` against the lists wandb's own agent
code builds (wandb 0.31.0, the real package, offline) for the same run config, for every
macro W&B's agent knows.

The run config W&B's agent gets is the server's JSON: nested, keys sorted at every level
(Go's encoding/json sorts map keys). `server_config` builds it here without our code."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from hypersweep.config import command as command_mod
from hypersweep.config import parse_sweep_config, render_command

sweep_utils = pytest.importorskip("wandb.sdk.launch.sweeps.utils")

PROGRAM = "train.py"
JSON_FILE = "wandb/sweep-abc123/config-run456.json"  # where W&B's agent writes it
ENVVAR = "HS_WANDB_ARGV_TEST"

MACROS = (
    "${args}",
    "${args_no_equals}",
    "${args_no_hyphens}",
    "${args_no_boolean_flags}",
    "${args_json}",
    "${args_append_hydra}",
    "${args_override_hydra}",
    "${env}",
    "${interpreter}",
    "${program}",
    "${args_json_file}",
)

# Flat run configs, as our search layer hands them (dotted names: nested parameters), in no
# particular order.
RUN_CONFIGS: dict[str, dict[str, Any]] = {
    "empty": {},
    "flat": {"lr": 0.001, "epochs": 3, "optimizer": "adam", "Batch": 16, "_x": 1},
    "nested-2": {"optimizer.lr": 0.001, "optimizer.name": "adam", "epochs": 3},
    "nested-3": {
        "optimizer.nadam.beta": 0.9,
        "optimizer.lr": 0.001,
        "optimizer.nadam.eps": 1e-08,
        "model.enc.layers": 4,
        "model.dec.layers": 2,
        "seed": 0,
    },
    "list-values": {"layers": [64, 32], "tags": ["a", True, None, 1.5, "it's"], "e": []},
    "dict-values": {
        "sched": {"type": "cos", "warmup": 10, "by": {"z": 1, "a": [2, {"y": 0, "b": 1}]}},
        "opt.extra": {"y": 1, "x": False},
        "empty": {},
    },
    "bools": {"flag": True, "off": False, "opt.amsgrad": True, "opt.nesterov": False},
    "none": {"none": None, "opt.wd": None},
    "ints": {"n": 0, "big": 10**20, "neg": -3, "one": 1},
    "floats": {
        "a": 1e-05,
        "b": 0.1,
        "c": 1e20,
        "d": float("nan"),
        "e": float("inf"),
        "f": -float("inf"),
        "g": 3.0,
        "h": -0.0,
        "i": 0.1 + 0.2,
        "j": 1.5e-300,
    },
    "strings": {
        "space": "hello world",
        "dquote": 'say "hi"',
        "squote": "it's",
        "both": 'it\'s "both"',
        "equals": "a=b=c",
        "unicode": "héllo ✓ 日本",
        "blank": "",
        "dashes": "--x",
        "braces": "${args}",
        "newline": "a\nb",
        "in-list": ["it's", 'q"', "é", "a b"],
    },
}


def server_config(flat: dict[str, Any]) -> dict[str, Any]:
    """The run config as W&B's server sends it: nested, through JSON with sorted keys."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return json.loads(json.dumps(nested, sort_keys=True))


def wandb_argv(command: list[str] | None, config: dict[str, Any]) -> list[str]:
    """What W&B's agent runs: a small mirror of `Agent._command_run` in wandb 0.31.0
    (wandb/wandb_agent.py), around wandb's own `create_sweep_command` (fills
    `${envvar:NAME}`, default command when None) and `create_sweep_command_args`."""
    macros = sweep_utils.create_sweep_command_args(
        {"args": {key: {"value": value} for key, value in config.items()}}
    )
    macros["interpreter"] = ["python"]
    macros["program"] = [PROGRAM]
    macros["args_json_file"] = [JSON_FILE]
    macros["env"] = ["/usr/bin/env"]  # not on Windows
    # A copy: create_sweep_command edits the list it is given in place.
    items = sweep_utils.create_sweep_command(None if command is None else list(command))
    argv: list[str] = []
    for item in items:
        item = str(item)
        if item.startswith("${") and item.endswith("}"):
            argv += macros.get(item[2:-1]) or []  # an unknown macro: dropped
        else:
            argv.append(item)
    return argv


def ours(command: list[str] | None, flat: dict[str, Any]) -> list[str]:
    # The search space does not matter here: `flat` is the run's config.
    data: dict[str, Any] = {
        "method": "random",
        "program": PROGRAM,
        "parameters": {"x": {"value": 1}},
    }
    if command is not None:
        data["command"] = command
    config = parse_sweep_config(data, "sweep.yaml")
    return render_command(config, flat, args_json_file=JSON_FILE)


@pytest.fixture(autouse=True)
def _like_wandbs_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    # W&B's agent writes /usr/bin/env on every system but Windows; ours checks that it exists.
    monkeypatch.setattr(command_mod, "_env_available", lambda: True)
    monkeypatch.setenv(ENVVAR, "from env")


def test_python_is_on_path():
    # conftest puts this interpreter's bin dir first on PATH, as an activated virtualenv does;
    # only then does ${interpreter} give W&B's bare `python`.
    assert command_mod.resolve_interpreter(os.environ) == "python"


@pytest.mark.parametrize("macro", MACROS)
@pytest.mark.parametrize("case", sorted(RUN_CONFIGS))
def test_each_macro_matches_wandbs_agent(case: str, macro: str):
    flat = RUN_CONFIGS[case]
    command = ["lead", macro, "--tail"]
    assert ours(command, flat) == wandb_argv(command, server_config(flat))


@pytest.mark.parametrize("case", sorted(RUN_CONFIGS))
def test_default_command_matches_wandbs_agent(case: str):
    flat = RUN_CONFIGS[case]
    assert ours(None, flat) == wandb_argv(None, server_config(flat))


@pytest.mark.parametrize("case", sorted(RUN_CONFIGS))
def test_every_macro_in_one_command(case: str):
    flat = RUN_CONFIGS[case]
    command = [*MACROS, f"${{envvar:{ENVVAR}}}", f"--from=${{envvar:{ENVVAR}}}/x", "3"]
    assert ours(command, flat) == wandb_argv(command, server_config(flat))


def test_a_nested_block_is_one_flag():
    # The shape, written out, so a reader sees what "W&B's form" is.
    flat = {"optimizer.nadam.beta": 0.9, "optimizer.lr": 0.001, "tags": ["a", True]}
    assert ours(["${args}"], flat) == [
        "--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}",
        "--tags=['a', True]",
    ]
    assert ours(["${args_json}"], flat) == [
        '{"optimizer": {"lr": 0.001, "nadam": {"beta": 0.9}}, "tags": ["a", true]}'
    ]
