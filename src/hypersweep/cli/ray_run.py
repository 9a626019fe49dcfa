"""`hypersweep run --backend ray`: connect to Ray before the sweep exists, so that a cluster
that cannot run it (unreachable, too small, no route to the store) leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from .. import sweeps as sweep_ops
from ..launch.ray_backend import RayLauncher, RayResources
from ..store import Store


def prepare_ray(
    store: Store,
    sweep_file: Path,
    jobs: int,
    gpus_per_job: float | None,
    cpus_per_job: float,
    address: str | None,
) -> RayLauncher:
    config = sweep_ops.load_runnable_config(sweep_file)  # a bad file fails before Ray starts
    workdir = sweep_ops.program_workdir(config, sweep_file)
    resources = RayResources(cpus=cpus_per_job, gpus=gpus_per_job or 0.0)
    launcher = RayLauncher(store, jobs, resources, address)
    total = launcher.connect(str(workdir))  # RayLaunchError: one line, printed by main()
    if gpus_per_job is None and total.get("GPU", 0) >= 1:
        # As with local workers: one GPU each by default where the cluster has GPUs.
        launcher.resources.gpus = 1.0
    return launcher
