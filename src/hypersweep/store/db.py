"""Opening a store: URL handling and engine set-up for SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..files import create_private, private_dir

STORE_ENV = "HYPERSWEEP_STORE"
SQLITE_BUSY_ENV = "HYPERSWEEP_SQLITE_BUSY_TIMEOUT"
DEFAULT_DIR = ".hypersweep"


class StoreError(Exception):
    """A store problem the user can fix (bad URL, server unreachable). str() is one line."""


class StoreUnavailable(StoreError):
    """The store did not answer (server down or restarting, connection lost, SQLite locked
    past its busy timeout): worth retrying, unlike a bad URL or a missing schema."""


def default_store_url() -> str:
    """`HYPERSWEEP_STORE`, else a SQLite file under .hypersweep/ in the current directory."""
    url = os.environ.get(STORE_ENV)
    if url:
        return url
    return f"sqlite:///{Path.cwd() / DEFAULT_DIR / 'hypersweep.db'}"


def sqlalchemy_url(url: str) -> str:
    """Accept the URLs users write (postgresql://...) and pick our drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {url!r} is not a database URL "
            "(use sqlite:///path/to/file.db or postgresql://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise StoreError(f"store URL {url!r}: only sqlite and postgresql stores are supported")
    return parsed.render_as_string(hide_password=False)


def sqlite_busy_timeout() -> float:
    """How long a SQLite writer waits for the lock before "database is locked" (seconds)."""
    return float(os.environ.get(SQLITE_BUSY_ENV, "60"))


def create_store_engine(url: str) -> Engine:
    full_url = sqlalchemy_url(url)
    if full_url.startswith("sqlite"):
        return _sqlite_engine(full_url)
    return create_engine(full_url, pool_pre_ping=True, pool_size=2, max_overflow=4)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:" and not parsed.query.get("uri"):
        # Exactly the path sqlite3 opens (SQLAlchemy does not expand `~`). Created 0600
        # before SQLite opens it, since SQLite gives its -wal and -shm files the database
        # file's mode; its directory, if new, 0700.
        try:
            private_dir(Path(database).parent)
            create_private(database)
        except OSError:
            pass  # SQLite says why it cannot open it, as one line (StoreError)
    busy_s = sqlite_busy_timeout()
    engine = create_engine(url, connect_args={"timeout": busy_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Writers take the write lock up front: a deferred transaction that reads and
        # then writes can fail with "database is locked" instead of waiting its turn.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
