"""Read-only summary queries for the dashboard: aggregation, paging and downsampling happen in
SQL so a sweep of thousands of runs costs a few bounded queries, never a scan in Python."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
)

from . import schema as s

if TYPE_CHECKING:
    from .store import Row

# Runs whose summary is a verdict on their point: the ones ranked and charted.
SCORED_STATES = (s.FINISHED, s.STOPPED_EARLY)
RUN_SORTS = ("created", "started", "ended", "state", "id")


@dataclass(frozen=True)
class RunSort:
    """How to order a runs page: a column, or a key inside `summary`/`params`."""

    field: str = "created"  # one of RUN_SORTS, "summary:<key>" or "params:<key>"
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> RunSort:
        """`created`, `-created`, `summary:loss`, `-params:lr`; ValueError if unknown."""
        descending = text.startswith("-")
        field = text[1:] if descending else text
        kind, _, key = field.partition(":")
        if field not in RUN_SORTS and not (kind in ("summary", "params") and key):
            raise ValueError(
                f"sort {text!r}: use one of {', '.join(RUN_SORTS)}, summary:KEY or params:KEY "
                "(prefix - for descending)"
            )
        return cls(field, descending)


def json_number(conn: Connection, column: Any, key: str) -> ColumnElement[Any]:
    """`column[key]` as a float where it is a JSON number, else NULL. Guarded per dialect so
    a string value (a categorical param, a text summary) never breaks the cast."""
    if conn.dialect.name == "postgresql":
        is_number = func.json_typeof(column[key]) == "number"
    else:
        path = '$."' + key.replace('"', '\\"') + '"'
        is_number = func.json_type(column, path).in_(("integer", "real"))
    return case((is_number, column[key].as_float()), else_=None)


class SummaryQueries:
    """Mixed into Store: `self.read()` gives a read transaction."""

    def sweep_best_value(
        self, sweep_id: str, key: str, goal: str, conn: Connection | None = None
    ) -> float | None:
        """Best finite value of `key` among the sweep's scored runs (one aggregate query)."""
        if conn is None:
            with self.read() as own:  # type: ignore[attr-defined]
                return self.sweep_best_value(sweep_id, key, goal, own)
        value = json_number(conn, s.runs.c.summary, key)
        aggregate = func.max(value) if goal == "maximize" else func.min(value)
        query = select(aggregate).where(
            s.runs.c.sweep_id == sweep_id, s.runs.c.state.in_(SCORED_STATES)
        )
        result = conn.execute(query).scalar()
        return None if result is None else float(result)

    def top_runs(self, sweep_id: str, key: str, goal: str, limit: int) -> list[Row]:
        """The scored runs with the best numeric `key` in their summary, best first (ties:
        the earlier run). Ranked in SQL: the live progress asks for it twice a second."""
        r = s.runs
        with self.read() as conn:  # type: ignore[attr-defined]
            value = json_number(conn, r.c.summary, key)
            query = (
                select(r)
                .where(r.c.sweep_id == sweep_id, r.c.state.in_(SCORED_STATES), value.is_not(None))
                .order_by(value.desc() if goal == "maximize" else value.asc())
                .order_by(r.c.created_at, r.c.id)
                .limit(limit)
            )
            return [dict(row) for row in conn.execute(query).mappings()]

    def runs_page(
        self,
        sweep_id: str,
        *,
        states: Sequence[str] | None = None,
        search: str | None = None,
        sort: RunSort | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[Row]]:
        """(number of matching runs, one page of them) filtered, searched and sorted in SQL."""
        r = s.runs
        with self.read() as conn:  # type: ignore[attr-defined]
            where = [r.c.sweep_id == sweep_id]
            if states:
                where.append(r.c.state.in_(list(states)))
            if search:
                # Params are matched in their stored JSON text: `lr`, `0.01`, `adam` all work.
                where.append(
                    or_(
                        r.c.id.icontains(search, autoescape=True),
                        r.c.state.icontains(search, autoescape=True),
                        func.coalesce(r.c.host, "").icontains(search, autoescape=True),
                        cast(r.c.params, Text).icontains(search, autoescape=True),
                    )
                )
            condition = and_(*where)
            total = conn.execute(select(func.count()).select_from(r).where(condition)).scalar()
            query = select(r).where(condition)
            for clause in _order_by(conn, sort or RunSort()):
                query = query.order_by(clause)
            query = query.order_by(r.c.created_at, r.c.id).offset(offset).limit(limit)
            return int(total or 0), [dict(row) for row in conn.execute(query).mappings()]

    def best_so_far(self, sweep_id: str, key: str, goal: str) -> list[Row]:
        """The improvements of the sweep's best value, in order of run completion: each point
        is (n-th completed scored run, its end time, the new best, the run)."""
        r = s.runs
        with self.read() as conn:  # type: ignore[attr-defined]
            value = json_number(conn, r.c.summary, key)
            scored = (
                select(r.c.id, r.c.ended_at, value.label("value"))
                .where(r.c.sweep_id == sweep_id, r.c.state.in_(SCORED_STATES))
                .subquery()
            )
            order = (scored.c.ended_at, scored.c.id)
            running = (func.max if goal == "maximize" else func.min)(scored.c.value).over(
                order_by=order, rows=(None, 0)
            )
            ranked = select(
                scored.c.id,
                scored.c.ended_at,
                scored.c.value,
                func.row_number().over(order_by=order).label("n"),
                running.label("best"),
            ).subquery()
            query = (
                select(ranked.c.n, ranked.c.ended_at, ranked.c.value, ranked.c.id)
                .where(ranked.c.value.is_not(None), ranked.c.value == ranked.c.best)
                .order_by(ranked.c.n)
            )
            points: list[Row] = []
            for n, ended_at, best, run_id in conn.execute(query):
                if not points or best != points[-1]["value"]:
                    points.append({"n": n, "time": ended_at, "value": best, "run_id": run_id})
            return points

    def run_points(self, sweep_id: str, key: str | None, limit: int) -> list[Row]:
        """id, state, params and the numeric value of `key` of up to `limit` runs (the most
        recent), for plots of parameters against the metric."""
        r = s.runs
        with self.read() as conn:  # type: ignore[attr-defined]
            value = json_number(conn, r.c.summary, key) if key else None
            columns = [r.c.id, r.c.state, r.c.params]
            if value is not None:
                columns.append(value.label("value"))
            query = (
                select(*columns)
                .where(r.c.sweep_id == sweep_id, r.c.superseded == false())
                .order_by(r.c.created_at.desc(), r.c.id)
                .limit(limit)
            )
            rows = [dict(row) for row in conn.execute(query).mappings()]
        for row in rows:
            if isinstance(row["params"], str):  # some drivers hand back raw JSON text
                row["params"] = json.loads(row["params"])
            row.setdefault("value", None)
        return rows[::-1]

    def metric_keys(self, run_id: str) -> list[str]:
        with self.read() as conn:  # type: ignore[attr-defined]
            query = (
                select(s.metrics.c.key)
                .distinct()
                .where(s.metrics.c.run_id == run_id)
                .order_by(s.metrics.c.key)
            )
            return list(conn.execute(query).scalars())

    def metric_series(
        self,
        *,
        max_points: int,
        run_ids: Sequence[str] | None = None,
        sweep_id: str | None = None,
        keys: Sequence[str] | None = None,
    ) -> dict[str, dict[str, list[tuple[int, float | None]]]]:
        """run id -> key -> [(step, value)], each series thinned in SQL to about `max_points`
        evenly spaced points (first and last kept). Non-finite values come back as None."""
        if max_points < 2:
            raise ValueError("max_points must be at least 2")
        m = s.metrics
        series = (m.c.run_id, m.c.key)
        position = func.row_number().over(partition_by=series, order_by=(m.c.step, m.c.id))
        length = func.count().over(partition_by=series)
        inner = select(
            m.c.run_id,
            m.c.key,
            m.c.step,
            m.c.value,
            position.label("pos"),
            length.label("n"),
        )
        if run_ids is not None:
            inner = inner.where(m.c.run_id.in_(list(run_ids)))
        if sweep_id is not None:
            # IN rather than a join: the planner walks the (run_id, key, step) index run by
            # run, already in window order, instead of sorting every row of the sweep.
            in_sweep = select(s.runs.c.id).where(s.runs.c.sweep_id == sweep_id)
            inner = inner.where(m.c.run_id.in_(in_sweep))
        if keys is not None:
            inner = inner.where(m.c.key.in_(list(keys)))
        numbered = inner.subquery()
        # Every stride-th point: stride = ceil(n / max_points), integer arithmetic in SQL.
        stride = (numbered.c.n + (max_points - 1)) // max_points
        query = (
            select(numbered.c.run_id, numbered.c.key, numbered.c.step, numbered.c.value)
            .where(
                or_(
                    (numbered.c.pos - 1) % stride == 0,
                    numbered.c.pos == numbered.c.n,
                )
            )
            .order_by(numbered.c.run_id, numbered.c.key, numbered.c.pos)
        )
        out: dict[str, dict[str, list[tuple[int, float | None]]]] = {}
        with self.read() as conn:  # type: ignore[attr-defined]
            for run_id, key, step, value in conn.execute(query):
                out.setdefault(run_id, {}).setdefault(key, []).append((int(step), value))
        return out


def _order_by(conn: Connection, sort: RunSort) -> list[ColumnElement[Any]]:
    r = s.runs
    kind, _, key = sort.field.partition(":")
    if kind in ("summary", "params"):
        column = r.c.summary if kind == "summary" else r.c.params
        # Numbers by value, then anything else by its text; missing values always last.
        keys: list[ColumnElement[Any]] = [
            cast(json_number(conn, column, key), Float),
            column[key].as_string(),
        ]
    else:
        name = {"created": "created_at", "started": "started_at", "ended": "ended_at"}.get(
            sort.field, sort.field
        )
        keys = [r.c[name]]
    return [(k.desc() if sort.descending else k.asc()).nulls_last() for k in keys]
