"""Lines under `run`'s header about how programs will run: which Python `${interpreter}` is,
and where a W&B-logging program's runs go. Said once, before anything can go wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..agent.wandb_env import program_uses_wandb, wandb_header
from ..config import SweepConfig
from ..config.command import interpreter_path, resolve_interpreter, uses_macro


def runs_environment(config: SweepConfig) -> dict[str, str]:
    """The runs' environment as far as it is known here: ours plus the sweep's `env:`
    (secret values are not read; their variables count as set)."""
    return {**os.environ, **config.env}


def program_notes(sweep: Mapping[str, Any], config: SweepConfig) -> list[str]:
    env = runs_environment(config)
    workdir = sweep["workdir"] or os.getcwd()
    notes = []
    if uses_macro(config, "interpreter"):
        notes.append(interpreter_note(env))
    if program_uses_wandb(config.program, workdir) or any(
        k.startswith("WANDB_") for k in config.env
    ):
        notes.append(wandb_header(env, sweep))
    return notes


def interpreter_note(env: Mapping[str, str]) -> str:
    """`${interpreter}` as W&B's agent has it: `python` on PATH. Says which one that is, and
    warns when it is not the Python hypersweep runs in (its packages may be missing)."""
    name, path = resolve_interpreter(env), interpreter_path(env)
    prefix = _python_prefix(path, env)
    if prefix is None:
        return f"interpreter: {name} ({path})"
    if Path(prefix).resolve() == Path(sys.prefix).resolve():
        return f"interpreter: {name} ({path}, this environment's)"
    return (
        f"interpreter: {name} ({path}, prefix {prefix}), not the Python hypersweep runs in "
        f"({sys.prefix}): activate that environment if the program needs its packages"
    )


def _python_prefix(path: str, env: Mapping[str, str]) -> str | None:
    """sys.prefix of the interpreter at `path` (None if it cannot say)."""
    try:
        done = subprocess.run(
            [path, "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            timeout=10,
            env=dict(env),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
