"""The Alembic environment: run by Alembic (`alembic.command.*`), not imported.

Migrates on `config.attributes["connection"]` when the caller gave one (as
`state.migrations.runner.upgrade_to_head` does, inside its own transaction and lock), else on
an engine for the `sqlalchemy.url` main option. The target metadata is `SQLModel.metadata`
with `state.models` imported (for autogenerate and `compare_metadata`). Offline mode (SQL
scripts) is not supported: the data migrations read rows.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import state.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from state.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"), create_tables=False)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: the data migrations read rows")
run_migrations_online()
