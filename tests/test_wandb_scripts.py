"""W&B training scripts run unchanged under `hypersweep run`, with the real wandb package,
offline and without an API key: parameters reach `wandb.config`, what `wandb.log` logs is
captured into the store, and bayes and hyperband work on it as on our own client."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import PROGRAMS, hypersweep_cmd, start_hypersweep, wait_for, wait_for_sweep

from hypersweep import controller
from hypersweep.store import Store
from hypersweep.store import schema as s

pytest.importorskip("wandb")


@pytest.fixture(autouse=True)
def _no_wandb_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A new user's machine: no W&B key anywhere, no mode chosen."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def run_sweep(tmp_path: Path, body: str, *flags: str) -> tuple[subprocess.CompletedProcess, Store]:
    """`hypersweep run` on a SQLite store in tmp_path; returns its result and the store."""
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(body)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    result = subprocess.run(
        hypersweep_cmd("--store", store_url, "run", str(sweep_file), "--no-ui", *flags),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    return result, Store(store_url)


def only_sweep(store: Store) -> dict:
    [sweep] = store.list_sweeps()
    return sweep


def assert_all_finished_with(store: Store, sweep_id: str, metric: str, count: int) -> list[dict]:
    runs = store.list_runs(sweep_id)
    assert [r["state"] for r in runs] == [s.FINISHED] * count, [r["message"] for r in runs]
    for run in runs:
        assert len(store.metric_history(run["id"], metric)) == 3, run["id"]
    return runs


def test_a_script_reading_only_wandb_config(tmp_path):
    result, store = run_sweep(
        tmp_path,
        f"""
program: {PROGRAMS / "wandb_config_only.py"}
method: grid
project: demo-project
metric: {{name: val_loss, goal: minimize}}
parameters:
  lr: {{values: [0.01, 0.1]}}
  layers: {{values: [1, 2]}}
""",
        "--jobs",
        "2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "W&B: no API key, so wandb logs offline" in result.stdout
    sweep = only_sweep(store)
    runs = assert_all_finished_with(store, sweep["id"], "val_loss", 4)
    best = controller.best_runs(store, sweep, 1)[0]
    assert best["params"] == {"lr": 0.01, "layers": 1}
    assert best["summary"]["val_loss"] == pytest.approx(0.1 + 1 / 3)
    # W&B's grouping: our sweep is the run group, our run id the run name.
    for run in runs:
        log = Path(run["log_path"]).read_text()
        assert f"wandb-run {sweep['id']} {run['id']} demo-project offline" in log
    assert list((tmp_path / "wandb").glob("offline-run-*")), "W&B's own offline runs are kept"


def test_the_guides_argparse_and_wandb_log_style(tmp_path):
    result, store = run_sweep(
        tmp_path,
        f"""
program: {PROGRAMS / "wandb_guide.py"}
method: grid
metric: {{name: accuracy, goal: maximize}}
parameters:
  lr: {{values: [0.1, 0.01]}}
  optimizer: {{values: [sgd, adam]}}
""",
        "--jobs",
        "2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sweep = only_sweep(store)
    assert_all_finished_with(store, sweep["id"], "accuracy", 4)
    best = controller.best_runs(store, sweep, 1)[0]
    assert best["params"] == {"lr": 0.01, "optimizer": "adam"}
    assert best["summary"]["accuracy"] == pytest.approx(0.67)
    assert "accuracy=0.67" in result.stdout  # the closing best line


def test_wandbs_nested_parameters_example_with_its_own_argparse(tmp_path):
    result, store = run_sweep(
        tmp_path,
        f"""
program: {PROGRAMS / "wandb_nested_cli.py"}
project: nested-examples
method: grid
metric: {{name: loss, goal: minimize}}
parameters:
  batch_size: {{values: [32, 64]}}
  optimizer:
    parameters:
      lr: {{values: [0.001, 0.0001]}}
      nadam:
        parameters:
          beta: {{values: [0.9]}}
""",
        "--jobs",
        "2",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sweep = only_sweep(store)
    runs = assert_all_finished_with(store, sweep["id"], "loss", 4)
    # W&B's agent passes the nested block as one flag, a Python repr of the dict.
    commands = [r["command"] for r in runs]
    assert any("--optimizer={'lr': 0.001, 'nadam': {'beta': 0.9}}" in c for c in commands)
    best = controller.best_runs(store, sweep, 1)[0]
    assert best["params"] == {
        "batch_size": 64,
        "optimizer.lr": 0.001,
        "optimizer.nadam.beta": 0.9,
    }
    assert best["summary"]["loss"] == pytest.approx(1 - (2 / 3) * 0.001 * 64 * 0.9)


def test_bayes_sees_the_same_values_through_wandb_as_through_our_client(tmp_path):
    """Same seed, same objective: the sweep proposes the same points and finds the same best
    whether the program logs with wandb or with hypersweep's client."""
    outcomes = {}
    for logger in ("wandb", "hypersweep"):
        directory = tmp_path / logger
        directory.mkdir()
        result, store = run_sweep(
            directory,
            f"""
program: {PROGRAMS / "quadratic.py"}
method: bayes
run_cap: 7
metric: {{name: value, goal: minimize}}
parameters:
  x: {{min: -1.0, max: 1.0}}
  y: {{min: -1.0, max: 1.0}}
  logger: {{value: {logger}}}
""",
            "--seed",
            "5",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        sweep = only_sweep(store)
        runs = store.list_runs(sweep["id"])
        assert [r["state"] for r in runs] == [s.FINISHED] * 7
        outcomes[logger] = (
            [(r["params"]["x"], r["params"]["y"], r["summary"]["value"]) for r in runs],
            controller.best_runs(store, sweep, 1)[0]["summary"]["value"],
        )
    assert outcomes["wandb"] == outcomes["hypersweep"]
    # The model was used: after the warm-up its points beat the random ones.
    points, best = outcomes["wandb"]
    assert best < min(value for _x, _y, value in points[:2])


def test_hyperband_stops_runs_that_log_with_wandb(tmp_path):
    go_file = tmp_path / "go"
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        f"""
program: {PROGRAMS / "curve.py"}
method: grid
metric: {{name: score, goal: maximize}}
early_terminate: {{type: hyperband, min_iter: 1, eta: 3}}
parameters:
  quality: {{values: [0.9, 0.1]}}
  seed: {{values: [1, 2]}}
  epochs: {{value: 5}}
  epoch_s: {{value: 0.05}}
  gate: {{value: 0.5}}
  go_file: {{value: {go_file}}}
  logger: {{value: wandb}}
"""
    )
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    runner = start_hypersweep(store_url, "run", str(sweep_file), "--jobs", "2", cwd=tmp_path)
    try:
        store = Store(store_url)
        sweep_id = wait_for_sweep(store)
        wait_for(
            lambda: len(store.list_runs(sweep_id, [s.FINISHED])) == 2,
            timeout=120,
            what="the two good runs to finish",
        )
        go_file.touch()  # the bad runs (which never exit by themselves) start logging
        output, _ = runner.communicate(timeout=180)
    finally:
        runner.kill()
    assert runner.returncode == 0, output
    runs = store.list_runs(sweep_id)
    by_quality = {q: [r for r in runs if r["params"]["quality"] == q] for q in (0.9, 0.1)}
    assert [r["state"] for r in by_quality[0.9]] == [s.FINISHED] * 2
    assert [r["state"] for r in by_quality[0.1]] == [s.STOPPED_EARLY] * 2
    for run in by_quality[0.1]:
        assert run["message"].startswith("stopped early by hyperband at band"), run["message"]


def test_a_program_importing_wandb_without_init_keeps_its_stdout_metrics(tmp_path):
    program = tmp_path / "plain.py"
    program.write_text(
        "import argparse\nimport wandb  # imported, never initialised\n"
        "p = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
        "x = p.parse_args().x\nfor step in range(3):\n    print(f'score={x * step} step={step}')\n"
    )
    result, store = run_sweep(
        tmp_path,
        f"""
program: {program}
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: [1, 2]}}
""",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sweep = only_sweep(store)
    assert controller.best_runs(store, sweep, 1)[0]["summary"]["score"] == 4.0
    assert not (tmp_path / "wandb").exists()  # no W&B run was started


def test_a_metric_that_never_arrives_is_loud(tmp_path):
    result, store = run_sweep(
        tmp_path,
        f"""
program: {PROGRAMS / "wandb_guide.py"}
method: grid
metric: {{name: acuracy, goal: maximize}}
parameters:
  lr: {{values: [0.1, 0.01]}}
""",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    sweep_id = only_sweep(store)["id"]
    # While it ran: what the runs logged instead, so the typo shows.
    assert "without logging metric 'acuracy' (logged: accuracy)" in result.stdout
    # At the end: a failure, on stderr.
    assert f"sweep {sweep_id}: no run logged metric 'acuracy'" in result.stderr
    assert [r["state"] for r in store.list_runs(sweep_id)] == [s.FINISHED] * 2
