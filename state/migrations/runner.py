"""Running the Alembic migrations: under a lock, in one transaction. Imports Alembic.

`upgrade_to_head(engine)` is what `ensure_schema` and `lead db upgrade` call. The Alembic
environment (`env.py`) is found next to this module, so an installed package works without an
`alembic.ini`; `alembic_config(url)` gives a `Config` for Alembic's own commands (e.g.
`alembic.command.revision` with autogenerate while writing a new revision).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from state.migrations import (
    BASELINE_REVISION,
    HEAD_REVISION,
    MIGRATION_LOCK_KEY,
    SchemaTooNew,
    SchemaUpgrade,
    schema_state,
)

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic `Config` for this package's scripts, without an ini file.

    With `connection`, `env.py` migrates on that connection inside the caller's transaction;
    otherwise on an engine of its own for `url` (made by `state.engine.make_engine` without
    the schema check).
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_revisions() -> list[str]:
    """The revision ids of the scripts in `versions/`, oldest first (one line of history).

    Raises:
        alembic.util.CommandError: the scripts do not form one line.
    """
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def upgrade_to_head(engine: Engine) -> SchemaUpgrade:
    """Lock, look again, and bring the database to `HEAD_REVISION` in one transaction.

    SQLite: the transaction begins `IMMEDIATE` (the database's write lock is the migration
    lock; a second process waits for it, up to the busy timeout) and foreign keys are off
    while tables are rebuilt, then checked (`PRAGMA foreign_key_check`) before the commit.
    PostgreSQL: `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)`, released at the commit. An
    unversioned database is stamped first (see `state.migrations`). Returns what was done,
    `ran=False` when the database was (or meanwhile became) current.

    Raises:
        SchemaTooNew: the database is at a revision this code does not know.
        state.migrations.SchemaError: see `state.migrations.schema_state`; or rows that break
            a foreign key after the migration (SQLite).
        sqlalchemy.exc.OperationalError: the database cannot be reached or the lock not had.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # PRAGMA foreign_keys is a no-op inside a transaction: set it before BEGIN, on
            # the driver's connection (SQLAlchemy would begin one first).
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            connection.execution_options(job_agent_immediate=True)  # see state.engine: BEGIN IMMEDIATE
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                state = schema_state(connection)
                status = state.status
                if status == "current":
                    return SchemaUpgrade(HEAD_REVISION, HEAD_REVISION, ran=False)
                if status == "too_new":
                    raise SchemaTooNew(state.revision)
                config = alembic_config(connection=connection)
                start = state.revision
                stamped = False
                if status == "unversioned":
                    start = HEAD_REVISION if _has_head_schema(connection) else BASELINE_REVISION
                    command.stamp(config, start)
                    stamped = True
                command.upgrade(config, "head")
                if sqlite:
                    _check_foreign_keys(connection)
                return SchemaUpgrade(start, HEAD_REVISION, stamped=stamped)
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _has_head_schema(connection: Connection) -> bool:
    """An unversioned database made by `create_all` from the head models (commit a8d9246,
    before migrations existed) rather than by a release: it has `requirement.identity`."""
    from sqlalchemy import inspect

    return any(column["name"] == "identity" for column in inspect(connection).get_columns("requirement"))


def _check_foreign_keys(connection: Connection) -> None:
    from state.migrations import SchemaError

    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        shown = ", ".join(f"{row[0]} rowid {row[1]} -> {row[2]}" for row in problems[:5])
        raise SchemaError(f"the migrated database has {len(problems)} row(s) breaking a foreign key ({shown}); nothing was changed")
