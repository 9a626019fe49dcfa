"""User mistakes end in one clear line on stderr and a non-zero exit, never a traceback;
plus `validate`, `rm` and `kill` argument handling."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import PG_SERVER, assert_one_line_error, hypersweep_cmd, write_sweep

GOOD_SWEEP = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3]}
  lr: {values: [0.1, 0.01]}
  y: {value: 0.5}
"""


def hs(
    cwd: Path, *args: str, store: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`hypersweep` with no terminal at all (stdin too), for store-independent cases."""
    store = store or f"sqlite:///{cwd / 'store' / 'hypersweep.db'}"
    return subprocess.run(
        hypersweep_cmd("--store", store, *args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or {**os.environ, "COLUMNS": "200"},
    )


# --------------------------------------------------------------- sweep files
# A bad sweep file is refused before the store matters: these run once, on SQLite.


def test_missing_sweep_file(tmp_path):
    result = hs(tmp_path, "run", "nosuch.yaml")
    assert result.returncode == 2
    assert_one_line_error(result, "nosuch.yaml", "not found")


def test_yaml_syntax_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "program: toy.py\nmethod: grid\nparameters: {x: {values: [1, 2}\n"
    )
    assert_one_line_error(hs(tmp_path, "run", "bad.yaml"), "bad.yaml", "line 3", "YAML")


def test_unknown_top_level_key_with_did_you_mean(tmp_path):
    (tmp_path / "typo.yaml").write_text(
        "program: toy.py\nmethod: grid\nparamters:\n  x: {values: [1, 2]}\n"
    )
    assert_one_line_error(
        hs(tmp_path, "validate", "typo.yaml"), "paramters", "did you mean 'parameters'"
    )


def test_bayes_without_a_metric_names_it(tmp_path):
    (tmp_path / "bayes.yaml").write_text(
        "program: train.py\nmethod: bayes\nparameters:\n  x: {min: 0.0, max: 1.0}\n"
    )
    assert_one_line_error(hs(tmp_path, "run", "bayes.yaml"), "metric", "bayes")


def test_missing_program_names_it(cli, store, tmp_path):
    (tmp_path / "np.yaml").write_text(
        "program: no_such_train.py\nmethod: grid\nparameters:\n  x: {values: [1, 2]}\n"
    )
    result = cli("run", "np.yaml", check=False)
    assert_one_line_error(result, "no_such_train.py", "not found")
    assert store.list_sweeps() == []


# ------------------------------------------------------------------- records


@pytest.mark.parametrize(
    ("command", "needle"),
    [("runs", "no sweep 'NOSUCH'"), ("best", "no sweep 'NOSUCH'"), ("logs", "no run 'NOSUCH'")],
)
def test_unknown_ids(cli, command, needle):
    result = cli(command, "NOSUCH", check=False)
    assert result.returncode == 1
    assert_one_line_error(result, needle)


# -------------------------------------------------------------------- stores


def test_unsupported_store_url(tmp_path):
    result = hs(tmp_path, "sweeps", store="mysql://x/y")
    assert result.returncode == 1
    assert_one_line_error(result, "mysql://x/y", "sqlite", "postgresql")


@pytest.mark.postgres
def test_unreachable_postgresql_names_the_store(tmp_path):
    result = hs(tmp_path, "sweeps", store="postgresql://postgres@127.0.0.1:1/test")
    assert result.returncode == 1
    assert_one_line_error(result, "127.0.0.1:1/test")


@pytest.mark.postgres
def test_postgresql_schema_we_cannot_create_in_is_one_line(tmp_path):
    store = f"{PG_SERVER}?options=-csearch_path%3Dhs_no_such_schema"
    result = hs(tmp_path, "sweeps", store=store)
    assert result.returncode == 1
    assert_one_line_error(result, "127.0.0.1")


def test_long_errors_stay_on_one_line_without_a_terminal(tmp_path):
    # No COLUMNS and no terminal: rich would wrap at 80 columns unless told not to.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    (tmp_path / "long.yaml").write_text(
        "program: a_training_script_whose_name_is_long.py\nmethod: grid\n"
        "parameters:\n  x: {values: [1, 2]}\n"
    )
    result = hs(tmp_path, "run", "long.yaml", env=env)
    assert len(result.stderr.strip()) > 80  # longer than a default 80-column terminal
    assert_one_line_error(result, "a_training_script_whose_name_is_long.py", "not found")


# ----------------------------------------------------------- validate, rm, kill


def test_validate_explains_the_space(tmp_path):
    sweep_file = write_sweep(tmp_path, GOOD_SWEEP)
    result = hs(tmp_path, "validate", str(sweep_file))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ok" in out and "method grid" in out
    lines = out.splitlines()
    for name, shown in (("x", "[1, 2, 3]"), ("lr", "[0.1, 0.01]"), ("y", "0.5")):
        assert any(line.split()[:1] == [name] and shown in line for line in lines), out
    assert "grid: 6 points" in out
    assert not (tmp_path / "store").exists()  # validating does not open the store


def test_validate_shows_booleans_and_other_falsy_values(tmp_path):
    # "[true, false]" once vanished: rich read it as a style tag.
    (tmp_path / "falsy.yaml").write_text(
        "program: train.py\nmethod: random\nparameters:\n"
        "  b: {values: [true, false]}\n"
        "  z: {values: [0, 0.0, '', null, false]}\n"
        "  c0: {value: 0}\n  c1: {value: 0.0}\n  c2: {value: ''}\n"
        "  c3: {value: null}\n  c4: {value: false}\n"
    )
    (tmp_path / "train.py").write_text("")
    result = hs(tmp_path, "validate", "falsy.yaml")
    assert result.returncode == 0, result.stderr
    shown = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()[1:]}
    assert shown == {
        "b": "one of [true, false]",
        "z": 'one of [0, 0.0, "", null, false]',
        "c0": "constant 0",
        "c1": "constant 0.0",
        "c2": "constant ''",
        "c3": "constant null",
        "c4": "constant false",
    }


def test_validate_reports_a_missing_program(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sweep.yaml").write_text(
        "program: no_such_train.py\nmethod: grid\nparameters:\n  x: {values: [1, 2]}\n"
    )
    result = hs(tmp_path, "validate", "sub/sweep.yaml")
    assert result.returncode == 2
    assert_one_line_error(
        result, "sub/sweep.yaml", "no_such_train.py", f"in {tmp_path} ", f"in {tmp_path / 'sub'}"
    )


def test_program_need_not_exist_when_the_command_does_not_run_it(tmp_path):
    # W&B only passes `program` on through ${program}; without it, any value goes.
    (tmp_path / "sweep.yaml").write_text(
        "program: not a file at all\ncommand: [echo, '${args}']\nmethod: grid\n"
        "parameters:\n  x: {values: [1, 2]}\n"
    )
    assert hs(tmp_path, "validate", "sweep.yaml").returncode == 0
    created = hs(tmp_path, "sweep", "sweep.yaml")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip()


def test_a_sweep_without_program_or_command(tmp_path):
    # A W&B file for `wandb.agent(sweep_id, function=train)`: W&B accepts it, so do we;
    # only `run`, which has no function to call, refuses it, before anything is recorded.
    (tmp_path / "fn.yaml").write_text("method: random\nparameters:\n  x: {values: [1, 2]}\n")
    assert hs(tmp_path, "validate", "fn.yaml").returncode == 0
    result = hs(tmp_path, "run", "fn.yaml")
    assert result.returncode == 2
    assert_one_line_error(
        result, "fn.yaml", "no program", "wandb.agent(sweep_id, function=...)", "program:"
    )
    assert not (tmp_path / "store").exists()
    created = hs(tmp_path, "sweep", "fn.yaml")
    assert created.returncode == 0, created.stderr
    assert len(created.stdout.split()) == 1  # the id alone on stdout
    assert "wandb.agent(" in created.stderr and "hypersweep agent" not in created.stderr


def test_rm_refuses_without_yes_and_deletes_everything_with_it(cli, store, store_url, tmp_path):
    sweep_file = write_sweep(
        tmp_path, "program: TOY\nmethod: grid\nparameters:\n  x: {values: [1, 2]}\n"
    )
    cli("run", sweep_file.name, "--jobs", "2")
    [sweep] = store.list_sweeps()
    runs = store.list_runs(sweep["id"])
    assert len(runs) == 2
    run_ids = [r["id"] for r in runs]
    log_dir = Path(runs[0]["log_path"]).parent
    assert log_dir.name == sweep["id"] and (log_dir / f"{run_ids[0]}.log").is_file()

    refused = hs(tmp_path, "rm", sweep["id"], store=store_url)
    assert_one_line_error(refused, "--yes")
    assert store.get_sweep(sweep["id"])["id"] == sweep["id"]
    assert len(store.list_runs(sweep["id"])) == 2 and log_dir.is_dir()

    result = cli("rm", sweep["id"], "--yes")
    assert f"deleted sweep {sweep['id']}" in result.stdout
    assert store.list_sweeps() == []
    assert store.list_runs(sweep["id"]) == []
    for run_id in run_ids:
        assert store.metric_history(run_id) == []
    assert not log_dir.exists()
    after = cli("runs", sweep["id"], check=False)
    assert_one_line_error(after, "no sweep")


def test_kill_needs_an_id_or_all_but_not_both(tmp_path):
    assert_one_line_error(hs(tmp_path, "kill"), "SWEEP_ID", "--all")
    assert_one_line_error(hs(tmp_path, "kill", "abc", "--all"), "SWEEP_ID", "--all")


def test_kill_all_with_nothing_running(cli):
    assert "no running sweeps" in cli("kill", "--all").stdout


def test_help_shows_defaults_and_brackets_as_written(tmp_path: Path):
    """Help texts are plain text: a "[default: ...]" in them is not taken for markup."""
    top = hs(tmp_path, "--help").stdout
    assert "[default: sqlite under ./.hypersweep]" in top
    for command in ("run", "resume"):
        text = " ".join(hs(tmp_path, command, "--help").stdout.split())  # unwrapped
        assert "GPUs per worker [default: 1 where GPUs exist, else 0]" in text
        assert "[default: RAY_ADDRESS, else a new local Ray instance]" in text
    init_help = " ".join(hs(tmp_path, "init", "--help").stdout.split())
    assert "[default: My Project]" in init_help and "[default: modules]" in init_help
    assert "secret add [OPTIONS] {name} [@FILE]" in hs(tmp_path, "secret", "add", "--help").stdout
