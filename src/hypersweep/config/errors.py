"""The one error type users see for a bad sweep file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(Exception):
    """A problem in a sweep file.

    ``str(e)`` is always ONE line, ``'<source>: <key.path>: <what is wrong>'``, so the CLI can
    print it as is, without a traceback.
    """

    def __init__(self, source: str, path: str, message: str):
        self.source = str(source)
        # Paths and messages can quote user input (keys, values, YAML problems): keep them
        # on one line, and short enough to read when that input is a 10,000-character key.
        self.path = _clip(" ".join(str(path).split()), 300)
        self.message = _clip(" ".join(str(message).split()), 1000)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.path, self.message) if p]
        return ": ".join(parts)

    def __reduce__(self):  # keep it picklable (multiprocessing, Ray)
        return (type(self), (self.source, self.path, self.message))


def _clip(text: str, limit: int) -> str:
    """``text``, its middle cut out when longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def did_you_mean(word: object, choices: Iterable[str], template: str = "'{}'") -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``''`` when nothing is close."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {template.format(close[0])}?)" if close else ""
