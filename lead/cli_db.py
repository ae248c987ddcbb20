"""`lead db`: the state database's schema.

    lead db current     the schema revision, and whether it is behind this release
    lead db upgrade     run the migrations up to this release's head (under a lock)

Every other command also upgrades a database that is behind (see `state.engine.make_engine`);
`lead db upgrade` does it on purpose, e.g. before starting many workers. Both take `--json`
and `--db URL` (or `$JOB_AGENT_DB`). Exit codes as `lead`: 0 success, 1 user error (a bad URL,
an unreachable database, a schema newer than this release), 2 internal error.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator

import typer

from lead.cli_runner import DbOption, JsonOption, UserError

app = typer.Typer(
    name="db",
    help="The state database's schema: which revision it is at, and upgrading it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_EXPLAINED = {
    "current": "current",
    "behind": "behind: `lead db upgrade` (or any other command) upgrades it",
    "unversioned": "no schema version (made by a release before migrations, schema {baseline}): `lead db upgrade` (or any other command) upgrades it",
    "empty": "no tables yet: `lead db upgrade` (or any other command) creates them",
    "too_new": "newer than this release knows: use the release that wrote it, or a newer one",
}


@app.command()
def current(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Show the database's schema revision and whether it is behind this release."""
    from state.migrations import BASELINE_REVISION, HEAD_REVISION, SchemaError, read_schema_state

    url, engine = _engine(db)
    try:
        with _reaching(db):
            state = read_schema_state(engine)
    except SchemaError as error:
        raise UserError(str(error)) from None
    finally:
        engine.dispose()
    status = state.status
    data = {
        "database": url,
        "revision": state.revision,
        "head": HEAD_REVISION,
        "status": status,
        "behind": status in ("behind", "unversioned", "empty"),
    }
    shown = state.revision or ("-" if status == "empty" else "(none)")
    text = f"{shown}: {_EXPLAINED[status].format(baseline=BASELINE_REVISION)}"
    if status != "current":
        text += f" (this release: {HEAD_REVISION})"
    _emit(as_json, data, text)


@app.command()
def upgrade(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Run the schema migrations up to this release's head; say from which revision to which.

    Safe to run while other commands start: the upgrade holds a lock and runs once.
    """
    from state.migrations import SchemaError
    from state.migrations.runner import upgrade_to_head

    url, engine = _engine(db)
    try:
        with _reaching(db):
            done = upgrade_to_head(engine)
    except SchemaError as error:
        raise UserError(str(error)) from None
    finally:
        engine.dispose()
    data = {"database": url, "from": done.from_revision, "to": done.to_revision, "upgraded": done.ran, "stamped": done.stamped}
    _emit(as_json, data, done.describe() + ".")


def _engine(db: str | None):
    """(redacted URL, engine without the schema check) for `--db`."""
    from sqlalchemy.exc import ArgumentError

    from state.engine import default_url, make_engine, redact_url

    try:
        return redact_url(db or default_url()), make_engine(db, create_tables=False)
    except ArgumentError as error:
        raise UserError(f"--db: not a database URL: {error}") from None


@contextmanager
def _reaching(db: str | None) -> Iterator[None]:
    """Turns an unreachable database into a `UserError` naming it (password hidden)."""
    from sqlalchemy.exc import OperationalError

    from state.engine import redact_url

    try:
        yield
    except OperationalError as error:
        target = redact_url(db) if db else "the default database"
        raise UserError(f"cannot open {target}: {error.orig}") from None


def _emit(as_json: bool, data: Any, text: str) -> None:
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else text)
