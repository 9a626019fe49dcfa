"""What `hypersweep run` needs of a launcher, whatever starts the workers."""

from __future__ import annotations

from typing import Protocol


class Launcher(Protocol):
    notices: list[str]  # things the user should hear about, drained by the CLI

    def start(self) -> None: ...

    def poll(self) -> None:
        """Notice workers that died, clean up after them, replace them."""

    def alive(self) -> int: ...

    def stop(self) -> None: ...
