"""A run's log file: where it lives, written with a size cap (its start and its latest part
are kept), and read back only from inside the log root.

The store names each run's log file (`log_path`), but a row is not a reason to open a file:
the dashboard and `hypersweep logs` open it only when it resolves (symlinks included) to a
regular file inside `log_root(store)`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from ..files import FILE_MODE
from ..store import Row, Store
from ..store.db import DEFAULT_DIR

LOG_DIR_ENV = "HYPERSWEEP_LOG_DIR"
LOG_MAX_ENV = "HYPERSWEEP_LOG_MAX_BYTES"
DEFAULT_LOG_MAX = 100 * 1024 * 1024  # per run; 0 in the variable: no cap
MIN_LOG_MAX = 64 * 1024
READ_CHUNK = 64 * 1024  # what readers hold of a log at a time
_ALIGN_WINDOW = 64 * 1024  # how far a cut looks for a line end to fall on


def log_root(store: Store) -> Path:
    """HYPERSWEEP_LOG_DIR, else beside a SQLite store, else ./.hypersweep/logs."""
    if os.environ.get(LOG_DIR_ENV):
        return Path(os.environ[LOG_DIR_ENV])
    url = make_url(store.engine.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / "logs"
    return Path.cwd() / ".hypersweep" / "logs"


def log_max_bytes() -> tuple[int, str | None]:
    """The cap on one run's log file (0: none) from HYPERSWEEP_LOG_MAX_BYTES, and what was
    wrong with the variable when it could not be used as given."""
    raw = os.environ.get(LOG_MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_LOG_MAX, None
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_LOG_MAX, (
            f"{LOG_MAX_ENV}={raw!r} is not a number of bytes; the log is capped at "
            f"{DEFAULT_LOG_MAX} bytes"
        )
    if value <= 0:
        return 0, None
    if value < MIN_LOG_MAX:
        return MIN_LOG_MAX, f"{LOG_MAX_ENV}={value} is below {MIN_LOG_MAX}; {MIN_LOG_MAX} is used"
    return value, None


class CappedLog:
    """Writes a run's log file, keeping it within `limit` bytes (0: no limit): the first half
    of the limit as written, a line `[… N bytes cut …]`, then the latest output. When a write
    takes the file past the limit, the latest quarter of the limit moves down behind the
    marker and the file is truncated there, so the file holds between a quarter and a half of
    the limit of latest output, and each byte written is copied at most once more. Readers may
    see the file shrink at that moment (`hypersweep logs -f` copes)."""

    def __init__(self, path: Path, limit: int) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        self._size = os.lseek(self._fd, 0, os.SEEK_END)
        self._limit = limit
        self._head: int | None = None  # where the kept start ends, once something was cut
        self._cut = 0  # bytes of output dropped so far
        self._body = 0  # where the kept latest part starts (after the marker)

    @property
    def cut(self) -> int:
        return self._cut

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._size += len(data)
        if self._limit and self._size > self._limit:
            self._compact()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _compact(self) -> None:
        if self._head is None:
            head = self._limit // 2
            window = os.pread(self._fd, min(_ALIGN_WINDOW, head), head - min(_ALIGN_WINDOW, head))
            newline = window.rfind(b"\n")
            if newline >= 0:  # end the kept start at a line end when one is near
                head -= len(window) - newline - 1
            self._head = self._body = head
        keep = self._limit // 4
        start = self._size - keep
        window = os.pread(self._fd, min(_ALIGN_WINDOW, keep), start)
        newline = window.find(b"\n")
        if 0 <= newline < len(window) - 1:  # start the kept end at a line start when near
            start += newline + 1
        self._cut += start - self._body
        ends_line = os.pread(self._fd, 1, self._head - 1) in (b"\n", b"")
        marker = ("" if ends_line else "\n") + f"[… {self._cut} bytes cut …]\n"
        marker_bytes = marker.encode()
        os.pwrite(self._fd, marker_bytes, self._head)
        target = self._head + len(marker_bytes)  # always below `start`: copying down is safe
        self._body = target
        while start < self._size:
            chunk = os.pread(self._fd, min(1 << 20, self._size - start), start)
            if not chunk:
                break
            os.pwrite(self._fd, chunk, target)
            start += len(chunk)
            target += len(chunk)
        os.ftruncate(self._fd, target)
        os.lseek(self._fd, target, os.SEEK_SET)
        self._size = target


# ------------------------------------------------------------------------ reading


class LogOutsideRoot(Exception):
    """The store names a log file that is not inside the log root: it is not served."""


def log_roots(store: Store, run: Row) -> list[Path]:
    """Where a run's log may be: our log root, and the one its agents used when they ran
    from the sweep's directory (a PostgreSQL store read from elsewhere). Only a
    `.hypersweep/logs` folder qualifies, whatever an edited row says."""
    roots = [log_root(store)]
    if run.get("sweep_id"):
        workdir = store.get_sweep(run["sweep_id"])["workdir"]
        if workdir:
            roots.append(Path(workdir) / DEFAULT_DIR / "logs")
    return [root.resolve() for root in roots]


def open_run_log(store: Store, run: Row) -> BinaryIO | None:
    """The run's log file opened for reading, or None when it is not on this machine.
    Raises LogOutsideRoot when the path (symlinks resolved) leaves the log roots or is not a
    regular file."""
    log_path = run["log_path"]
    if not log_path:
        return None
    try:
        path = Path(log_path).resolve(strict=True)
    except (OSError, RuntimeError):  # missing (another machine), or a symlink loop
        return None
    roots = log_roots(store, run)
    if not any(path.is_relative_to(root) for root in roots):
        raise LogOutsideRoot(
            f"log path {log_path} is outside the log directory {roots[0]} ({LOG_DIR_ENV} sets it)"
        )
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is refused; O_NONBLOCK: a FIFO
        # does not hang the open (it is refused below, as anything but a regular file is).
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LogOutsideRoot(f"log path {log_path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LogOutsideRoot(f"log path {log_path} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def tail_start(f: BinaryIO, max_bytes: int | None) -> tuple[int, int]:
    """(size of the file, where its last `max_bytes` begin, moved past a split character)."""
    size = os.fstat(f.fileno()).st_size
    if not max_bytes or size <= max_bytes:
        return size, 0
    start = size - max_bytes
    f.seek(start)
    lead = f.read(4)
    skip = 0
    while skip < min(3, len(lead)) and 0x80 <= lead[skip] < 0xC0:  # UTF-8 continuation
        skip += 1
    return size, start + skip


def read_chunks(f: BinaryIO, start: int, end: int | None = None) -> Iterator[bytes]:
    """The file from `start` to `end` (default: its end now), READ_CHUNK bytes at a time."""
    f.seek(start)
    left = None if end is None else end - start
    while left is None or left > 0:
        chunk = f.read(READ_CHUNK if left is None else min(READ_CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk
