"""`hypersweep init`: through its prompts on a pty, with flags and --yes, refusing to clobber
a directory; and the project it writes runs a real sweep to the end as is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml
from conftest import assert_one_line_error, hypersweep_cmd

from hypersweep.config import load_sweep_file


def hs(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        hypersweep_cmd(*args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def spawn_init(cwd: Path, *args: str) -> pexpect.spawn:
    command = hypersweep_cmd("init", *args)
    return pexpect.spawn(
        command[0], command[1:], cwd=str(cwd), encoding="utf-8", timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_prompts_show_defaults_and_enter_accepts_them(tmp_path: Path):
    child = spawn_init(tmp_path, "proj")
    child.expect_exact("Project name [My Project]: ")
    child.sendline("")
    child.expect_exact("Project slug [my-project]: ")
    child.sendline("")
    child.expect_exact("Code directory [modules]: ")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    config = load_sweep_file(tmp_path / "proj" / "sweep.yaml")
    assert config.program == "modules/train.py" and config.name == "my-project"
    assert (tmp_path / "proj" / "modules" / "train.py").is_file()


def test_prompt_answers_and_a_bad_answer_asked_again(tmp_path: Path):
    child = spawn_init(tmp_path, "proj")
    child.expect_exact("Project name [My Project]: ")
    child.sendline("Digit Classifier v2")
    child.expect_exact("Project slug [digit-classifier-v2]: ")
    child.sendline("Not A Slug")
    child.expect_exact("project slug 'Not A Slug'")
    child.expect_exact("Project slug [digit-classifier-v2]: ")
    child.sendline("digits")
    child.expect_exact("Code directory [modules]: ")
    child.sendline("src/train")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    project = tmp_path / "proj"
    config = load_sweep_file(project / "sweep.yaml")
    assert (config.program, config.name, config.project) == (
        "src/train/train.py",
        "digits",
        "digits",
    )
    assert (project / "README.md").read_text().startswith("# Digit Classifier v2\n")


def test_flags_answer_without_prompts(tmp_path: Path):
    result = hs(tmp_path, "init", "p", "--name", "Fast One", "--slug", "fast", "--code-dir", "code")
    assert result.returncode == 0, result.stderr
    assert "next: cd p && hypersweep run sweep.yaml" in result.stdout
    assert load_sweep_file(tmp_path / "p" / "sweep.yaml").program == "code/train.py"


def test_yes_writes_a_complete_project(tmp_path: Path):
    result = hs(tmp_path, "init", "p", "--yes")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "p"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "modules/train.py", "sweep.yaml"]
    config = load_sweep_file(project / "sweep.yaml")
    assert config.metric is not None and config.metric.name == "accuracy"
    raw = yaml.safe_load((project / "sweep.yaml").read_text())
    # Every parameter of the sweep is a flag of train.py.
    usage = subprocess.run(
        [sys.executable, "modules/train.py", "--help"], cwd=project, capture_output=True, text=True
    ).stdout
    for name in raw["parameters"]:
        assert f"--{name}" in usage
    ignored = (project / ".gitignore").read_text().splitlines()
    assert ".hypersweep/" in ignored and "*.log" in ignored
    readme = (project / "README.md").read_text()
    assert "hypersweep run sweep.yaml" in readme and "hypersweep secret add" in readme


def test_refuses_a_non_empty_directory_unless_forced(tmp_path: Path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    assert_one_line_error(hs(tmp_path, "init", "p", "--yes"), "p is not empty", "--force")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["notes.txt"]
    assert hs(tmp_path, "init", "p", "--yes", "--force").returncode == 0
    assert (tmp_path / "p" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "p" / "sweep.yaml").is_file()


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--slug", "Has Spaces", "project slug 'Has Spaces'"),
        ("--slug", "-x", "project slug '-x'"),
        ("--code-dir", "../outside", "code directory '../outside'"),
        ("--code-dir", "/abs", "code directory '/abs'"),
        ("--name", " ", "project name"),
    ],
)
def test_bad_answers_by_flag_are_one_line_errors(tmp_path: Path, flag, value, needle):
    assert_one_line_error(hs(tmp_path, "init", "p", "--yes", flag, value), needle)
    assert not (tmp_path / "p").exists()


def test_without_a_terminal_it_asks_for_yes(tmp_path: Path):
    assert_one_line_error(hs(tmp_path, "init", "p"), "--yes")
    assert not (tmp_path / "p").exists()


def test_the_generated_project_runs_a_sweep_to_the_end(cli, tmp_path: Path):
    assert hs(tmp_path, "init", "proj", "--yes").returncode == 0
    project = tmp_path / "proj"
    result = cli("run", "sweep.yaml", "--jobs", "2", "--no-ui", cwd=project)
    assert "#1 run" in result.stdout and "accuracy=" in result.stdout
    sweep_id = json.loads(cli("sweeps", "--json").stdout)[0]["id"]
    runs = json.loads(cli("runs", sweep_id, "--json").stdout)
    assert len(runs) == 8  # the template's run_cap
    assert {r["state"] for r in runs} == {"finished"}
    assert all(0.0 <= r["summary"]["accuracy"] <= 1.0 for r in runs)


def test_the_wandb_variant_runs_through_its_make_targets(tmp_path: Path, monkeypatch):
    """`init --wandb`: the W&B recipe's layout, a train.py that logs with the wandb package
    as W&B's docs show, and `make hypertrain N_JOBS=2` / `make ps` / `make kill-hypertrain-all`
    driving our CLI. No W&B key: wandb logs offline and every metric is still captured."""
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    result = hs(tmp_path, "init", "proj", "--yes", "--wandb")
    assert result.returncode == 0, result.stderr
    assert "next: cd proj && make hypertrain N_JOBS=3" in result.stdout
    project = tmp_path / "proj"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [".gitignore", "Makefile", "README.md", "modules/train.py", "wandb-sweep.yaml"]
    train = (project / "modules/train.py").read_text()
    assert "import wandb" in train and "wandb.log(" in train and "import hypersweep" not in train
    assert "wandb/" in (project / ".gitignore").read_text().splitlines()

    store = f"sqlite:///{tmp_path / 'store.db'}"
    cli = " ".join([sys.executable, "-m", "hypersweep.cli.main", "--store", store])

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", f"HYPERSWEEP={cli}", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "COLUMNS": "200"},
        )

    hypertrain = make("hypertrain", "N_JOBS=2")
    assert hypertrain.returncode == 0, hypertrain.stdout + hypertrain.stderr
    assert "2 workers" in hypertrain.stdout and "W&B: no API key" in hypertrain.stdout
    assert "#1 run" in hypertrain.stdout and "accuracy=" in hypertrain.stdout
    listed = make("sweeps")
    assert listed.returncode == 0 and "finished" in listed.stdout, listed.stdout
    assert make("ps").returncode == 0
    killed = make("kill-hypertrain-all")
    assert killed.returncode == 0, killed.stdout + killed.stderr
