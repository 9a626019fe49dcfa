"""Early termination: which running runs stop now, by the sweep's ``early_terminate.type``."""

from __future__ import annotations

from collections.abc import Mapping

from ..config.model import EarlyTerminate
from .asha import asha_stops
from .hyperband import History, StopDecision, hyperband_stops

RULES = {"hyperband": hyperband_stops, "asha": asha_stops}


def stop_decisions(
    et: EarlyTerminate, goal: str, histories: Mapping[str, History]
) -> list[StopDecision]:
    """The running runs to stop, with why. `histories`: run id -> (is running, finite values
    of the sweep's metric in logged order), for every run of the sweep."""
    try:
        rule = RULES[et.type]
    except KeyError:
        raise ValueError(f"unknown early_terminate type {et.type!r}") from None
    return rule(et, goal, histories)


def runs_to_stop(et: EarlyTerminate, goal: str, histories: Mapping[str, History]) -> list[str]:
    """The ids of the running runs to stop now."""
    return [decision.run_id for decision in stop_decisions(et, goal, histories)]
