"""hypersweep: self-hosted hyperparameter sweeps in the Weights & Biases sweep format.

A training program needs only `run = hypersweep.init()` and `run.log({...})`; nothing else is
imported here, so `import hypersweep` stays light.
"""

from .client import Config, Run, init

__version__ = "0.1.0"
__all__ = ["Config", "Run", "__version__", "init"]
