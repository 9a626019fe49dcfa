"""`hypersweep.Api`: read the sweeps and runs of any store (the CLI's, a PostgreSQL one)."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from ..store import Store
from ..store import schema as s
from .results import Run, RunList, check_states
from .sweeps import Sweep, open_store


class Api:
    """Sweeps and runs of one store.

    `store` is a URL (`sqlite:///path.db`, `postgresql://user@host/db`) or an open Store;
    by default `HYPERSWEEP_STORE`, else ./.hypersweep/hypersweep.db, as for the CLI.
    Use it as a context manager, or call `close()`, to release its connections.
    """

    def __init__(self, store: str | Store | None = None) -> None:
        self.store = open_store(store)

    @property
    def url(self) -> str:
        """The store's URL, password hidden."""
        return self.store.display_url

    def sweeps(self, state: str | Iterable[str] | None = None) -> list[Sweep]:
        """Every sweep of the store, oldest first; only those in `state` when given."""
        states = None if state is None else [state] if isinstance(state, str) else list(state)
        for one in states or ():
            if one not in s.SWEEP_STATES:
                raise ValueError(f"state {one!r}: must be one of {', '.join(s.SWEEP_STATES)}")
        return [Sweep(self.store, row["id"], row) for row in self.store.list_sweeps(states)]

    def sweep(self, sweep_id: str) -> Sweep:
        """One sweep by id (`hypersweep.store.NotFound` if the store has none)."""
        return Sweep(self.store, sweep_id)

    def runs(
        self, sweep_id: str | None = None, state: str | Iterable[str] | None = None
    ) -> RunList:
        """The runs of one sweep (every sweep's when None), oldest first; only those in
        `state` when given."""
        if sweep_id is not None:
            self.store.get_sweep(sweep_id)  # NotFound rather than an empty list
        rows = self.store.list_runs(sweep_id, check_states(state))
        return RunList.from_rows(self.store, rows)

    def run(self, run_id: str) -> Run:
        """One run by id."""
        return Run(self.store, self.store.get_run(run_id))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Api(store={self.url!r})"
