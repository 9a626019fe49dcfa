"""Limits on what a sweep file may hold, so that a hostile or broken file ends in one line
(a :class:`ConfigError`) within a second or two, never in a traceback, a hang or gigabytes.

A real sweep file is a few KB with a few hundred values; every limit here is far above
that and far below what would slow the loader, the store or the agents down. The same
limits hold for YAML, JSON and a mapping handed to :func:`parse_sweep_config` from Python.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from typing import Any

import yaml

from .errors import ConfigError

# Bytes read from a sweep file. Checked on the open file before parsing; a sweep file is a
# few KB, and pure-Python YAML parses about 50,000 values a second.
MAX_FILE_BYTES = 1024 * 1024
# Nested lists/mappings. W&B's nested parameters use two levels each; Python's own
# recursion limit (and every recursive walk over the config) stays far away.
MAX_DEPTH = 64
# Values in the document, YAML aliases and merge keys expanded (keys count too). An alias
# bomb ("billion laughs") is tiny on disk and enormous once expanded: this is what stops it.
MAX_NODES = 50_000
# Characters of text (strings and keys) in the document, aliases expanded: an alias to a
# long string repeated thousands of times would otherwise make a config of gigabytes.
MAX_TEXT_CHARS = 2_000_000
# Items of one list (e.g. a parameter's `values`) or keys of one mapping.
MAX_ITEMS = 10_000
# Characters of one string or key: a value goes on a run's command line, where Linux takes
# at most 128 KiB per argument (10,000 characters are 40 KB at most in UTF-8).
MAX_STRING_CHARS = 10_000
# Characters of an integer literal. Every int64 fits in 20 decimal digits (66 in binary);
# Python refuses to convert more than 4,300 digits, and YAML's base-60 ints
# (`1:30:00`) take quadratic time when long.
MAX_INT_LITERAL_CHARS = 100
# Hyperband bands (max_iter/eta^k for k up to s): W&B's min_iter form lists 100; an eta
# just above 1 with a large s would make the agents compute billions.
MAX_BANDS = 1_000
# The integers a run can hold: numpy's samplers, SQLite and most programs use int64.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_NOT_A_SWEEP = "give the path of a sweep file"


def read_sweep_text(source: str) -> str:
    """The text of the file at ``source``: a regular file of at most MAX_FILE_BYTES, UTF-8.

    It is opened without blocking (a FIFO with no writer would wait forever) and checked
    with fstat before a byte is read, so /dev/zero, a FIFO or a directory cannot hang it.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a directory, not a sweep file") from None
    except PermissionError:
        raise ConfigError(source, "", "permission denied") from None
    except OSError as e:
        raise ConfigError(source, "", f"cannot open it: {e.strerror or e}") from None
    except ValueError:  # a NUL byte in the path
        raise ConfigError(repr(source), "", "invalid file name") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(source, "", "is a directory, not a sweep file")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                source, "", f"is not a regular file (a device, FIFO or socket); {_NOT_A_SWEEP}"
            )
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(source, info.st_size)
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1  # one byte more tells a file that grew past the limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise ConfigError(source, "", f"cannot read it: {e.strerror or e}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(source, len(data))
    return _decode(data, source)


def _too_large(source: str, size: int) -> ConfigError:
    # `size` is MAX_FILE_BYTES + 1 when the file grew while read (or its size is unknown).
    what = f"more than {MAX_FILE_BYTES:,}" if size == MAX_FILE_BYTES + 1 else f"{size:,}"
    return ConfigError(
        source,
        "",
        f"file is {what} bytes; sweep files are limited to 1 MiB ({MAX_FILE_BYTES:,} bytes)",
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(source, "", "is UTF-16 text; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError(
            source, f"line {_line_of(data, nul)}", "holds a NUL byte: not a text file"
        )
    try:
        return data.decode("utf-8-sig")  # a leading byte-order mark is dropped
    except UnicodeDecodeError as e:
        byte = data[e.start : e.start + 1].hex()
        raise ConfigError(
            source,
            f"line {_line_of(data, e.start)}",
            f"not a UTF-8 text file (byte 0x{byte}); save it as UTF-8",
        ) from None


# --------------------------------------------------------------------------- numbers


def show_int(value: int) -> str:
    """An int for a message: its digits, or its size when too long to read (or to print:
    Python refuses ``str()`` past 4,300 digits)."""
    if value.bit_length() <= 100:
        return str(value)
    digits = math.floor(value.bit_length() * math.log10(2)) + 1
    return f"an integer of about {digits:,} digits"


def int_literal_error(text: str) -> str | None:
    """Why an integer literal cannot be read, or None (checked before converting it)."""
    if len(text) <= MAX_INT_LITERAL_CHARS:
        return None
    return (
        f"an integer of {len(text):,} characters is beyond what a run can hold (int64, "
        "at most 19 digits)"
    )


# --------------------------------------------------------------------------- YAML


class GuardedComposer(yaml.composer.Composer):
    """PyYAML's composer, refusing deep nesting, recursive aliases and documents that
    expand past MAX_NODES values, before anything is constructed.

    PyYAML composes an alias as the anchored node itself (a graph, not a tree), so an alias
    bomb composes in microseconds; what explodes is everything after (merge keys, walks over
    the data, JSON for the store). We count each alias as the size of what it stands for.
    ``source`` names the file in errors.
    """

    source = "<config>"
    _depth = 0
    _nodes = 0
    _aliased = False  # whether an alias has been expanded (for the message)
    _sizes: dict[int, int]  # id(anchored node) -> its expanded size, once composed

    def compose_document(self):
        # (PyYAML's loaders call Composer.__init__ by name, so the counters start here.)
        self._depth, self._nodes, self._aliased, self._sizes = 0, 0, False, {}
        return super().compose_document()

    def _fail(self, mark: Any, message: str) -> ConfigError:
        where = f"line {mark.line + 1}" if mark is not None else ""
        return ConfigError(self.source, where, message)

    def _grow(self, count: int, mark: Any, alias: bool = False) -> None:
        self._nodes += count
        self._aliased = self._aliased or alias
        if self._nodes > MAX_NODES:
            how = " once YAML aliases are expanded (an alias bomb?)" if self._aliased else ""
            raise self._fail(
                mark,
                f"the file holds more than {MAX_NODES:,} values{how}; a sweep file needs far fewer",
            )

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # else PyYAML reports the undefined alias
                size = self._sizes.get(id(target))
                if size is None:
                    raise self._fail(
                        event.start_mark,
                        f"alias *{event.anchor} is used inside its own anchor "
                        f"&{event.anchor}: a recursive structure cannot be a sweep file",
                    )
                self._grow(size, event.start_mark, alias=True)
            return super().compose_node(parent, index)
        start = self._nodes
        self._grow(1, event.start_mark)
        nested = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nested:
            if self._depth >= MAX_DEPTH:
                raise self._fail(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1
        if event.anchor is not None:
            self._sizes[id(node)] = self._nodes - start
        return node


# --------------------------------------------------------------------------- any data


def check_document(data: Any, error: Callable[[str, str], ConfigError]) -> None:
    """Refuse data no run, store or walk can hold: too deep, too big (aliases expanded),
    lists or strings too long, integers past int64, inf/nan, non-JSON types.

    Iterative, and it stops at the first problem, so it is safe on an alias bomb's shared
    (or a Python caller's cyclic) structure. ``error(path, message)`` builds the error.
    """
    nodes = 0
    chars = 0
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise error(path, f"the config holds more than {MAX_NODES:,} values")
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            chars += len(value)
            _check_text(value, path, "a string", chars, error)
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise error(path, f"{show_int(value)} is beyond what a run can hold (int64)")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise error(
                    path,
                    f"must be a finite number, got {value} (JSON has no inf or nan, and "
                    "numbers beyond ±1.8e308 overflow to inf)",
                )
        elif isinstance(value, (list, dict)):
            kind = "list" if isinstance(value, list) else "mapping"
            if depth >= MAX_DEPTH:
                raise error(
                    path, f"nested deeper than {MAX_DEPTH} levels (or a {kind} inside itself)"
                )
            if len(value) > MAX_ITEMS:
                what = "items" if kind == "list" else "keys"
                raise error(
                    path, f"a {kind} of {len(value):,} {what}; at most {MAX_ITEMS:,} per {kind}"
                )
            children: list[tuple[Any, str, int]] = []
            if isinstance(value, list):
                children = [(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
            else:
                for key, item in value.items():
                    if isinstance(key, str):
                        chars += len(key)
                        _check_text(key, path, "a key", chars, error)
                        name = key
                    elif isinstance(key, int) and not isinstance(key, bool):
                        if not INT64_MIN <= key <= INT64_MAX:
                            raise error(path, f"key {show_int(key)} is beyond int64")
                        name = str(key)
                    elif key is None or isinstance(key, (bool, float)):
                        name = str(key)
                    else:
                        raise error(path, f"unsupported key {key!r}; quote it")
                    nodes += 1
                    children.append((item, f"{path}.{name}" if path else name, depth + 1))
            stack.extend(reversed(children))  # depth first, in document order
        else:
            raise error(path, f"unsupported value {value!r}; quote it to make it a string")


def _check_text(
    text: str, path: str, what: str, chars: int, error: Callable[[str, str], ConfigError]
) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise error(
            path, f"{what} of {len(text):,} characters; at most {MAX_STRING_CHARS:,} per string"
        )
    if chars > MAX_TEXT_CHARS:
        raise error(
            path,
            f"the config holds more than {MAX_TEXT_CHARS:,} characters of text once YAML "
            "aliases are expanded",
        )
