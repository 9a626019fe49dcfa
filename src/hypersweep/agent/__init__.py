"""One worker of a sweep: claims runs and supervises the program of each.

`hypersweep.agent` is also the Python API's function agent: `hypersweep.agent(sweep_id,
function=train)`. The package and the function share the name (as `wandb.agent`), so this
module is callable: calling it calls hypersweep.api.function_agent.agent."""

import sys
import types

from .worker import Worker, heartbeat_interval, log_root

__all__ = ["Worker", "heartbeat_interval", "log_root"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        from ..api.function_agent import agent

        return agent(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
