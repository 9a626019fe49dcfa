"""Riding out a store outage: a PostgreSQL restart, a lost connection, SQLite locked past its
busy timeout. Agents and `run` retry with backoff instead of dying; programs keep running,
and what must be written waits in the caller until the store answers again."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .db import StoreUnavailable

RETRY_ENV = "HYPERSWEEP_STORE_RETRY"  # seconds of outage to ride out before giving up
DEFAULT_RETRY_S = 600.0
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 5.0

T = TypeVar("T")


def retry_limit() -> float:
    return float(os.environ.get(RETRY_ENV, DEFAULT_RETRY_S))


class StoreRetry:
    """Calls store operations again while the store is unavailable, for up to `limit`
    seconds of one outage. `report` hears one line when an outage starts and one when it
    ends; `stop` (set by Ctrl-C / SIGTERM) ends the waiting early, raising."""

    def __init__(
        self,
        report: Callable[[str], None],
        stop: threading.Event | None = None,
        limit: float | None = None,
    ) -> None:
        self.report = report
        self.stop = stop or threading.Event()
        self.limit = retry_limit() if limit is None else limit
        self.outage_since: float | None = None  # monotonic time the current outage began
        self.recovered_at: float | None = None  # monotonic time the last one ended

    def call(self, operation: Callable[..., T], *args: object, **kwargs: object) -> T:
        delay = FIRST_DELAY_S
        while True:
            try:
                result = operation(*args, **kwargs)
            except StoreUnavailable as exc:
                self._wait(exc, delay)
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            self._recovered()
            return result

    def recently_recovered(self, within: float) -> bool:
        """Whether an outage ended less than `within` seconds ago: peers' heartbeats could
        not reach the store either, so silence then is no sign that they died."""
        return self.recovered_at is not None and time.monotonic() - self.recovered_at < within

    def _wait(self, exc: StoreUnavailable, delay: float) -> None:
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since = now
            self.report(f"store unreachable, retrying for up to {self.limit:.0f} s ({exc})")
        if now - self.outage_since >= self.limit:
            raise StoreUnavailable(f"{exc} (gave up after {self.limit:.0f} s of retrying)")
        if self.stop.wait(delay):
            raise exc

    def _recovered(self) -> None:
        if self.outage_since is None:
            return
        lasted = time.monotonic() - self.outage_since
        self.outage_since = None
        self.recovered_at = time.monotonic()
        self.report(f"store reachable again after {lasted:.0f} s")
