"""Whether a sweep's results can be trusted: the metric really arrived, no point was given
up, not every run failed. `run` warns early and exits non-zero on these."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..config import SweepConfig
from ..store import Row, Store
from ..store import schema as s
from .claims import DEFAULT_SETTINGS

RESULT_STATES = (s.FINISHED, s.STOPPED_EARLY)
MAX_NAMES_SHOWN = 8


def has_value(run: Row, metric: str) -> bool:
    value = run["summary"].get(metric)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def logged_names(runs: Iterable[Row]) -> str:
    """The metrics some runs did log, for a message ("none" if nothing at all)."""
    names = sorted({key for run in runs for key in run["summary"] if not key.startswith("_")})
    if not names:
        return "none"
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    return shown + (
        f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else ""
    )


def missing_metric_warning(store: Store, sweep_id: str, config: SweepConfig) -> str | None:
    """While the sweep runs: a warning once finished runs exist and none of them logged
    the sweep's metric, naming what they did log (a typo is then obvious). None while the
    metric has arrived, or no run has finished yet."""
    if config.metric is None:
        return None
    name = config.metric.name
    done = store.list_runs(sweep_id, [s.FINISHED])
    if not done or any(has_value(run, name) for run in done):
        return None
    runs = f"run {done[0]['id']} finished" if len(done) == 1 else f"{len(done)} runs finished"
    return (
        f"warning: {runs} without logging metric {name!r} (logged: {logged_names(done)}); "
        "check metric.name in the sweep file and what the program logs"
    )


def sweep_problems(store: Store, sweep: Row, config: SweepConfig) -> list[str]:
    """What makes an ended sweep's outcome a failure, one line each (empty: all is well)."""
    runs = store.list_runs(sweep["id"])
    problems = []
    # A failed run whose point ran again (retry_failed) is not its point's verdict.
    ended = [
        run
        for run in runs
        if run["state"] in RESULT_STATES or (run["state"] == s.FAILED and not run["superseded"])
    ]
    if ended and all(run["state"] == s.FAILED for run in ended):
        problems.append(
            f"every run failed ({len(ended)} runs; see `hypersweep runs {sweep['id']}`)"
        )
    max_attempts = int(sweep["settings"].get("max_attempts", DEFAULT_SETTINGS["max_attempts"]))
    # A point given up: its last attempt crashed (or was killed) and nothing came after it.
    # Attempts count failures too (`retry_failed`), so the attempt number alone cannot say.
    last_attempt: dict[int | None, int] = {}
    for run in runs:
        point = run["point_index"]
        last_attempt[point] = max(last_attempt.get(point, 0), run["attempt"])
    # A point with a result is settled, even if a later attempt was stopped in its favour
    # (a frozen worker's run that came back: controller/leases.py).
    settled = {r["point_index"] for r in ended}
    given_up = [
        run
        for run in runs
        if run["state"] in s.RETRYABLE_RUN_STATES
        and run["superseded"]
        and run["attempt"] == last_attempt[run["point_index"]]
        and run["point_index"] not in settled
    ]
    if given_up and sweep["state"] == s.SWEEP_FINISHED:
        problems.append(
            f"{len(given_up)} point(s) given up after {max_attempts} crashed attempts "
            f"(last: run {given_up[-1]['id']})"
        )
    if config.metric is not None:
        results = [run for run in runs if run["state"] in RESULT_STATES]
        name = config.metric.name
        if results and not any(has_value(run, name) for run in results):
            problems.append(
                f"no run logged metric {name!r} (finished runs logged: {logged_names(results)})"
            )
    return problems
