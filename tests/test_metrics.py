"""hypersweep.metrics: which stdout lines are metric lines, and rows/summary from records."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from hypersweep.metrics import parse_metric_line, rows_and_summary

# ------------------------------------------------------------ parse_metric_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("loss=0.5", {"loss": 0.5}),
        ("epoch=3 loss=0.25 val/accuracy=0.91", {"epoch": 3.0, "loss": 0.25, "val/accuracy": 0.91}),
        ("loss=0.5, acc=0.9", {"loss": 0.5, "acc": 0.9}),
        ("loss=0.5,acc=0.9", {"loss": 0.5, "acc": 0.9}),
        ("loss=0.5, acc=0.9,", {"loss": 0.5, "acc": 0.9}),
        ("  loss = 0.5   acc=1  ", {"loss": 0.5, "acc": 1.0}),
        ("lr=1e-3", {"lr": 0.001}),
        ("lr=1.5E+2 wd=-2.5e-4", {"lr": 150.0, "wd": -0.00025}),
        ("x=.5 y=5. z=+7", {"x": 0.5, "y": 5.0, "z": 7.0}),
        ("train.loss=3 my-metric_2=4", {"train.loss": 3.0, "my-metric_2": 4.0}),
    ],
)
def test_metric_lines_are_parsed(line, expected):
    assert parse_metric_line(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("loss=inf", math.inf),
        ("loss=-inf", -math.inf),
        ("loss=+INF", math.inf),
        ("loss=Inf", math.inf),
    ],
)
def test_infinities_are_parsed(line, expected):
    assert parse_metric_line(line) == {"loss": expected}


@pytest.mark.parametrize("line", ["loss=nan", "loss=NaN", "loss=NAN"])
def test_nan_is_parsed(line):
    parsed = parse_metric_line(line)
    assert parsed is not None and list(parsed) == ["loss"]
    assert math.isnan(parsed["loss"])


@pytest.mark.parametrize(
    "line",
    [
        "epoch 3: loss 0.2",
        "a=b",
        "x=1 and more text",
        "loss=0.5 (best so far)",
        "no equals sign here",
        "",
        "=",
        "=0.5",
        "3=4",
        "loss=",
        "loss=0.5=0.6",
        "loss=1.2.3",
        "a=1b=2",
        "loss=0x10",
        "loss=infinity",
        "loss: 0.5, acc: 0.9",
        "Epoch 1/10 - loss=0.5",
        "lr=1e",
    ],
)
def test_prose_and_malformed_lines_are_not_metric_lines(line):
    assert parse_metric_line(line) is None


def test_a_long_line_with_padding_and_trailing_text_is_rejected_quickly():
    # Aligned columns of pairs followed by a word: must be rejected in well under a second,
    # not after exponential backtracking (the reader thread would stall the program's pipe).
    line = "    ".join(f"metric_{i}=0.{i}" for i in range(16)) + "    (best)"
    script = (
        "import sys\nfrom hypersweep.metrics import parse_metric_line\n"
        "assert parse_metric_line(sys.argv[1]) is None\nprint('ok')\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script, line], capture_output=True, text=True, timeout=3
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"parse_metric_line took more than 3 s on a {len(line)}-character line")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ------------------------------------------------------------- rows_and_summary


def _metrics(step, t=100.0, **values):
    return {"t": t, "step": step, "metrics": values}


def test_rows_keep_steps_keys_values_and_times():
    rows, summary = rows_and_summary(
        [
            _metrics(0, 1.0, loss=1.0, acc=0.5),
            _metrics(1, 2.0, loss=0.5),
            _metrics(5, 3.0, acc=0.75),
        ]
    )
    assert rows == [
        (0, "loss", 1.0, 1.0),
        (0, "acc", 0.5, 1.0),
        (1, "loss", 0.5, 2.0),
        (5, "acc", 0.75, 3.0),
    ]
    assert summary == {"loss": 0.5, "acc": 0.75}


def test_summary_is_the_last_finite_value_in_record_order():
    rows, summary = rows_and_summary(
        [_metrics(0, loss=3.0), _metrics(1, loss=2.0), _metrics(2, loss=math.inf)]
    )
    assert [r[2] for r in rows] == [3.0, 2.0, None]
    assert summary == {"loss": 2.0}


def test_nan_is_stored_as_none_and_kept_out_of_the_summary():
    rows, summary = rows_and_summary(
        [
            _metrics(0, loss=0.25, other=1.0),
            _metrics(1, loss=math.nan),
            _metrics(2, nanonly=math.nan),
        ]
    )
    assert (1, "loss", None, 100.0) in rows
    assert (2, "nanonly", None, 100.0) in rows
    assert summary == {"loss": 0.25, "other": 1.0}
    assert "nanonly" not in summary


def test_explicit_summary_records_override_logged_values_wherever_they_come():
    rows, summary = rows_and_summary(
        [
            _metrics(0, acc=0.9),
            {"t": 1.0, "summary": {"acc": 0.95, "note": "best epoch"}},
            _metrics(1, acc=0.7, loss=0.3),
        ]
    )
    assert [r[1] for r in rows] == ["acc", "acc", "loss"]  # summary records make no rows
    assert summary == {"acc": 0.95, "note": "best epoch", "loss": 0.3}


def test_explicit_summary_values_become_json_friendly():
    _rows, summary = rows_and_summary(
        [{"t": 1.0, "summary": {"a": 3, "b": True, "c": math.nan, "d": [1, 2], "e": None}}]
    )
    assert summary == {"a": 3.0, "b": 1.0, "c": None, "d": [1, 2], "e": None}


def test_non_numeric_values_are_skipped():
    rows, summary = rows_and_summary(
        [_metrics(0, loss=0.5, name="adam", hist=[1, 2, 3], cfg={"a": 1}, nothing=None, flag=True)]
    )
    assert {r[1] for r in rows} == {"loss", "flag"}
    assert summary == {"loss": 0.5, "flag": 1.0}


def test_integer_and_float_like_steps_and_times_are_normalised():
    rows, _summary = rows_and_summary([{"t": 5, "step": 2.0, "metrics": {"x": 1}}])
    assert rows == [(2, "x", 1.0, 5.0)]
    assert isinstance(rows[0][0], int) and isinstance(rows[0][3], float)


def test_no_records_no_rows():
    assert rows_and_summary([]) == ([], {})


def test_what_the_store_cannot_hold_is_dropped_and_told_once_per_record():
    told: list[tuple[str, str]] = []
    records = [
        _metrics(0, x=10**400, ok=1.0),  # an int past a float's range
        _metrics(2**63, y=1.0),  # one past BIGINT
        _metrics(-(2**63), low=1.0),  # BIGINT's minimum: kept
        _metrics(math.inf, y=1.0),
        _metrics("not a step", y=1.0),
        {"t": 1.0, "metrics": {"y": 1.0}},  # no step at all
        {"t": 1.0, "step": 3, "metrics": {"k" * 1025: 1.0, "a\x00b": 1.0, "a\ud800": 1.0}},
        {"t": "soon", "step": 4, "metrics": {5: 1.0, "é" * 512: 2.0}},  # 1024 bytes: kept
        ["not", "a", "record"],
        {"t": 1.0, "step": 5, "metrics": [1, 2]},
        {"t": 1.0, "summary": {"best": 0.5, 7: 1.0, "x" * 2000: 1.0}},
    ]
    rows, summary = rows_and_summary(records, lambda kind, message: told.append((kind, message)))
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (0, "ok", 1.0),
        (-(2**63), "low", 1.0),
        (4, "é" * 512, 2.0),
    ]
    assert isinstance(rows[2][3], float) and math.isfinite(rows[2][3])  # bad time: now
    assert summary == {"ok": 1.0, "low": 1.0, "é" * 512: 2.0, "best": 0.5}
    kinds = [kind for kind, _message in told]
    assert kinds.count("value") == 1 and "'x' at step 0" in told[kinds.index("value")][1]
    assert kinds.count("step") == 4
    assert kinds.count("key") == 6
    assert kinds.count("record") == 2
    messages = " ".join(message for _kind, message in told)
    assert "1025 bytes long" in messages and "NUL" in messages and "surrogate" in messages
    assert "5 is not a string (int)" in messages
    assert len(max((m for _k, m in told), key=len)) < 300  # values are shown shortened


def test_without_a_listener_nothing_is_raised():
    rows, _summary = rows_and_summary([_metrics(2**70, y=1.0), _metrics(1, y=10**400), 42])
    assert rows == []
