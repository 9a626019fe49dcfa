"""Runs as flat records: one mapping a run, parameters and summary metrics as prefixed
columns. Shared by `hypersweep runs/best --csv` and the Python API's data frames, so a CSV
and a frame of the same runs have the same columns. Stdlib only."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

PARAM_PREFIX = "params."
SUMMARY_PREFIX = "summary."

# Before the parameters: who the run is. After the summary: how and when it ran.
LEADING_COLUMNS = ("id", "sweep_id", "state")
TRAILING_COLUMNS = (
    "exit_code",
    "attempt",
    "superseded",
    "worker_id",
    "host",
    "created_at",
    "started_at",
    "ended_at",
    "runtime",
    "message",
)
TIME_COLUMNS = ("created_at", "started_at", "ended_at")  # float epoch seconds in the store


def run_record(run: Mapping[str, Any]) -> dict[str, Any]:
    """One run row as a flat record: `id`, `sweep_id`, `state`, `params.<name>` for each
    parameter (dotted names as the sweep's), `summary.<metric>` for each summary metric
    (the last value logged), then exit code, attempt, worker, host, times (epoch seconds),
    `runtime` (seconds from start to end, None while running) and message."""
    record: dict[str, Any] = {key: run.get(key) for key in LEADING_COLUMNS}
    for name, value in (run.get("params") or {}).items():
        record[PARAM_PREFIX + name] = value
    for name, value in (run.get("summary") or {}).items():
        record[SUMMARY_PREFIX + name] = value
    for key in TRAILING_COLUMNS:
        record[key] = run.get(key)
    started, ended = run.get("started_at"), run.get("ended_at")
    record["runtime"] = ended - started if started is not None and ended is not None else None
    return record


def record_columns(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every column of the records, in a stable order: the leading columns, the parameters
    and the summary metrics in the order they first appear, then the trailing columns."""
    params: dict[str, None] = {}
    summary: dict[str, None] = {}
    extra: dict[str, None] = {}
    fixed = set(LEADING_COLUMNS) | set(TRAILING_COLUMNS)
    for record in records:
        for key in record:
            if key in fixed:
                continue
            if key.startswith(PARAM_PREFIX):
                params[key] = None
            elif key.startswith(SUMMARY_PREFIX):
                summary[key] = None
            else:
                extra[key] = None
    return [*extra, *LEADING_COLUMNS, *params, *summary, *TRAILING_COLUMNS]


def write_csv(records: list[dict[str, Any]], out: IO[str]) -> None:
    """The records as CSV with a header row: None is an empty cell, a list or mapping its
    JSON text, numbers as Python writes them (floats round-trip)."""
    columns = record_columns(records)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record.get(column)) for column in columns])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value
