"""Starting the workers of a sweep: local processes (with GPU assignment)."""

from .gpus import GpuError, assign_gpus, detect_gpus
from .local import LocalLauncher, stop_sweep_processes, this_host

__all__ = [
    "GpuError",
    "LocalLauncher",
    "assign_gpus",
    "detect_gpus",
    "stop_sweep_processes",
    "this_host",
]
