"""Turning logged records into metric rows and summary values (shared by agent and client)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

MetricRow = tuple[int, str, float | None, float]  # step, key, value, time

# A stdout line that is only `name=value` pairs (spaces or commas between them), e.g.
# "epoch=3 loss=0.25 val/accuracy=0.91". Anything else on the line and it is plain output.
_PAIR = r"([A-Za-z_][\w./-]*)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)"
_LINE = re.compile(rf"^\s*{_PAIR}(?:\s*[,\s]\s*{_PAIR})*\s*,?\s*$", re.IGNORECASE)
_PAIRS = re.compile(_PAIR, re.IGNORECASE)


def parse_metric_line(line: str) -> dict[str, float] | None:
    """The metrics on a stdout line, or None if the line is not a metric line."""
    if "=" not in line or not _LINE.match(line):
        return None
    return {key: float(value) for key, value in _PAIRS.findall(line)}


def as_number(value: Any) -> float | None:
    """A loggable scalar as float (ints, floats, bools, numpy/torch scalars), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def rows_and_summary(records: Iterable[dict[str, Any]]) -> tuple[list[MetricRow], dict]:
    """Metric rows from `metrics` records; summary = last finite value of each key,
    overridden by explicit `summary` records."""
    rows: list[MetricRow] = []
    summary: dict[str, Any] = {}
    explicit: dict[str, Any] = {}
    for record in records:
        if "summary" in record:
            explicit.update({k: _summary_value(v) for k, v in record["summary"].items()})
            continue
        step, time_ = int(record["step"]), float(record["t"])
        for key, value in record["metrics"].items():
            number = as_number(value)
            if number is None:
                continue
            finite = math.isfinite(number)
            rows.append((step, key, number if finite else None, time_))
            if finite:
                summary[key] = number
    summary.update(explicit)
    return rows, summary


def _summary_value(value: Any) -> Any:
    """Numbers become plain finite floats (or None) so every store can keep them as JSON;
    strings and other JSON values pass through."""
    if isinstance(value, (str, list, dict)) or value is None:
        return value
    number = as_number(value)
    return number if number is not None and math.isfinite(number) else None
