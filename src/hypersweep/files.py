"""Files only their owner can read: the SQLite store (and its -wal/-shm), run logs, metrics and
params files, worker logs. Files are created 0600 and directories 0700, as secrets are.

The modes are given to mkdir/open themselves, never set afterwards, so there is no moment when
a file is readable by others. The umask can only take bits away from them (a umask never makes
anything wider than 0600/0700), so it is left alone: it is process-wide, and changing it would
race with other threads. Directories and files that already exist keep their mode (a user who
shares a store or a log directory on purpose keeps that choice)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """`mkdir -p`, each directory it creates 0700 (`mkdir -p -m` and `Path.mkdir(parents=True,
    mode=...)` give the mode only to the last one). Returns the path."""
    path = Path(path)
    missing = []
    ancestor = path
    while not ancestor.is_dir():
        missing.append(ancestor)
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():  # a file in the way: say so as mkdir -p would
                raise
    return path


def create_private(path: str | os.PathLike[str]) -> Path:
    """Create `path` empty and 0600 unless it exists (an existing file keeps its content and
    mode). Whatever opens it later for writing or appending keeps that mode. Returns the path."""
    with contextlib.suppress(FileExistsError):  # O_EXCL: an existing file is not opened
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    return Path(path)


def open_private(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "ab")`, a file it creates being 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
    return os.fdopen(fd, "ab")
