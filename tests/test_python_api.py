"""The Python API's results side: sweeps run through the real CLI, then read from Python
(`hypersweep.sweep`, `hypersweep.Api`, data frames), on SQLite and PostgreSQL; sweeps
created from dicts; `runs/best --csv`; `import hypersweep` staying light."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import assert_one_line_error, write_sweep

import hypersweep
from hypersweep.config import ConfigError
from hypersweep.store import NotFound

# x=2 fails (exit 3), so the sweep has finished and failed runs; the toy logs score and loss
# at steps 0, 1, 2 through the client: score = 10 x + y + step.
GRID = """
program: TOY
method: grid
metric: {name: score, goal: maximize}
parameters:
  x: {values: [1, 3, 2]}
  y: {value: 0.5}
  fail_on: {value: 2}
"""


@pytest.fixture
def ran_sweep(cli, tmp_path) -> str:
    """The id of GRID, run to its end by `hypersweep run`."""
    cli("run", str(write_sweep(tmp_path, GRID)), "--jobs", "2")
    return json.loads(cli("sweeps", "--json").stdout)[0]["id"]


def test_results_of_a_cli_sweep(ran_sweep, store_url):
    sweep = hypersweep.sweep(id=ran_sweep, store=store_url)
    assert sweep.id == ran_sweep and sweep.state == "finished"
    assert sweep.config["parameters"]["x"] == {"values": [1, 3, 2]}
    assert sweep.metric == {"name": "score", "goal": "maximize"}

    best = sweep.best()
    assert best is not None and best.params["x"] == 3 and best.summary["score"] == 32.5
    top = sweep.best(5)
    assert [r.params["x"] for r in top] == [3, 1]  # the failed run is not ranked

    runs = sweep.runs()
    assert len(runs) == 3 and {r.state for r in runs} == {"finished", "failed"}
    finished = sweep.runs(state="finished")
    assert sorted(r.params["x"] for r in finished) == [1, 3]
    assert [r.params["x"] for r in sweep.runs(state=["failed"])] == [2]
    assert isinstance(runs[:2], hypersweep.api.RunList) and len(runs[:2]) == 2
    with pytest.raises(ValueError, match="must be one of"):
        sweep.runs(state="done")

    frame = finished.to_pandas()
    assert list(frame.columns[:3]) == ["id", "sweep_id", "state"]
    assert {"params.x", "params.y", "params.fail_on", "summary.score", "summary.loss"} <= set(
        frame.columns
    )
    assert list(frame["id"]) == finished.ids
    assert pd.api.types.is_numeric_dtype(frame["params.x"])
    assert frame["summary.score"].dtype == "float64"
    assert str(frame["started_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["runtime"].dtype == "float64" and (frame["runtime"] >= 0).all()
    assert (frame["summary.score"] == frame["params.x"] * 10 + 0.5 + 2).all()
    assert frame["exit_code"].tolist() == [0, 0]

    history = best.history()
    assert list(history.columns) == ["step", "key", "value", "time"]
    scores = history[history["key"] == "score"]
    assert scores["step"].tolist() == [0, 1, 2]
    assert scores["value"].tolist() == [30.5, 31.5, 32.5]
    assert str(history["time"].dtype) == "datetime64[ns, UTC]"
    assert best.history("loss")["key"].unique().tolist() == ["loss"]
    wide = best.history(wide=True)
    assert list(wide.columns) == ["loss", "score"] and wide.index.tolist() == [0, 1, 2]
    assert wide["score"].tolist() == [30.5, 31.5, 32.5]
    assert best.history_records("score")[0]["value"] == 30.5


def test_api_lists_sweeps_and_runs(ran_sweep, store_url):
    with hypersweep.Api(store=store_url) as api:
        assert [s.id for s in api.sweeps()] == [ran_sweep]
        assert api.sweeps(state="running") == []
        assert api.sweep(ran_sweep).best().params["x"] == 3
        assert len(api.runs(ran_sweep)) == 3
        assert len(api.runs()) == 3
        failed = api.runs(ran_sweep, state="failed")
        assert len(failed) == 1 and failed[0].exit_code == 3
        assert api.run(failed[0].id).params["x"] == 2
        with pytest.raises(NotFound):
            api.sweep("nosuchid")
        with pytest.raises(NotFound):
            api.runs("nosuchid")


def test_runs_and_best_csv(ran_sweep, cli, store_url):
    rows = list(csv.DictReader(io.StringIO(cli("runs", ran_sweep, "--csv").stdout)))
    assert len(rows) == 3
    assert {"id", "state", "params.x", "summary.score", "started_at"} <= set(rows[0])
    by_x = {float(r["params.x"]): r for r in rows}
    assert by_x[2]["state"] == "failed" and by_x[2]["exit_code"] == "3"
    assert float(by_x[3]["summary.score"]) == 32.5

    # Same columns as the frame of the same runs.
    frame = hypersweep.sweep(id=ran_sweep, store=store_url).runs().to_pandas()
    assert list(rows[0]) == list(frame.columns)

    best = list(csv.DictReader(io.StringIO(cli("best", ran_sweep, "--csv", "--top", "5").stdout)))
    assert [(r["rank"], float(r["params.x"])) for r in best] == [("1", 3), ("2", 1)]
    one = list(csv.DictReader(io.StringIO(cli("best", ran_sweep, "--csv").stdout)))
    assert len(one) == 1 and float(one[0]["summary.score"]) == 32.5

    both = cli("runs", ran_sweep, "--csv", "--json", check=False)
    assert_one_line_error(both, "--json and --csv")


DICT_SWEEP = {
    "method": "grid",
    "metric": {"name": "score", "goal": "minimize"},
    "parameters": {"x": {"values": [4, 5]}, "y": {"value": 0.25}},
}


def test_dict_sweep_runs_through_the_cli_agent(store_url, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from conftest import PROGRAMS

    sweep = hypersweep.sweep({**DICT_SWEEP, "program": str(PROGRAMS / "toy.py")}, store=store_url)
    assert sweep.state == "running" and sweep.config["parameters"]["x"] == {"values": [4, 5]}
    assert sweep.row["workdir"] == str(tmp_path) and sweep.row["source"] is None
    assert sweep.best() is None and len(sweep.runs()) == 0
    assert list(sweep.runs().to_pandas().columns[:3]) == ["id", "sweep_id", "state"]
    cli("agent", sweep.id)
    assert sweep.state == "finished"
    assert sweep.best().params == {"x": 4, "y": 0.25}  # minimize
    assert [r.params["x"] for r in sweep.best(2)] == [4, 5]


def test_dict_sweeps_validate_like_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'other.db'}"
    # No program: a function agent's sweep; created all the same.
    sweep = hypersweep.sweep(DICT_SWEEP, store=url)
    assert sweep.name == "sweep" and sweep.method == "grid"
    with pytest.raises(ConfigError, match=r"<dict>.*parameters\.x"):
        hypersweep.sweep({"method": "grid", "parameters": {"x": {"values": "nope"}}}, store=url)
    with pytest.raises(ConfigError, match="<dict>.*method"):
        hypersweep.sweep({"parameters": {"x": {"value": 1}}}, store=url)
    with pytest.raises(ConfigError, match="<dict>.*program"):
        hypersweep.sweep({**DICT_SWEEP, "program": "missing.py"}, store=url)
    with pytest.raises(TypeError):
        hypersweep.sweep(DICT_SWEEP, id=sweep.id, store=url)
    # A file and HYPERSWEEP_STORE, as for the CLI.
    (tmp_path / "sweep.yaml").write_text(
        "name: filed\nmethod: random\nparameters: {x: {min: 0, max: 1}}\n"
    )
    monkeypatch.setenv("HYPERSWEEP_STORE", url)
    filed = hypersweep.sweep(tmp_path / "sweep.yaml")
    assert filed.name == "filed" and filed.row["source"] == str(tmp_path / "sweep.yaml")
    assert [s.id for s in hypersweep.Api().sweeps()] == [sweep.id, filed.id]
    assert hypersweep.Api(url).sweep(filed.id) == filed


def test_to_pandas_without_pandas_says_how_to_install(tmp_path, monkeypatch):
    sweep = hypersweep.sweep(DICT_SWEEP, store=f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'hypersweep\[frames\]'"):
        sweep.runs().to_pandas()
    assert sweep.runs().to_records() == []  # records need no pandas


def test_import_hypersweep_stays_light():
    code = (
        "import sys, hypersweep\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'pandas', 'numpy', 'scipy', 'typer', 'rich',"
        " 'hypersweep.store', 'hypersweep.api') if m in sys.modules)\n"
        "assert callable(hypersweep.init)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # The API is one attribute away, and then a plain attribute.
    code = (
        "import sys, hypersweep\n"
        "assert hypersweep.Api is hypersweep.Api\n"
        "print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    with pytest.raises(AttributeError):
        hypersweep.no_such_name  # noqa: B018
