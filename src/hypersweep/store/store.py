"""The store: every fact about sweeps, workers, runs and metrics goes through here."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

from . import schema as s
from .db import StoreError, StoreUnavailable, create_store_engine, default_store_url
from .migrate import add_missing_columns
from .views import SummaryQueries

Row = dict[str, Any]
LOG_TAIL_BYTES = 8 * 1024  # the end of a run's log kept in its row
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: ids are read aloud and typed


def new_id(length: int = 8) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def last_bytes(text: str, limit: int) -> str:
    """The end of `text` that fits in `limit` bytes of UTF-8 (whole characters)."""
    if len(text) <= limit // 4:  # short enough whatever its characters
        return text
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", errors="ignore")


def _bounded_tail(values: dict[str, Any]) -> dict[str, Any]:
    if isinstance(values.get("log_tail"), str):
        values["log_tail"] = last_bytes(values["log_tail"], LOG_TAIL_BYTES)
    return values


class NotFound(StoreError):
    pass


class Store(SummaryQueries):
    """A handle on one store. Cheap to create; safe to share between threads."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_store_url()
        self.engine = create_store_engine(self.url)
        self._create_tables()

    def _create_tables(self) -> None:
        try:
            s.metadata.create_all(self.engine)
            add_missing_columns(self.engine, s.metadata)
        except OperationalError as exc:
            raise StoreError(f"cannot open store {self.display_url}: {_first_line(exc)}") from None
        except (IntegrityError, ProgrammingError) as exc:
            # Most likely another process created the tables between our check and our
            # CREATE; if not (no such schema, no permission), say so in one line.
            try:
                s.metadata.create_all(self.engine)
            except SQLAlchemyError:
                raise StoreError(
                    f"cannot create tables in store {self.display_url}: {_first_line(exc)}"
                ) from None

    @property
    def display_url(self) -> str:
        """The URL as the user gave it, password hidden."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; on SQLite it holds the write lock from the start."""
        with self._errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            error = StoreUnavailable if _transient(self.engine, exc) else StoreError
            raise error(f"store {self.display_url}: {_first_line(exc)}") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:  # the server went away mid-statement
                raise StoreUnavailable(f"store {self.display_url}: {_first_line(exc)}") from None
            raise

    # ----------------------------------------------------------------- sweeps

    def create_sweep(
        self,
        *,
        config: dict,
        name: str,
        method: str,
        settings: dict,
        project: str | None = None,
        entity: str | None = None,
        source: str | None = None,
        workdir: str | None = None,
    ) -> str:
        now = time.time()
        sweep_id = new_id()
        with self.write() as conn:
            conn.execute(
                insert(s.sweeps).values(
                    id=sweep_id,
                    name=name,
                    project=project,
                    entity=entity,
                    method=method,
                    config=config,
                    source=source,
                    workdir=workdir,
                    settings=settings,
                    state=s.SWEEP_RUNNING,
                    points_issued=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return sweep_id

    def get_sweep(self, sweep_id: str, conn: Connection | None = None) -> Row:
        if conn is None:
            with self.read() as own:
                return self.get_sweep(sweep_id, own)
        row = conn.execute(select(s.sweeps).where(s.sweeps.c.id == sweep_id)).mappings().first()
        if row is None:
            raise NotFound(f"no sweep {sweep_id!r} in store {self.display_url}")
        return dict(row)

    def lock_sweep(self, conn: Connection, sweep_id: str) -> Row:
        """Read the sweep row and hold it until the transaction ends (PostgreSQL row lock;
        SQLite's write transactions are already exclusive)."""
        query = select(s.sweeps).where(s.sweeps.c.id == sweep_id).with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"no sweep {sweep_id!r} in store {self.display_url}")
        return dict(row)

    def list_sweeps(self, states: Sequence[str] | None = None) -> list[Row]:
        query = select(s.sweeps).order_by(s.sweeps.c.created_at)
        if states:
            query = query.where(s.sweeps.c.state.in_(states))
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def update_sweep(self, sweep_id: str, conn: Connection | None = None, **values: Any) -> None:
        if conn is None:
            with self.write() as own:
                return self.update_sweep(sweep_id, own, **values)
        values["updated_at"] = time.time()
        conn.execute(update(s.sweeps).where(s.sweeps.c.id == sweep_id).values(**values))

    def delete_sweep(self, sweep_id: str) -> None:
        with self.write() as conn:
            self.get_sweep(sweep_id, conn)
            run_ids = select(s.runs.c.id).where(s.runs.c.sweep_id == sweep_id)
            conn.execute(delete(s.metrics).where(s.metrics.c.run_id.in_(run_ids)))
            conn.execute(delete(s.runs).where(s.runs.c.sweep_id == sweep_id))
            conn.execute(delete(s.workers).where(s.workers.c.sweep_id == sweep_id))
            conn.execute(delete(s.sweeps).where(s.sweeps.c.id == sweep_id))

    def run_counts(self, sweep_id: str | None = None, conn: Connection | None = None) -> dict:
        """{sweep_id: {state: count}}; retried crashes count once, under their state."""
        if conn is None:
            with self.read() as own:
                return self.run_counts(sweep_id, own)
        query = select(s.runs.c.sweep_id, s.runs.c.state, func.count()).group_by(
            s.runs.c.sweep_id, s.runs.c.state
        )
        if sweep_id is not None:
            query = query.where(s.runs.c.sweep_id == sweep_id)
        counts: dict[str, dict[str, int]] = {}
        for sid, state, n in conn.execute(query):
            counts.setdefault(sid, {})[state] = n
        return counts

    # ---------------------------------------------------------------- workers

    def register_worker(
        self,
        *,
        sweep_id: str,
        host: str,
        pid: int,
        pid_started: float | None,
        gpu_ids: str | None = None,
        backend: str = "local",
        worker_id: str | None = None,
        node: str | None = None,
    ) -> str:
        now = time.time()
        worker_id = worker_id or new_id()
        with self.write() as conn:
            conn.execute(
                insert(s.workers).values(
                    id=worker_id,
                    sweep_id=sweep_id,
                    host=host,
                    pid=pid,
                    pid_started=pid_started,
                    gpu_ids=gpu_ids,
                    backend=backend,
                    node=node,
                    state="running",
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        return worker_id

    def end_worker(self, worker_id: str, state: str = "stopped") -> None:
        with self.write() as conn:
            conn.execute(
                update(s.workers)
                .where(s.workers.c.id == worker_id, s.workers.c.state == "running")
                .values(state=state, ended_at=time.time())
            )

    def list_workers(self, sweep_id: str | None = None, running_only: bool = True) -> list[Row]:
        query = select(s.workers).order_by(s.workers.c.started_at)
        if sweep_id is not None:
            query = query.where(s.workers.c.sweep_id == sweep_id)
        if running_only:
            query = query.where(s.workers.c.state == "running")
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------- runs

    def insert_run(self, conn: Connection, **values: Any) -> Row:
        now = time.time()
        row = {
            "id": new_id(),
            "attempt": 1,
            "superseded": False,
            "summary": {},
            "stop_requested": False,
            "created_at": now,
            **values,
        }
        conn.execute(insert(s.runs).values(**row))
        return row

    def get_run(self, run_id: str, conn: Connection | None = None) -> Row:
        if conn is None:
            with self.read() as own:
                return self.get_run(run_id, own)
        row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFound(f"no run {run_id!r} in store {self.display_url}")
        return dict(row)

    def list_runs(
        self,
        sweep_id: str | None = None,
        states: Iterable[str] | None = None,
        conn: Connection | None = None,
        **equal: Any,
    ) -> list[Row]:
        if conn is None:
            with self.read() as own:
                return self.list_runs(sweep_id, states, own, **equal)
        query = select(s.runs).order_by(s.runs.c.created_at, s.runs.c.id)
        if sweep_id is not None:
            query = query.where(s.runs.c.sweep_id == sweep_id)
        if states is not None:
            query = query.where(s.runs.c.state.in_(list(states)))
        for column, value in equal.items():
            query = query.where(s.runs.c[column] == value)
        return [dict(r) for r in conn.execute(query).mappings()]

    def update_run(self, run_id: str, conn: Connection | None = None, **values: Any) -> None:
        if conn is None:
            with self.write() as own:
                return self.update_run(run_id, own, **values)
        conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(**_bounded_tail(values)))

    def end_run(self, conn: Connection, run_id: str, state: str, **values: Any) -> bool:
        """Move an active run to a final state. False if it had already ended: the first
        verdict wins (a run killed by `kill` must not turn into 'failed' afterwards)."""
        result = conn.execute(
            update(s.runs)
            .where(s.runs.c.id == run_id, s.runs.c.state.in_(s.ACTIVE_RUN_STATES))
            .values(state=state, ended_at=time.time(), **_bounded_tail(values))
        )
        return result.rowcount > 0

    def heartbeat(self, worker_id: str, run_id: str | None) -> dict[str, Any]:
        """Record that the worker (and its run) are alive; return what it must react to."""
        now = time.time()
        with self.write() as conn:
            conn.execute(
                update(s.workers).where(s.workers.c.id == worker_id).values(heartbeat_at=now)
            )
            # Taken for lost while it was silent (frozen, store outage): it is back.
            conn.execute(
                update(s.workers)
                .where(s.workers.c.id == worker_id, s.workers.c.state == "lost")
                .values(state="running", ended_at=None)
            )
            worker = conn.execute(
                select(s.workers.c.state, s.workers.c.sweep_id).where(s.workers.c.id == worker_id)
            ).first()
            status: dict[str, Any] = {"worker_state": worker.state if worker else "lost"}
            if worker is not None:
                status["sweep_state"] = conn.execute(
                    select(s.sweeps.c.state).where(s.sweeps.c.id == worker.sweep_id)
                ).scalar()
            if run_id is not None:
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.id == run_id, s.runs.c.state == s.RUNNING)
                    .values(heartbeat_at=now)
                )
                run = conn.execute(
                    select(s.runs.c.state, s.runs.c.stop_requested, s.runs.c.message).where(
                        s.runs.c.id == run_id
                    )
                ).first()
                status["run_state"] = run.state if run else None
                status["stop_requested"] = bool(run and run.stop_requested)
                status["stop_message"] = run.message if run and run.stop_requested else None
            return status

    def request_stop(self, conn: Connection, run_id: str, message: str) -> bool:
        """Ask the worker of a running run to stop it early (it sees this at its next
        heartbeat); `message` says why. False if the run is no longer running."""
        result = conn.execute(
            update(s.runs)
            .where(s.runs.c.id == run_id, s.runs.c.state == s.RUNNING)
            .values(stop_requested=True, message=message)
        )
        return result.rowcount > 0

    def crash_stale(self, conn: Connection, sweep_id: str, timeout: float) -> list[Row]:
        """Runs and workers silent for longer than `timeout` are taken as dead."""
        deadline = time.time() - timeout
        conn.execute(
            update(s.workers)
            .where(
                s.workers.c.sweep_id == sweep_id,
                s.workers.c.state == "running",
                s.workers.c.heartbeat_at < deadline,
            )
            .values(state="lost", ended_at=time.time())
        )
        stale = [
            dict(r)
            for r in conn.execute(
                select(s.runs).where(
                    s.runs.c.sweep_id == sweep_id,
                    s.runs.c.state.in_(s.ACTIVE_RUN_STATES),
                    func.coalesce(s.runs.c.heartbeat_at, s.runs.c.created_at) < deadline,
                )
            ).mappings()
        ]
        for run in stale:
            self.end_run(
                conn,
                run["id"],
                s.CRASHED,
                message=f"no heartbeat from its worker for {timeout:.0f} s",
            )
        return stale

    def crash_worker_runs(self, worker_id: str, message: str) -> list[Row]:
        """The worker is known dead (its process exited): end it and its active runs now."""
        with self.write() as conn:
            conn.execute(
                update(s.workers)
                .where(s.workers.c.id == worker_id, s.workers.c.state == "running")
                .values(state="lost", ended_at=time.time())
            )
            active = self.list_runs(None, s.ACTIVE_RUN_STATES, conn, worker_id=worker_id)
            for run in active:
                self.end_run(conn, run["id"], s.CRASHED, message=message)
            return active

    # ---------------------------------------------------------------- metrics

    def add_metrics(
        self,
        run_id: str,
        rows: Sequence[tuple[int, str, float | None, float]],
        summary: dict,
        pinned: dict | None = None,
    ) -> None:
        """Append metric rows (step, key, value, time) and merge `summary` into the run's;
        `pinned` values (set by the program) win over logged ones, now and later."""
        with self.write() as conn:
            if rows:
                conn.execute(
                    insert(s.metrics),
                    [
                        {"run_id": run_id, "step": st, "key": k, "value": v, "time": t}
                        for st, k, v, t in rows
                    ],
                )
            if summary or pinned:
                current = conn.execute(
                    select(s.runs.c.summary, s.runs.c.pinned_summary).where(s.runs.c.id == run_id)
                ).first()
                all_pinned = {**((current and current.pinned_summary) or {}), **(pinned or {})}
                merged = {**((current and current.summary) or {}), **summary, **all_pinned}
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.id == run_id)
                    .values(summary=merged, pinned_summary=all_pinned)
                )

    def metric_values(self, conn: Connection, run_id: str, key: str) -> list[float]:
        """The finite values of one metric of one run, in logged order."""
        query = (
            select(s.metrics.c.value)
            .where(
                s.metrics.c.run_id == run_id,
                s.metrics.c.key == key,
                s.metrics.c.value.is_not(None),  # non-finite values are stored as NULL
            )
            .order_by(s.metrics.c.step, s.metrics.c.id)
        )
        return list(conn.execute(query).scalars())

    def sweep_metric_values(
        self, conn: Connection, sweep_id: str, key: str, first: int | None = None
    ) -> dict[str, list[float]]:
        """run id -> the finite values of one metric in logged order, for every run of the
        sweep that logged it; with `first`, only each run's first `first` values."""
        m = s.metrics
        position = func.row_number().over(partition_by=m.c.run_id, order_by=(m.c.step, m.c.id))
        numbered = (
            select(m.c.run_id, m.c.value, position.label("position"))
            .join(s.runs, s.runs.c.id == m.c.run_id)
            .where(s.runs.c.sweep_id == sweep_id, m.c.key == key, m.c.value.is_not(None))
            .subquery()
        )
        query = select(numbered.c.run_id, numbered.c.value).order_by(
            numbered.c.run_id, numbered.c.position
        )
        if first is not None:
            query = query.where(numbered.c.position <= first)
        values: dict[str, list[float]] = {}
        for run_id, value in conn.execute(query):
            values.setdefault(run_id, []).append(value)
        return values

    def metric_history(self, run_id: str, key: str | None = None) -> list[Row]:
        query = (
            select(s.metrics.c.step, s.metrics.c.key, s.metrics.c.value, s.metrics.c.time)
            .where(s.metrics.c.run_id == run_id)
            .order_by(s.metrics.c.key, s.metrics.c.step, s.metrics.c.id)
        )
        if key is not None:
            query = query.where(s.metrics.c.key == key)
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


# SQLite errors worth waiting out; others ("attempt to write a readonly database", "no such
# table", a malformed file) stay until someone acts, so retrying would only delay the error.
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o error")


def _transient(engine: Engine, exc: SQLAlchemyError) -> bool:
    """Whether an operational error may go away by itself: any lost or refused connection
    to a server; on SQLite, only locking and I/O trouble."""
    if engine.dialect.name != "sqlite":
        return True
    return any(word in _first_line(exc).lower() for word in _SQLITE_TRANSIENT)


def _first_line(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
