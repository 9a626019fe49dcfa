"""The shipped example, end to end through the CLI: real training, real metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "examples" / "digits"

pytest.importorskip("sklearn")


def _small_example(tmp_path: Path) -> Path:
    workdir = tmp_path / "digits"
    shutil.copytree(EXAMPLE, workdir, ignore=shutil.ignore_patterns(".hypersweep"))
    sweep = (workdir / "sweep.yaml").read_text()
    # Same file, smaller grid: 2 learning rates x 1 width x 1 alpha, 3 epochs.
    sweep = sweep.replace("values: [0.001, 0.01, 0.1]", "values: [0.01, 0.1]")
    sweep = sweep.replace("values: [32, 128]", "values: [32]")
    sweep = sweep.replace("values: [0.0001, 0.01]", "values: [0.0001]")
    sweep = sweep.replace("value: 12", "value: 3")
    (workdir / "sweep.yaml").write_text(sweep)
    return workdir


def test_example_sweep_through_the_cli(cli, tmp_path):
    workdir = _small_example(tmp_path)
    out = cli("run", "sweep.yaml", "--jobs", "2", cwd=workdir).stdout
    assert "#1 run" in out and "val_accuracy=" in out
    sweep = json.loads(cli("sweeps", "--json").stdout)[0]
    assert sweep["state"] == "finished" and sweep["counts"] == {"finished": 2}
    assert sweep["metric"] == {"name": "val_accuracy", "goal": "maximize"}
    runs = json.loads(cli("runs", sweep["id"], "--json").stdout)
    for run in runs:
        assert 0.5 < run["summary"]["val_accuracy"] <= 1.0
        assert run["summary"]["best_val_accuracy"] >= run["summary"]["val_accuracy"]
        assert run["exit_code"] == 0
    best = json.loads(cli("best", sweep["id"], "--json").stdout)["runs"][0]
    assert best["value"] == max(r["summary"]["val_accuracy"] for r in runs)


def test_default_store_is_sqlite_under_dot_hypersweep(tmp_path):
    workdir = _small_example(tmp_path)
    (workdir / "sweep.yaml").write_text(
        (workdir / "sweep.yaml").read_text().replace("values: [0.01, 0.1]", "values: [0.1]")
    )
    cmd = [sys.executable, "-m", "hypersweep.cli.main"]
    subprocess.run([*cmd, "run", "sweep.yaml"], cwd=workdir, check=True, capture_output=True)
    assert (workdir / ".hypersweep" / "hypersweep.db").is_file()
    listed = subprocess.run(
        [*cmd, "sweeps", "--json"], cwd=workdir, check=True, capture_output=True, text=True
    )
    assert json.loads(listed.stdout)[0]["counts"] == {"finished": 1}
    assert list((workdir / ".hypersweep" / "logs").glob("*/*.log"))
