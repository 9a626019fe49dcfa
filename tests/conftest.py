"""Shared fixtures: a fresh store per test on SQLite and on the PostgreSQL server, and helpers
to drive the real `hypersweep` command in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hypersweep.store import Store

PG_SERVER = os.environ.get("HYPERSWEEP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PROGRAMS = Path(__file__).parent / "programs"

# As in an activated virtualenv: `python` on PATH is the interpreter running the tests, so
# `${interpreter}` (W&B's bare `python`) finds hypersweep and the test extras.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# Fast heartbeats so crash detection takes seconds, not minutes.
FAST_ENV = {"HYPERSWEEP_HEARTBEAT_INTERVAL": "0.5", "HYPERSWEEP_HEARTBEAT_TIMEOUT": "4"}


@pytest.fixture(autouse=True)
def _fast_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)


def _pg_schema_url(schema: str) -> str:
    # Each test gets its own schema on the shared server, selected through libpq options.
    return f"{PG_SERVER}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'hypersweep.db'}"
        return
    schema = f"hs_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.close()


def hypersweep_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hypersweep.cli.main", *args]


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `hypersweep --store URL ARGS...` to completion in `cwd` (default tmp_path)."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 240, check: bool = True):
        result = subprocess.run(
            hypersweep_cmd("--store", store_url, *args),
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "COLUMNS": "200"},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"hypersweep {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A user mistake: non-zero exit, one line on stderr holding each needle, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_hypersweep(
    store_url: str, *args: str, cwd: Path, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen[str]:
    """`hypersweep --store URL ARGS...` in the background (`run`, `agent`): output merged
    and wide enough never to wrap, no stdin."""
    return subprocess.Popen(
        hypersweep_cmd("--store", store_url, *args),
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def wait_for_sweep(store: Store) -> str:
    """The id of the sweep a background `run` has just created (the store's only one)."""
    return wait_for(lambda: store.list_sweeps(), what="the sweep")[0]["id"]


def running_programs(store: Store, sweep_id: str) -> list[dict]:
    """The sweep's runs whose program has started (running, with a pid)."""
    return [r for r in store.list_runs(sweep_id, ["running"]) if r["pid"]]


# Eight points alternating quick and 120 s runs, each long one with a grandchild process in
# its group: after the first quick point, every worker (up to 3) holds a long run.
LONG_RUNS_GRID = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4, 5, 6, 7, 8]}
  sleep: {values: [0, 120]}
  child: {value: true}
"""


def write_sweep(directory: Path, body: str, name: str = "sweep.yaml") -> Path:
    """A sweep file whose program is tests/programs/toy.py."""
    path = directory / name
    path.write_text(body.replace("TOY", str(PROGRAMS / "toy.py")))
    return path
