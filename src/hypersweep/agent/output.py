"""Collecting what a running program reports: its stdout/stderr (to the log file, parsing
metric lines) and the records the client writes to the metrics file."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from ..metrics import parse_metric_line

LOG_TAIL_LINES = 30
REDACTED = b"[secret]"


class OutputCollector:
    """Reads the program's merged stdout/stderr on a thread until EOF."""

    def __init__(self, stream: IO[bytes], log_path: Path, redact: Sequence[bytes] = ()) -> None:
        self._stream = stream
        self._redact = tuple(redact)  # secret values, masked before anything is kept
        self._log_path = log_path
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._next_step = 0
        self._thread = threading.Thread(target=self._pump, name="hypersweep-output", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with open(self._log_path, "ab", buffering=0) as log:
            for raw in iter(self._stream.readline, b""):
                for value in self._redact:
                    raw = raw.replace(value, REDACTED)
                log.write(raw)
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self._tail.append(line)
                values = parse_metric_line(line)
                if values:
                    self._add(values)

    def _add(self, values: dict[str, float]) -> None:
        step_value = values.pop("step", None)
        with self._lock:
            step = self._next_step if step_value is None else int(step_value)
            self._next_step = max(self._next_step, step + 1)
            if values:
                self._records.append({"t": time.time(), "step": step, "metrics": values})

    def take_records(self) -> list[dict[str, Any]]:
        with self._lock:
            records, self._records = self._records, []
        return records

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def tail(self) -> str:
        return "\n".join(self._tail)


class MetricsFileReader:
    """Follows the JSON-lines file the client appends to; returns only complete lines."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.used = False  # the program has written at least one record

    def take_records(self) -> list[dict[str, Any]]:
        try:
            with open(self._path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        self.used = self.used or end > 0
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a torn or foreign line: skip it, keep the rest
        return records
