"""The Python API: sweeps, function agents, results and data frames from Python and notebooks.

Another thin face beside cli/ and server/, over sweeps.py, store/, controller/ and agent/.
Reached as `hypersweep.sweep`, `hypersweep.Api`, `hypersweep.agent` (imported lazily by
`hypersweep`, so a training program's `import hypersweep` stays light). Each module here is
imported only when one of its names is asked for.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .function_agent import agent
    from .results import Run, RunList
    from .store_api import Api
    from .sweeps import Sweep, sweep

_LAZY = {
    "Api": "store_api",
    "Run": "results",
    "RunList": "results",
    "Sweep": "sweeps",
    "sweep": "sweeps",
    "agent": "function_agent",
}

__all__ = ["Api", "Run", "RunList", "Sweep", "agent", "sweep"]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hypersweep.api' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
