"""Where logged records go. Inside a sweep: a JSON-lines file the agent reads (no database
driver in the training process). Outside a sweep: the store, imported only then."""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

# One record: {"t": time, "step": N, "metrics": {...}} or {"t": time, "summary": {...}}.
Record = dict[str, Any]


class Sink(Protocol):
    def write(self, records: list[Record]) -> None: ...

    def close(self, exit_code: int) -> None: ...


class FileSink:
    """Appends records to the file named by the agent (HYPERSWEEP_METRICS_FILE)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def write(self, records: list[Record]) -> None:
        self._file.write("".join(json.dumps(r, allow_nan=True) + "\n" for r in records))
        self._file.flush()

    def close(self, exit_code: int) -> None:
        self._file.close()


class StoreSink:
    """A stand-alone run (no agent): records go straight to the store."""

    def __init__(self, params: dict, name: str | None) -> None:
        from ..store import Store  # imported only for stand-alone runs: it is not light
        from ..store import schema as s

        self._store = Store()
        self._schema = s
        with self._store.write() as conn:
            self.run_id: str = self._store.insert_run(
                conn,
                sweep_id=None,
                params=params,
                state=s.RUNNING,
                host=os.uname().nodename,
                pid=os.getpid(),
                message=name,
            )["id"]

    def write(self, records: list[Record]) -> None:
        from ..metrics import pinned_summary, rows_and_summary

        rows, summary = rows_and_summary(records)
        self._store.add_metrics(self.run_id, rows, summary, pinned_summary(records))

    def close(self, exit_code: int) -> None:
        state = self._schema.FINISHED if exit_code == 0 else self._schema.FAILED
        with self._store.write() as conn:
            self._store.end_run(conn, self.run_id, state, exit_code=exit_code)
        self._store.close()
