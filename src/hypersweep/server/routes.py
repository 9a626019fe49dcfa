"""The JSON API under /api. The dashboard uses nothing else; scripts may use it too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from .. import sweeps as sweep_ops
from ..store import Store
from ..store import schema as s
from ..store.views import RunSort
from . import schemas as api
from . import views

router = APIRouter(prefix="/api")

MAX_PAGE = 500
# Past this an offset only overflows the database's integers (500 instead of 422).
MAX_OFFSET = 2**31 - 1
MAX_KEY = 500  # metric names, sort keys


def _store(request: Request) -> Store:
    return request.app.state.store


def _states(state: str | None) -> list[str] | None:
    if not state:
        return None
    states = [st.strip() for st in state.split(",") if st.strip()]
    unknown = [st for st in states if st not in s.RUN_STATES]
    if unknown:
        raise HTTPException(422, f"state {unknown[0]!r}: must be one of {', '.join(s.RUN_STATES)}")
    return states


@router.get("/sweeps", response_model=list[api.SweepSummary], tags=["sweeps"])
def list_sweeps(request: Request) -> list[api.SweepSummary]:
    """Every sweep, newest first, with progress and best value."""
    return views.list_sweeps(_store(request))


@router.get("/sweeps/{sweep_id}", response_model=api.SweepDetail, tags=["sweeps"])
def get_sweep(request: Request, sweep_id: str) -> api.SweepDetail:
    """One sweep: config, progress, the best-so-far series, metric names."""
    return views.sweep_detail(_store(request), sweep_id)


@router.get("/sweeps/{sweep_id}/importance", response_model=api.Importance, tags=["sweeps"])
def get_importance(request: Request, sweep_id: str) -> api.Importance:
    """Each parameter's share of the metric's variation (bayes sweeps, from its model)."""
    return request.app.state.importance.get(_store(request), sweep_id)


@router.get("/sweeps/{sweep_id}/runs", response_model=api.RunsPage, tags=["runs"])
def list_runs(
    request: Request,
    sweep_id: str,
    state: Annotated[
        str | None, Query(max_length=200, description="comma-separated run states")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in id/params")] = None,
    sort: Annotated[
        str,
        Query(
            max_length=MAX_KEY,
            description="created|started|ended|state|id|summary:KEY|params:KEY, -desc",
        ),
    ] = "created",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> api.RunsPage:
    """One page of a sweep's runs, filtered, searched and sorted by the store."""
    store = _store(request)
    store.get_sweep(sweep_id)
    try:
        order = RunSort.parse(sort)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    total, rows = store.runs_page(
        sweep_id, states=_states(state), search=q, sort=order, offset=offset, limit=limit
    )
    return api.RunsPage(
        total=total,
        offset=offset,
        limit=limit,
        runs=[api.RunRow(**views.run_row(r)) for r in rows],
    )


@router.get("/sweeps/{sweep_id}/curves", response_model=api.SweepCurves, tags=["metrics"])
def get_curves(
    request: Request,
    sweep_id: str,
    key: Annotated[str, Query(min_length=1, max_length=MAX_KEY, description="metric name")],
    budget: Annotated[int, Query(ge=100, le=200_000, description="points in all")] = 20_000,
    max_points: Annotated[int, Query(ge=2, le=5_000, description="points per run")] = 200,
) -> api.SweepCurves:
    """One metric over steps for every run of the sweep, thinned to a total point budget."""
    return views.sweep_curves(_store(request), sweep_id, key, budget, max_points)


@router.get("/sweeps/{sweep_id}/parallel", response_model=api.ParallelData, tags=["sweeps"])
def get_parallel(
    request: Request, sweep_id: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 2_000
) -> api.ParallelData:
    """Params and metric value of the most recent runs (parallel coordinates)."""
    return views.parallel_data(_store(request), sweep_id, limit)


@router.post("/sweeps/{sweep_id}/pause", response_model=api.ActionResult, tags=["actions"])
def pause_sweep(request: Request, sweep_id: str) -> api.ActionResult:
    """No new runs start; runs in flight go on; workers wait for a resume."""
    sweep = _action(sweep_ops.pause_sweep, _store(request), sweep_id)
    return api.ActionResult(ok=True, message=f"sweep {sweep_id} paused", state=sweep["state"])


@router.post("/sweeps/{sweep_id}/resume", response_model=api.ActionResult, tags=["actions"])
def resume_sweep(request: Request, sweep_id: str) -> api.ActionResult:
    """Hand out runs again. Waiting workers pick them up; with none alive, start some with
    `hypersweep resume SWEEP_ID --jobs N`."""
    store = _store(request)
    sweep = _action(sweep_ops.resume_sweep, store, sweep_id)
    message = f"sweep {sweep_id} resumed"
    if not store.list_workers(sweep_id):
        message += f"; no worker is alive: run `hypersweep resume {sweep_id} --jobs N`"
    return api.ActionResult(ok=True, message=message, state=sweep["state"])


@router.post("/sweeps/{sweep_id}/cancel", response_model=api.ActionResult, tags=["actions"])
def cancel_sweep(request: Request, sweep_id: str) -> api.ActionResult:
    """Cancel for good, as `hypersweep kill`: runs and workers on this host stop now,
    elsewhere at their next heartbeat."""
    store = _store(request)
    stopped = _action(sweep_ops.kill_sweep, store, sweep_id)
    state = store.get_sweep(sweep_id)["state"]
    message = f"sweep {sweep_id} cancelled: stopped {stopped['runs']} runs"
    return api.ActionResult(ok=True, message=message, state=state)


@router.get("/runs/{run_id}", response_model=api.RunDetail, tags=["runs"])
def get_run(request: Request, run_id: str) -> api.RunDetail:
    """One run: params, summary, command line, exit code, worker."""
    return views.run_detail(_store(request), run_id)


@router.get("/runs/{run_id}/metrics", response_model=api.RunMetrics, tags=["metrics"])
def get_run_metrics(
    request: Request,
    run_id: str,
    max_points: Annotated[int, Query(ge=2, le=10_000, description="points per series")] = 500,
) -> api.RunMetrics:
    """Every metric of the run over steps, each thinned to at most about max_points."""
    return views.run_metrics(_store(request), run_id, max_points)


@router.get("/runs/{run_id}/log", response_model=api.LogTail, tags=["runs"])
def get_log(
    request: Request,
    run_id: str,
    max_bytes: Annotated[int, Query(ge=1, le=views.LOG_TAIL_MAX)] = 64 * 1024,
) -> api.LogTail:
    """The end of the run's stdout and stderr."""
    return views.log_tail(_store(request), run_id, max_bytes)


@router.post("/runs/{run_id}/stop", response_model=api.ActionResult, tags=["actions"])
def stop_run(request: Request, run_id: str) -> api.ActionResult:
    """Ask the run's worker to stop it at its next heartbeat; it ends stopped_early and its
    point is not run again."""
    run = _action(sweep_ops.stop_run, _store(request), run_id)
    return api.ActionResult(ok=True, message=f"run {run_id} is stopping", state=run["state"])


def _action(operation, store: Store, ident: str):  # type: ignore[no-untyped-def]
    """Run a sweeps.py operation; refusals (ValueError) become 409 with their message."""
    try:
        return operation(store, ident)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
