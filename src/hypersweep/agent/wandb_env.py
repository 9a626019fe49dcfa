"""What a run needs so that a training script written for W&B runs unchanged: its parameters
where W&B's agent puts them, W&B's run grouping, offline mode when there is no API key, and
our capture hook on PYTHONPATH (it wraps the wandb package only if the program imports it)."""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from ..client import wandb_hook_dir
from ..files import create_private, private_dir

DEFAULT_WANDB_HOST = "https://api.wandb.ai"


def has_api_key(env: Mapping[str, str]) -> bool:
    """Whether W&B would find an API key: WANDB_API_KEY, or a netrc entry for its host
    (what `wandb login` writes)."""
    if env.get("WANDB_API_KEY", "").strip():
        return True
    host = urlparse(env.get("WANDB_BASE_URL") or DEFAULT_WANDB_HOST).hostname or ""
    path = env.get("NETRC") or str(Path(env.get("HOME") or Path.home()) / ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(env: Mapping[str, str]) -> str:
    """The mode a program's W&B runs in: what the environment says, else offline when there
    is no API key (W&B would stop at a login prompt), else online."""
    if env.get("WANDB_MODE"):
        return env["WANDB_MODE"]
    if env.get("WANDB_DISABLED", "").lower() in ("true", "1", "yes"):
        return "disabled"
    return "online" if has_api_key(env) else "offline"


def wandb_args_json_file(env: Mapping[str, str], sweep_id: str, run_id: str) -> str:
    """Where W&B's agent writes ${args_json_file}, as it names it in argv: relative to the
    program's directory unless WANDB_DIR is set."""
    return os.path.join(
        env.get("WANDB_DIR", ""), "wandb", f"sweep-{sweep_id}", f"config-{run_id}.json"
    )


def write_param_file(path: Path, nested_params: Mapping[str, Any]) -> None:
    """W&B's sweep config file: `wandb_version: 1` and {name: {value: v}} for each top-level
    parameter, nested blocks as nested mappings, so `wandb.init()` fills `wandb.config`."""
    body = {name: {"value": value} for name, value in nested_params.items()}
    text = "wandb_version: 1\n\n" + yaml.safe_dump(
        body, default_flow_style=False, allow_unicode=True, sort_keys=False
    )
    private_dir(path.parent)
    create_private(path).write_text(text, encoding="utf-8")


def wandb_run_env(
    env: Mapping[str, str],
    *,
    sweep: Mapping[str, Any],
    run_id: str,
    param_path: Path,
    explicit: Mapping[str, str],
) -> dict[str, str]:
    """The W&B variables to add to a run's environment `env`. `explicit` holds what the sweep
    file's `env:` sets: those always win. The sweep's project/entity win over the user's
    shell, as with W&B's agent; the rest only fills gaps."""
    added: dict[str, str] = {"WANDB_SWEEP_PARAM_PATH": str(param_path)}
    defaults = {
        "WANDB_RUN_GROUP": sweep["id"],  # all runs of a sweep side by side in W&B's UI
        "WANDB_NAME": run_id,
    }
    if wandb_mode(env) == "offline":  # no key: W&B would stop at its login wall
        defaults["WANDB_MODE"] = "offline"
    added.update({k: v for k, v in defaults.items() if not env.get(k)})
    for key, value in (
        ("WANDB_PROJECT", sweep.get("project")),
        ("WANDB_ENTITY", sweep.get("entity")),
    ):
        if value and key not in explicit:
            added[key] = str(value)
    python_path = env.get("PYTHONPATH")
    hook = wandb_hook_dir()
    added["PYTHONPATH"] = f"{hook}{os.pathsep}{python_path}" if python_path else hook
    return added


def program_uses_wandb(program: str | None, workdir: str | Path) -> bool:
    """A cheap guess for the run header: does the program's source mention wandb?"""
    if not program:
        return False
    path = Path(workdir) / program
    try:
        return path.is_file() and b"wandb" in path.read_bytes()[:1_000_000]
    except OSError:
        return False


def wandb_header(env: Mapping[str, str], sweep: Mapping[str, Any]) -> str:
    """One line for `run`'s header: where a W&B-logging program's runs will go. `env` is
    the runs' environment (a `secret:NAME` value counts as set)."""
    mode = wandb_mode(env)
    if mode == "offline" and not env.get("WANDB_MODE"):
        return (
            "W&B: no API key, so wandb logs offline under ./wandb (upload later with "
            "`wandb sync`); metrics are captured here either way"
        )
    if mode == "disabled":
        return (
            "W&B: disabled, so what the program logs with wandb is not captured "
            "(unset WANDB_MODE/WANDB_DISABLED, or set WANDB_MODE=offline)"
        )
    if mode == "offline":
        return "W&B: WANDB_MODE=offline; metrics are captured here either way"
    where = "/".join(str(p) for p in (sweep.get("entity"), sweep.get("project")) if p)
    return (
        f"W&B: online{f' in {where}' if where else ''}, runs grouped as {sweep['id']}; "
        "metrics are captured here too"
    )
