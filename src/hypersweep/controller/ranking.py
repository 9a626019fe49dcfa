"""Ranking finished runs by the sweep's metric."""

from __future__ import annotations

from ..store import Row, Store
from .claims import model_trials, sweep_config


def best_runs(store: Store, sweep: Row, top: int = 1) -> list[Row]:
    """Finished (and stopped-early) runs ranked by the sweep metric's summary value."""
    config = sweep_config(sweep)
    if config.metric is None:
        return []
    return store.top_runs(sweep["id"], config.metric.name, config.metric.goal, top)


def importance(store: Store, sweep: Row) -> dict[str, float] | None:
    """Each parameter's share of the metric's variation (bayes sweeps; None otherwise or
    with too few finished runs)."""
    config = sweep_config(sweep)
    if config.method != "bayes" or config.metric is None:
        return None
    from ..search.importance import parameter_importance  # scipy: only when asked

    trials = model_trials(store, None, sweep, config)
    return parameter_importance(config.space, trials)
