"""Turning logged records into metric rows and summary values (shared by agent and client)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

MetricRow = tuple[int, str, float | None, float]  # step, key, value, time

# A stdout line that is only `name=value` pairs (spaces or commas between them), e.g.
# "epoch=3 loss=0.25 val/accuracy=0.91". Anything else on the line and it is plain output.
# Checked token by token: linear in the line's length, whatever the line holds.
_PAIR = re.compile(
    r"([A-Za-z_][\w./-]*)=([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)",
    re.IGNORECASE,
)
_AROUND_EQUALS = re.compile(r"\s*=\s*")
_SEPARATORS = re.compile(r"[\s,]+")


def parse_metric_line(line: str) -> dict[str, float] | None:
    """The metrics on a stdout line, or None if the line is not a metric line."""
    if "=" not in line:
        return None
    tokens = _SEPARATORS.split(_AROUND_EQUALS.sub("=", line.strip()).strip(","))
    values = {}
    for token in tokens:
        match = _PAIR.fullmatch(token)
        if match is None:
            return None
        values[match.group(1)] = float(match.group(2))
    return values


def as_number(value: Any) -> float | None:
    """A loggable scalar as float (ints, floats, bools, numpy/torch scalars), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past float's range
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


def pinned_summary(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary values the program set explicitly: they stay, whatever is logged later."""
    pinned: dict[str, Any] = {}
    for record in records:
        if "summary" in record:
            pinned.update({k: _summary_value(v) for k, v in record["summary"].items()})
    return pinned


def _summary_value(value: Any) -> Any:
    """Numbers become plain finite floats (or None) so every store can keep them as JSON;
    strings and other JSON values pass through."""
    if isinstance(value, (str, list, dict)) or value is None:
        return value
    number = as_number(value)
    return number if number is not None and math.isfinite(number) else None
