"""Response models of the JSON API: they are its documentation (OpenAPI at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MetricInfo(BaseModel):
    name: str
    goal: Literal["minimize", "maximize"]


class Progress(BaseModel):
    counts: dict[str, int] = Field(description="number of runs in each state")
    total: int | None = Field(description="points the sweep will try; null when unbounded")
    done: int = Field(description="runs that ended with a verdict (finished/failed/stopped)")
    running: int


class SweepSummary(BaseModel):
    id: str
    name: str
    method: str
    state: str
    message: str | None
    metric: MetricInfo | None
    progress: Progress
    best_value: float | None = Field(description="best metric value of the scored runs")
    created_at: float = Field(description="epoch seconds")
    duration_s: float = Field(description="since creation; until the last update once ended")


class BestPoint(BaseModel):
    n: int = Field(description="the n-th scored run to end")
    time: float | None
    value: float
    run_id: str


class SweepDetail(SweepSummary):
    project: str | None
    source: str | None
    config: dict[str, Any] = Field(description="the sweep file as given")
    workers: int = Field(description="workers alive now")
    metric_keys: list[str] = Field(description="metric names logged by recent runs")
    best_so_far: list[BestPoint] = Field(description="each improvement of the best value")


class Importance(BaseModel):
    available: bool
    reason: str | None = None
    shares: dict[str, float] = Field(
        default_factory=dict, description="parameter -> share of the metric's variation"
    )


class RunRow(BaseModel):
    id: str
    sweep_id: str
    state: str
    params: dict[str, Any]
    summary: dict[str, Any]
    attempt: int
    superseded: bool
    stop_requested: bool
    message: str | None
    exit_code: int | None
    host: str | None
    worker_id: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None


class RunsPage(BaseModel):
    total: int = Field(description="runs matching the filters")
    offset: int
    limit: int
    runs: list[RunRow]


class RunDetail(RunRow):
    sweep_name: str
    metric: MetricInfo | None
    command: list[str] | None
    command_line: str | None = Field(description="the command, quoted for a shell")
    pid: int | None
    gpu_ids: str | None
    metric_keys: list[str]


class Series(BaseModel):
    key: str
    steps: list[int]
    values: list[float | None] = Field(description="null where the value was not finite")


class RunMetrics(BaseModel):
    run_id: str
    max_points: int
    series: list[Series]


class RunCurve(BaseModel):
    run_id: str
    state: str
    steps: list[int]
    values: list[float | None]


class SweepCurves(BaseModel):
    key: str
    points_per_run: int = Field(description="each curve was thinned to about this many points")
    runs: list[RunCurve]


class ParallelRun(BaseModel):
    id: str
    state: str
    params: dict[str, Any]
    value: float | None


class ParallelData(BaseModel):
    metric: MetricInfo | None
    params: list[str]
    runs: list[ParallelRun]


class LogTail(BaseModel):
    run_id: str
    text: str
    size: int = Field(description="bytes in the whole log")
    truncated: bool = Field(description="true when only the end of the log is returned")
    source: Literal["file", "store", "none"]


class ActionResult(BaseModel):
    ok: bool
    message: str
    state: str = Field(description="state of the sweep or run after the action")
