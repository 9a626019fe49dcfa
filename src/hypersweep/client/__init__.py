"""What a training program imports. Standard library only at import time: `import
hypersweep` must stay fast, and logging must not slow a training loop down."""

from .run import Config, Run, init
from .wandb_hook import wandb_hook_dir

__all__ = ["Config", "Run", "init", "wandb_hook_dir"]
