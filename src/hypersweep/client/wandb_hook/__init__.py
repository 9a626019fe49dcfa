"""The wandb capture hook: a folder the agent puts first on a program's PYTHONPATH.

Its `sitecustomize.py` runs at interpreter start-up; if the agent set HYPERSWEEP_METRICS_FILE
it watches for `import wandb` and, once wandb has loaded, `_hypersweep_wandb.py` wraps its
logging so that what the program logs through W&B also reaches the metrics file the agent
follows. The two files are top-level modules of the program's interpreter, which may not have
hypersweep installed: they import only the standard library. This `__init__.py` is for
hypersweep itself (it is never imported from the PYTHONPATH entry).
"""

from __future__ import annotations

import os


def wandb_hook_dir() -> str:
    """The folder to put first on a program's PYTHONPATH."""
    return os.path.dirname(os.path.abspath(__file__))
