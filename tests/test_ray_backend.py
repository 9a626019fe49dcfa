"""Workers on a Ray cluster (a local head started here) with the store on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import (
    LONG_RUNS_GRID,
    hypersweep_cmd,
    running_programs,
    start_hypersweep,
    wait_for,
    wait_for_sweep,
    write_sweep,
)

from hypersweep.store import Store

pytest.importorskip("ray", reason="the Ray backend needs the `ray` extra: pip install -e '.[ray]'")

RAY = str(Path(sys.executable).with_name("ray"))
# Ray workers on other nodes need a shared store: these tests use the PostgreSQL one.
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgres"], indirect=True),
]

GRID_24 = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [0, 1, 2, 3, 4, 5]}
  y: {values: [0.0, 0.25, 0.5, 0.75]}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every toy program started by the head's workers drops its pid here."""
    return tmp_path_factory.mktemp("pids")


@pytest.fixture(scope="module")
def ray_head(pid_dir: Path) -> Iterator[str]:
    """A one-node Ray cluster on fixed free ports, run in the foreground (--block) so that
    the processes it starts are ours to stop afterwards."""
    port = _free_port()
    # A token file left by another Ray (~/.ray/auth_token) would turn on token auth for
    # this head only half-way; a throwaway local head needs none.
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    head = subprocess.Popen(
        [
            RAY,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            f"--ray-client-server-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
            "--num-cpus=4",
            # Ray hands out GPUs it is told of, real or not: enough to check the packing
            # and the CUDA_VISIBLE_DEVICES it sets, on a machine without one.
            "--num-gpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env={**os.environ, "TOY_PID_DIR": str(pid_dir), "RAY_USAGE_STATS_ENABLED": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        wait_for(lambda: _ray_ready(address), timeout=120, what="the Ray head")
        yield address
    finally:
        started = psutil.Process(head.pid).children(recursive=True)
        head.send_signal(signal.SIGTERM)  # --block: ray stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        for proc in started:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _ray_ready(address: str) -> bool:
    status = subprocess.run(
        [RAY, "status", f"--address={address}"], capture_output=True, text=True, timeout=60
    )
    return status.returncode == 0


@pytest.fixture
def pg_url(store_url: str) -> str:
    return store_url


def _run(
    store_url: str, ray_head: str, *args: str, cwd: Path, **popen: object
) -> subprocess.Popen[str]:
    """`run --backend ray` on the head; CPU-only workers unless `args` ask for GPUs."""
    gpus = [] if "--gpus-per-job" in args else ["--gpus-per-job", "0"]
    ray = ["--backend", "ray", "--ray-address", ray_head]
    return start_hypersweep(store_url, "run", *args, *gpus, *ray, cwd=cwd, **popen)


def _ray_agent_tasks() -> list[psutil.Process]:
    """Ray workers now executing a hypersweep agent task (Ray names them after the task)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "ray::hypersweep-agent" in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _live(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            continue
    return alive


def _program_pids(pid_dir: Path, run_ids: set[str]) -> list[int]:
    return [int(f.stem) for f in pid_dir.glob("*.pid") if f.read_text() in run_ids]


def test_grid_24_with_4_ray_workers_runs_each_point_once_and_records_nodes(
    pg_url, ray_head, tmp_path
):
    sweep_file = write_sweep(tmp_path, GRID_24)
    runner = _run(pg_url, ray_head, str(sweep_file), "--jobs", "4", "--no-ui", cwd=tmp_path)
    out, _ = runner.communicate(timeout=240)
    assert runner.returncode == 0, out
    assert "4 Ray workers (1 CPU each)" in out and "#1 run" in out
    store = Store(pg_url)
    sweep = store.list_sweeps()[0]
    assert sweep["state"] == "finished"
    runs = store.list_runs(sweep["id"])
    assert len(runs) == 24 and {r["state"] for r in runs} == {"finished"}
    assert len({(r["params"]["x"], r["params"]["y"]) for r in runs}) == 24
    assert all(r["summary"]["score"] == r["params"]["x"] * 10 + r["params"]["y"] + 2 for r in runs)
    workers = {w["id"]: w for w in store.list_workers(sweep["id"], running_only=False)}
    assert len(workers) == 4
    for run in runs:
        worker = workers[run["worker_id"]]
        assert worker["backend"] == "ray"
        assert re.fullmatch(r"[0-9a-f]{56}", worker["node"]), worker["node"]
        assert run["host"] == worker["host"] == socket.gethostname()
    assert not _ray_agent_tasks()


def test_kill_stops_ray_workers_and_programs_and_keeps_results(pg_url, ray_head, pid_dir, tmp_path):
    sweep_file = write_sweep(tmp_path, LONG_RUNS_GRID)
    runner = _run(pg_url, ray_head, str(sweep_file), "--jobs", "3", "--no-ui", cwd=tmp_path)
    store = Store(pg_url)
    sweep_id = wait_for_sweep(store)
    wait_for(
        lambda: (
            store.run_counts(sweep_id).get(sweep_id, {}).get("finished", 0) >= 1
            and len(running_programs(store, sweep_id)) == 3
        ),
        timeout=120,
        what="one finished run and three running",
    )
    ps = json.loads(
        subprocess.run(
            hypersweep_cmd("--store", pg_url, "ps", sweep_id, "--json"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert len(ps["workers"]) == 3 and all(w["node"] for w in ps["workers"])
    assert len(ps["runs"]) == 3 and all(r["node"] for r in ps["runs"])
    run_ids = {r["id"] for r in store.list_runs(sweep_id)}
    programs = _program_pids(pid_dir, run_ids)
    assert _live(programs) and len(_ray_agent_tasks()) == 3
    killed = subprocess.run(
        hypersweep_cmd("--store", pg_url, "kill", sweep_id), capture_output=True, text=True
    )
    assert killed.returncode == 0 and "cancelled" in killed.stdout, killed.stderr
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 1 and "was cancelled" in out, out
    # The toy's grandchildren (child: true) sleep in the program's process group: gone too.
    wait_for(lambda: not _live(programs), timeout=30, what="no program left")
    grandchildren = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(600)" in " ".join(p.info["cmdline"] or [])
        and p.info["cmdline"][0] == sys.executable
    ]
    assert not _live([p.pid for p in grandchildren])
    wait_for(lambda: not _ray_agent_tasks(), timeout=30, what="no Ray agent task left")
    sweep = store.get_sweep(sweep_id)
    assert sweep["state"] == "cancelled"
    runs = store.list_runs(sweep_id)
    assert {r["state"] for r in runs} <= {"finished", "killed"}
    finished = [r for r in runs if r["state"] == "finished"]
    assert finished and all("score" in r["summary"] for r in finished)
    assert not store.list_workers(sweep_id)


def test_ctrl_c_stops_ray_workers_in_order_and_resume_on_ray_finishes(
    pg_url, ray_head, pid_dir, tmp_path
):
    release = tmp_path / "release"
    sweep_file = write_sweep(
        tmp_path,
        f"""
program: TOY
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: [1, 2, 3, 4, 5]}}
  sleep: {{value: 120}}
  release: {{value: '{release}'}}
""",
    )
    runner = _run(
        pg_url, ray_head, str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    store = Store(pg_url)
    sweep_id = wait_for_sweep(store)
    wait_for(
        lambda: len(running_programs(store, sweep_id)) == 2,
        timeout=120,
        what="two programs running",
    )
    programs = _program_pids(pid_dir, {r["id"] for r in store.list_runs(sweep_id)})
    os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 130, out
    # The hint repeats the store and the worker flags: it is run as printed, below.
    [hint] = [line for line in out.splitlines() if line.startswith("interrupted; resume with: ")]
    hint_args = shlex.split(hint.removeprefix("interrupted; resume with: hypersweep "))
    assert hint_args[:2] == ["--store", pg_url], hint
    flags = f"resume {sweep_id} --jobs 2 --backend ray --ray-address {ray_head} --gpus-per-job 0"
    assert hint_args[2:] == flags.split(), hint
    # Stopped in order: each agent recorded its run killed (not crashed by the launcher)
    # and left; no program and no agent task is left behind.
    assert [r["state"] for r in store.list_runs(sweep_id)] == ["killed", "killed"]
    assert not store.list_workers(sweep_id)
    wait_for(lambda: not _live(programs), timeout=30, what="no program left")
    wait_for(lambda: not _ray_agent_tasks(), timeout=30, what="no Ray agent task left")

    release.touch()
    resumed = subprocess.run(
        hypersweep_cmd(*hint_args, "--no-ui"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Ray workers" in resumed.stdout
    runs = store.list_runs(sweep_id)
    finished = [r for r in runs if r["state"] == "finished"]
    assert sorted(r["params"]["x"] for r in finished) == [1, 2, 3, 4, 5]  # each point once
    assert store.get_sweep(sweep_id)["state"] == "finished"


def test_hand_started_agents_and_ray_workers_share_a_sweep_exactly_once(pg_url, ray_head, tmp_path):
    sweep_file = write_sweep(tmp_path, GRID_24 + "  sleep: {value: 0.5}\n", name="sweep.yaml")
    runner = _run(pg_url, ray_head, str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path)
    store = Store(pg_url)
    sweep_id = wait_for_sweep(store)
    agents = [
        subprocess.Popen(
            hypersweep_cmd("--store", pg_url, "agent", sweep_id),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        for agent in agents:
            assert agent.wait(240) == 0
        out, _ = runner.communicate(timeout=240)
    finally:
        for proc in (*agents, runner):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert runner.returncode == 0, out
    runs = store.list_runs(sweep_id)
    assert len(runs) == 24 and {r["state"] for r in runs} == {"finished"}
    assert len({(r["params"]["x"], r["params"]["y"]) for r in runs}) == 24
    workers = {w["id"]: w for w in store.list_workers(sweep_id, running_only=False)}
    backends = {workers[r["worker_id"]]["backend"] for r in runs}
    assert backends == {"local", "ray"}  # both kinds of worker took part


def test_a_ray_worker_that_dies_has_its_run_crashed_and_replaced(pg_url, ray_head, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4]}
  sleep: {value: 2}
""",
    )
    runner = _run(pg_url, ray_head, str(sweep_file), "--jobs", "2", "--no-ui", cwd=tmp_path)
    store = Store(pg_url)
    sweep_id = wait_for_sweep(store)
    first = wait_for(
        lambda: running_programs(store, sweep_id),
        timeout=120,
        what="a running run",
    )[0]
    # Imitate a lost node: SIGKILL the Ray worker process hosting that run's agent.
    agent_pid = next(
        w["pid"] for w in store.list_workers(sweep_id) if w["id"] == first["worker_id"]
    )
    psutil.Process(agent_pid).parent().kill()
    out, _ = runner.communicate(timeout=240)
    assert runner.returncode == 0, out
    assert f"Ray worker {first['worker_id']} died" in out and "replaced" in out
    lost = store.get_run(first["id"])
    # The agent may record it (killed) before it goes.
    assert lost["state"] in ("killed", "crashed"), lost["message"]
    runs = store.list_runs(sweep_id)
    assert {r["params"]["x"] for r in runs if r["state"] == "finished"} == {1, 2, 3, 4}
    assert store.get_sweep(sweep_id)["state"] == "finished"
    assert not _live([first["pid"]])


def test_ray_errors_are_one_line_and_leave_no_sweep(pg_url, ray_head, tmp_path):
    sweep_file = write_sweep(tmp_path, GRID_24)
    runner = _run(pg_url, ray_head, str(sweep_file), "--gpus-per-job", "2", cwd=tmp_path)
    out, _ = runner.communicate(timeout=120)
    assert runner.returncode == 1
    assert "each worker asks for 2 GPUs but the Ray cluster has 1" in out
    assert "Traceback" not in out
    assert not Store(pg_url).list_sweeps()
    # Nothing listening there: said at once (ray.init alone would retry for ever).
    nowhere = f"127.0.0.1:{_free_port()}"
    runner = _run(pg_url, nowhere, str(sweep_file), cwd=tmp_path)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 1
    assert out.strip() == (
        f"error: cannot reach the Ray cluster at {nowhere} (Connection refused): "
        "is it running? (`ray status --address ADDRESS` checks)"
    )
    assert not Store(pg_url).list_sweeps()
    # Without Ray installed: how to install it, nothing else.
    fake = tmp_path / "no_ray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    result = subprocess.run(
        hypersweep_cmd("--store", pg_url, "run", str(sweep_file), "--backend", "ray"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(fake), "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: --backend ray needs Ray: pip install 'hypersweep[ray]' (or 'ray[default]')"
    )
    local = subprocess.run(
        hypersweep_cmd("--store", pg_url, "run", str(sweep_file), "--gpus-per-job", "0.5"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert local.returncode == 1 and "fractions need --backend ray" in local.stderr


def test_fractional_gpus_pack_two_workers_on_one_gpu(pg_url, ray_head, tmp_path):
    sweep_file = write_sweep(
        tmp_path,
        """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 2, 3, 4]}
  sleep: {value: 1}
""",
    )
    runner = _run(
        pg_url, ray_head, str(sweep_file), "--jobs", "2", "--gpus-per-job", "0.5", cwd=tmp_path
    )
    store = Store(pg_url)
    sweep_id = wait_for_sweep(store)
    # Both halves of the one GPU in use at once.
    wait_for(lambda: len(store.list_runs(sweep_id, ["running"])) == 2, timeout=120, what="two runs")
    out, _ = runner.communicate(timeout=240)
    assert runner.returncode == 0, out
    assert "2 Ray workers (1 CPU + 0.5 GPU each)" in out
    workers = store.list_workers(sweep_id, running_only=False)
    assert len(workers) == 2 and {w["gpu_ids"] for w in workers} == {"0"}
    runs = store.list_runs(sweep_id)
    assert len(runs) == 4 and {r["gpu_ids"] for r in runs} == {"0"}
