"""One worker of a sweep: claims runs and supervises the program of each."""

from .worker import Worker, heartbeat_interval, log_root

__all__ = ["Worker", "heartbeat_interval", "log_root"]
