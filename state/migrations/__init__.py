"""Schema migrations for the state database (Alembic), and the check that runs them.

The schema is created and changed only by the revisions in `versions/`; `REVISIONS` lists
them oldest first (a test checks it against Alembic's own history). `make_engine` calls
`ensure_schema`, which costs one or two plain queries when the database is current and then
never imports Alembic, so `lead status` stays fast. When the database is behind it takes a
lock (SQLite: the write lock, `BEGIN IMMEDIATE`; PostgreSQL: `pg_advisory_xact_lock` on
`MIGRATION_LOCK_KEY`), looks again (another process may have upgraded meanwhile), and runs
every migration in that one transaction: a failed upgrade leaves the database as it was.

A database is in one of these states (`SchemaState.status`):

- `current`: at `HEAD_REVISION`; nothing to do.
- `empty`: no state tables; the migrations create them (quietly: a new database is expected).
- `unversioned`: the tables exist but no `alembic_version` (made by a release before
  migrations, with `create_all`): stamped `0001_baseline` (the schema every such release
  wrote), then upgraded. One made by the models-only development commit a8d9246 already has
  the head schema and is stamped `HEAD_REVISION`.
- `behind`: an older known revision; upgraded.
- `too_new`: a revision this code does not know (a newer release wrote it): `SchemaTooNew`.

Writing a new revision: add `versions/NNNN_name.py` (revision id = file stem, `down_revision`
the previous head; copy `script.py.mako`'s shape), append its id to `REVISIONS`, and check it
with `uv run pytest tests/state/test_migrations.py`. Autogenerate helps with the DDL:
`alembic.command.revision(alembic_config("sqlite:///scratch.db"), "msg", autogenerate=True,
rev_id="NNNN_name")` after upgrading scratch.db to the previous head (see `runner`). A
revision must not import `state.models` (the models move on; a revision is frozen).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

REVISIONS: tuple[str, ...] = ("0001_baseline", "0002_identity_recurrence", "0003_decisions", "0004_llm_audit")
"""Every revision, oldest first; the last is the head."""

BASELINE_REVISION = REVISIONS[0]
"""The schema of every release before migrations existed (up to and including 6bf6ae3)."""

HEAD_REVISION = REVISIONS[-1]
"""The revision this code's `state.models` corresponds to."""

VERSION_TABLE = "alembic_version"

MIGRATION_LOCK_KEY = int.from_bytes(b"jobagent", "big")
"""The PostgreSQL advisory lock key held (transaction-scoped) while migrating."""

STATE_TABLES = ("requirement", "task", "task_dependency", "task_event")
"""The tables every release has had; their presence tells an unversioned database from an empty one."""


class SchemaError(Exception):
    """The database's schema cannot be brought to this code's head; the message says why and what to do."""


class SchemaTooNew(SchemaError):
    """The database is at a revision this code does not know: a newer release wrote it.

    Attributes: `revision` (what the database says), `head` (`HEAD_REVISION`).
    """

    def __init__(self, revision: str) -> None:
        self.revision = revision
        self.head = HEAD_REVISION
        super().__init__(
            f"the database schema is at revision {revision!r}, which this release does not know "
            f"(it knows up to {HEAD_REVISION!r}): a newer release of job-agent wrote it; "
            "use that release (or newer) with this database"
        )


class SchemaUnrecognised(SchemaError):
    """The database has some of the state tables but not all, and no schema version."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands.

    revision: the `alembic_version` value, or None when there is none. tables: which of
    `STATE_TABLES` exist (only looked at when `revision` is None, else empty).
    """

    revision: str | None
    tables: frozenset[str] = frozenset()

    @property
    def status(self) -> str:
        """`current`, `behind`, `empty`, `unversioned` or `too_new` (see the module docstring)."""
        if self.revision == HEAD_REVISION:
            return "current"
        if self.revision is not None:
            return "behind" if self.revision in REVISIONS else "too_new"
        return "unversioned" if self.tables else "empty"

    @property
    def effective_revision(self) -> str | None:
        """The revision the schema is at: `revision`, or `BASELINE_REVISION` for an
        unversioned database, None for an empty one."""
        if self.revision is None and self.tables:
            return BASELINE_REVISION
        return self.revision


@dataclass(frozen=True)
class SchemaUpgrade:
    """What an upgrade did: from `from_revision` (None: an empty database; for an unversioned
    one the revision it was stamped with) to `to_revision`. `stamped`: the database had no
    version and was stamped first. `ran`: False when it was already current."""

    from_revision: str | None
    to_revision: str
    stamped: bool = False
    ran: bool = True

    def describe(self) -> str:
        """One line for people, e.g. `upgraded the database schema from 0001_baseline to 0002_...`."""
        if not self.ran:
            return f"the database schema is current ({self.to_revision})"
        if self.from_revision is None:
            return f"created the database schema at {self.to_revision}"
        if self.stamped and self.from_revision == self.to_revision:
            return f"recorded the unversioned database schema as {self.to_revision}"
        stamped = " (unversioned)" if self.stamped else ""
        return f"upgraded the database schema from {self.from_revision}{stamped} to {self.to_revision}"


def schema_state(connection: Connection) -> SchemaState:
    """Read where the schema stands with plain queries (never imports Alembic).

    Raises:
        SchemaUnrecognised: no version, and only some of `STATE_TABLES` exist.
        sqlalchemy.exc.OperationalError: the database cannot be read.
    """
    inspector = inspect(connection)
    if inspector.has_table(VERSION_TABLE):
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if len(rows) > 1:
            raise SchemaUnrecognised(f"{VERSION_TABLE} holds several revisions ({', '.join(sorted(rows))}); this code has one line of revisions")
        if rows:
            return SchemaState(revision=rows[0])
    tables = frozenset(name for name in STATE_TABLES if inspector.has_table(name))
    if tables and tables != frozenset(STATE_TABLES):
        missing = ", ".join(sorted(set(STATE_TABLES) - tables))
        raise SchemaUnrecognised(f"the database has some of the state tables but not {missing}, and no schema version: not a job-agent database?")
    return SchemaState(revision=None, tables=tables)


def read_schema_state(engine: Engine) -> SchemaState:
    """`schema_state` on a connection of its own.

    Raises: as `schema_state`.
    """
    with engine.connect() as connection:
        return schema_state(connection)


def ensure_schema(engine: Engine, *, announce: Callable[[str], None] | None = None) -> SchemaUpgrade | None:
    """Bring the database to `HEAD_REVISION` if it is behind; None when it already was.

    The check is one or two plain queries; Alembic is imported only to upgrade. `announce`
    gets one line (`state: upgraded the database schema from A to B`) after an upgrade of an
    existing database (not after creating a new one, nor when another process upgraded it
    while this one waited for the lock).

    Raises:
        SchemaTooNew: the database is at a revision this code does not know.
        SchemaUnrecognised: see `schema_state`.
        sqlalchemy.exc.OperationalError: the database cannot be reached, or the lock not had
            (SQLite waits `state.engine.SQLITE_BUSY_TIMEOUT_MS` for it).
    """
    state = read_schema_state(engine)
    if state.status == "current":
        return None
    if state.status == "too_new":
        raise SchemaTooNew(state.revision)
    from state.migrations.runner import upgrade_to_head

    done = upgrade_to_head(engine)
    if announce is not None and done.ran and done.from_revision is not None:
        announce(f"state: {done.describe()}")
    return done if done.ran else None


def print_to_stderr(line: str) -> None:
    """The announcement `make_engine` uses: the line on stderr."""
    print(line, file=sys.stderr, flush=True)
