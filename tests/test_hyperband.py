"""Early termination as pure functions: W&B's hyperband (checked against W&B's own engine) and
ASHA."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hypersweep.config import ConfigError, EarlyTerminate, parse_sweep_config
from hypersweep.search import hyperband_bands, runs_to_stop, stop_decisions
from hypersweep.search.asha import asha_stops
from hypersweep.search.hyperband import band_threshold, hyperband_stops

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydantic v2 warns about the engine's v1-style config
    import sweeps
    from sweeps import SweepRun


def et(type_: str = "hyperband", **keys) -> EarlyTerminate:
    """An EarlyTerminate as the parser makes it from ``early_terminate: {type, **keys}``."""
    config = {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"x": {"values": [1]}},
        "early_terminate": {"type": type_, **keys},
    }
    return parse_sweep_config(config).early_terminate


def curve(*values: float) -> list[float]:
    return list(values)


# ------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("keys", "bands"),
    [
        ({"max_iter": 27, "s": 2}, [3, 9]),
        ({"max_iter": 81, "s": 3}, [3, 9, 27]),
        ({"max_iter": 27, "s": 5}, [1, 3, 9]),  # stops once a band would be below 1
        ({"max_iter": 10, "s": 5, "eta": 2}, [1, 2, 5]),  # int() of 5.0, 2.5, 1.25
        ({"max_iter": 27, "s": 2, "min_iter": 1}, [3, 9]),  # W&B prefers max_iter+s
    ],
)
def test_bands_from_max_iter_and_s(keys, bands):
    assert hyperband_bands(et(**keys)) == bands


def test_bands_from_min_iter():
    bands = hyperband_bands(et(min_iter=3))
    assert bands[:5] == [3, 9, 27, 81, 243]
    assert bands == [3 * 3**k for k in range(len(bands))]
    assert hyperband_bands(et(min_iter=2, eta=1.5))[:5] == [2, 3, 4, 6, 10]  # int(4.5) etc.
    # max_iter without s does not make the max_iter form
    assert hyperband_bands(et(min_iter=1, max_iter=27, eta=2))[:4] == [1, 2, 4, 8]


def test_bands_are_distinct_for_small_eta():
    bands = hyperband_bands(et(min_iter=1, eta=1.2))
    assert bands[:3] == [1, 2, 3] and bands == sorted(set(bands))


def test_config_errors_and_defaults():
    assert et(min_iter=3).strict is True  # W&B's engine fills in its schema default
    assert et(min_iter=3, strict=False).strict is False
    with pytest.raises(ConfigError, match=r"early_terminate.max_iter: 2 is less than eta"):
        et(max_iter=2, s=1)
    with pytest.raises(ConfigError, match="early_terminate.type: .*'hyperband'"):
        et("median", min_iter=1)


# -------------------------------------------------------------------- thresholds


def test_threshold_is_the_value_at_position_n_over_eta():
    curves = [curve(1, v) for v in (5, 3, 9, 1, 7, 2, 8, 4, 6)] + [curve(0)]
    # 9 runs reached iteration 2: sorted 1..9, position int(9/3) = 3 -> value 4.
    assert band_threshold(2, curves, 3.0) == (4, 9)
    assert band_threshold(2, curves, 2.0) == (5, 9)  # position int(9/2) = 4
    assert band_threshold(3, curves, 3.0) == (math.inf, 0)  # nobody got there


def test_only_running_runs_at_a_band_are_stopped():
    histories = {
        "done-bad": (False, curve(9, 9, 9)),
        "good-1": (False, curve(1, 1, 1)),
        "good-2": (False, curve(2, 2, 2)),
        "early": (True, curve(9)),  # not at the first band yet
        "bad": (True, curve(8, 8)),
        "fine": (True, curve(1, 1.5)),
    }
    # band 2; values 9, 1, 2, 8, 1.5 -> sorted [1, 1.5, 2, 8, 9], position int(5/3)=1 -> 1.5
    assert runs_to_stop(et(min_iter=2), "minimize", histories) == ["bad"]


def test_strict_compares_the_value_at_the_band_and_non_strict_the_best_so_far():
    histories = {
        "a": (False, curve(1, 1, 1, 1)),
        "b": (False, curve(2, 2, 2, 2)),
        "c": (False, curve(3, 3, 3, 3)),
        # best so far (0.5) beats everyone, but its value at band 3 (5) does not
        "noisy": (True, curve(0.5, 4, 5, 6)),
    }
    assert runs_to_stop(et(min_iter=3, strict=True), "minimize", histories) == ["noisy"]
    assert runs_to_stop(et(min_iter=3, strict=False), "minimize", histories) == []


def test_maximize_mirrors_minimize():
    losses = {
        "a": (False, curve(1, 1, 1)),
        "b": (False, curve(2, 2, 2)),
        "c": (True, curve(3, 3, 3)),
        "d": (True, curve(1.5, 0.5, 0.5)),
    }
    gains = {run: (running, [-v for v in values]) for run, (running, values) in losses.items()}
    config = et(max_iter=9, s=2)  # bands [1, 3]
    assert runs_to_stop(config, "minimize", losses) == runs_to_stop(config, "maximize", gains)
    assert runs_to_stop(config, "maximize", gains) == ["c"]
    [decision] = stop_decisions(config, "maximize", gains)
    # band 3: losses 1, 2, 3, 0.5 -> sorted, position int(4/3) = 1 -> 1; as gains -1
    assert (decision.iteration, decision.value, decision.threshold) == (3, -3, -1)


def test_a_run_is_judged_at_its_highest_band_only():
    histories = {
        "a": (False, curve(1, 1, 1, 1, 1)),
        "b": (False, curve(2, 2, 2, 2, 2)),
        # worse than everyone at band 1, but at band 3 it is the best
        "late": (True, curve(9, 9, 0, 0)),
    }
    assert runs_to_stop(et(min_iter=1), "minimize", histories) == []
    assert runs_to_stop(et(min_iter=1), "minimize", {**histories, "late": (True, [9])}) == ["late"]


def test_stop_message_names_band_value_and_threshold():
    histories = {"a": (False, curve(0.1, 0.1)), "b": (True, curve(0.5, 0.4))}
    [decision] = hyperband_stops(et(min_iter=2), "minimize", histories)
    assert decision.message("loss") == (
        "stopped early by hyperband at band 2: loss 0.4 at iteration 2 is worse than the "
        "threshold 0.1 from the 2 runs that reached it"
    )
    [loose] = hyperband_stops(et(min_iter=2, strict=False), "minimize", histories)
    assert "best loss so far 0.4" in loose.message("loss")


# -------------------------------------------------------------------------- ASHA


def test_asha_never_stops_with_fewer_than_eta_peers():
    histories = {"a": (False, curve(1, 1)), "b": (False, curve(2, 2)), "c": (True, curve(9, 9))}
    assert asha_stops(et("asha", min_iter=2), "minimize", histories) == []  # 2 peers < eta 3
    # hyperband, on the same evidence, stops c
    assert runs_to_stop(et(min_iter=2), "minimize", histories) == ["c"]
    histories["d"] = (False, curve(3, 3))
    assert runs_to_stop(et("asha", min_iter=2), "minimize", histories) == ["c"]


def test_asha_keeps_the_top_n_over_eta_at_the_rung():
    peers = {f"p{i}": (False, curve(i, i, i)) for i in range(1, 9)}  # values 1..8
    config = et("asha", min_iter=3, eta=3)
    # 9 runs at rung 3: the best int(9/3) = 3 go on; a run tied with the 3rd goes on too.
    for value, stopped in ((2.5, False), (3, False), (3.5, True)):
        histories = {**peers, "r": (True, curve(value, value, value))}
        assert runs_to_stop(config, "minimize", histories) == (["r"] if stopped else [])
    [decision] = asha_stops(config, "minimize", {**peers, "r": (True, curve(4, 4, 4))})
    assert (decision.iteration, decision.value, decision.threshold, decision.runs) == (3, 4, 3, 9)
    assert decision.message("loss").startswith("stopped early by asha at rung 3: loss 4")


def test_asha_non_strict_uses_the_best_value_up_to_the_rung():
    peers = {f"p{i}": (False, curve(i, i, i, 0.0)) for i in range(1, 5)}  # later values ignored
    histories = {**peers, "r": (True, curve(0.5, 9, 9))}
    assert runs_to_stop(et("asha", min_iter=3, strict=True), "minimize", histories) == ["r"]
    assert runs_to_stop(et("asha", min_iter=3, strict=False), "minimize", histories) == []
    gains = {run: (running, [-v for v in vals]) for run, (running, vals) in histories.items()}
    assert runs_to_stop(et("asha", min_iter=3, strict=True), "maximize", gains) == ["r"]


def test_asha_uses_hyperband_bands_and_judges_only_running_runs():
    peers = {f"p{i}": (False, curve(i, i, i, i)) for i in range(1, 6)}
    histories = {**peers, "done": (False, curve(9, 9, 9, 9)), "run": (True, curve(9, 9, 9))}
    # max_iter 9, s 2 -> rungs [1, 3]
    assert runs_to_stop(et("asha", max_iter=9, s=2), "minimize", histories) == ["run"]


# --------------------------------------------------------- parity with W&B's engine


def _family(rng: np.random.Generator, n_runs: int, goal: str) -> list[dict]:
    """Learning curves of many shapes: saturating, crossing, noisy, with NaN/inf gaps,
    rows where the metric is missing, ints, and runs in every state."""
    runs = []
    for i in range(n_runs):
        length = int(rng.integers(0, 32))
        start, end = rng.uniform(0, 1, size=2)
        speed = rng.uniform(0.05, 1.5)
        epochs = np.arange(1, length + 1)
        values = end + (start - end) * np.exp(-speed * epochs) + rng.normal(0, 0.03, length)
        if goal == "maximize":
            values = 1 - values
        history: list[dict] = []
        for value in values:
            roll = rng.uniform()
            if roll < 0.05:
                history.append({"loss": float(rng.choice([np.nan, np.inf, -np.inf]))})
            elif roll < 0.10:
                history.append({"other": 1.0})  # a row without the metric
            elif roll < 0.13:
                history.append({"loss": round(float(value) * 10)})  # an int
            else:
                history.append({"loss": float(value), "epoch": len(history)})
        state = rng.choice(["running", "running", "finished", "failed", "crashed", "killed"])
        runs.append({"name": f"r{i}", "state": str(state), "history": history})
    return runs


PARITY_CONFIGS = [
    {"min_iter": 1},
    {"min_iter": 2, "eta": 2},
    {"min_iter": 3, "eta": 3, "strict": False},
    {"min_iter": 2, "eta": 2, "strict": True},
    {"max_iter": 27, "s": 2},
    {"max_iter": 27, "s": 3, "eta": 3, "strict": False},
    {"max_iter": 20, "s": 3, "eta": 2},
    {"max_iter": 30, "s": 4, "eta": 2, "strict": False},
    {"min_iter": 2, "eta": 2.5},
    {"max_iter": 25, "s": 2, "min_iter": 4, "eta": 2},
]


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
@pytest.mark.parametrize(
    "keys", PARITY_CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
)
def test_decisions_match_wandb_engine(keys, goal):
    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": goal},
        "parameters": {"x": {"values": [1]}},
        "early_terminate": {"type": "hyperband", **keys},
    }
    ours = parse_sweep_config(config).early_terminate
    rng = np.random.default_rng([PARITY_CONFIGS.index(keys), goal == "maximize"])
    stops_seen = 0
    for trial in range(6):
        runs = _family(rng, int(rng.integers(20, 60)), goal)
        # Snapshots in time: running runs seen at several lengths.
        for cut in (4, 10, 32):
            snapshot = [
                {**r, "history": r["history"][:cut] if r["state"] == "running" else r["history"]}
                for r in runs
            ]
            theirs = sweeps.stop_runs(config, [SweepRun(**r) for r in snapshot])
            histories = {
                r["name"]: (
                    r["state"] == "running",
                    [
                        row["loss"]
                        for row in r["history"]
                        if "loss" in row and math.isfinite(row["loss"])
                    ],
                )
                for r in snapshot
            }
            expected = sorted(r.name for r in theirs)
            assert sorted(runs_to_stop(ours, goal, histories)) == expected, (trial, cut)
            stops_seen += len(expected)
    assert stops_seen > 10  # the family exercises stopping, not just "nothing to do"


def test_bands_match_wandb_engine():
    for keys in PARITY_CONFIGS:
        config = {
            "method": "random",
            "metric": {"name": "loss"},
            "parameters": {"x": {"values": [1]}},
            "early_terminate": {"type": "hyperband", **keys},
        }
        run = SweepRun(name="r", state="running", history=[{"loss": 1.0}])
        sweeps.stop_runs(config, [run])
        theirs = sorted({b for b in run.early_terminate_info["bands"] if b <= 2**63})
        assert hyperband_bands(parse_sweep_config(config).early_terminate) == theirs, keys
