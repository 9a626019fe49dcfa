"""hypersweep.client: `run = hypersweep.init()` inside a sweep (a metrics file the agent
reads) and stand-alone (straight to the store), and what `import hypersweep` costs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hypersweep
from hypersweep.agent.output import MetricsFileReader
from hypersweep.metrics import rows_and_summary
from hypersweep.store import Store

SWEEP_PARAMS = {"lr": 0.1, "opt": {"name": "adam"}}
HEAVY_MODULES = {"sqlalchemy", "numpy", "yaml", "rich", "typer", "psycopg", "psutil"}


@pytest.fixture
def in_sweep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The environment the agent gives a program; returns the metrics file."""
    metrics_file = tmp_path / "run.metrics.jsonl"
    monkeypatch.setenv("HYPERSWEEP_METRICS_FILE", str(metrics_file))
    monkeypatch.setenv("HYPERSWEEP_RUN_ID", "run12345")
    monkeypatch.setenv("HYPERSWEEP_PARAMS", json.dumps(SWEEP_PARAMS))
    monkeypatch.delenv("HYPERSWEEP_STORE", raising=False)
    return metrics_file


@pytest.fixture
def standalone(monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    for name in ("HYPERSWEEP_METRICS_FILE", "HYPERSWEEP_RUN_ID", "HYPERSWEEP_PARAMS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HYPERSWEEP_STORE", store_url)
    return store_url


def _steps(rows, key):
    return [(step, value) for step, k, value, _t in rows if k == key]


# ------------------------------------------------------------------ in a sweep


def test_config_holds_the_sweep_params_as_items_and_attributes(in_sweep):
    run = hypersweep.init()
    try:
        assert run.id == "run12345"
        assert run.config.lr == 0.1
        assert run.config["lr"] == 0.1
        assert run.config.opt.name == "adam"
        assert run.config["opt"] == {"name": "adam"}
        assert dict(run.config) == SWEEP_PARAMS
        with pytest.raises(AttributeError):
            _ = run.config.missing
    finally:
        run.finish()


def test_sweep_params_override_config_defaults(in_sweep):
    run = hypersweep.init(config={"lr": 1.0, "batch_size": 32})
    try:
        assert run.config.lr == 0.1  # the sweep's value wins
        assert run.config.batch_size == 32  # a default the sweep does not set is kept
        assert run.config.opt.name == "adam"
    finally:
        run.finish()


def test_logged_records_reach_the_metrics_file_for_the_agent(in_sweep):
    run = hypersweep.init()
    run.log({"loss": 1.0, "acc": 0.5})  # step 0
    run.log({"loss": 0.5})  # step 1
    run.log({"loss": 0.25})  # step 2
    run.log({"loss": 0.2}, step=10)
    run.log({"loss": 0.1})  # one past the highest step so far: 11
    run.log({"acc": 0.75}, step=5)  # an earlier explicit step does not move the counter back
    run.log({"loss": math.nan})  # 12
    run.summary["acc"] = 0.9
    run.finish()

    lines = in_sweep.read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # plain JSON lines
    records = MetricsFileReader(in_sweep).take_records()
    assert len(records) == len(lines) == 8
    rows, summary = rows_and_summary(records)
    assert _steps(rows, "loss") == [
        (0, 1.0),
        (1, 0.5),
        (2, 0.25),
        (10, 0.2),
        (11, 0.1),
        (12, None),
    ]
    assert _steps(rows, "acc") == [(0, 0.5), (5, 0.75)]
    assert summary == {"loss": 0.1, "acc": 0.9}


def test_log_after_finish_raises_and_finish_twice_is_harmless(in_sweep):
    run = hypersweep.init()
    run.log({"loss": 1.0})
    run.finish()
    run.finish()
    with pytest.raises(RuntimeError):
        run.log({"loss": 2.0})
    assert len(MetricsFileReader(in_sweep).take_records()) == 1


def test_context_manager_finishes_the_run(in_sweep):
    with hypersweep.init() as run:
        run.log({"score": 3})
    with pytest.raises(RuntimeError):
        run.log({"score": 4})
    rows, summary = rows_and_summary(MetricsFileReader(in_sweep).take_records())
    assert rows[0][:3] == (0, "score", 3.0) and summary == {"score": 3.0}


# ----------------------------------------------------------------- stand-alone


def test_standalone_run_is_recorded_in_the_store(standalone):
    run = hypersweep.init(config={"a": 1})
    assert run.id and run.config.a == 1
    store = Store(standalone)
    try:
        row = store.get_run(run.id)
        assert row["sweep_id"] is None and row["params"] == {"a": 1}
        assert row["state"] == "running" and row["pid"] == os.getpid()
        run.log({"loss": 1.0, "acc": 0.1})
        run.log({"loss": 0.5})
        run.log({"loss": 0.25, "acc": 0.3})
        run.finish()
        row = store.get_run(run.id)
        assert row["state"] == "finished" and row["exit_code"] == 0
        assert row["summary"] == {"loss": 0.25, "acc": 0.3}
        history = store.metric_history(run.id, "loss")
        assert [(h["step"], h["value"]) for h in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
        assert [h["step"] for h in store.metric_history(run.id, "acc")] == [0, 2]
    finally:
        store.close()


def test_standalone_run_that_raises_in_its_with_block_is_failed(standalone):
    with pytest.raises(ValueError), hypersweep.init(config={"b": 2}) as run:
        run.log({"loss": 1.0})
        raise ValueError("diverged")
    store = Store(standalone)
    try:
        row = store.get_run(run.id)
        assert row["state"] == "failed" and row["exit_code"] == 1
        assert row["summary"] == {"loss": 1.0}
    finally:
        store.close()


def _run_script(tmp_path: Path, store_url: str, body: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSWEEP_")}
    env["HYPERSWEEP_STORE"] = store_url
    script = tmp_path / "train.py"
    script.write_text(body)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_standalone_run_is_flushed_and_finished_at_exit(tmp_path, store_url):
    result = _run_script(
        tmp_path,
        store_url,
        "import hypersweep\n"
        "run = hypersweep.init(config={'a': 1})\n"
        "print(run.id, flush=True)\n"
        "for i in range(3):\n"
        "    run.log({'loss': 1.0 / (i + 1)})\n"
        "# no run.finish(): the atexit hook must flush and finish\n",
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    store = Store(store_url)
    try:
        row = store.get_run(run_id)
        assert row["state"] == "finished"
        assert row["summary"] == {"loss": pytest.approx(1 / 3)}
        history = store.metric_history(run_id, "loss")
        assert [h["step"] for h in history] == [0, 1, 2]
        assert [h["value"] for h in history] == pytest.approx([1.0, 0.5, 1 / 3])
    finally:
        store.close()


@pytest.mark.parametrize("ending", ["import sys; sys.exit('diverged')", "1 / 0"])
def test_standalone_script_that_crashes_is_not_recorded_as_finished(tmp_path, store_url, ending):
    result = _run_script(
        tmp_path,
        store_url,
        "import hypersweep\n"
        "run = hypersweep.init(config={'a': 1})\n"
        "print(run.id, flush=True)\n"
        "run.log({'loss': 1.0})\n"
        f"{ending}\n",
    )
    assert result.returncode == 1
    store = Store(store_url)
    try:
        row = store.get_run(result.stdout.strip())
    finally:
        store.close()
    assert row["summary"] == {"loss": 1.0}
    assert row["state"] != "finished"


# ----------------------------------------------------------------- import cost


def _loaded_heavy_modules(code: str, env: dict[str, str] | None = None) -> list[str]:
    probe = (
        f"{code}\nimport sys, json\n"
        f"heavy = {sorted(HEAVY_MODULES)!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    # -X importtime writes to stderr: it proves the probe really imported hypersweep.
    assert "hypersweep.client" in result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_hypersweep_stays_light():
    assert _loaded_heavy_modules("import hypersweep") == []


def test_logging_inside_a_sweep_stays_light(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSWEEP_")}
    env.update(
        HYPERSWEEP_METRICS_FILE=str(tmp_path / "m.jsonl"),
        HYPERSWEEP_RUN_ID="r1",
        HYPERSWEEP_PARAMS='{"lr": 0.1}',
    )
    code = (
        "import hypersweep\n"
        "run = hypersweep.init()\n"
        "run.log({'loss': run.config.lr})\n"
        "run.summary['best'] = 1\n"
        "run.finish()"
    )
    assert _loaded_heavy_modules(code, env) == []
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 2
