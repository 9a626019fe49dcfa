"""Resource bounds on what a program writes: long lines, big logs, metric backlogs, values the
store cannot hold, and log paths outside the log root (issue 12, items 5, 6, 7 and 12)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import assert_one_line_error, hypersweep_cmd
from fastapi.testclient import TestClient

from hypersweep.agent.output import (
    MAX_PENDING_VALUES,
    MetricsFileReader,
    OutputCollector,
)
from hypersweep.agent.runlog import CappedLog
from hypersweep.server import create_app
from hypersweep.store import Store
from hypersweep.store import schema as s
from hypersweep.store.store import LOG_TAIL_BYTES

MB = 1024 * 1024

# First a line, then 100 MB without a newline, held for a second (an agent that kept the
# line whole would hold it then), then a metric line and 1.4 MB of lines past the cap.
BIG_OUTPUT = """
import sys, time
w = sys.stdout.buffer.write
w(b"first line\\n")
chunk = b"x" * (1 << 20)
for _ in range(100):
    w(chunk)
sys.stdout.buffer.flush()
time.sleep(1.0)
w(b"\\nloss=0.25\\n")
for i in range(40000):
    w(b"line %06d of the part past the cap\\n" % i)
w(b"last line\\n")
"""


def _agents(runner: subprocess.Popen) -> list[psutil.Process]:
    try:
        children = psutil.Process(runner.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "hypersweep.agent" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _run_and_sample(store_url: str, directory: Path, **env: str) -> tuple[int, str]:
    """`hypersweep run sweep.yaml` in `directory`, its agent's RSS sampled meanwhile: (the
    peak, what the command printed)."""
    out = directory / "run.out"
    with out.open("wb") as output:
        runner = subprocess.Popen(
            hypersweep_cmd("--store", store_url, "run", "sweep.yaml", "--jobs", "1", "--no-ui"),
            cwd=directory,
            env={**os.environ, **env, "COLUMNS": "200"},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        peak = 0
        deadline = time.monotonic() + 60
        while runner.poll() is None and time.monotonic() < deadline:
            for agent in _agents(runner):
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, agent.memory_info().rss)
            time.sleep(0.02)
        runner.wait(timeout=30)
    text = out.read_text(errors="replace")
    assert runner.returncode == 0, text
    return peak, text


def test_a_100mb_line_without_newline_keeps_the_agent_small_and_the_log_capped(
    tmp_path: Path,
) -> None:
    (tmp_path / "big.py").write_text(BIG_OUTPUT)
    (tmp_path / "sweep.yaml").write_text(
        "program: big.py\nmethod: grid\nparameters:\n  x: {values: [1]}\n"
    )
    store_url = f"sqlite:///{tmp_path / 'store' / 'hypersweep.db'}"
    peak, output = _run_and_sample(store_url, tmp_path, HYPERSWEEP_LOG_MAX_BYTES=str(MB))
    assert 0 < peak < 150 * MB, f"agent peak RSS {peak / MB:.0f} MB\n{output}"

    store = Store(store_url)
    [run] = store.list_runs()
    assert run["state"] == s.FINISHED and run["summary"] == {"loss": 0.25}
    log = Path(run["log_path"])
    data = log.read_bytes()
    assert len(data) <= MB  # capped: the start and the end kept, the middle cut
    text = data.decode()
    assert text.startswith("first line\n" + "x" * 65536 + " [… 104792064 bytes cut …]\n")
    assert "loss=0.25\n" in text
    assert "\n[… " in text and " bytes cut …]\nline " in text  # the cap's marker
    assert text.endswith("line 039999 of the part past the cap\nlast line\n")
    # The stored tail: the last lines, within its byte bound.
    assert len(run["log_tail"].encode()) <= LOG_TAIL_BYTES
    assert run["log_tail"].endswith("last line")

    shown = subprocess.run(
        hypersweep_cmd("--store", store_url, "logs", run["id"], "--max-bytes", "60"),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert shown.stdout == text[-60:]
    assert f"the last 60 of {len(data)} bytes" in shown.stderr
    whole = subprocess.run(
        hypersweep_cmd("--store", store_url, "logs", run["id"]),
        capture_output=True,
        cwd=tmp_path,
        check=True,
    )
    assert whole.stdout == data


FAST_LOGGER = """
import hypersweep
run = hypersweep.init()
for i in range(100_000):
    run.log({"loss": 1.0 / (i + 1), "acc": i * 1e-6})
run.finish()
"""


def test_a_backlog_of_200k_values_keeps_the_agent_small(tmp_path: Path) -> None:
    # The agent that read the whole backlog at once peaked near 280 MB here.
    (tmp_path / "fast.py").write_text(FAST_LOGGER)
    (tmp_path / "sweep.yaml").write_text(
        "program: fast.py\nmethod: grid\nparameters:\n  x: {values: [1]}\n"
    )
    store_url = f"sqlite:///{tmp_path / 'store' / 'hypersweep.db'}"
    peak, output = _run_and_sample(store_url, tmp_path)
    assert 0 < peak < 150 * MB, f"agent peak RSS {peak / MB:.0f} MB\n{output}"
    store = Store(store_url)
    [run] = store.list_runs()
    with store.read() as conn:
        assert len(store.metric_values(conn, run["id"], "loss")) == 100_000
        assert len(store.metric_values(conn, run["id"], "acc")) == 100_000


# One program, two modes: through the client, and as stdout metric lines.
UNSTORABLE = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--mode")
mode = parser.parse_args().mode
if mode == "client":
    import hypersweep
    run = hypersweep.init()
    run.log({"x": 10**400, "ok": 1.0}, step=0)
    run.log({"y": 2.0}, step=2**70)
    run.log({"k" * 2000: 1.0, "nul\\x00": 1.0, "fine": 3.0}, step=1)
    run.log({"ok": 2.0}, step=2)
    run.summary["best"] = 5.0
    run.finish()
else:
    print("step=1e30 z=1")
    print("step=inf z=1")
    print("z=2 step=5", flush=True)
"""


def test_values_and_steps_the_store_cannot_hold_are_dropped_with_one_note(
    cli, store: Store, tmp_path: Path
) -> None:
    (tmp_path / "odd.py").write_text(UNSTORABLE)
    (tmp_path / "sweep.yaml").write_text(
        "program: odd.py\nmethod: grid\nparameters:\n  mode: {values: [client, stdout]}\n"
    )
    cli("run", "sweep.yaml", "--jobs", "1")
    runs = {r["params"]["mode"]: r for r in store.list_runs()}
    assert len(store.list_runs()) == 2  # no retry: the agent never died
    for run in runs.values():
        assert run["state"] == s.FINISHED and run["attempt"] == 1
    client = runs["client"]
    assert client["summary"] == {"ok": 2.0, "fine": 3.0, "best": 5.0}
    with store.read() as conn:
        assert store.metric_values(conn, client["id"], "ok") == [1.0, 2.0]
        assert store.metric_values(conn, runs["stdout"]["id"], "z") == [2.0]
    notes = [
        line
        for line in Path(client["log_path"]).read_text().splitlines()
        if line.startswith("hypersweep: ")
    ]
    assert len(notes) == 3, notes  # one per kind: the value, the step, the names
    assert any("'x' at step 0" in n and "past a float's range" in n for n in notes), notes
    assert any("step 1180591620717411303424" in n for n in notes), notes
    assert any("2000 bytes long" in n for n in notes), notes
    stdout_log = Path(runs["stdout"]["log_path"]).read_text().splitlines()
    notes = [line for line in stdout_log if line.startswith("hypersweep: ")]
    assert len(notes) == 1 and "step=1e+30" in notes[0], stdout_log


# ---------------------------------------------------------------- log files are confined


def _run_with_log(store: Store, log_path: str | None, tail: str | None = None) -> str:
    with store.write() as conn:
        run = store.insert_run(conn, sweep_id=None, params={}, state=s.FINISHED, host="h")
    store.update_run(run["id"], log_path=log_path, log_tail=tail)
    return run["id"]


def test_only_logs_inside_the_log_root_are_served(
    store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "logs"
    (root / "sw").mkdir(parents=True)
    monkeypatch.setenv("HYPERSWEEP_LOG_DIR", str(root))
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret\n")
    inside = root / "sw" / "run.log"
    inside.write_text("hello from the run\n")
    (root / "sw" / "link.log").symlink_to(secret)
    (root / "sw" / "escape").symlink_to(tmp_path)
    ok = _run_with_log(store, str(inside))
    outside = [
        _run_with_log(store, "/etc/passwd", tail="kept tail\n"),
        _run_with_log(store, str(secret)),
        _run_with_log(store, str(root / "sw" / "link.log")),
        _run_with_log(store, str(root / "sw" / "escape" / "secret.txt")),
        _run_with_log(store, str(root / "sw" / ".." / ".." / "secret.txt")),
        _run_with_log(store, str(root / "sw")),  # a directory
    ]
    client = TestClient(create_app(store=store))
    served = client.get(f"/api/runs/{ok}/log").json()
    assert served["source"] == "file" and served["text"] == "hello from the run\n"
    for run_id in outside:
        doc = client.get(f"/api/runs/{run_id}/log").json()
        assert "secret" not in doc["text"] and "root:" not in doc["text"], doc
        assert doc["source"] in ("store", "none")
    assert client.get(f"/api/runs/{outside[0]}/log").json()["text"] == "kept tail\n"

    def logs(run_id: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            hypersweep_cmd("--store", store_url, "logs", run_id),
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    assert logs(ok).stdout == "hello from the run\n"
    for run_id in (outside[0], outside[2], outside[5]):  # a path, a symlink, a directory
        result = logs(run_id)
        assert "secret" not in result.stdout
        assert_one_line_error(result, run_id, "not shown")


# ---------------------------------------------------------------- the parts, directly


def test_capped_log_keeps_its_start_and_its_latest_part(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    log = CappedLog(path, 64 * 1024)
    written = 0
    for i in range(20_000):
        line = f"line {i:06d}\n".encode()
        log.write(line)
        written += len(line)
        assert path.stat().st_size <= 64 * 1024 + len(line)
    log.close()
    lines = path.read_text().splitlines()
    [marker] = [i for i, line in enumerate(lines) if line.startswith("[… ")]
    head, tail = lines[:marker], lines[marker + 1 :]
    assert head[0] == "line 000000" and tail[-1] == "line 019999"
    numbers = [int(line.split()[1]) for line in head + tail]
    assert numbers == list(range(len(head))) + list(range(20_000 - len(tail), 20_000))
    cut = int(lines[marker].split()[1])
    assert cut == written - 12 * (len(head) + len(tail))  # every line is 12 bytes
    assert len(head) * 12 <= 32 * 1024 and len(tail) * 12 >= 16 * 1024 - 12


def test_no_cap_when_the_variable_says_0(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HYPERSWEEP_LOG_MAX_BYTES", "0")
    read, write = os.pipe()
    with open(write, "wb") as w:
        w.write(b"a" * 100 + b"\n")
    with open(read, "rb") as r:
        collector = OutputCollector(r, tmp_path / "run.log")
        collector.join()
        collector.close()
    assert (tmp_path / "run.log").read_bytes() == b"a" * 100 + b"\n"


def test_long_lines_are_cut_and_secrets_at_the_cut_stay_masked(tmp_path: Path) -> None:
    secret = b"hunter2-very-secret"
    read, write = os.pipe()
    line = b"y" * (64 * 1024 - 5) + secret + b"z" * 1000 + b"\n"

    def feed() -> None:
        with open(write, "wb") as w:
            w.write(line + b"short secret " + secret + b"\nno newline at the end")

    feeder = threading.Thread(target=feed)
    feeder.start()
    with open(read, "rb") as r:
        collector = OutputCollector(r, tmp_path / "run.log", redact=[secret])
        collector.join()
        collector.close()
    feeder.join()
    data = (tmp_path / "run.log").read_bytes()
    assert b"hunter" not in data
    first, second, third = data.split(b"\n")
    assert first == b"y" * (64 * 1024 - 5) + " [… 1019 bytes cut …]".encode()
    assert second == b"short secret [secret]"
    assert third == b"no newline at the end"
    assert collector.tail().endswith("no newline at the end")


def test_stdout_metric_records_wait_in_a_bounded_backlog(tmp_path: Path) -> None:
    program = "for i in range(60000):\n    print(f'loss={i}')\n"
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE)
    collector = OutputCollector(proc.stdout, tmp_path / "run.log")  # type: ignore[arg-type]
    time.sleep(1.0)  # nobody takes: the reader fills the backlog, then waits (so does the program)
    assert proc.poll() is None
    taken = collector.take_records()
    assert MAX_PENDING_VALUES <= len(taken) <= MAX_PENDING_VALUES + 1
    while proc.poll() is None or collector.reading():
        taken += collector.take_records()
        time.sleep(0.01)
    taken += collector.take_records()
    collector.close()
    assert [r["metrics"]["loss"] for r in taken] == [float(i) for i in range(60000)]


def test_the_metrics_file_is_read_a_chunk_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"t": 1.0, "step": i, "metrics": {"loss": i}}) for i in range(1000)]
    lines.insert(500, json.dumps({"t": 1.0, "step": -1, "metrics": {"big": "x" * 5000}}))
    path.write_text("\n".join(lines) + "\n")
    warnings: list[tuple[str, str]] = []
    reader = MetricsFileReader(path, warn=lambda *w: warnings.append(w), chunk=4096)
    steps: list[int] = []
    calls = 0
    while True:
        records = reader.take_records()
        calls += 1
        assert sum(len(json.dumps(r)) + 1 for r in records) <= 4096
        steps += [r["step"] for r in records]
        if not records and not reader.more:
            break
    assert steps == list(range(1000)) and reader.used
    assert calls > 1000 * 50 // 4096
    assert [kind for kind, _ in warnings] == ["record"]


def test_the_stored_log_tail_is_bounded(store: Store) -> None:
    run_id = _run_with_log(store, None)
    with store.write() as conn:
        store.update_run(run_id, conn, state=s.RUNNING)
        store.end_run(conn, run_id, s.FAILED, log_tail="é" * 100_000 + "\nthe end")
    tail = store.get_run(run_id)["log_tail"]
    assert len(tail.encode()) <= LOG_TAIL_BYTES and tail.endswith("é\nthe end")
