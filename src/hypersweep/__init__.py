"""hypersweep: self-hosted hyperparameter sweeps in the Weights & Biases sweep format.

A training program needs only `run = hypersweep.init()` and `run.log({...})`; nothing else is
imported here, so `import hypersweep` stays light. The Python API (`hypersweep.sweep`,
`hypersweep.Api`, `hypersweep.agent`) brings the store and SQLAlchemy: it is imported on
first use, by `__getattr__`.
"""

from .client import Config, Run, init

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a training program
if TYPE_CHECKING:
    from .api.function_agent import agent
    from .api.store_api import Api
    from .api.sweeps import Sweep, sweep

__version__ = "0.1.0"

# The Python API's names: {name: module}, each module imported when first asked for.
_LAZY = {
    "Api": "hypersweep.api.store_api",
    "Sweep": "hypersweep.api.sweeps",
    "sweep": "hypersweep.api.sweeps",
    "agent": "hypersweep.api.function_agent",
}

__all__ = ["Api", "Config", "Run", "Sweep", "__version__", "agent", "init", "sweep"]


def __getattr__(name: str) -> object:
    """The Python API, imported on first use (it brings the store and SQLAlchemy)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hypersweep' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
