"""Store and controller contracts, in-process (both stores)."""

from __future__ import annotations

import threading

from hypersweep import controller
from hypersweep.config import parse_sweep_config
from hypersweep.store import schema as s

GRID = {
    "program": "train.py",
    "method": "grid",
    "metric": {"name": "score", "goal": "maximize"},
    "parameters": {"a": {"values": [1, 2, 3, 4]}, "b": {"values": ["x", "y", "z"]}},
}


def _sweep(store, config=GRID, **settings):
    parsed = parse_sweep_config(config)
    return store.create_sweep(
        config=parsed.raw,
        name="t",
        method=parsed.method,
        settings={**controller.DEFAULT_SETTINGS, **settings},
    )


def test_concurrent_claims_never_share_a_point(store):
    sweep_id = _sweep(store)
    claimed: list[dict] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            claim = controller.claim_next_run(store, sweep_id, name, "host")
            if claim.run is None:
                return
            with lock:
                claimed.append(claim.run)
            controller.record_run_end(store, claim.run["id"], s.FINISHED, exit_code=0)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    points = [tuple(sorted(r["params"].items())) for r in claimed]
    assert len(points) == 12 and len(set(points)) == 12
    assert store.get_sweep(sweep_id)["state"] == s.SWEEP_FINISHED


def test_crashed_point_is_retried_then_given_up(store):
    sweep_id = _sweep(store, {**GRID, "parameters": {"a": {"value": 1}}}, max_attempts=2)
    first = controller.claim_next_run(store, sweep_id, "w", "h").run
    controller.record_run_end(store, first["id"], s.CRASHED)
    second = controller.claim_next_run(store, sweep_id, "w", "h").run
    assert second["params"] == first["params"] and second["attempt"] == 2
    controller.record_run_end(store, second["id"], s.CRASHED)
    # Two attempts were allowed: the point is given up and the sweep is over.
    assert controller.claim_next_run(store, sweep_id, "w", "h").reason == s.SWEEP_FINISHED


def test_random_search_is_reproducible_with_a_seed(store):
    config = {
        **GRID,
        "method": "random",
        "run_cap": 5,
        "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}},
    }
    draws = []
    for _ in range(2):
        sweep_id = _sweep(store, config, seed=7)
        runs = []
        while (claim := controller.claim_next_run(store, sweep_id, "w", "h")).run:
            runs.append(claim.run["params"]["lr"])
            controller.record_run_end(store, claim.run["id"], s.FINISHED)
        draws.append(runs)
    assert len(draws[0]) == 5 and draws[0] == draws[1]


def test_pinned_summary_survives_later_logging(store):
    sweep_id = _sweep(store)
    run = controller.claim_next_run(store, sweep_id, "w", "h").run
    store.add_metrics(run["id"], [(0, "score", 0.5, 1.0)], {"score": 0.5}, {"score": 0.9})
    store.add_metrics(run["id"], [(1, "score", 0.4, 2.0)], {"score": 0.4})
    assert store.get_run(run["id"])["summary"] == {"score": 0.9}


def test_first_verdict_wins(store):
    sweep_id = _sweep(store)
    run = controller.claim_next_run(store, sweep_id, "w", "h").run
    assert controller.record_run_end(store, run["id"], s.KILLED)
    assert not controller.record_run_end(store, run["id"], s.FAILED, exit_code=-15)
    assert store.get_run(run["id"])["state"] == s.KILLED


def test_best_runs_rank_in_sql_skip_what_is_not_a_number_and_keep_the_earlier_tie(store):
    grid = {**GRID, "parameters": {"a": {"values": list(range(9))}}}
    sweep_id = _sweep(store, grid)
    outcomes = [  # (summary, final state) per run, in claim order
        ({"score": 0.5}, s.FINISHED),
        ({"score": 0.9}, s.FINISHED),
        ({"score": "high"}, s.FINISHED),  # a text summary is not ranked
        ({"other": 5.0}, s.FINISHED),  # nor a run that never logged the metric
        ({"score": None}, s.FINISHED),  # nor a non-finite value (stored as null)
        ({"score": 7.0}, s.FAILED),  # nor a failed run, however good
        ({"score": 0.9}, s.FINISHED),  # ties the second run: ranked after it
        ({"score": 0.7}, s.STOPPED_EARLY),  # stopped early: its value counts
        ({"score": 0.1}, s.FINISHED),
    ]
    ids = []
    for summary, state in outcomes:
        run = controller.claim_next_run(store, sweep_id, "w", "h").run
        store.add_metrics(run["id"], [], summary)
        controller.record_run_end(store, run["id"], state, exit_code=0)
        ids.append(run["id"])
    sweep = store.get_sweep(sweep_id)
    best = controller.best_runs(store, sweep, top=10)
    assert [r["id"] for r in best] == [ids[1], ids[6], ids[7], ids[0], ids[8]]
    assert best[0]["summary"] == {"score": 0.9} and best[0]["params"] == {"a": 1}
    minimize = {**grid, "metric": {"name": "score", "goal": "minimize"}}
    store.update_sweep(sweep_id, config=parse_sweep_config(minimize).raw)
    assert [r["id"] for r in controller.best_runs(store, store.get_sweep(sweep_id), 2)] == [
        ids[8],
        ids[0],
    ]
