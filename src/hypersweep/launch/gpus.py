"""Which GPUs this machine has, and which ones each worker gets."""

from __future__ import annotations

import os
import shutil
import subprocess


class GpuError(Exception):
    """The requested GPU layout cannot be had here. str() is one line."""


def detect_gpus() -> list[str]:
    """Ids of the NVIDIA GPUs this process may use: CUDA_VISIBLE_DEVICES if set (respecting
    a user who already narrowed it), else what nvidia-smi lists, else none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def assign_gpus(gpus: list[str], jobs: int, per_job: int) -> list[str | None]:
    """A disjoint set of `per_job` GPUs for each of `jobs` workers; None for each worker
    when there are no GPUs, "" (hide them all) when there are but none were asked for."""
    if not gpus:
        return [None] * jobs
    if per_job == 0:
        return [""] * jobs
    if per_job < 0:
        raise GpuError(f"--gpus-per-job must be 0 or more, got {per_job}")
    needed = jobs * per_job
    if needed > len(gpus):
        most = len(gpus) // per_job
        raise GpuError(
            f"--jobs {jobs} x --gpus-per-job {per_job} needs {needed} GPUs but "
            f"{len(gpus)} are visible ({','.join(gpus)}); use --jobs {most} or fewer"
            if most
            else f"--gpus-per-job {per_job} is more than the {len(gpus)} visible GPUs"
        )
    return [",".join(gpus[i * per_job : (i + 1) * per_job]) for i in range(jobs)]
