"""`hypersweep.sweep(...)`: create a sweep, or open one, from Python; the `Sweep` handle.

The same store, states and rules as the CLI: a sweep created here is the sweep
`hypersweep agent SWEEP_ID` or `hypersweep.agent(...)` runs, and one the CLI ran reads here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, overload

from .. import sweeps as sweep_ops
from ..controller import best_runs, sweep_config
from ..store import Row, Store
from .results import Run, RunList, check_states


def open_store(store: str | Store | None) -> Store:
    """A Store from a URL, an open Store, or None: `HYPERSWEEP_STORE`, else the SQLite
    file under ./.hypersweep (as the CLI)."""
    return store if isinstance(store, Store) else Store(store)


class Sweep:
    """A handle on one sweep in a store. `id`, `name`, `method` and `config` do not change;
    `state` and the runs are read from the store each time they are asked for."""

    def __init__(self, store: Store, sweep_id: str, row: Row | None = None) -> None:
        self.store = store
        self._row: Row = row if row is not None else store.get_sweep(sweep_id)

    @property
    def id(self) -> str:
        return str(self._row["id"])

    @property
    def name(self) -> str:
        return str(self._row["name"])

    @property
    def method(self) -> str:
        return str(self._row["method"])

    @property
    def config(self) -> dict[str, Any]:
        """The sweep as given (W&B format; `secret:NAME` references, never their values)."""
        return dict(self._row["config"])

    @property
    def metric(self) -> dict[str, str] | None:
        """{"name": ..., "goal": "minimize" | "maximize"}, or None without a metric."""
        metric = sweep_config(self._row).metric
        return None if metric is None else {"name": metric.name, "goal": metric.goal}

    @property
    def state(self) -> str:
        """running, paused, finished, cancelled or failed: read from the store now."""
        return str(self.refresh()._row["state"])

    @property
    def row(self) -> Row:
        """The sweep's store row as last read."""
        return dict(self._row)

    def refresh(self) -> Sweep:
        """Read the sweep row again; returns self."""
        self._row = self.store.get_sweep(self.id)
        return self

    def runs(self, state: str | Iterable[str] | None = None) -> RunList:
        """The sweep's runs, oldest first; only those in `state` (one or several) when
        given. Retried points keep their superseded runs (`superseded` column)."""
        rows = self.store.list_runs(self.id, check_states(state))
        return RunList.from_rows(self.store, rows)

    def run(self, run_id: str) -> Run:
        """One run of the sweep by id."""
        row = self.store.get_run(run_id)
        if row["sweep_id"] != self.id:
            raise ValueError(f"run {run_id} belongs to sweep {row['sweep_id']}, not {self.id}")
        return Run(self.store, row)

    @overload
    def best(self) -> Run | None: ...
    @overload
    def best(self, k: int) -> RunList: ...
    def best(self, k: int | None = None) -> Run | RunList | None:
        """The winner by the sweep's metric (finished and stopped-early runs that logged
        it): `best()` is the best run or None; `best(k)` the top k runs, best first (empty
        without a metric or a scored run)."""
        if k is not None and k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        rows = best_runs(self.store, self.refresh()._row, 1 if k is None else k)
        if k is None:
            return Run(self.store, rows[0]) if rows else None
        return RunList.from_rows(self.store, rows)

    def __repr__(self) -> str:
        return f"<Sweep {self.id} {self.name!r} {self.method} {self._row['state']}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sweep) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def sweep(
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    id: str | None = None,  # noqa: A002 - the name users know from wandb
    store: str | Store | None = None,
    seed: int | None = None,
    fail_fast: int = 5,
    retry_failed: int | None = None,
) -> Sweep:
    """Create a sweep from a sweep file or a dict in the W&B format, or open one by `id`.

    A dict is validated exactly as a file would be (errors name "<dict>") and its program,
    if any, is looked for in the current directory. A sweep without `program` is created
    too: a function agent (`hypersweep.agent`) runs it. `store` is a URL or a Store; by
    default `HYPERSWEEP_STORE`, else ./.hypersweep/hypersweep.db, as for the CLI.
    `seed`, `fail_fast` and `retry_failed` are `hypersweep run`'s options of those names.
    Bad input raises `hypersweep.config.ConfigError` (one line naming the key).
    """
    if (config is None) == (id is None):
        raise TypeError("hypersweep.sweep() takes either a sweep config (path or dict) or id=")
    opened = open_store(store)
    if id is not None:
        return Sweep(opened, id)
    source = config if isinstance(config, Mapping) else os.fspath(config)  # type: ignore[arg-type]
    sweep_id, _ = sweep_ops.create_sweep(
        opened, source, seed=seed, fail_fast=fail_fast, retry_failed=retry_failed
    )
    return Sweep(opened, sweep_id)
