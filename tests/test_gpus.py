"""hypersweep.launch.gpus, and GPU assignment through `hypersweep run` with a fake nvidia-smi."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hypersweep.launch.gpus import GpuError, assign_gpus, detect_gpus

# --------------------------------------------------------------- assign_gpus


def test_each_job_gets_its_own_gpus():
    assert assign_gpus(["0", "1", "2", "3"], 2, 2) == ["0,1", "2,3"]
    assert assign_gpus(["0", "1", "2", "3"], 4, 1) == ["0", "1", "2", "3"]
    assert assign_gpus(["0", "1", "2", "3"], 1, 3) == ["0,1,2"]
    assert assign_gpus(["4", "7"], 2, 1) == ["4", "7"]  # ids as given, not positions


def test_no_gpus_or_none_asked_for_means_cpu_workers():
    assert assign_gpus([], 3, 1) == [None, None, None]
    assert assign_gpus(["0", "1"], 2, 0) == ["", ""]  # CPU only: the GPUs are hidden


def test_too_many_jobs_for_the_gpus_suggests_a_jobs_value():
    with pytest.raises(GpuError) as caught:
        assign_gpus(["0", "1", "2"], 2, 2)
    message = str(caught.value)
    assert "--jobs 1 or fewer" in message
    assert "needs 4 GPUs" in message and "3 are visible" in message
    assert "\n" not in message

    with pytest.raises(GpuError, match="--jobs 2 or fewer"):
        assign_gpus(["0", "1"], 3, 1)


def test_more_gpus_per_job_than_visible_is_an_error():
    with pytest.raises(GpuError, match="--gpus-per-job 3 is more than the 2 visible GPUs"):
        assign_gpus(["0", "1"], 1, 3)


def test_negative_gpus_per_job_is_an_error():
    with pytest.raises(GpuError, match="--gpus-per-job must be 0 or more"):
        assign_gpus(["0"], 1, -1)


# --------------------------------------------------------------- detect_gpus


def _fake_nvidia_smi(directory: Path, output: str = "0\n1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


@pytest.fixture
def two_fake_gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = _fake_nvidia_smi(tmp_path / "fakebin")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.mark.parametrize(
    ("visible", "expected"),
    [("", []), ("2,3", ["2", "3"]), (" 1 , 0 ", ["1", "0"]), ("-1", []), ("0,", ["0"])],
)
def test_cuda_visible_devices_wins(monkeypatch, two_fake_gpus, visible, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert detect_gpus() == expected


def test_nvidia_smi_lists_the_gpus(two_fake_gpus):
    assert detect_gpus() == ["0", "1"]


def test_no_nvidia_smi_means_no_gpus(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus() == []


def test_a_failing_nvidia_smi_means_no_gpus(monkeypatch, tmp_path):
    bin_dir = tmp_path / "badbin"
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert detect_gpus() == []


# ------------------------------------------------------- through `hypersweep run`

# Each run records the GPUs it was given, then waits (with a deadline) until runs on both
# GPUs have started: both workers are then certainly used, whatever their start order.
GPU_PROGRAM = """
import os, sys, time
out = {out!r}
seen = os.environ.get("CUDA_VISIBLE_DEVICES")
with open(os.path.join(out, os.environ["HYPERSWEEP_RUN_ID"]), "a") as f:
    f.write(repr(seen) + "\\n")
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    seen_all = set()
    for name in os.listdir(out):
        with open(os.path.join(out, name)) as f:
            seen_all.update(f.read().split())
    if {{"'0'", "'1'"}} <= seen_all:
        break
    time.sleep(0.05)
print("gpu program done", flush=True)
"""

GPU_SWEEP = """
program: gpu_program.py
method: grid
parameters:
  x: {values: [1, 2, 3, 4]}
"""


def _gpu_sweep(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "seen"
    out.mkdir()
    (tmp_path / "gpu_program.py").write_text(GPU_PROGRAM.format(out=str(out)))
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(GPU_SWEEP)
    return sweep_file, out


def test_each_worker_gets_one_gpu(cli, store, two_fake_gpus, tmp_path):
    sweep_file, out = _gpu_sweep(tmp_path)
    result = cli("run", sweep_file.name, "--jobs", "2")
    assert "2 workers on GPUs 0 | 1" in result.stdout
    [sweep] = store.list_sweeps()
    assert store.run_counts(sweep["id"]) == {sweep["id"]: {"finished": 4}}
    runs = json.loads(cli("runs", sweep["id"], "--json").stdout)
    seen = {}
    for run in runs:
        lines = (out / run["id"]).read_text().split()
        assert len(lines) == 1  # each run ran once
        seen[run["id"]] = lines[0]
    assert set(seen) == {r["id"] for r in runs} and len(seen) == 4
    assert set(seen.values()) == {"'0'", "'1'"}  # every run saw exactly one GPU; both used
    for run in runs:
        assert repr(run["gpu_ids"]) == seen[run["id"]]
    # A worker keeps its GPU: the runs of one worker all saw the same one.
    by_worker: dict[str, set[str]] = {}
    for run in runs:
        by_worker.setdefault(run["worker_id"], set()).add(run["gpu_ids"])
    assert len(by_worker) == 2 and all(len(g) == 1 for g in by_worker.values())


def test_more_jobs_than_gpus_fails_in_one_line(cli, store, two_fake_gpus, tmp_path):
    sweep_file, out = _gpu_sweep(tmp_path)
    result = cli("run", sweep_file.name, "--jobs", "3", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "--jobs 2 or fewer" in lines[0]
    assert not list(out.iterdir())  # nothing ran
    assert store.list_sweeps() == []  # and no sweep was created


def test_without_gpus_the_workers_run_on_cpu(cli, store, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    (tmp_path / "cpu_program.py").write_text("print('score=1')\n")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("program: cpu_program.py\nmethod: grid\nparameters:\n  x: {value: 1}\n")
    result = cli("run", sweep_file.name)
    assert "1 worker on CPU (no NVIDIA GPU found)" in result.stdout
    [sweep] = store.list_sweeps()
    runs = store.list_runs(sweep["id"])
    assert [(r["state"], r["gpu_ids"]) for r in runs] == [("finished", None)]
