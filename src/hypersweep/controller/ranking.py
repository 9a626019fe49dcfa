"""Ranking finished runs by the sweep's metric."""

from __future__ import annotations

import numpy as np

from ..store import Row, Store
from ..store import schema as s
from .claims import model_trials, sweep_config


def best_runs(store: Store, sweep: Row, top: int = 1) -> list[Row]:
    """Finished runs ranked by the sweep metric's summary value."""
    config = sweep_config(sweep)
    if config.metric is None:
        return []
    name = config.metric.name
    scored = [
        r
        for r in store.list_runs(sweep["id"], [s.FINISHED, s.STOPPED_EARLY])
        if isinstance(r["summary"].get(name), (int, float)) and np.isfinite(r["summary"][name])
    ]
    scored.sort(key=lambda r: r["summary"][name], reverse=config.metric.goal == "maximize")
    return scored[:top]


def importance(store: Store, sweep: Row) -> dict[str, float] | None:
    """Each parameter's share of the metric's variation (bayes sweeps; None otherwise or
    with too few finished runs)."""
    config = sweep_config(sweep)
    if config.method != "bayes" or config.metric is None:
        return None
    from ..search.importance import parameter_importance  # scipy: only when asked

    trials = model_trials(store, None, sweep, config)
    return parameter_importance(config.space, trials)
