"""How `run` and `resume` start workers: the flags they share, checked (and Ray joined)
before anything is recorded, so that workers that cannot start leave nothing behind."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..launch import assign_gpus, detect_gpus
from ..store import Store

if TYPE_CHECKING:  # Ray is an optional extra: imported only for --backend ray
    from ..launch.ray_backend import RayLauncher

JobsOption = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel workers.")]
GpusOption = Annotated[
    float | None,  # noqa: UP007 - typer needs Optional
    typer.Option(
        min=0,
        help="GPUs per worker [default: 1 where GPUs exist, else 0]; "
        "fractions (0.5) share a GPU, with --backend ray.",
    ),
]
BackendOption = Annotated[
    str, typer.Option(help="Where workers run: local (processes here) or ray (a Ray cluster).")
]
RayAddressOption = Annotated[
    str | None,  # noqa: UP007
    typer.Option(
        help="Ray cluster to join: auto, IP:PORT or ray://host:10001 "
        "[default: RAY_ADDRESS, else a new local Ray instance]."
    ),
]
CpusOption = Annotated[
    float, typer.Option(min=0, help="CPUs each Ray worker asks for (--backend ray).")
]
RetryFailedOption = Annotated[
    int | None,  # noqa: UP007
    typer.Option(
        min=0,
        help="Run a failed run's point again, up to N times, for the whole sweep "
        "[default: as set before, else the sweep file's retry_failed, else 0].",
    ),
]


class WorkerOptionError(Exception):
    """Flags that cannot work together. str() is one line."""


@dataclass
class WorkerPlan:
    """What the workers will be, decided before the sweep runs."""

    description: str  # for the header line: "2 workers on CPU", "4 Ray workers (...)"
    gpu_layout: list[str | None]  # local workers: CUDA_VISIBLE_DEVICES of each
    ray_launcher: RayLauncher | None  # set for --backend ray, already connected
    resume_flags: str  # the flags that start the same workers again

    def attach(self, sweep_id: str) -> None:
        if self.ray_launcher is not None:
            self.ray_launcher.attach(sweep_id)


def plan_workers(
    store: Store,
    workdir: Path,
    *,
    jobs: int,
    backend: str,
    gpus_per_job: float | None,
    cpus_per_job: float,
    ray_address: str | None,
) -> WorkerPlan:
    if backend == "ray":
        return _plan_ray(store, workdir, jobs, gpus_per_job, cpus_per_job, ray_address)
    if backend != "local":
        raise WorkerOptionError(f"--backend {backend!r}: use local or ray")
    if ray_address is not None:
        raise WorkerOptionError("--ray-address needs --backend ray")
    if gpus_per_job is not None and not float(gpus_per_job).is_integer():
        raise WorkerOptionError(f"--gpus-per-job {gpus_per_job:g}: fractions need --backend ray")
    per_job = 1 if gpus_per_job is None else int(gpus_per_job)
    gpus = detect_gpus()
    layout = assign_gpus(gpus, jobs, per_job)
    workers = f"{jobs} worker{'s' if jobs > 1 else ''}"
    if gpus and per_job:
        description = f"{workers} on GPUs " + " | ".join(str(g) for g in layout)
    else:
        description = f"{workers} on CPU" + ("" if gpus else " (no NVIDIA GPU found)")
    flags = f"--jobs {jobs}" + ("" if gpus_per_job is None else f" --gpus-per-job {per_job}")
    return WorkerPlan(description, layout, None, flags)


def _plan_ray(
    store: Store,
    workdir: Path,
    jobs: int,
    gpus_per_job: float | None,
    cpus_per_job: float,
    address: str | None,
) -> WorkerPlan:
    from ..launch.ray_backend import RayLauncher, RayResources

    resources = RayResources(cpus=cpus_per_job, gpus=gpus_per_job or 0.0)
    launcher = RayLauncher(store, jobs, resources, address)
    total = launcher.connect(str(workdir))  # RayLaunchError: one line, printed by main()
    if gpus_per_job is None and total.get("GPU", 0) >= 1:
        # As with local workers: one GPU each by default where the cluster has GPUs.
        launcher.resources.gpus = 1.0
    flags = f"--jobs {jobs} --backend ray"
    if address is not None:
        flags += f" --ray-address {shlex.quote(address)}"
    if gpus_per_job is not None:
        flags += f" --gpus-per-job {gpus_per_job:g}"
    if cpus_per_job != 1.0:
        flags += f" --cpus-per-job {cpus_per_job:g}"
    return WorkerPlan(launcher.describe(), [None] * jobs, launcher, flags)
