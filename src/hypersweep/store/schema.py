"""Tables of the store (SQLAlchemy Core). Times are float epoch seconds: portable and cheap."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Run states. A run is "active" while pending or running; the others are final.
PENDING, RUNNING = "pending", "running"
FINISHED, FAILED, CRASHED, KILLED, STOPPED_EARLY = (
    "finished",
    "failed",
    "crashed",
    "killed",
    "stopped_early",
)
ACTIVE_RUN_STATES = (PENDING, RUNNING)
FINAL_RUN_STATES = (FINISHED, FAILED, CRASHED, KILLED, STOPPED_EARLY)
RUN_STATES = ACTIVE_RUN_STATES + FINAL_RUN_STATES
# Runs that produced no verdict on their point: the point is handed out again.
RETRYABLE_RUN_STATES = (CRASHED, KILLED)

# Sweep states.
SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_FINISHED, SWEEP_CANCELLED, SWEEP_FAILED = (
    "running",
    "paused",
    "finished",
    "cancelled",
    "failed",
)
SWEEP_STATES = (SWEEP_RUNNING, SWEEP_PAUSED, SWEEP_FINISHED, SWEEP_CANCELLED, SWEEP_FAILED)

sweeps = Table(
    "hs_sweeps",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("project", String(200)),
    Column("entity", String(200)),
    Column("method", String(20), nullable=False),
    Column("config", JSON, nullable=False),  # the sweep file as given
    Column("source", Text),  # path of the sweep file, for humans
    Column("workdir", Text),  # directory the program is run from
    Column("settings", JSON, nullable=False),  # seed, fail_fast, max_attempts...
    Column("state", String(20), nullable=False),
    Column("message", Text),  # why the sweep ended, when it did not finish normally
    Column("points_issued", Integer, nullable=False, default=0),  # next fresh point index
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

workers = Table(
    "hs_workers",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("sweep_id", String(16), ForeignKey("hs_sweeps.id", ondelete="CASCADE"), index=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("pid_started", Float),  # process create time: guards against pid reuse
    Column("gpu_ids", String(100)),
    Column("backend", String(20), nullable=False, default="local"),
    Column("node", String(100)),  # Ray node id of a Ray worker; None for local workers
    Column("state", String(20), nullable=False),  # running, stopped, lost
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("ended_at", Float),
)

runs = Table(
    "hs_runs",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("sweep_id", String(16), ForeignKey("hs_sweeps.id", ondelete="CASCADE"), index=True),
    Column("point_index", Integer),  # which point of the sweep; retries share it
    Column("attempt", Integer, nullable=False, default=1),
    Column("superseded", Boolean, nullable=False, default=False),  # a retry took its point
    Column("params", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("worker_id", String(16)),
    Column("host", String(255)),
    Column("pid", Integer),  # the program's pid, also its process-group id
    Column("pid_started", Float),
    Column("gpu_ids", String(100)),
    Column("command", JSON),
    Column("log_path", Text),
    Column("log_tail", Text),
    Column("exit_code", Integer),
    Column("message", Text),
    Column("summary", JSON, nullable=False),
    Column("pinned_summary", JSON),  # values the program set itself: logging can't override
    # Early termination decided this run stops (message: why); its worker ends it stopped_early.
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("heartbeat_at", Float),
    Column("ended_at", Float),
    Index("ix_hs_runs_sweep_state", "sweep_id", "state"),
)

metrics = Table(
    "hs_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(16), ForeignKey("hs_runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Float),
    Column("time", Float, nullable=False),
    Index("ix_hs_metrics_run_key_step", "run_id", "key", "step"),
)
