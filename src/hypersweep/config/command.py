"""Render a sweep's `command:` (W&B macros) into the argv of one run."""

from __future__ import annotations

import json
import os
import re
import shutil
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


def run_config(params: Mapping[str, Any], config: SweepConfig | None = None) -> dict[str, Any]:
    """The run's config as W&B's agent receives it: nested, keys sorted at every level.

    ``params`` is the search layer's flat dict (``"optimizer.lr"`` for nested parameters).
    A top-level parameter whose own name has a dot (``model.lr:``, Hydra's style) stays one
    flat key, as in W&B, so ``${args_no_hyphens}`` gives ``model.lr=0.1``; that needs the
    sweep's ``config``. Sorted keys are what a JSON round trip through W&B's server gives,
    and they make a run's command line the same whichever worker renders it.
    """
    return _sorted_keys(nest_params(dict(params), keep=dotted_top_level_names(config)))


def dotted_top_level_names(config: SweepConfig | None) -> frozenset[str]:
    """Top-level parameter names written with a dot in the sweep file."""
    if config is None:
        return frozenset()
    return frozenset(name for name in config.raw.get("parameters") or {} if "." in name)


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):  # tuples: a JSON round trip makes them lists
        return [_sorted_keys(item) for item in value]
    return value


def format_value(v: Any) -> str:
    """How a value is written in argv: Python's ``str()``, as W&B's agent writes it.

    bool -> "True"/"False", None -> "None", float -> shortest repr ("1e-05", "nan"),
    list/dict -> their repr (``['a', True]``, ``{'lr': 0.1}``) with dict keys sorted.
    """
    return str(_sorted_keys(v))


def args_json(params: Mapping[str, Any], config: SweepConfig | None = None) -> str:
    """The JSON document ${args_json} carries (and W&B writes to ${args_json_file}):
    ``json.dumps`` of the nested run config, with W&B's default separators and escaping."""
    return json.dumps(run_config(params, config))


def args_flags(params: Mapping[str, Any], config: SweepConfig | None = None) -> list[str]:
    """What ${args} expands to: ``--name=value`` per top-level key of the run config."""
    return _list_macro("args", run_config(params, config))


def resolve_interpreter(environ: Mapping[str, str]) -> str:
    """What ${interpreter} becomes for a run with environment ``environ``.

    W&B's agent always writes the bare ``python``, so the run gets the first ``python`` on
    its PATH (an activated virtualenv or conda env). We do the same when there is one, and
    fall back to the agent's own interpreter where only ``python3`` exists.
    """
    return "python" if _python_on_path(environ) else sys.executable


def interpreter_path(environ: Mapping[str, str]) -> str:
    """The file ${interpreter} runs, for a run header such as "python (/usr/bin/python)"."""
    return _python_on_path(environ) or sys.executable


def _python_on_path(environ: Mapping[str, str]) -> str | None:
    # The PATH the run's process searches (subprocess and /usr/bin/env use the child's PATH).
    return shutil.which("python", path=environ.get("PATH", os.defpath))


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


def _list_macro(name: str, config: Mapping[str, Any]) -> list[str]:
    """A multi-argument macro, one item (or two) per TOP-LEVEL key of the run config: a
    nested block is one flag whose value is its dict's repr, as in W&B's agent."""
    items = [(key, format_value(value), value) for key, value in config.items()]
    if name == "args":
        return [f"--{k}={text}" for k, text, _ in items]
    if name == "args_no_equals":
        return [tok for k, text, _ in items for tok in (f"--{k}", text)]
    if name == "args_no_hyphens":
        return [f"{k}={text}" for k, text, _ in items]
    if name == "args_no_boolean_flags":
        # A real bool: True -> bare flag (argparse store_true), False -> nothing.
        return [
            f"--{k}" if value is True else f"--{k}={text}"
            for k, text, value in items
            if value is not False
        ]
    if name == "args_append_hydra":
        return [f"+{k}={text}" for k, text, _ in items]
    if name == "args_override_hydra":
        return [f"++{k}={text}" for k, text, _ in items]
    raise ValueError(f"unknown macro ${{{name}}}")


def _env_available() -> bool:
    return os.path.exists(_USR_BIN_ENV)


def render_command(
    config: SweepConfig,
    params: dict[str, Any],
    *,
    args_json_file: str | None = None,
    interpreter: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The argv for one run, as W&B's agent would build it.

    ``params`` is the flat dict the search layer returns (dotted names for nested
    parameters); the list macros write one flag per top-level key of the nested run config.
    ``environ`` is the run's environment (default ``os.environ``): it fills
    ``${envvar:NAME}`` and, unless ``interpreter`` is given, picks ``${interpreter}``.
    Raises ValueError (one line) for a macro that cannot be filled (no program, no JSON file
    path, unset environment variable).
    """
    env = os.environ if environ is None else environ
    config_dict = run_config(params, config)
    scalars: dict[str, Callable[[], str]] = {
        "env": lambda: _USR_BIN_ENV if _env_available() else "",
        "interpreter": lambda: interpreter if interpreter is not None else resolve_interpreter(env),
        "program": lambda: _require(config.program, "${program} needs 'program' in the sweep"),
        "args_json": lambda: json.dumps(config_dict),
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
            argv.extend(_list_macro(whole.group(1), config_dict))
        elif token == "${env}" and not _env_available():
            continue  # no /usr/bin/env (Windows): drop the token, as W&B does
        else:
            argv.append(_MACRO.sub(scalar, token))
    return argv


def _require(value: str | None, message: str) -> str:
    if value is None:
        raise ValueError(message)
    return value
