"""Turning store rows into tables, progress lines and JSON documents."""

from __future__ import annotations

import json
import time
from typing import Any

from rich.table import Table
from rich.text import Text

from ..config.command import format_value
from ..store import Row
from ..store import schema as s

STATE_STYLES = {
    s.FINISHED: "green",
    s.RUNNING: "cyan",
    s.FAILED: "red",
    s.CRASHED: "magenta",
    s.KILLED: "yellow",
    s.STOPPED_EARLY: "blue",
    s.SWEEP_CANCELLED: "yellow",
    s.SWEEP_PAUSED: "yellow",
}


def ago(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return duration(time.time() - timestamp) + " ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def styled_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def params_text(params: dict[str, Any], limit: int | None = 80) -> str:
    text = " ".join(f"{k}={format_value(v)}" for k, v in params.items())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def metric_label(config_raw: dict) -> str:
    metric = config_raw.get("metric") or {}
    if not metric.get("name"):
        return "-"
    return f"{metric['name']} ({metric.get('goal', 'minimize')})"


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no runs"


def sweeps_table(sweeps: list[Row], counts: dict[str, dict[str, int]]) -> Table:
    table = Table(title="sweeps", title_justify="left")
    for column in ("id", "name", "method", "state", "metric", "runs", "created"):
        table.add_column(column)
    for sweep in sweeps:
        table.add_row(
            sweep["id"],
            sweep["name"],
            sweep["method"],
            styled_state(sweep["state"]),
            metric_label(sweep["config"]),
            counts_text(counts.get(sweep["id"], {})),
            ago(sweep["created_at"]),
        )
    return table


def sweep_json(sweep: Row, counts: dict[str, int]) -> dict[str, Any]:
    metric = sweep["config"].get("metric")
    return {
        "id": sweep["id"],
        "name": sweep["name"],
        "state": sweep["state"],
        "method": sweep["method"],
        "metric": metric,
        "counts": counts,
        "message": sweep["message"],
        "project": sweep["project"],
        "created_at": sweep["created_at"],
    }


def run_json(run: Row) -> dict[str, Any]:
    keys = (
        "id",
        "sweep_id",
        "state",
        "params",
        "summary",
        "exit_code",
        "attempt",
        "host",
        "pid",
        "gpu_ids",
        "worker_id",
        "message",
        "command",
        "log_path",
        "log_tail",
        "started_at",
        "ended_at",
    )
    return {key: run[key] for key in keys}


def runs_table(runs: list[Row], metric_name: str | None, title: str = "runs") -> Table:
    table = Table(title=title, title_justify="left")
    # Why a run ended as it did ("killed by signal 9 (out of memory?)"), when one did.
    messages = any(run["message"] for run in runs)
    columns = ("run", "state", metric_name or "summary", "params", "exit", "time")
    for column in columns + (("message",) if messages else ()):
        table.add_column(column)
    for run in runs:
        if metric_name:
            value = run["summary"].get(metric_name)
            shown = f"{value:.6g}" if isinstance(value, (int, float)) else "-"
        else:
            shown = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in run["summary"].items()
            )
        took = (run["ended_at"] or time.time()) - run["started_at"] if run["started_at"] else None
        table.add_row(
            run["id"],
            styled_state(run["state"]),
            shown,
            params_text(run["params"]),
            "" if run["exit_code"] is None else str(run["exit_code"]),
            duration(took),
            *([Text(run["message"] or "")] if messages else []),  # not markup
        )
    return table


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))
