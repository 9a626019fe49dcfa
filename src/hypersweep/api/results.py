"""Runs as Python objects and data frames: `Run`, `RunList`, `frame_module`.

Thin over the store: a Run is one run row plus the store it came from (to read its metric
history). pandas is optional (`pip install 'hypersweep[frames]'`) and imported only by the
methods that return a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from ..records import TIME_COLUMNS, record_columns, run_record
from ..store import Row, Store
from ..store import schema as s

if TYPE_CHECKING:
    import pandas

FRAMES_HINT = "pip install 'hypersweep[frames]'"
HISTORY_COLUMNS = ("step", "key", "value", "time")


def frame_module() -> Any:
    """pandas, or one ImportError that says how to install it."""
    try:
        import pandas
    except ImportError:
        raise ImportError(
            f"data frames need pandas, which is not installed: {FRAMES_HINT}"
        ) from None
    return pandas


def check_states(state: str | Iterable[str] | None) -> list[str] | None:
    """`state` as a list of run states (None: any), each one checked."""
    if state is None:
        return None
    states = [state] if isinstance(state, str) else list(state)
    for one in states:
        if one not in s.RUN_STATES:
            raise ValueError(f"state {one!r}: must be one of {', '.join(s.RUN_STATES)}")
    return states


class Run:
    """One run of a sweep, as the store had it when it was read.

    `params` are the hyperparameters the run was given (flat: nested sweep parameters have
    dotted names), `summary` the last value of each metric it logged. Times are float epoch
    seconds (None when not reached). `row` is the whole store row.
    """

    def __init__(self, store: Store, row: Row) -> None:
        self._store = store
        self.row: Row = row

    id = property(lambda self: self.row["id"], doc="The run's id.")
    sweep_id = property(lambda self: self.row["sweep_id"], doc="Its sweep's id.")
    state = property(lambda self: self.row["state"], doc="pending, running, finished, ...")
    params = property(lambda self: dict(self.row["params"] or {}), doc="Its hyperparameters.")
    summary = property(lambda self: dict(self.row["summary"] or {}), doc="Last metric values.")
    exit_code = property(lambda self: self.row.get("exit_code"), doc="The program's exit code.")
    message = property(lambda self: self.row.get("message"), doc="Why it ended as it did.")
    created_at = property(lambda self: self.row.get("created_at"), doc="When it was claimed.")
    started_at = property(lambda self: self.row.get("started_at"), doc="When it started.")
    ended_at = property(lambda self: self.row.get("ended_at"), doc="When it ended.")

    def refresh(self) -> Run:
        """Read the run again from the store (its state, summary, times); returns self."""
        self.row = self._store.get_run(self.id)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The run as one flat record: the columns of `RunList.to_pandas()` and of
        `hypersweep runs --csv` (`params.<name>`, `summary.<metric>`, epoch-second times)."""
        return run_record(self.row)

    def history_records(self, key: str | None = None) -> list[dict[str, Any]]:
        """Every metric value the run logged (only `key`'s when given), without pandas:
        dicts with step, key, value and time (epoch seconds), ordered by key then step."""
        return self._store.metric_history(self.id, key)

    def history(self, key: str | None = None, *, wide: bool = False) -> pandas.DataFrame:
        """The run's metric history as a data frame.

        Long by default, one row a logged value: columns `step`, `key`, `value` (float) and
        `time` (UTC timestamps), ordered by key then step; this keeps metrics logged at
        different steps apart and loses nothing. `wide=True` pivots it to one row a step
        (the index) and one column a metric; a metric logged twice at one step keeps its
        last value, and a metric not logged at a step is NaN there.
        """
        pd = frame_module()
        rows = self.history_records(key)
        frame = pd.DataFrame.from_records(rows, columns=list(HISTORY_COLUMNS))
        frame["value"] = frame["value"].astype("float64")
        frame["step"] = frame["step"].astype("int64")
        frame["time"] = pd.to_datetime(frame["time"].astype("float64"), unit="s", utc=True)
        if not wide:
            return frame
        wide_frame = frame.pivot_table(index="step", columns="key", values="value", aggfunc="last")
        wide_frame.columns.name = None
        return wide_frame

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.state} params={self.params} summary={self.summary}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class RunList(Sequence[Run]):
    """Runs in order (created first, or best first from `Sweep.best(k)`): a read-only list
    with `to_pandas()` and `to_records()`."""

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self._runs = list(runs)

    @classmethod
    def from_rows(cls, store: Store, rows: Iterable[Row]) -> RunList:
        return cls(Run(store, row) for row in rows)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> RunList: ...
    def __getitem__(self, index: int | slice) -> Run | RunList:
        if isinstance(index, slice):
            return RunList(self._runs[index])
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def __repr__(self) -> str:
        return f"RunList({self._runs!r})"

    @property
    def ids(self) -> list[str]:
        return [run.id for run in self._runs]

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict a run (see `Run.to_dict`), without pandas."""
        return [run.to_dict() for run in self._runs]

    def to_pandas(self) -> pandas.DataFrame:
        """One row a run, in this list's order. Columns: `id`, `sweep_id`, `state`, then
        `params.<name>` for each hyperparameter and `summary.<metric>` for each summary
        metric (in the order they first appear), then `exit_code`, `attempt`,
        `superseded`, `worker_id`, `host`, `created_at`, `started_at`, `ended_at` (UTC
        timestamps), `runtime` (seconds, float) and `message`. Numbers keep numeric
        dtypes; a value a run lacks is NaN/None. Needs pandas (`hypersweep[frames]`)."""
        pd = frame_module()
        records = self.to_records()
        frame = pd.DataFrame.from_records(records, columns=record_columns(records))
        for column in TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column].astype("float64"), unit="s", utc=True)
        frame["runtime"] = frame["runtime"].astype("float64")
        return frame
