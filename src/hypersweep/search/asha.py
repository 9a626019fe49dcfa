"""Asynchronous successive halving (``early_terminate: {type: asha}``), as a pure function.

ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", 2018) keeps, at each
rung, the top 1/eta of the runs that have reached it, without waiting for a bracket to fill.
This is its stopping form (as in Ray Tune's ASHA scheduler): runs start at the bottom and a
run at rung k goes on only while it is among the best ``int(n/eta)`` of the n runs that have
reached rung k. Compared with W&B's hyperband rule:

- the rungs are the same iterations as hyperband's bands (same keys, same meaning);
- a run is judged against its peers only once at least ``eta`` other runs have reached its
  rung: hyperband with 2 runs at a band stops the worse one, on a single comparison;
- every run is measured the same way at a rung: its value there (strict, the default), or its
  best value up to there (``strict: false``), never values logged later;
- the cut keeps exactly the top ``int(n/eta)``; W&B's threshold keeps one more.

Like hyperband here, judging is stateless: a running run is judged at its highest rung each
time the check runs, so a run that passed a rung while few peers had reached it can still be
stopped there as more arrive, until it reaches the next rung.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..config.model import EarlyTerminate
from .hyperband import History, StopDecision, as_losses, highest_band, hyperband_bands


def asha_rungs(et: EarlyTerminate) -> list[int]:
    """The iterations at which runs are judged: hyperband's bands."""
    return hyperband_bands(et)


def rung_value(curve: Sequence[float], rung: int, strict: bool) -> float:
    """A loss curve's value at a rung: the value there, or the best up to there."""
    return curve[rung - 1] if strict else min(curve[:rung])


def asha_stops(
    et: EarlyTerminate, goal: str, histories: Mapping[str, History]
) -> list[StopDecision]:
    """The running runs that are not in the top 1/eta at their highest rung."""
    rungs = asha_rungs(et)
    curves = {run_id: as_losses(values, goal) for run_id, (_, values) in histories.items()}
    sign = -1.0 if goal == "maximize" else 1.0
    stops = []
    for run_id, (running, _) in histories.items():
        curve = curves[run_id]
        rung = highest_band(rungs, len(curve))
        if not running or rung is None:
            continue
        peers = sorted(
            rung_value(other, rung, et.strict)
            for other_id, other in curves.items()
            if other_id != run_id and len(other) >= rung
        )
        if len(peers) < et.eta:
            continue  # too few runs at this rung to tell good from bad
        keep = int((len(peers) + 1) / et.eta)  # >= 1 since len(peers) >= eta
        # In the top `keep` unless `keep` peers are strictly better: ties go on.
        threshold = peers[keep - 1]
        value = rung_value(curve, rung, et.strict)
        if value > threshold:
            stops.append(
                StopDecision(
                    run_id=run_id,
                    rule="asha",
                    iteration=rung,
                    value=sign * value,
                    threshold=sign * threshold,
                    runs=len(peers) + 1,
                    strict=et.strict,
                )
            )
    return stops
