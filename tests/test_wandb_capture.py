"""The wandb capture hook (hypersweep/client/wandb_hook/): programs that log with the real
wandb package, offline, run as subprocesses the way the agent starts them (the hook first on
PYTHONPATH, HYPERSWEEP_METRICS_FILE set); what they logged is read back with the agent's
reader and checked against the rows wandb itself wrote to the run's .wandb file."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hypersweep.agent.output import MetricsFileReader
from hypersweep.client import wandb_hook_dir
from hypersweep.metrics import pinned_summary, rows_and_summary

HOOK = wandb_hook_dir()
needs_wandb = pytest.mark.skipif(
    importlib.util.find_spec("wandb") is None, reason="needs the wandb package (test extra)"
)


def _hook_module() -> Any:
    """The capture module, loaded from the hook folder for in-process checks."""
    spec = importlib.util.spec_from_file_location(
        "_hypersweep_wandb", Path(HOOK) / "_hypersweep_wandb.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(tmp_path: Path, pythonpath: tuple[Path, ...], hook: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYPERSWEEP_", "WANDB_"))}
    env.pop("PYTHONPATH", None)
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(tmp_path / "wb"))
    env["HYPERSWEEP_METRICS_FILE"] = str(tmp_path / "run.metrics.jsonl")
    entries = [HOOK] if hook else []
    if entries or pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(entries + [str(p) for p in pythonpath])
    (tmp_path / "wb").mkdir(exist_ok=True)
    (tmp_path / "work").mkdir(exist_ok=True)
    return env


def _program(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "program.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def _run(
    tmp_path: Path, body: str, pythonpath: tuple[Path, ...] = (), hook: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _program(tmp_path, body),
        cwd=tmp_path / "work",
        env=_env(tmp_path, pythonpath, hook),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    return MetricsFileReader(tmp_path / "run.metrics.jsonl").take_records()


def _by_step(records: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    rows, _summary = rows_and_summary(records)
    table: dict[int, dict[str, float]] = {}
    for step, key, value, _t in rows:
        table.setdefault(step, {})[key] = value
    return table


def _wandb_history(wandb_dir: Path, run_id: str) -> dict[int, dict[str, float]]:
    """The numeric values of the history rows wandb wrote to an offline run's .wandb file (a
    LevelDB-style log of protobuf records after a 7-byte header); nested keys joined by '.'."""
    from wandb.proto import wandb_internal_pb2

    (path,) = wandb_dir.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb")
    data, pos, parts, table = path.read_bytes(), 7, [], {}
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header
            pos += 32768 - pos % 32768
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        parts.append(data[pos + 7 : pos + 7 + length])
        pos += 7 + length
        if kind not in (1, 4):  # a record continues in the next chunk
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(b"".join(parts))
        parts = []
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.key or ".".join(item.nested_key)
                value = json.loads(item.value_json)
                if not key.startswith("_") and type(value) in (int, float):
                    row[key] = float(value)
            table[record.history.step.num] = row
    return {step: row for step, row in table.items() if row}


# ------------------------------------------------------------------ real wandb, offline


@needs_wandb
def test_wandb_rows_and_summary_reach_the_metrics_file_as_wandb_records_them(tmp_path):
    done = _run(
        tmp_path,
        """
        import numpy as np
        import wandb

        run = wandb.init(project="capture")
        print("run", run.id)
        run.log({"loss": 1.0, "acc": 0.5})               # step 0
        wandb.log({"loss": 0.9})                          # 1: the module-level wandb.log
        run.log({"loss": 0.8}, commit=False)              # pending at 2...
        run.log({"acc": 0.6})                             # ...merged and committed
        run.log({"loss": 0.7}, step=5)                    # 5, pending
        run.log({"acc": 0.7}, step=5)                     # same step: merged
        run.log({"loss": 99.0}, step=3, commit=True)      # lower step: dropped, commit too
        run.log({"epoch": 5})                             # no step: joins 5 and commits it
        run.log({
            "loss": 0.6, "val": {"acc": 0.8, "deep": {"x": 1}}, "name": "x", "flag": True,
            "f32": np.float32(0.5), "one": np.array([7.0]), "i64": np.int64(3),
            "arr": np.arange(3), "big": np.arange(50), "hist": wandb.Histogram([1, 2, 3]),
            "yes": np.bool_(True), "_timestamp": 1.0,
        })                                                # 6: numbers only
        run.log({"loss": 0.5}, step=10, commit=True)      # 10, committed: now at 11
        run.log({"loss": 98.0}, step=10)                  # lower than 11: dropped
        run.log({}, commit=True)                          # 11: an empty row
        run.log({"loss": 0.4})                            # 12
        run.summary["best_acc"] = 0.8
        wandb.summary["note"] = "fine"
        run.summary.update({"best_loss": 0.4, "nested": {"x": 1.0}, "img": wandb.Histogram([1])})
        run.summary.last = 3
        run.log({"loss": 0.3}, commit=False)              # 13, committed by finish
        run.finish()
        try:
            run.log({"loss": 0.0})
        except Exception:
            print("log after finish raised")
        with wandb.init(project="capture") as second:     # the next run goes on at 14
            second.log({"loss": 0.2}, commit=False)       # committed by the with block
        print("done")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == ["log after finish raised", "done"]
    assert "hypersweep" not in done.stderr
    records = _records(tmp_path)
    first_run = {
        0: {"loss": 1.0, "acc": 0.5},
        1: {"loss": 0.9},
        2: {"loss": 0.8, "acc": 0.6},
        5: {"loss": 0.7, "acc": 0.7, "epoch": 5.0},
        6: {"loss": 0.6, "val.acc": 0.8, "val.deep.x": 1.0, "f32": 0.5, "one": 7.0, "i64": 3.0},
        10: {"loss": 0.5},
        12: {"loss": 0.4},
        13: {"loss": 0.3},
    }
    assert _by_step(records) == {**first_run, 14: {"loss": 0.2}}
    run_id = done.stdout.split()[1]
    assert _wandb_history(tmp_path / "wb", run_id) == first_run  # what wandb itself recorded
    assert pinned_summary(records) == {
        "best_acc": 0.8,
        "note": "fine",
        "best_loss": 0.4,
        "nested.x": 1.0,
        "last": 3.0,
    }


@needs_wandb
def test_rows_are_written_while_the_program_runs_and_a_crash_commits_the_last(tmp_path):
    go = tmp_path / "go"
    program = _program(
        tmp_path,
        f"""
        import os, time, wandb

        run = wandb.init(project="capture")
        run.log({{"loss": 1.0}})
        run.log({{"loss": 0.5}}, commit=False)   # pending until the process ends
        deadline = time.time() + 60
        while not os.path.exists({str(go)!r}) and time.time() < deadline:
            time.sleep(0.05)
        raise RuntimeError("crash")
        """,
    )
    env = _env(tmp_path, ())
    with subprocess.Popen(
        program, cwd=tmp_path / "work", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        reader, seen = MetricsFileReader(tmp_path / "run.metrics.jsonl"), []
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline and proc.poll() is None:
            seen = reader.take_records()  # the background flush, no finish, no exit
            time.sleep(0.1)
        go.touch()
        _out, err = proc.communicate(timeout=60)
    assert _by_step(seen) == {0: {"loss": 1.0}}
    assert proc.returncode == 1
    assert "RuntimeError: crash" in err.decode() and "hypersweep" not in err.decode()
    assert _by_step(seen + reader.take_records()) == {0: {"loss": 1.0}, 1: {"loss": 0.5}}


@needs_wandb
def test_wandb_imported_but_never_initialised_changes_nothing_and_sitecustomize_chains(
    tmp_path,
):
    user = tmp_path / "user_site"
    user.mkdir()
    (user / "sitecustomize.py").write_text('MARK = "user"\nprint("user sitecustomize ran")\n')
    done = _run(
        tmp_path,
        """
        import sys
        import sitecustomize
        import wandb
        from wandb.sdk.wandb_run import Run

        print(sitecustomize.MARK, "_hypersweep_wandb" in sys.modules)
        print(any(getattr(m, "__hypersweep__", False) for m in (Run.log, Run._log)))
        sys.exit(3)
        """,
        pythonpath=(user,),
    )
    assert done.returncode == 3
    assert done.stdout == "user sitecustomize ran\nuser True\nTrue\n"
    assert done.stderr == ""
    assert not (tmp_path / "run.metrics.jsonl").exists()
    assert os.listdir(tmp_path / "work") == []


# ------------------------------------------------------------------ no wandb, fake wandb


def test_a_program_without_wandb_runs_as_without_the_hook(tmp_path):
    body = """
        import json, sys
        print("hello", sys.argv[1:])
        print(json.dumps(sorted(sys.modules)), file=sys.stderr)
        raise SystemExit(4)
        """
    hooked, plain = _run(tmp_path, body), _run(tmp_path, body, hook=False)
    assert (
        (hooked.returncode, hooked.stdout) == (plain.returncode, plain.stdout) == (4, "hello []\n")
    )
    added = set(json.loads(hooked.stderr)) - set(json.loads(plain.stderr))
    assert added == {"sitecustomize"}  # our own: nothing imported, no capture module
    assert not (tmp_path / "run.metrics.jsonl").exists()
    assert os.listdir(tmp_path / "work") == []


def test_a_wandb_we_do_not_understand_is_left_alone_with_one_line(tmp_path):
    fake = tmp_path / "fake"
    (fake / "wandb" / "sdk").mkdir(parents=True)
    (fake / "wandb" / "__init__.py").write_text('__version__ = "0.0.1"\nfrom . import sdk\n')
    (fake / "wandb" / "sdk" / "__init__.py").write_text("from . import wandb_run, wandb_summary\n")
    (fake / "wandb" / "sdk" / "wandb_run.py").write_text("class Run:\n    pass\n")
    (fake / "wandb" / "sdk" / "wandb_summary.py").write_text("class Summary:\n    pass\n")
    done = _run(
        tmp_path,
        """
        import wandb
        from wandb.sdk.wandb_run import Run
        print("imported", wandb.__version__, sorted(vars(Run)) == sorted(vars(type("Run", (), {}))))
        """,
        pythonpath=(fake,),
    )
    assert done.returncode == 0
    assert done.stdout == "imported 0.0.1 True\n"
    assert done.stderr == (
        "hypersweep: wandb 0.0.1 not understood (Run.log(data, step, commit) not found):"
        " metrics logged with wandb are not captured\n"
    )
    assert not (tmp_path / "run.metrics.jsonl").exists()


def test_the_hook_folder_is_what_the_agent_puts_on_pythonpath():
    # Every module in it becomes a top-level module of the program: keep it to these.
    assert os.path.isabs(HOOK)
    assert sorted(p.name for p in Path(HOOK).glob("*.py")) == [
        "__init__.py",
        "_hypersweep_wandb.py",
        "sitecustomize.py",
    ]


# ------------------------------------------------------------------ the capture, in process


@pytest.mark.parametrize(
    "calls, rows",
    [
        ([({"a": 1}, None, None), ({"a": 2}, None, None)], {0: {"a": 1}, 1: {"a": 2}}),
        ([({"a": 1}, None, False), ({"b": 2}, None, None)], {0: {"a": 1, "b": 2}}),
        (
            [({"a": 1}, 3, None), ({"b": 2}, 3, None), ({"c": 3}, 4, None)],
            {3: {"a": 1, "b": 2}},
        ),  # 4 still pending
        (
            [({"a": 1}, 3, True), ({"b": 2}, 3, None), ({"c": 3}, None, None)],
            {3: {"a": 1}, 4: {"c": 3}},
        ),
        (
            [({"a": 1}, 5, False), ({"b": 2}, 2, True), ({"c": 3}, None, True)],
            {5: {"a": 1, "c": 3}},
        ),
        ([({}, None, None), ({}, None, True), ({"a": 1}, None, None)], {2: {"a": 1}}),
    ],
)
def test_history_commits_rows_at_wandbs_steps(calls, rows):
    history = _hook_module().History()
    for values, step, commit in calls:
        history.log(values, step, commit, 0.0)
    assert {step: metrics for _t, step, metrics in history.records} == rows


def test_collect_keeps_numbers_and_flattens_nested_dicts():
    hook = _hook_module()
    values = {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "x",
        "e": [1],
        "f": {"g": 2, "h": {"i": 3.0}},
        "_step": 4,
        "_runtime": 5.0,
    }
    assert hook.collect(values, "", {}, False) == {"a": 1, "b": 0.5, "f.g": 2, "f.h.i": 3.0}
    assert hook.collect({"d": "x", "c": False}, "", {}, True) == {"d": "x"}


def test_capture_failures_never_reach_the_program_and_are_said_once(tmp_path, capsys):
    hook = _hook_module()
    capture = hook.Capture(str(tmp_path / "missing-dir" / "m.jsonl"), background=False)
    capture.log = lambda *args: 1 / 0  # a bug in the capture...
    log = hook._wrap_log(lambda self, data, step=None, commit=None: "wandb's result", capture)
    assert log(object(), {"a": 1}) == "wandb's result"  # ...and the program goes on
    assert log(object(), {"a": 2}, step=3) == "wandb's result"
    hook.Capture.log(capture, object(), {"a": 1}, None, None)  # the real one: a row
    capture.flush()  # the file cannot be written
    capture.flush()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("hypersweep: capturing a wandb log failed (ZeroDivisionError")
    assert lines[1].startswith("hypersweep: could not write wandb metrics to ")


def test_summary_restored_by_wandb_on_resume_is_not_pinned(tmp_path):
    hook = _hook_module()
    capture = hook.Capture(str(tmp_path / "m.jsonl"), background=False)
    update = hook._wrap_summary_update(lambda self, d: None, capture)
    restore = hook._wrap_restore(lambda self, run_obj: update(None, run_obj), capture)
    restore(None, {"loss": 0.1})  # wandb filling the summary of a resumed run
    update(None, {"best": 0.2})  # the program
    assert [(step, values) for _t, step, values in capture.history.records] == [
        (None, {"best": 0.2})
    ]


def test_encoded_lines_are_the_json_the_agent_reads():
    hook = _hook_module()
    records = [
        (1.5, 0, {"loss": 0.1, "n": 3, "big": 2**70}),
        (2.5, 1, {"loss": 0.2, "n": 4, "big": 1}),  # the same keys: the same template
        (3.5, 2, {'we"ird %s %%': 1.0, "é": -2.5e-300}),
        (4.5, 3, {"loss": float("nan"), "x": float("inf")}),
        (5.5, None, {"best": 0.5, "note": "fine"}),
    ]
    lines = [json.loads(hook.encode(record)) for record in records]
    for (t, step, metrics), line in zip(records[:3], lines, strict=False):
        assert line == {"t": t, "step": step, "metrics": metrics}
    assert math.isnan(lines[3]["metrics"]["loss"]) and lines[3]["metrics"]["x"] == math.inf
    assert lines[4] == {"t": 5.5, "summary": {"best": 0.5, "note": "fine"}}
    hook._templates.update({(str(i),): "" for i in range(hook.MAX_TEMPLATES)})
    assert json.loads(hook.encode((6.5, 4, {"new": 1.0}))) == {
        "t": 6.5,
        "step": 4,
        "metrics": {"new": 1.0},
    }


def test_an_int_past_floats_range_is_skipped_not_fatal_to_the_reader():
    line = _hook_module().encode((1.0, 0, {"huge": 10**400, "loss": 0.5}))
    assert rows_and_summary([json.loads(line)])[0] == [(0, "loss", 0.5, 1.0)]
