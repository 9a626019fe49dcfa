"""Starting the workers of a sweep: local processes (with GPU assignment), or Ray tasks
(launch.ray_backend, imported only when used: Ray is an optional dependency)."""

from .base import Launcher
from .gpus import GpuError, assign_gpus, detect_gpus
from .local import LocalLauncher, stop_sweep_processes, this_host

__all__ = [
    "GpuError",
    "Launcher",
    "LocalLauncher",
    "assign_gpus",
    "detect_gpus",
    "stop_sweep_processes",
    "this_host",
]
