"""The database engine factory and the default database location.

Default: a SQLite file at `.job-agent/state.db` under the current directory (WAL journal,
busy timeout, foreign keys on). Any SQLAlchemy URL works instead (PostgreSQL:
`postgresql+psycopg://user@host/db`), given by `--db` or the `JOB_AGENT_DB` environment
variable. `JOB_AGENT_HOME` moves the `.job-agent` directory. No engine is created at import
time.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for the lock before `database is locked` (milliseconds);
`$JOB_AGENT_SQLITE_BUSY_TIMEOUT_MS` overrides it."""


def sqlite_busy_timeout_ms() -> int:
    """The SQLite busy timeout in force (milliseconds): `$JOB_AGENT_SQLITE_BUSY_TIMEOUT_MS` or
    `SQLITE_BUSY_TIMEOUT_MS`."""
    try:
        return max(0, int(os.environ.get("JOB_AGENT_SQLITE_BUSY_TIMEOUT_MS", SQLITE_BUSY_TIMEOUT_MS)))
    except ValueError:
        return SQLITE_BUSY_TIMEOUT_MS


def home_dir() -> Path:
    """The `.job-agent` directory: `$JOB_AGENT_HOME` or `./.job-agent`."""
    return Path(os.environ.get("JOB_AGENT_HOME") or ".job-agent")


def default_url() -> str:
    """The database URL in force: `$JOB_AGENT_DB`, else `sqlite:///<home>/state.db`."""
    return os.environ.get("JOB_AGENT_DB") or f"sqlite:///{home_dir() / 'state.db'}"


def redact_url(url: str) -> str:
    """The URL with any password hidden, fit for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | None = None, *, create_tables: bool = True) -> Engine:
    """Create an engine for `url` (default `default_url()`) and bring its schema to the head.

    SQLite: the file's directory is created; each connection gets WAL, a busy timeout of
    `SQLITE_BUSY_TIMEOUT_MS` and foreign keys on, and transactions begin `IMMEDIATE` when the
    engine is used through `writer(engine)` so that compare-and-set updates and claims
    serialise instead of failing on lock upgrades.

    With `create_tables` (the default) the schema is checked with a plain query and, only when
    it is behind, migrated under a lock (`state.migrations.ensure_schema`): a new database gets
    the tables quietly; an older one is upgraded in place and one line says so on stderr
    (`state: upgraded the database schema from 0001_baseline to 0002_identity_recurrence`).
    With `create_tables=False` the database is not touched (`lead db` uses that).

    Raises:
        sqlalchemy.exc.ArgumentError: the URL is not a database URL.
        sqlalchemy.exc.OperationalError: the database cannot be reached or opened.
        state.migrations.SchemaTooNew: a newer release wrote the database (a `SchemaError`).
        state.migrations.SchemaError: the schema cannot be brought to the head (the message says why).
    """
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        # The driver we ship is psycopg 3; SQLAlchemy's bare scheme would ask for psycopg2.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        busy_ms = sqlite_busy_timeout_ms()
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000})
        _configure_sqlite(engine, busy_ms)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create_tables:
        from state.migrations import ensure_schema, print_to_stderr

        ensure_schema(engine, announce=print_to_stderr)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, marked so SQLite transactions take the write lock at BEGIN.

    On other databases this changes nothing (they lock rows, see `state.queue`).
    """
    return engine.execution_options(job_agent_immediate=True)


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        if connection.get_execution_options().get("job_agent_immediate"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
