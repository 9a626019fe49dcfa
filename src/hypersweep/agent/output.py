"""Collecting what a running program reports: its stdout/stderr (to the log file, parsing
metric lines) and the records the client writes to the metrics file.

Everything here holds a bounded amount of memory whatever the program writes: lines are cut
at MAX_LINE_BYTES, the log file is capped (runlog.CappedLog), metric records parsed from
stdout wait in a bounded backlog (the reading thread, and so the program's writes, pause
while it is full), and the metrics file is read a chunk at a time."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from ..metrics import as_step, parse_metric_line
from ..store.store import LOG_TAIL_BYTES, last_bytes
from .runlog import CappedLog, log_max_bytes

LOG_TAIL_LINES = 30
MAX_LINE_BYTES = 64 * 1024  # longer lines are cut, with a marker
MAX_PENDING_VALUES = 20_000  # stdout metric values waiting for the agent to store them
METRICS_CHUNK_BYTES = 512 * 1024  # one read of the metrics file; also its longest record
REDACTED = b"[secret]"

Warn = Callable[[str, str], None]  # (kind, message): a problem worth one line in the log


class OutputCollector:
    """Reads the program's merged stdout/stderr on a thread until EOF."""

    def __init__(
        self,
        stream: IO[bytes],
        log_path: Path,
        redact: Sequence[bytes] = (),
        max_log_bytes: int | None = None,
    ) -> None:
        self._stream = stream
        self._redact = tuple(redact)  # secret values, masked before anything is kept
        if max_log_bytes is None:
            max_log_bytes, problem = log_max_bytes()
        else:
            problem = None
        self._log = CappedLog(log_path, max_log_bytes)
        self._log_lock = threading.Lock()  # the log file and the tail
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._warned: set[str] = set()
        self._records: list[dict[str, Any]] = []
        self._pending = 0  # values in _records
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._closed = False
        self._next_step = 0
        if problem:
            self.warn("log-cap", problem)
        self._thread = threading.Thread(target=self._pump, name="hypersweep-output", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- the thread

    def _pump(self) -> None:
        try:
            while True:
                kept, cut, newline = self._read_line()
                if not kept and not cut and not newline:
                    return  # EOF
                self._take_line(kept, cut, newline)
        except (OSError, ValueError):  # closed under us (the agent gave up waiting)
            return

    def _read_line(self) -> tuple[bytes, int, bool]:
        """(the line's first MAX_LINE_BYTES without its newline, bytes cut after them,
        whether it ended with a newline). Never holds more than MAX_LINE_BYTES of it."""
        raw = self._stream.readline(MAX_LINE_BYTES)
        if raw.endswith(b"\n"):
            return raw[:-1], 0, True
        if len(raw) < MAX_LINE_BYTES:
            return raw, 0, False  # EOF (or nothing)
        cut = 0
        while True:
            more = self._stream.readline(MAX_LINE_BYTES)
            if not more:
                return raw, cut, False
            if more.endswith(b"\n"):
                return raw, cut + len(more) - 1, True
            cut += len(more)

    def _take_line(self, kept: bytes, cut: int, newline: bool) -> None:
        for value in self._redact:
            kept = kept.replace(value, REDACTED)
        if cut:
            trimmed = _without_secret_prefix(kept, self._redact)
            cut += len(kept) - len(trimmed)
            kept = trimmed + f" [… {cut} bytes cut …]".encode()
        line = kept.decode("utf-8", errors="replace").rstrip("\r")
        self._write(kept + b"\n" if newline or cut else kept, line)
        if not cut:  # a cut line is never a metric line: its values would be partial
            values = parse_metric_line(line)
            if values:
                self._add(values)

    def _write(self, data: bytes, line: str) -> None:
        with self._log_lock:
            self._log.write(data)
            if len(line) > LOG_TAIL_BYTES:
                line = line[:LOG_TAIL_BYTES] + " […]"
            self._tail.append(line)

    def _add(self, values: dict[str, float]) -> None:
        step_value = values.pop("step", None)
        with self._lock:
            step = self._next_step if step_value is None else as_step(step_value)
            if step is None:
                problem = f"metric line with step={step_value!r}: not a step the store can hold"
                self.warn("step", f"{problem} (64-bit integer); its values are dropped")
                return
            self._next_step = max(self._next_step, step + 1)
            if not values:
                return
            while self._pending >= MAX_PENDING_VALUES and not self._closed:
                self._room.wait(1.0)  # the agent is storing; the program waits on its pipe
            self._records.append({"t": time.time(), "step": step, "metrics": values})
            self._pending += len(values)

    # ------------------------------------------------------------- the agent's side

    def take_records(self) -> list[dict[str, Any]]:
        """The metric records parsed since the last call (at most about MAX_PENDING_VALUES
        values)."""
        with self._lock:
            records, self._records = self._records, []
            self._pending = 0
            self._room.notify_all()
        return records

    def warn(self, kind: str, message: str) -> None:
        """Append `hypersweep: message` to the run's log, once per kind of problem."""
        with self._log_lock:
            if kind in self._warned or self._closed:
                return
            self._warned.add(kind)
        more = " (further ones are dropped without a note)" if kind != "log-cap" else ""
        line = f"hypersweep: {message}{more}"
        self._write(line.encode("utf-8", errors="replace") + b"\n", line)

    def reading(self) -> bool:
        """Whether the program's output is still open (more lines may come)."""
        return self._thread.is_alive()

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        """Stop writing the log (a reader left behind by a process that still holds the pipe
        stops at its next line)."""
        with self._lock:
            self._closed = True
            self._room.notify_all()
        with self._log_lock:
            self._log.close()

    def tail(self) -> str:
        """The last lines of the log, at most LOG_TAIL_LINES lines and LOG_TAIL_BYTES."""
        with self._log_lock:
            return last_bytes("\n".join(self._tail), LOG_TAIL_BYTES)


def _without_secret_prefix(data: bytes, secrets: Sequence[bytes]) -> bytes:
    """`data` less a trailing start of a secret (the rest of it was in the part cut off)."""
    for secret in secrets:
        for size in range(min(len(secret) - 1, len(data)), 0, -1):
            if data.endswith(secret[:size]):
                return data[:-size]
    return data


class MetricsFileReader:
    """Follows the JSON-lines file the client appends to; returns only complete lines, at
    most `chunk` bytes of them per call (`more` says whether more was already there). A line
    longer than `chunk` is skipped, with one warning."""

    def __init__(
        self, path: Path, warn: Warn | None = None, chunk: int = METRICS_CHUNK_BYTES
    ) -> None:
        self._path = path
        self._warn = warn
        self._chunk = chunk
        self._offset = 0
        self._skipping = False  # inside a line too long to keep, up to its end
        self.used = False  # the program has written at least one record
        self.more = False  # the last call stopped before the end of the file

    def take_records(self) -> list[dict[str, Any]]:
        try:
            with open(self._path, "rb") as f:
                f.seek(self._offset)
                data = f.read(self._chunk)
        except FileNotFoundError:
            return []
        self.more = len(data) == self._chunk
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self._offset += len(data)
                return []
            self._offset += newline + 1
            data = data[newline + 1 :]
            self._skipping = False
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) == self._chunk:  # one line fills the chunk: too long
            self._offset += len(data)
            self._skipping = True
            if self._warn is not None:
                self._warn(
                    "record",
                    f"a record in {self._path.name} is longer than {self._chunk} bytes;"
                    " it is dropped",
                )
            return []
        self._offset += end
        self.used = self.used or end > 0
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a torn or foreign line: skip it, keep the rest
        return records
