"""Render a sweep's `command:` (W&B macros) into the argv of one run."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .errors import did_you_mean
from .model import SweepConfig, nest_params

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")

# Macros that expand to one string, and may sit inside a longer token ("--cfg=${args_json_file}").
SCALAR_MACROS = ("env", "interpreter", "program", "args_json", "args_json_file")
# Macros that expand to several tokens (or none), so they must be a whole token.
LIST_MACROS = (
    "args",
    "args_no_equals",
    "args_no_hyphens",
    "args_no_boolean_flags",
    "args_append_hydra",
    "args_override_hydra",
)
_ALL_MACROS = SCALAR_MACROS + LIST_MACROS + ("envvar:NAME",)
_MACRO = re.compile(r"\$\{([^}]*)\}")
_ENVVAR = re.compile(r"^envvar:([A-Za-z_][A-Za-z0-9_]*)$")
_USR_BIN_ENV = "/usr/bin/env"


def format_value(v: Any) -> str:
    """How a parameter value is written in argv.

    bool -> "True"/"False" (what W&B's str() gives, so ``type=lambda s: s == "True"`` works);
    float -> shortest round-trip repr (0.001, not 0.0010000000000000002);
    list/dict -> JSON (parsable from any language; W&B writes a Python repr); None -> "None".
    """
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)  # nan, inf, -inf
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def args_json(params: Mapping[str, Any]) -> str:
    """The JSON document ${args_json} and ${args_json_file} carry: the nested parameters."""
    return json.dumps(nest_params(dict(params)))


def uses_macro(config: SweepConfig, name: str) -> bool:
    """Whether the sweep's command mentions ``${name}`` (e.g. the agent's args_json_file)."""
    tokens = config.command or DEFAULT_COMMAND
    return any(m.group(1) == name for t in tokens for m in _MACRO.finditer(t))


def check_command_token(token: str) -> None:
    """ValueError (one line) when a token uses an unknown macro or misplaces a list macro."""
    for match in _MACRO.finditer(token):
        name = match.group(1)
        if name in SCALAR_MACROS or _ENVVAR.match(name):
            continue
        if name in LIST_MACROS:
            if token != match.group(0):
                raise ValueError(
                    f"${{{name}}} expands to several arguments, so it must be a list item "
                    f"of its own, not part of {token!r}"
                )
            continue
        if name.startswith("envvar"):
            raise ValueError(f"${{{name}}}: write ${{envvar:NAME}} with a variable name")
        hint = did_you_mean(name, _ALL_MACROS, template="${{{}}}")
        if not hint and _ENVVAR.match(f"envvar:{name}"):
            hint = f" (for an environment variable write ${{envvar:{name}}})"
        raise ValueError(f"unknown macro ${{{name}}}{hint}")


def _list_macro(name: str, params: Mapping[str, Any]) -> list[str]:
    items = sorted(params.items())
    if name == "args":
        return [f"--{k}={format_value(v)}" for k, v in items]
    if name == "args_no_equals":
        return [tok for k, v in items for tok in (f"--{k}", format_value(v))]
    if name == "args_no_hyphens":
        return [f"{k}={format_value(v)}" for k, v in items]
    if name == "args_no_boolean_flags":
        # True -> bare flag (argparse store_true), False -> nothing.
        return [
            f"--{k}" if v is True else f"--{k}={format_value(v)}"
            for k, v in items
            if v is not False
        ]
    if name == "args_append_hydra":
        return [f"+{k}={format_value(v)}" for k, v in items]
    if name == "args_override_hydra":
        return [f"++{k}={format_value(v)}" for k, v in items]
    raise ValueError(f"unknown macro ${{{name}}}")


def _env_available() -> bool:
    return os.path.exists(_USR_BIN_ENV)


def render_command(
    config: SweepConfig,
    params: dict[str, Any],
    *,
    args_json_file: str | None = None,
    interpreter: str = sys.executable,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The argv for one run.

    ``params`` is the flat dict the search layer returns (dotted names for nested parameters);
    list macros write one flag per leaf, sorted by name. Raises ValueError (one line) for a
    macro that cannot be filled (no program, no JSON file path, unset environment variable).
    """
    env = os.environ if environ is None else environ
    scalars: dict[str, Callable[[], str]] = {
        "env": lambda: _USR_BIN_ENV if _env_available() else "",
        "interpreter": lambda: interpreter,
        "program": lambda: _require(config.program, "${program} needs 'program' in the sweep"),
        "args_json": lambda: args_json(params),
        "args_json_file": lambda: _require(
            args_json_file, "${args_json_file} is used but no JSON file path was given"
        ),
    }

    def scalar(match: re.Match) -> str:
        name = match.group(1)
        envvar = _ENVVAR.match(name)
        if envvar:
            var = envvar.group(1)
            if var not in env:
                raise ValueError(f"${{envvar:{var}}}: environment variable {var} is not set")
            return env[var]
        if name in scalars:
            return scalars[name]()
        check_command_token(match.group(0))  # raises with a clear message
        raise ValueError(f"${{{name}}} must be a list item of its own")

    argv: list[str] = []
    for token in config.command or DEFAULT_COMMAND:
        whole = _MACRO.fullmatch(token)
        if whole and whole.group(1) in LIST_MACROS:
            argv.extend(_list_macro(whole.group(1), params))
        elif token == "${env}" and not _env_available():
            continue  # no /usr/bin/env (Windows): drop the token, as W&B does
        else:
            argv.append(_MACRO.sub(scalar, token))
    return argv


def _require(value: str | None, message: str) -> str:
    if value is None:
        raise ValueError(message)
    return value
