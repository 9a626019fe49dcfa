"""`method: bayes` and `metric.target` through the real CLI and processes, both stores."""

from __future__ import annotations

import json

from conftest import write_sweep

BAYES = """
program: TOY
method: bayes
metric: {name: score, goal: maximize}
run_cap: 14
parameters:
  x: {min: 0.0, max: 5.0}
  y: {values: [0, 1, 2]}
"""


def test_bayes_sweep_runs_to_its_cap_with_distinct_points(cli, tmp_path):
    sweep_file = write_sweep(tmp_path, BAYES)
    cli("run", str(sweep_file), "--jobs", "3", "--seed", "3")
    sweep = json.loads(cli("sweeps", "--json").stdout)[0]
    assert sweep["state"] == "finished" and sweep["counts"] == {"finished": 14}
    runs = json.loads(cli("runs", sweep["id"], "--json").stdout)
    points = {(r["params"]["x"], r["params"]["y"]) for r in runs}
    assert len(points) == 14
    assert all(0.0 <= x <= 5.0 and y in (0, 1, 2) for x, y in points)
    # score = 10 x + y + 2 is best at x=5, y=2: the model must get close to it.
    best = json.loads(cli("best", sweep["id"], "--json").stdout)
    assert best["runs"][0]["value"] > 45
    # score = 10 x + y: x explains far more of it than y.
    assert best["importance"]["x"] > best["importance"]["y"]
    assert abs(sum(best["importance"].values()) - 1) < 1e-9
    assert "parameter importance" in cli("best", sweep["id"]).stdout


def test_target_stops_handing_out_points(cli, tmp_path):
    body = BAYES.replace("goal: maximize}", "goal: maximize, target: 20}").replace(
        "run_cap: 14", "run_cap: 40"
    )
    sweep_file = write_sweep(tmp_path, body)
    cli("run", str(sweep_file), "--jobs", "1", "--seed", "1")
    sweep = json.loads(cli("sweeps", "--json").stdout)[0]
    runs = json.loads(cli("runs", sweep["id"], "--json").stdout)
    assert sweep["state"] == "finished"
    assert len(runs) < 40
    # Only the last run reached the target: the sweep stopped right after it.
    reached = [r["summary"]["score"] >= 20 for r in runs]
    assert reached[-1] and not any(reached[:-1])
