"""Sweep-level operations the CLI, the server and the Python API call: create from a file
or a mapping, resume, kill, delete. They combine config, store, controller and launch; no
rendering here."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .agent import log_root
from .config import ConfigError, SweepConfig, load_sweep_file, parse_sweep_config
from .config.command import uses_macro
from .controller import DEFAULT_SETTINGS
from .credentials.env import EnvSecretError, check_env_secrets
from .launch import stop_sweep_processes
from .store import Row, Store
from .store import schema as s

SUPPORTED_METHODS = ("grid", "random", "bayes")


DICT_SOURCE = "<dict>"  # how errors name a sweep given as a mapping, not a file


def load_runnable_config(path: str | Path, *, check_secrets: bool = True) -> SweepConfig:
    """Parse a sweep file and refuse what this version cannot run yet, including (unless
    `check_secrets` is False) `secret:NAME` values this machine cannot resolve."""
    return runnable_config(load_sweep_file(path), str(path), check_secrets=check_secrets)


def runnable_config(config: SweepConfig, source: str, *, check_secrets: bool = True) -> SweepConfig:
    """`config` (parsed from `source`: a file name, or DICT_SOURCE) if this version can run
    it; else ConfigError naming the method or the `secret:NAME` this machine lacks."""
    if config.method not in SUPPORTED_METHODS:
        raise ConfigError(
            source,
            "method",
            f"method {config.method!r} is not yet supported (use one of: "
            f"{', '.join(SUPPORTED_METHODS)})",
        )
    if check_secrets:
        check_sweep_secrets(config, source)
    return config


def require_program(sweep_file: str | Path) -> None:
    """Refuse, before anything starts, a sweep whose command needs a program it lacks.

    W&B accepts such a file (so do `validate` and `sweep`): its runs are functions started
    by `wandb.agent(sweep_id, function=...)`, and there is no program for a worker to spawn.
    """
    if lacks_program(load_sweep_file(sweep_file)):
        raise ConfigError(
            str(sweep_file),
            "program",
            "the sweep has no program to run (W&B runs such sweeps from Python with "
            "wandb.agent(sweep_id, function=...)); add `program: train.py` to the file, "
            "or run it from Python: hypersweep.agent(sweep_id, function=train) "
            "(docs/python-api.md)",
        )


def lacks_program(config: SweepConfig) -> bool:
    """True when the command starts `${program}` (the default command does) but the sweep
    names none: a W&B function sweep, which no worker can spawn."""
    return config.program is None and uses_macro(config, "program")


def check_sweep_secrets(config: SweepConfig, path: str | Path) -> dict[str, str]:
    """Every `secret:NAME` of the sweep's `env:` resolvable here, before any run starts.
    Returns {variable: secret name}; the values are not read."""
    try:
        return check_env_secrets(config.env, config.command or ())
    except EnvSecretError as exc:
        raise ConfigError(str(path), f"env.{exc.variable}", str(exc)) from None


def program_workdir(config: SweepConfig, sweep_file: str | Path | None) -> Path:
    """Where the program is started. W&B uses the agent's current directory; we do too when
    the program is found there, else the sweep file's directory, so that
    `hypersweep run path/to/sweep.yaml` works from anywhere. A sweep given as a mapping
    (`sweep_file` None) has only the current directory.

    A missing program is an error only when the command runs it (`${program}`, as the
    default command does): W&B accepts any `program` value otherwise.
    """
    cwd = Path.cwd()
    if config.program is None or _exists(cwd / config.program):
        return cwd
    beside = None if sweep_file is None else Path(sweep_file).resolve().parent
    if beside is not None and _exists(beside / config.program):
        return beside
    if not uses_macro(config, "program"):
        return cwd
    where = f"in {cwd}" if beside is None else f"in {cwd} nor in {beside}"
    raise ConfigError(
        DICT_SOURCE if sweep_file is None else str(sweep_file),
        "program",
        f"program {config.program!r} not found {where}",
    )


def _exists(path: Path) -> bool:
    """exists() that says False for a name the OS refuses (too long, NUL byte)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def create_sweep(
    store: Store,
    sweep_file: str | Path | Mapping[str, Any],
    *,
    seed: int | None = None,
    fail_fast: int = 5,
    retry_failed: int | None = None,
    check_secrets: bool = True,
) -> tuple[str, SweepConfig]:
    """Record a sweep from a file, or from a mapping in the same W&B format (validated
    exactly as a file, errors naming DICT_SOURCE; its program's directory is the current
    one). The stored config is the sweep as given: `secret:NAME` references, never their
    values. `retry_failed` (None: the sweep's `retry_failed`) is how many times a failed
    run's point is handed out again. A sweep without a program is recorded too: function
    agents run it."""
    if isinstance(sweep_file, Mapping):
        path = None
        config = runnable_config(
            parse_sweep_config(dict(sweep_file), DICT_SOURCE),
            DICT_SOURCE,
            check_secrets=check_secrets,
        )
        name, source = config.name or "sweep", None
    else:
        path = Path(sweep_file)
        config = load_runnable_config(path, check_secrets=check_secrets)
        name, source = config.name or path.stem, str(path.resolve())
    workdir = program_workdir(config, path)
    settings = {
        **DEFAULT_SETTINGS,
        "seed": seed,
        "fail_fast": fail_fast,
        "retry_failed": config.retry_failed if retry_failed is None else retry_failed,
    }
    sweep_id = store.create_sweep(
        config=config.raw,
        name=name,
        method=config.method,
        settings=settings,
        project=config.project,
        entity=config.entity,
        source=source,
        workdir=str(workdir),
    )
    return sweep_id, config


def resume_sweep(store: Store, sweep_id: str, *, retry_failed: int | None = None) -> Row:
    """Make a paused, cancelled or failed sweep hand out runs again. Killed and crashed
    runs' points are retried; failed runs too while their point has failed at most
    `retry_failed` times (None: as set before); finished runs are kept as they are."""
    sweep = store.get_sweep(sweep_id)
    if sweep["state"] == s.SWEEP_FINISHED:
        raise ValueError(f"sweep {sweep_id} is finished: every point has run")
    settings = dict(sweep["settings"])
    if retry_failed is not None:
        settings["retry_failed"] = retry_failed
    # Fail-fast looks at failures since the last resume, not at the ones that stopped it.
    settings["failures_before_resume"] = (
        store.run_counts(sweep_id).get(sweep_id, {}).get(s.FAILED, 0)
    )
    store.update_sweep(sweep_id, state=s.SWEEP_RUNNING, message=None, settings=settings)
    return store.get_sweep(sweep_id)


def set_retry_failed(store: Store, sweep_id: str, retry_failed: int) -> None:
    """How many times a failed run's point is handed out again, for the whole sweep (every
    worker claims through the same controller): `hypersweep agent --retry-failed N`."""
    with store.write() as conn:
        sweep = store.lock_sweep(conn, sweep_id)
        settings = {**sweep["settings"], "retry_failed": retry_failed}
        store.update_sweep(sweep_id, conn, settings=settings)


def pause_sweep(store: Store, sweep_id: str) -> Row:
    """Stop handing out runs; runs in flight go on and their workers wait for a resume."""
    sweep = store.get_sweep(sweep_id)
    if sweep["state"] != s.SWEEP_RUNNING:
        raise ValueError(f"sweep {sweep_id} is {sweep['state']}: only a running sweep can pause")
    store.update_sweep(sweep_id, state=s.SWEEP_PAUSED, message="paused by the user")
    return store.get_sweep(sweep_id)


def stop_run(store: Store, run_id: str, message: str = "stopped by the user") -> Row:
    """Ask the run's worker to stop it (seen at its next heartbeat). The run ends
    stopped_early: its result so far counts and its point is not handed out again."""
    with store.write() as conn:
        run = store.get_run(run_id, conn)
        if not store.request_stop(conn, run_id, message):
            raise ValueError(f"run {run_id} is {run['state']}: only a running run can be stopped")
    return store.get_run(run_id)


def kill_sweep(store: Store, sweep_id: str) -> dict[str, int]:
    """Cancel the sweep for good and stop every process of it on this host."""
    sweep = store.get_sweep(sweep_id)
    if sweep["state"] in (s.SWEEP_RUNNING, s.SWEEP_PAUSED):
        store.update_sweep(sweep_id, state=s.SWEEP_CANCELLED, message="killed by the user")
    return stop_sweep_processes(store, sweep_id)


def delete_sweep(store: Store, sweep_id: str) -> None:
    sweep = store.get_sweep(sweep_id)
    if sweep["state"] in (s.SWEEP_RUNNING, s.SWEEP_PAUSED) and store.list_workers(sweep_id):
        raise ValueError(
            f"sweep {sweep_id} still has workers; run `hypersweep kill {sweep_id}` first"
        )
    store.delete_sweep(sweep_id)
    shutil.rmtree(log_root(store) / sweep_id, ignore_errors=True)
