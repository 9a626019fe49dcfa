"""The dashboard's JSON API on SQLite and PostgreSQL, over data written through the Store
(and one real sweep run by the CLI)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import write_sweep
from fastapi.testclient import TestClient

from hypersweep.server import create_app
from hypersweep.store import Store
from hypersweep.store import schema as s

XSS = "<img src=x onerror=alert(1)>"
CONFIG = {
    "program": "train.py",
    "method": "random",
    "metric": {"name": "score", "goal": "maximize"},
    "run_cap": 40,
    "parameters": {"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["adam", XSS]}},
}
ACTION = {"X-Requested-With": "hypersweep"}


def make_sweep(store: Store, n_runs: int = 12, steps: int = 100) -> tuple[str, list[str]]:
    """A random sweep: run i has x = i/10, score = x*10 logged over `steps` steps; run 0
    is failed (with the highest score: it must not count as best), run 1 still running."""
    sweep_id = store.create_sweep(
        config=CONFIG, name="demo <b>", method="random", settings={"seed": 1}
    )
    ids = []
    with store.write() as conn:
        for i in range(n_runs):
            state = s.FAILED if i == 0 else s.RUNNING if i == 1 else s.FINISHED
            run = store.insert_run(
                conn,
                sweep_id=sweep_id,
                point_index=i,
                params={"x": i / 10, "opt": XSS if i == 3 else "adam"},
                state=state,
                host="node-a",
                worker_id="w1",
                command=["python", "train.py", f"--x={i / 10}", "--opt=a b"],
                exit_code=None if state == s.RUNNING else (1 if i == 0 else 0),
                created_at=time.time() - 1000 + i,
                started_at=time.time() - 1000 + i,
                ended_at=None if state == s.RUNNING else time.time() - 500 + i,
            )
            ids.append(run["id"])
    for i, run_id in enumerate(ids):
        score = 1000.0 if i == 0 else i
        rows = [(st, "score", score * st / (steps - 1), 1.0) for st in range(steps)]
        rows.append((steps, "loss", None, 1.0))  # a non-finite value is stored as NULL
        store.add_metrics(run_id, rows, {"score": score})
    return sweep_id, ids


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store=store))


def test_sweeps_list_progress_and_best(store: Store, client: TestClient) -> None:
    sweep_id, _ids = make_sweep(store)
    [sweep] = client.get("/api/sweeps").json()
    assert sweep["id"] == sweep_id and sweep["name"] == "demo <b>"
    assert sweep["method"] == "random" and sweep["state"] == "running"
    assert sweep["progress"] == {
        "counts": {"failed": 1, "running": 1, "finished": 10},
        "total": 40,
        "done": 11,
        "running": 1,
    }
    assert sweep["best_value"] == 11.0  # the failed run's 1000 is not a result
    assert sweep["metric"] == {"name": "score", "goal": "maximize"}
    assert sweep["duration_s"] >= 0


def test_sweep_detail_best_so_far(store: Store, client: TestClient) -> None:
    sweep_id, ids = make_sweep(store)
    detail = client.get(f"/api/sweeps/{sweep_id}").json()
    assert detail["config"]["parameters"]["opt"]["values"][1] == XSS
    assert detail["metric_keys"] == ["score"]
    best = detail["best_so_far"]
    # Finished runs end in order 2..11 with scores 2..11: every one is an improvement.
    assert [p["value"] for p in best] == [float(i) for i in range(2, 12)]
    assert [p["n"] for p in best] == list(range(1, 11))
    assert best[-1]["run_id"] == ids[11]
    assert client.get("/api/sweeps/nope").status_code == 404


def test_best_so_far_minimize_keeps_only_improvements(store: Store) -> None:
    sweep_id = store.create_sweep(
        config={**CONFIG, "metric": {"name": "loss", "goal": "minimize"}},
        name="m",
        method="random",
        settings={},
    )
    losses = [5.0, 7.0, 3.0, 4.0, "text", 1.0]
    with store.write() as conn:
        for i, loss in enumerate(losses):
            store.insert_run(
                conn,
                sweep_id=sweep_id,
                params={"x": i},
                state=s.FINISHED,
                summary={"loss": loss},
                ended_at=100.0 + i,
            )
    points = store.best_so_far(sweep_id, "loss", "minimize")
    assert [(p["n"], p["value"]) for p in points] == [(1, 5.0), (3, 3.0), (6, 1.0)]
    assert store.sweep_best_value(sweep_id, "loss", "minimize") == 1.0


def test_runs_paging_filter_search_sort(store: Store, client: TestClient) -> None:
    sweep_id, ids = make_sweep(store)
    url = f"/api/sweeps/{sweep_id}/runs"
    first = client.get(url, params={"limit": 5}).json()
    second = client.get(url, params={"limit": 5, "offset": 5}).json()
    assert first["total"] == 12 and len(first["runs"]) == 5
    assert [r["id"] for r in first["runs"] + second["runs"]] == ids[:10]

    failed = client.get(url, params={"state": "failed,running"}).json()
    assert {r["id"] for r in failed["runs"]} == {ids[0], ids[1]} and failed["total"] == 2

    found = client.get(url, params={"q": "onerror"}).json()
    assert [r["id"] for r in found["runs"]] == [ids[3]]
    assert found["runs"][0]["params"]["opt"] == XSS
    assert client.get(url, params={"q": ids[7]}).json()["runs"][0]["id"] == ids[7]
    assert client.get(url, params={"q": "100%_"}).json()["total"] == 0  # wildcards are text

    by_score = client.get(url, params={"sort": "-summary:score", "limit": 3}).json()["runs"]
    assert [r["summary"]["score"] for r in by_score] == [1000.0, 11.0, 10.0]
    by_x = client.get(url, params={"sort": "params:x", "limit": 2}).json()["runs"]
    assert [r["params"]["x"] for r in by_x] == [0.0, 0.1]
    by_opt = client.get(url, params={"sort": "-params:opt", "limit": 1}).json()["runs"]
    assert by_opt[0]["params"]["opt"] == "adam"  # "<img" sorts before "adam" in ASCII

    bad_sort = client.get(url, params={"sort": "nonsense"})
    assert bad_sort.status_code == 422 and "sort 'nonsense'" in bad_sort.json()["detail"]
    bad_state = client.get(url, params={"state": "zombie"})
    assert bad_state.status_code == 422 and "zombie" in bad_state.json()["detail"]
    assert client.get(url, params={"limit": 100000}).status_code == 422


def test_out_of_range_query_values_are_422(store: Store) -> None:
    """Every number a route takes is bounded: huge, negative or non-integer values are the
    caller's mistake (422), never a database overflow (500); so are values PostgreSQL cannot
    hold (a NUL character)."""
    sweep_id, ids = make_sweep(store, n_runs=3, steps=5)
    client = TestClient(create_app(store=store), raise_server_exceptions=False)
    huge = "99999999999999999999"
    runs, run = f"/api/sweeps/{sweep_id}/runs", f"/api/runs/{ids[0]}"
    curves = f"/api/sweeps/{sweep_id}/curves?key=score&"
    for path in (
        f"{runs}?offset={huge}",
        f"{runs}?offset=-1",
        f"{runs}?offset=1e3",
        f"{runs}?limit={huge}",
        f"{runs}?limit=0",
        f"{runs}?sort=summary:{'k' * 1000}",
        f"{curves}budget={huge}",
        f"{curves}max_points=-1",
        f"/api/sweeps/{sweep_id}/curves?key={'k' * 1000}",
        f"/api/sweeps/{sweep_id}/parallel?limit={huge}",
        f"/api/sweeps/{sweep_id}/parallel?limit=-3",
        f"{run}/metrics?max_points={huge}",
        f"{run}/log?max_bytes={huge}",
        f"{run}/log?max_bytes=-1",
    ):
        answer = client.get(path)
        assert answer.status_code == 422, (path, answer.status_code, answer.text)
    # SQLite takes a NUL character; PostgreSQL refuses it, which is the request's fault.
    for path in (f"{runs}?q=%00", f"{curves[:-1]}%00", "/api/sweeps/%00", f"{run}%00/metrics"):
        assert client.get(path).status_code in (200, 404, 422), path
    page = client.get(runs, params={"offset": 2**31 - 1}).json()  # the largest offset
    assert page["total"] == 3 and page["runs"] == []


def test_run_detail_and_downsampled_metrics(store: Store, client: TestClient) -> None:
    _sweep_id, ids = make_sweep(store, steps=100)
    run = client.get(f"/api/runs/{ids[0]}").json()
    assert run["exit_code"] == 1 and run["state"] == "failed"
    assert run["command_line"] == "python train.py --x=0.0 '--opt=a b'"
    assert run["host"] == "node-a" and run["worker_id"] == "w1"
    assert run["metric_keys"] == ["loss", "score"]
    assert run["metric"]["name"] == "score"

    metrics = client.get(f"/api/runs/{ids[5]}/metrics", params={"max_points": 10}).json()
    series = {sr["key"]: sr for sr in metrics["series"]}
    score = series["score"]
    assert 10 <= len(score["steps"]) <= 11
    assert score["steps"][0] == 0 and score["steps"][-1] == 99  # the ends are kept
    assert score["steps"] == sorted(score["steps"])
    assert score["values"][-1] == pytest.approx(5.0)
    assert series["loss"]["values"] == [None]  # non-finite values come back as null
    full = client.get(f"/api/runs/{ids[5]}/metrics", params={"max_points": 1000}).json()
    assert len({sr["key"]: sr for sr in full["series"]}["score"]["steps"]) == 100
    assert client.get("/api/runs/nope/metrics").status_code == 404


def test_sweep_curves_fit_a_point_budget(store: Store, client: TestClient) -> None:
    sweep_id, ids = make_sweep(store, n_runs=12, steps=100)
    curves = client.get(
        f"/api/sweeps/{sweep_id}/curves", params={"key": "score", "budget": 120}
    ).json()
    assert curves["points_per_run"] == 10
    assert {c["run_id"] for c in curves["runs"]} == set(ids)
    assert all(len(c["steps"]) <= 11 and c["steps"][-1] == 99 for c in curves["runs"])
    assert sum(len(c["steps"]) for c in curves["runs"]) <= 12 * 11
    states = {c["run_id"]: c["state"] for c in curves["runs"]}
    assert states[ids[0]] == "failed" and states[ids[2]] == "finished"


def test_parallel_and_importance(store: Store, client: TestClient) -> None:
    sweep_id, ids = make_sweep(store)
    data = client.get(f"/api/sweeps/{sweep_id}/parallel").json()
    assert data["params"] == ["x", "opt"]
    assert len(data["runs"]) == 12
    values = {r["id"]: r["value"] for r in data["runs"]}
    assert values[ids[4]] == 4.0
    imp = client.get(f"/api/sweeps/{sweep_id}/importance").json()
    assert imp == {"available": False, "reason": "computed for bayes sweeps only", "shares": {}}


def test_log_tail_from_file_then_store(
    store: Store, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sweep_id, ids = make_sweep(store, n_runs=3)
    monkeypatch.setenv("HYPERSWEEP_LOG_DIR", str(tmp_path))  # only logs in there are served
    log = tmp_path / "run.log"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    store.update_run(ids[2], log_path=str(log))
    tail = client.get(f"/api/runs/{ids[2]}/log", params={"max_bytes": 20}).json()
    assert tail["source"] == "file" and tail["truncated"] is True
    assert tail["text"].endswith("line 999\n") and len(tail["text"]) == 20
    assert tail["size"] == log.stat().st_size
    log.unlink()  # the file lives on another machine: the tail kept in the store is used
    store.update_run(ids[2], log_tail="last words\n")
    kept = client.get(f"/api/runs/{ids[2]}/log").json()
    assert kept["source"] == "store" and kept["text"] == "last words\n"
    assert client.get(f"/api/runs/{ids[1]}/log").json()["source"] == "none"


def test_actions(store: Store, client: TestClient) -> None:
    sweep_id, ids = make_sweep(store, n_runs=3)
    # Without the header a cross-site form could do this: refused.
    assert client.post(f"/api/runs/{ids[1]}/stop").status_code == 403
    assert store.get_run(ids[1])["stop_requested"] is False

    stopped = client.post(f"/api/runs/{ids[1]}/stop", headers=ACTION)
    assert stopped.status_code == 200, stopped.text
    assert store.get_run(ids[1])["stop_requested"] is True
    refused = client.post(f"/api/runs/{ids[2]}/stop", headers=ACTION)
    assert refused.status_code == 409 and "finished" in refused.json()["detail"]

    assert client.post(f"/api/sweeps/{sweep_id}/pause", headers=ACTION).json()["state"] == "paused"
    assert store.get_sweep(sweep_id)["state"] == "paused"
    assert client.post(f"/api/sweeps/{sweep_id}/pause", headers=ACTION).status_code == 409
    resumed = client.post(f"/api/sweeps/{sweep_id}/resume", headers=ACTION).json()
    assert resumed["state"] == "running" and "no worker is alive" in resumed["message"]
    cancelled = client.post(f"/api/sweeps/{sweep_id}/cancel", headers=ACTION).json()
    assert cancelled["state"] == "cancelled"
    assert store.get_sweep(sweep_id)["state"] == "cancelled"
    assert client.post("/api/sweeps/nope/cancel", headers=ACTION).status_code == 404


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/sweeps",
        "/api/sweeps/{sweep_id}",
        "/api/sweeps/{sweep_id}/runs",
        "/api/sweeps/{sweep_id}/curves",
        "/api/runs/{run_id}/metrics",
        "/api/runs/{run_id}/log",
        "/api/runs/{run_id}/stop",
        "/api/sweeps/{sweep_id}/pause",
    ):
        assert path in paths, path
    assert "RunsPage" in schema["components"]["schemas"]
    assert "/" not in paths  # pages are not API


def test_real_sweep_through_the_cli(cli, store_url: str, tmp_path: Path) -> None:
    sweep_file = write_sweep(
        tmp_path,
        "program: TOY\nmethod: grid\nmetric: {name: score, goal: maximize}\n"
        "parameters:\n  x: {values: [1, 2, 3]}\n  y: {value: 0.5}\n",
    )
    cli("run", str(sweep_file), "--jobs", "2", "--no-ui")
    store = Store(store_url)
    try:
        client = TestClient(create_app(store=store))
        [sweep] = client.get("/api/sweeps").json()
        assert sweep["state"] == "finished" and sweep["progress"]["counts"] == {"finished": 3}
        assert sweep["best_value"] == pytest.approx(32.5)  # x=3: 3*10 + 0.5 + 2 (last step)
        page = client.get(f"/api/sweeps/{sweep['id']}/runs", params={"sort": "-params:x"}).json()
        top = page["runs"][0]
        assert top["params"]["x"] == 3 and top["exit_code"] == 0
        log = client.get(f"/api/runs/{top['id']}/log").json()
        assert "toy: done" in log["text"] and log["source"] == "file"
        metrics = client.get(f"/api/runs/{top['id']}/metrics").json()
        score = {sr["key"]: sr for sr in metrics["series"]}["score"]
        assert score["values"] == [30.5, 31.5, 32.5]
        detail = client.get(f"/api/runs/{top['id']}").json()
        assert "--x=3" in detail["command_line"]
        assert json.loads(json.dumps(detail["params"])) == {"x": 3, "y": 0.5}
    finally:
        store.close()
