"""Fuzzing the sweep-file loader (issue 12, item 9): real sweep files, mutated byte by byte
and structure by structure, must load or end in ONE line (a ConfigError), never a traceback
or a hang. Derandomized, with bounded examples: the same few hundred files every run."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import assert_one_line_error, hypersweep_cmd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypersweep import sweeps as sweep_ops
from hypersweep.config import ConfigError, describe_space

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# W&B-style files beside ours: nested parameters, every distribution family, hyperband,
# command macros, W&B-only keys, anchors and merge keys.
WANDB_FILES = {
    "wandb-nested.yaml": """\
program: train.py
method: bayes
metric:
  name: validation_loss
  goal: minimize
parameters:
  optimizer:
    parameters:
      name: {values: [adam, sgd]}
      lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  batch_size: {distribution: q_log_uniform_values, q: 8, min: 32, max: 256}
  dropout: {distribution: uniform, min: 0.0, max: 0.5}
  epochs: {value: 10}
  layers: {distribution: int_uniform, min: 1, max: 5}
early_terminate:
  type: hyperband
  min_iter: 3
  eta: 2
""",
    "wandb-command.yaml": """\
name: my-sweep
description: grid with W&B macros
project: demo
entity: team
program: train.py
method: grid
run_cap: 20
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - --config=${args_json_file}
  - ${args_no_boolean_flags}
parameters:
  flag: {values: [true, false]}
  seed: {values: [1, 2, 3]}
  lr: {distribution: q_uniform, min: 0.1, max: 0.5, q: 0.1}
  day: {value: 2024-01-01}
controller: {type: local}
""",
    "wandb-anchors.yaml": """\
program: train.py
method: random
metric: {name: acc, goal: maximize, target: 0.99}
parameters:
  a: &spec {min: 1, max: 10}
  b: {<<: *spec, max: 20}
  c: {values: &v [0.1, 0.01, 1e-3, .5, -2]}
  d: {values: *v}
  e: {distribution: normal, mu: 0, sigma: 1}
  f: {distribution: beta, a: 2, b: 5}
  g: {distribution: categorical_w_probabilities, values: [x, y], probabilities: [0.3, 0.7]}
early_terminate: {type: hyperband, max_iter: 27, s: 2}
""",
    "wandb.json": json.dumps(
        {
            "program": "train.py",
            "method": "random",
            "metric": {"name": "loss"},
            "parameters": {
                "lr": {"distribution": "log_uniform", "min": -9, "max": -2},
                "width": {"values": [32, 64, [1, 2], {"k": None}]},
                "nested": {"parameters": {"x": {"value": "text"}}},
            },
            "run_cap": 5,
        },
        indent=2,
    ),
}


def seed_files() -> dict[str, str]:
    files = {path.name: path.read_text() for path in sorted(EXAMPLES.glob("*/*.yaml"))}
    assert files, "examples/ lost its sweep files"
    return {**files, **WANDB_FILES}


SEEDS = seed_files()

# Fragments spliced in: YAML structure, the traps of issue 12, and plain noise.
TOKENS = [
    "&a ", "*a", "*b", "&b [*a, *a, *a]", "<<: *a", "[", "]", "{", "}", "[[[[[[[[", "? ",
    ": ", "- ", "-\n", ",", "'", '"', "|\n", ">-\n", "#", "---\n", "...\n", "%YAML 1.1\n",
    "!!binary aGk=", "!!timestamp 2020-01-01 ", "!!set {a}", "!!python/object:os.system",
    "!!int ", "!!float ", "!!str ", "!foo ", "\t", "\n", "\n  ", "\r\n", "\x00", "\x01",
    "\xff", "\ufeff", "é", "1e400", "-1e400", ".inf", ".nan", "9" * 25, "0x" + "f" * 30,
    "1:30:00", "-9223372036854775809", "9223372036854775807", "0b" + "1" * 70, "1_000",
    "null", "~", "true", "no", "2024-01-01", "x" * 300, "values: ", "min: ", "max: ",
    "distribution: ", "parameters:", "probabilities: [1]", "q: 0", "int_uniform", "grid",
    "${args}", "${envvar:HOME}", "${", "\\u0000", "\\x00",
]  # fmt: skip

INTERESTING_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 2**63, -(2**63) - 1, 10**30, float("inf"), float("nan"), 1e308,
    "", "x" * 10_001, "1e-5", "${args}", [], {}, [1, [2, [3]]], {"values": [1]},
    {"min": 0, "max": 2**70}, {"distribution": "q_uniform", "min": 0, "max": 1e300, "q": 1e-300},
    {"parameters": {"y": {"value": 1}}}, ["a"] * 50, list(range(200)),
]  # fmt: skip

SETTINGS = settings(
    derandomize=True,  # the same examples every run: CI stays stable
    database=None,
    # A hang guard, not a timing assertion: each file is a few KB and loads in milliseconds.
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --------------------------------------------------------------- mutations


def mutate_bytes(data: bytes, rnd: random.Random, steps: int) -> bytes:
    out = bytearray(data)
    for _ in range(steps):
        n = len(out)
        op = rnd.randrange(7)
        at = rnd.randrange(n + 1)
        if op == 0 and n:  # flip a byte
            out[min(at, n - 1)] = rnd.randrange(256)
        elif op == 1:  # delete a run
            del out[at : at + rnd.randrange(1, 40)]
        elif op == 2:  # duplicate a run somewhere else
            start = rnd.randrange(n + 1)
            out[at:at] = out[start : start + rnd.randrange(1, 80)]
        elif op == 3:  # splice a token in
            out[at:at] = rnd.choice(TOKENS).encode("utf-8", "surrogatepass")
        elif op == 4:  # swap two lines
            lines = bytes(out).split(b"\n")
            i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            out = bytearray(b"\n".join(lines))
        elif op == 5:  # re-indent a line
            lines = bytes(out).split(b"\n")
            i = rnd.randrange(len(lines))
            lines[i] = b" " * rnd.randrange(8) + lines[i].lstrip(b" ")
            out = bytearray(b"\n".join(lines))
        else:  # swap a key and its value (`a: b` -> `b: a`)
            lines = bytes(out).split(b"\n")
            i = rnd.randrange(len(lines))
            key, sep, value = lines[i].partition(b": ")
            if sep:
                indent = len(key) - len(key.lstrip())
                lines[i] = key[:indent] + value.strip() + b": " + key.strip()
            out = bytearray(b"\n".join(lines))
    return bytes(out)


def containers(value: Any) -> list[Any]:
    """Every dict and list in ``value``, once each (mutations share and even loop them)."""
    found: dict[int, Any] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)) and id(item) not in found:
            found[id(item)] = item
            stack.extend(item.values() if isinstance(item, dict) else item)
    return list(found.values())


def mutate_tree(data: Any, rnd: random.Random, steps: int) -> Any:
    """Mutations that keep the file parseable, so they reach the schema checks."""
    for _ in range(steps):
        targets = containers(data)
        if not targets:
            return data
        target = rnd.choice(targets)
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        if not keys:
            continue
        key = rnd.choice(keys)
        op = rnd.randrange(6)
        if op == 0:  # replace a value with an edge case
            target[key] = rnd.choice(INTERESTING_VALUES)
        elif op == 1:  # delete an entry
            del target[key]
        elif op == 2:  # share a subtree (the dumper writes an anchor, aliases, even loops)
            other = rnd.choice(targets)
            if isinstance(other, dict) and other is not target[key]:
                other[f"k{rnd.randrange(100)}"] = target[key]
        elif op == 3 and isinstance(target, dict) and isinstance(target[key], str):
            target[target.pop(key)] = key  # swap key and value
        elif op == 4:  # wrap a value in a list
            target[key] = [target[key]]
        elif op == 5 and isinstance(target, dict):  # rename a key (a typo)
            target[key[:-1] if len(str(key)) > 1 else f"{key}x"] = target.pop(key)
    return data


def dump(data: Any, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(data).encode()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


# --------------------------------------------------------------- checks


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "train.py").write_text("")
    return path


def validate_in_process(path: Path) -> str | None:
    """What `hypersweep validate` does (minus printing): None when the file is fine, else
    the one line the CLI would print. Any other exception fails the test, traceback shown."""
    try:
        config = sweep_ops.load_runnable_config(path)
        sweep_ops.program_workdir(config, path)
        describe_space(config)
    except ConfigError as exc:
        text = str(exc)
        assert "\n" not in text and "\r" not in text, repr(text)
        assert text.startswith(str(path)), text
        return text
    return None


def write(workdir: Path, name: str, content: bytes) -> Path:
    path = workdir / name
    path.write_bytes(content)
    return path


@settings(SETTINGS, max_examples=2000)
@given(
    name=st.sampled_from(sorted(SEEDS)),
    rnd=st.randoms(use_true_random=False),
    steps=st.integers(1, 6),
)
def test_byte_mutations_load_or_end_in_one_line(workdir, name, rnd, steps):
    content = mutate_bytes(SEEDS[name].encode(), rnd, steps)
    validate_in_process(write(workdir, name, content))


@settings(SETTINGS, max_examples=1000)
@given(
    name=st.sampled_from(sorted(SEEDS)),
    rnd=st.randoms(use_true_random=False),
    steps=st.integers(1, 4),
    as_json=st.booleans(),
)
def test_structure_mutations_load_or_end_in_one_line(workdir, name, rnd, steps, as_json):
    data = yaml.safe_load(SEEDS[name])
    data = mutate_tree(data, rnd, steps)
    target = Path(name).stem + (".json" if as_json else ".yaml")
    try:
        content = dump(data, as_json)
    except (TypeError, ValueError, RecursionError):  # not every mutated tree can be written
        return
    validate_in_process(write(workdir, target, content))


def test_the_seed_files_themselves_load(workdir):
    for name, text in SEEDS.items():
        assert validate_in_process(write(workdir, name, text.encode())) is None, name


@settings(SETTINGS, max_examples=6)
@given(
    name=st.sampled_from(sorted(SEEDS)),
    rnd=st.randoms(use_true_random=False),
    steps=st.integers(1, 6),
)
def test_mutated_files_through_the_real_cli(workdir, name, rnd, steps):
    content = mutate_bytes(SEEDS[name].encode(), rnd, steps)
    path = write(workdir, name, content)
    expected = validate_in_process(path)
    result = subprocess.run(
        hypersweep_cmd("--store", f"sqlite:///{workdir / 'store.db'}", "validate", name),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,  # a hang guard: validate answers in about a second
        env={**os.environ, "COLUMNS": "200"},
    )
    if expected is None:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode == 2
        # The same error, the file named as given on the command line.
        assert_one_line_error(result, f"error: {name}{expected[len(str(path)) :]}")
