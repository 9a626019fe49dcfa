"""W&B's hyperband early termination (``early_terminate: {type: hyperband}``), as a pure function.

W&B does not run Hyperband's brackets. It fixes a few *bands* (iteration numbers) and stops a
running run whose metric, at the highest band it has reached, is worse than a threshold taken
from every run's value at that band. We follow W&B's engine (wandb/sweeps 0.3.0) exactly:

- an iteration is a position in the run's list of finite logged values of the metric (the
  5th value logged is iteration 5, whatever its step);
- bands are ``max_iter/eta, max_iter/eta^2, ...`` (``s`` of them, while >= 1), or
  ``min_iter, min_iter*eta, min_iter*eta^2, ...``;
- the threshold at band b: the b-th value of every run (any state) that has >= b values,
  sorted best first, the one at position ``int(n/eta)``;
- only running runs are judged, at their highest band: strict compares the value at that
  band, non-strict the best value so far; a run stops when strictly worse than the threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..config.model import EarlyTerminate

# (is the run still running, finite values of the metric in logged order)
History = tuple[bool, Sequence[float]]

MIN_ITER_BANDS = 100  # W&B's engine lists this many bands in the min_iter form
MAX_ITERATION = 2**63  # no run logs more values than this: later bands can never apply


@dataclass(frozen=True)
class StopDecision:
    """A running run that must stop, and why (values in the metric's own sign)."""

    run_id: str
    rule: str  # "hyperband" or "asha"
    iteration: int  # the band (rung) the run was judged at
    value: float  # the run's value that was compared
    threshold: float  # the value it had to match or beat
    runs: int  # how many runs had reached that iteration, this one included
    strict: bool  # value at the iteration (True) or best value so far (False)

    def message(self, metric: str) -> str:
        """e.g. "stopped early by hyperband at band 9: loss 0.52 at iteration 9 is worse than
        the threshold 0.41 from the 12 runs that reached it"."""
        if self.strict:
            subject = f"{metric} {self.value:.6g} at iteration {self.iteration}"
        elif self.rule == "asha":
            subject = f"best {metric} up to iteration {self.iteration} {self.value:.6g}"
        else:
            subject = f"best {metric} so far {self.value:.6g}"
        milestone = "rung" if self.rule == "asha" else "band"
        return (
            f"stopped early by {self.rule} at {milestone} {self.iteration}: {subject} is worse "
            f"than the threshold {self.threshold:.6g} from the {self.runs} runs that reached it"
        )


def hyperband_bands(et: EarlyTerminate) -> list[int]:
    """The iterations at which runs are judged, ascending and distinct (W&B's rounding)."""
    # An integral eta stays an int so min_iter*eta^k is exact, as in W&B with `eta: 3`.
    eta: float = int(et.eta) if float(et.eta).is_integer() else et.eta
    bands: list[int] = []
    if et.max_iter is not None and et.s is not None:  # W&B prefers this form when both given
        band: float = et.max_iter
        for _ in range(et.s):
            band /= eta  # repeated division, not max_iter/eta**k: the same float rounding
            if band < 1:
                break
            bands.append(int(band))
    elif et.min_iter is not None:
        band = et.min_iter
        for _ in range(MIN_ITER_BANDS):
            if band > MAX_ITERATION:
                break
            bands.append(int(band))
            band *= eta
    else:
        raise ValueError("early_terminate needs 'min_iter', or 'max_iter' and 's'")
    return sorted(set(bands))


def highest_band(bands: Sequence[int], count: int) -> int | None:
    """The highest band a run with `count` values has reached, None before the first."""
    reached = [band for band in bands if band <= count]
    return reached[-1] if reached else None


def as_losses(values: Sequence[float], goal: str) -> list[float]:
    """Values oriented so that lower is better."""
    return [-v for v in values] if goal == "maximize" else list(values)


def band_threshold(band: int, curves: Iterable[Sequence[float]], eta: float) -> tuple[float, int]:
    """(threshold, number of runs) at `band`, from loss curves; inf when no run reached it."""
    values = sorted(curve[band - 1] for curve in curves if len(curve) >= band)
    if not values:
        return float("inf"), 0
    # W&B's own expression: for some float etas int(n * (1/eta)) != int(n / eta).
    return values[int(len(values) * (1.0 / eta))], len(values)


def hyperband_stops(
    et: EarlyTerminate, goal: str, histories: Mapping[str, History]
) -> list[StopDecision]:
    """The running runs W&B's hyperband stops now, in the order of `histories`."""
    bands = hyperband_bands(et)
    curves = {run_id: as_losses(values, goal) for run_id, (_, values) in histories.items()}
    sign = -1.0 if goal == "maximize" else 1.0
    thresholds: dict[int, tuple[float, int]] = {}
    stops = []
    for run_id, (running, _) in histories.items():
        curve = curves[run_id]
        band = highest_band(bands, len(curve))
        if not running or band is None:
            continue
        if band not in thresholds:
            thresholds[band] = band_threshold(band, curves.values(), et.eta)
        threshold, runs = thresholds[band]
        value = curve[band - 1] if et.strict else min(curve)
        if value > threshold:
            stops.append(
                StopDecision(
                    run_id=run_id,
                    rule="hyperband",
                    iteration=band,
                    value=sign * value,
                    threshold=sign * threshold,
                    runs=runs,
                    strict=et.strict,
                )
            )
    return stops
