"""Hostile or broken sweep files (issue 12, "Bad input"): every one ends in one line and a
non-zero exit, quickly (a subprocess timeout, never a wall-clock assertion), never in a
traceback, a hang or gigabytes of memory. The limits are in hypersweep/config/limits.py."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_one_line_error, hypersweep_cmd

from hypersweep import sweeps as sweep_ops
from hypersweep.config import ConfigError, describe_space, load_sweep_file, parse_sweep_config
from hypersweep.config.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_ITEMS,
    MAX_STRING_CHARS,
)
from hypersweep.store import Store

# Each trap took seconds to minutes (or a traceback) before; now well under a second of
# parsing. The timeout only tells a hang from an answer on a loaded machine.
TIMEOUT = 30

HEAD = "program: train.py\nmethod: grid\n"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hypersweep_cmd("--store", f"sqlite:///{cwd / 'store' / 'hypersweep.db'}", *args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
    )


# --------------------------------------------------------------- the trap files


def billion_laughs() -> str:
    lines = [HEAD + "parameters:", "  x:", "    values: &l0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for i in range(1, 10):
        lines += [f"  x{i}:", f"    values: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]"]
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    refs = "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}\n" for i in range(1, 40))
    return HEAD + "m0: &m0 {a: 1}\n" + refs + "parameters: {x: {value: 1}}\n"


def text_bomb() -> str:
    refs = ", ".join(["*s"] * 5000)
    return HEAD + f"s: &s '{'x' * 9000}'\nparameters: {{x: {{values: [{refs}]}}}}\n"


def many_values() -> str:  # no alias: just more values than any sweep needs
    lists = "".join(f"  p{i}: {{values: [{', '.join(['1'] * 9000)}]}}\n" for i in range(6))
    return HEAD + "parameters:\n" + lists


def deep(opening: str, closing: str, depth: int = 100_000) -> str:
    return HEAD + f"parameters: {{x: {{values: {opening * depth}1{closing * depth}}}}}\n"


def spec(text: str) -> str:
    return HEAD + "parameters:\n  x: " + text + "\n"


def random_spec(text: str) -> str:
    return "program: train.py\nmethod: random\nparameters:\n  x: " + text + "\n"


TRAPS: dict[str, tuple[str, object, tuple[str, ...]]] = {
    # name: (file name, content (str or bytes), what the one line must say)
    "billion laughs": ("s.yaml", billion_laughs(), ("line 13", "alias bomb", "50,000 values")),
    "merge-key bomb": ("s.yaml", merge_bomb(), ("alias bomb",)),
    "recursive alias": (
        "s.yaml",
        spec("{values: &a [1, *a]}"),
        ("line 4", "alias *a", "recursive"),
    ),
    "recursive mapping": ("s.yaml", HEAD + "parameters: &p {x: *p}\n", ("recursive",)),
    "text bomb": ("s.yaml", text_bomb(), ("2,000,000 characters",)),
    "too many values": ("s.yaml", many_values(), ("more than 50,000 values",)),
    "deep [": ("s.yaml", deep("[", "]"), ("line 3", "nested deeper than 64 levels")),
    "deep {": ("s.yaml", deep("{a: ", "}"), ("nested deeper than 64 levels",)),
    "deep block": (
        "s.yaml",
        HEAD + "parameters:\n  x:\n    values:\n      " + "- " * 100_000 + "1\n",
        ("nested deeper than 64 levels",),
    ),
    "deep JSON": (
        "s.json",
        '{"method": "grid", "parameters": {"x": {"values": '
        + "[" * 100_000
        + "]" * 100_000
        + "}}}",
        ("nested deeper than 64 levels",),
    ),
    "5,000-digit int": ("s.yaml", spec(f"{{value: {'9' * 5000}}}"), ("line 4", "int64")),
    "5,000-digit int in JSON": (
        "s.json",
        '{"method": "grid", "parameters": {"x": {"value": ' + "9" * 5000 + "}}}",
        ("5,000 characters", "int64"),
    ),
    "huge hex int": ("s.yaml", spec(f"{{value: 0x{'f' * 20000}}}"), ("int64",)),
    "huge base-60 int": ("s.yaml", spec("{value: 1" + ":30" * 100_000 + "}"), ("int64",)),
    "int_uniform past int64": (
        "s.yaml",
        random_spec(f"{{min: 0, max: {2**70}}}"),
        ("s.yaml: parameters.x.max: 1180591620717411303424 is beyond what a run can hold (int64)",),
    ),
    "int past int64 in values": (
        "s.yaml",
        spec(f"{{values: [1, {-(2**63) - 1}]}}"),
        ("parameters.x.values[1]", "int64"),
    ),
    "int past int64 in JSON": (
        "s.json",
        json.dumps({"method": "grid", "parameters": {"x": {"value": 2**63}}}),
        ("parameters.x.value: 9223372036854775808", "int64"),
    ),
    "huge run_cap": (
        "s.yaml",
        HEAD.replace("grid", "random") + f"run_cap: {10**30}\nparameters: {{x: {{value: 1}}}}\n",
        ("run_cap", "int64"),
    ),
    "1e400": ("s.yaml", random_spec("{min: 0, max: 1e400}"), ("parameters.x.max", "finite")),
    "nan in values": ("s.yaml", spec("{values: [1, .nan]}"), ("values[1]", "finite")),
    "1e400 in JSON": (
        "s.json",
        '{"method": "grid", "parameters": {"x": {"values": [1e400]}}}',
        ("values[0]", "finite"),
    ),
    "10,001 values": (
        "s.yaml",
        spec(f"{{values: [{', '.join(['1'] * (MAX_ITEMS + 1))}]}}"),
        ("parameters.x.values", "10,001 items", "at most 10,000"),
    ),
    "long string": (
        "s.yaml",
        spec(f"{{value: '{'x' * 20_000}'}}"),
        ("parameters.x.value", "20,000 characters"),
    ),
    "long key": (
        "s.json",
        json.dumps({"method": "grid", "parameters": {"k" * 20_000: {"value": 1}}}),
        ("parameters: a key of 20,000 characters",),
    ),
    "NUL byte": ("s.yaml", spec("{value: a\x00b}").encode(), ("line 4", "NUL byte")),
    "not UTF-8": ("s.yaml", spec("{value: caf\xe9}").encode("latin-1"), ("line 4", "UTF-8")),
    "UTF-16": ("s.yaml", spec("{value: 1}").encode("utf-16"), ("UTF-16",)),
    "control character": ("s.yaml", spec("{value: a\x01b}"), ("line 4", "control character")),
    "explicit date tag": (
        "s.yaml",
        HEAD + "scheduler: {day: !!timestamp 2024-01-01}\nparameters: {x: {value: 1}}\n",
        ("scheduler.day", "unsupported value"),
    ),
    "grid axis past 2**63": (
        "s.yaml",
        spec(f"{{min: {INT64_MIN}, max: {INT64_MAX}}}"),
        ("parameters.x", "grid values"),
    ),
    "uniform span overflows": (
        "s.yaml",
        random_spec("{min: -1.0e308, max: 1.0e308}"),
        ("parameters.x", "overflows a float"),
    ),
    "log_uniform exponent overflows": (
        "s.yaml",
        random_spec("{distribution: log_uniform, min: 0, max: 1000}"),
        ("parameters.x.max", "log_uniform_values"),
    ),
    "q too small": (
        "s.yaml",
        spec("{distribution: q_uniform, min: 0, max: 1.0e300, q: 1.0e-300}"),
        ("parameters.x.q", "too small"),
    ),
    # The CLI printed messages as rich markup: this one was a MarkupError traceback.
    "markup in a key": (
        "s.yaml",
        HEAD + '"[/x]": 1\nparameters: {x: {value: 1}}\n',
        ("[/x]: unknown key '[/x]'",),
    ),
    "billions of hyperband bands": (
        "s.yaml",
        "program: train.py\nmethod: random\nmetric: {name: loss}\n"
        "early_terminate: {type: hyperband, max_iter: 1000000000, s: 1000000000, eta: 1.0000001}\n"
        "parameters: {x: {min: 0, max: 1}}\n",
        ("early_terminate", "bands", "at most 1,000"),
    ),
}


# Through the real CLI: the traps of the issue. The rest run in process, through the same
# functions `validate` calls (a subprocess costs a second or more of imports).
CLI_TRAPS = (
    "billion laughs",
    "recursive alias",
    "deep [",
    "deep JSON",
    "5,000-digit int",
    "int_uniform past int64",
    "huge run_cap",
    "1e400",
    "10,001 values",
    "long string",
    "long key",
    "NUL byte",
    "not UTF-8",
    "markup in a key",
)


def write_trap(directory: Path, name: str) -> tuple[str, tuple[str, ...]]:
    file_name, content, needles = TRAPS[name]
    (directory / "train.py").write_text("")
    path = directory / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return file_name, needles


@pytest.mark.parametrize("name", CLI_TRAPS)
def test_trap_file_ends_in_one_line(tmp_path, name):
    file_name, needles = write_trap(tmp_path, name)
    result = cli(tmp_path, "validate", file_name)
    assert result.returncode == 2, result.stdout
    assert_one_line_error(result, file_name, *needles)


def validate_in_process(path: Path) -> None:
    """What `hypersweep validate` does, minus printing."""
    config = sweep_ops.load_runnable_config(path)
    sweep_ops.program_workdir(config, path)
    describe_space(config)


@pytest.mark.parametrize("name", [name for name in TRAPS if name not in CLI_TRAPS])
def test_more_traps_end_in_one_error_line(tmp_path, name):
    file_name, needles = write_trap(tmp_path, name)
    fails(lambda: validate_in_process(tmp_path / file_name), file_name, *needles)


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    # 15 MB took over 120 s and 837 MB to parse before.
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write(spec("{value: 1}"))
        f.write(("# " + "x" * 1022 + "\n") * 15 * 1024)
    line = assert_one_line_error(cli(tmp_path, "validate", "big.yaml"), "big.yaml")
    assert f"file is {path.stat().st_size:,} bytes" in line
    assert "limited to 1 MiB (1,048,576 bytes)" in line


@pytest.mark.parametrize("kind", ["directory", "dev-zero", "fifo"])
def test_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "sweep.yaml"
    if kind == "directory":
        path.mkdir()
        needle = "is a directory"
    elif kind == "dev-zero":
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path.symlink_to("/dev/zero")
        needle = "not a regular file"
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)  # nobody writes: a blocking open would wait forever
        needle = "not a regular file"
    assert_one_line_error(cli(tmp_path, "validate", "sweep.yaml"), "sweep.yaml", needle)


def test_every_command_that_reads_a_sweep_file_refuses_it(tmp_path):
    """`run` used to exit 0 on an int_uniform past int64, leaving a `running` sweep whose
    agents all died; `sweep` created it. Both now refuse the file and record nothing."""
    (tmp_path / "train.py").write_text("")
    (tmp_path / "s.yaml").write_text(random_spec(f"{{min: 0, max: {2**70}}}"))
    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    for command, name, needle in (("run", "s.yaml", "int64"), ("sweep", "bomb.yaml", "bomb")):
        result = cli(tmp_path, command, name)
        assert result.returncode == 2, (command, name, result.stdout)
        assert_one_line_error(result, name, needle)
    store = Store(f"sqlite:///{tmp_path / 'store' / 'hypersweep.db'}")
    assert store.list_sweeps() == []
    store.close()


def test_a_grid_of_10_to_the_30_points_is_fine(tmp_path):
    # Lazy by design: 30 parameters of 10 values are never enumerated.
    (tmp_path / "train.py").write_text("")
    params = "".join(f"  p{i:02}: {{values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}}\n" for i in range(30))
    (tmp_path / "s.yaml").write_text(HEAD + "parameters:\n" + params)
    result = cli(tmp_path, "validate", "s.yaml")
    assert result.returncode == 0, result.stderr
    assert f"grid: {10**30:,} points" in result.stdout


# --------------------------------------------------------------- in process: the edges


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fails(load: Callable[[], object], *needles: str) -> str:
    with pytest.raises(ConfigError) as info:
        load()
    text = str(info.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text
    return text


def test_limits_are_inclusive(tmp_path):
    # Exactly at each limit loads; one past it does not.
    values = ", ".join(["1"] * MAX_ITEMS)
    assert len(load_sweep_file(write(tmp_path, spec(f"{{values: [{values}]}}"))).space.parameters)
    text = "x" * MAX_STRING_CHARS
    assert load_sweep_file(write(tmp_path, spec(f"{{value: {text}}}"))).raw
    fails(lambda: load_sweep_file(write(tmp_path, spec(f"{{value: {text}y}}"))), "10,001 char")
    ints = f"{{values: [{INT64_MIN}, {INT64_MAX}]}}"
    assert load_sweep_file(write(tmp_path, spec(ints))).space.parameters[0].values == (
        INT64_MIN,
        INT64_MAX,
    )
    fails(lambda: load_sweep_file(write(tmp_path, spec(f"{{value: {INT64_MAX + 1}}}"))), "int64")
    # Nesting: 3 levels (the file, parameters, x) around the lists, `values` the first.
    inner = MAX_DEPTH - 3
    ok = spec("{values: " + "[" * inner + "1" + "]" * inner + "}")
    assert load_sweep_file(write(tmp_path, ok)).raw
    too_deep = spec("{values: " + "[" * (inner + 1) + "1" + "]" * (inner + 1) + "}")
    fails(lambda: load_sweep_file(write(tmp_path, too_deep)), "nested deeper than 64")


def test_a_file_of_exactly_the_size_limit_loads(tmp_path):
    body = spec("{value: 1}")
    comment = "#" + "x" * (MAX_FILE_BYTES - len(body) - 2) + "\n"
    path = write(tmp_path, body + comment)
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_sweep_file(path).method == "grid"
    path.write_text(body + comment + "\n")
    fails(lambda: load_sweep_file(path), "limited to 1 MiB")


def test_a_few_aliases_still_work(tmp_path):
    text = (
        "method: grid\nparameters:\n  a: {values: &v [1, 2, 3]}\n  b: {values: *v}\n"
        "  c: &spec {min: 1, max: 4}\n  d: *spec\n"
    )
    config = load_sweep_file(write(tmp_path, text))
    assert [len(p.grid_axis()) for p in config.space.parameters] == [3, 3, 4, 4]


def test_byte_order_mark_is_dropped(tmp_path):
    for name, text in (("s.json", '{"method": "grid", "parameters": {"x": {"value": 1}}}'),):
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert load_sweep_file(tmp_path / name).method == "grid"
    (tmp_path / "s.yaml").write_bytes(b"\xef\xbb\xbf" + spec("{value: 1}").encode())
    assert load_sweep_file(tmp_path / "s.yaml").method == "grid"


def test_python_callers_get_the_same_limits():
    # hypersweep.sweep(config_dict) and the controller parse mappings, not files.
    cyclic: dict = {"values": [1]}
    cyclic["values"].append(cyclic)
    base = {"method": "grid", "parameters": {"x": cyclic}}
    fails(lambda: parse_sweep_config(base), "nested deeper than 64", "inside itself")
    shared = list(range(100))
    wide = {"method": "grid", "parameters": {f"p{i}": {"values": shared} for i in range(600)}}
    fails(lambda: parse_sweep_config(wide), "more than 50,000 values")
    huge = {"method": "grid", "parameters": {"x": {"value": 10**5000}}}
    fails(lambda: parse_sweep_config(huge), "about 5,001 digits", "int64")
    fails(
        lambda: parse_sweep_config({"method": "grid", "parameters": {"x": {"value": b"x"}}}),
        "parameters.x.value: unsupported value",
    )
    fails(
        lambda: parse_sweep_config({"method": "grid", 10**5000: 1, "parameters": {}}),
        "beyond int64",
    )


def test_long_input_is_cut_in_the_message(tmp_path):
    key = "k" * MAX_STRING_CHARS
    text = fails(lambda: parse_sweep_config({"method": "grid", key: 1}), "unknown key")
    assert len(text) < 1500


def test_a_program_name_the_os_refuses_is_not_found_not_a_traceback(tmp_path):
    # Found by the fuzz campaign: Path.exists() raises "File name too long" past 255 bytes.
    name = "a" * 300 + ".py"
    path = tmp_path / "s.yaml"
    path.write_text(f"program: {name}\nmethod: grid\nparameters:\n  x: {{values: [1]}}\n")
    assert_one_line_error(cli(tmp_path, "validate", str(path)), "not found")
