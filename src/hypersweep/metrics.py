"""Turning logged records into metric rows and summary values (shared by agent and client)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
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


# What the store can hold: steps are 64-bit integers (PostgreSQL BIGINT, SQLite INTEGER), and
# a metric's name is indexed (PostgreSQL refuses index entries past about 2.7 kB).
STEP_MIN, STEP_MAX = -(2**63), 2**63 - 1
MAX_KEY_BYTES = 1024

Warn = Callable[[str, str], None]  # (kind, message): told once per kind by the agent


def as_step(value: Any) -> int | None:
    """A step the store can hold (an integer, or a number that truncates to one), else None."""
    try:
        step = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf
        return None
    return step if STEP_MIN <= step <= STEP_MAX else None


def key_problem(key: Any) -> str | None:
    """Why a metric name cannot be stored, or None if it can."""
    if not isinstance(key, str):
        return f"is not a string ({type(key).__name__})"
    if "\x00" in key:
        return "contains a NUL character"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    if size > MAX_KEY_BYTES:
        return f"is {size} bytes long in UTF-8 (at most {MAX_KEY_BYTES})"
    return None


def rows_and_summary(
    records: Iterable[Any], warn: Warn | None = None
) -> tuple[list[MetricRow], dict]:
    """Metric rows from `metrics` records; summary = last finite value of each key,
    overridden by explicit `summary` records. What the store cannot hold (a step past 64
    bits, an integer past a float's range, a name too long or not text, a record of another
    shape) is dropped, and `warn` is told."""
    rows: list[MetricRow] = []
    summary: dict[str, Any] = {}
    explicit: dict[str, Any] = {}
    checked: dict[Any, bool] = {}  # metric name -> storable; names repeat, checked once
    tell = warn or _ignore
    for record in records:
        if not isinstance(record, dict):
            tell("record", f"a metrics record that is not an object: {_short(record)}; dropped")
            continue
        if "summary" in record:
            if isinstance(record["summary"], dict):
                explicit.update(
                    {k: _summary_value(v) for k, v in record["summary"].items() if _ok(k, tell)}
                )
            else:
                tell("record", f"a summary that is not an object: {_short(record)}; dropped")
            continue
        metrics = record.get("metrics")
        step = as_step(record.get("step"))
        if not isinstance(metrics, dict):
            tell("record", f"a metrics record without metrics: {_short(record)}; dropped")
            continue
        if step is None:
            tell(
                "step",
                f"step {_short(record.get('step'))} (metrics {_short(list(metrics))}) is not a"
                " 64-bit integer, the largest step the store holds; its values are dropped",
            )
            continue
        time_ = as_number(record.get("t"))
        if time_ is None or not math.isfinite(time_):
            time_ = time.time()
        for key, value in metrics.items():
            storable = checked.get(key)
            if storable is None:
                storable = checked[key] = _ok(key, tell)
            if not storable:
                continue
            number = as_number(value)
            if number is None:
                if isinstance(value, int):  # not a bool: float(bool) never fails
                    tell(
                        "value",
                        f"{key!r} at step {step}: an integer of {value.bit_length()} bits, past"
                        " a float's range; dropped",
                    )
                continue
            finite = math.isfinite(number)
            rows.append((step, key, number if finite else None, time_))
            if finite:
                summary[key] = number
    summary.update(explicit)
    return rows, summary


def _ok(key: Any, tell: Warn) -> bool:
    problem = key_problem(key)
    if problem is not None:
        tell("key", f"metric name {_short(key)} {problem}; its values are dropped")
    return problem is None


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit for str()
        return f"<an {type(value).__name__} too long to show>"
    return text if len(text) <= limit else f"{text[: limit - 5]}…{text[-4:]}"


def _ignore(_kind: str, _message: str) -> None:
    pass


def pinned_summary(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The summary values the program set explicitly: they stay, whatever is logged later."""
    pinned: dict[str, Any] = {}
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("summary"), dict):
            pinned.update(
                {
                    k: _summary_value(v)
                    for k, v in record["summary"].items()
                    if key_problem(k) is None
                }
            )
    return pinned


def _summary_value(value: Any) -> Any:
    """Numbers become plain finite floats (or None) so every store can keep them as JSON;
    strings and other JSON values pass through."""
    if isinstance(value, (str, list, dict)) or value is None:
        return value
    number = as_number(value)
    return number if number is not None and math.isfinite(number) else None
