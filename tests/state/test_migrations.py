"""Schema migrations: a database of release 6bf6ae3 upgrades in place with its tasks intact.

Real databases only: SQLite files in temp dirs (one written by release 6bf6ae3's own code,
see `fixtures/make_6bf6ae3_db.py`), and a PostgreSQL server at 127.0.0.1:5432 (a database
of our own per test, dropped afterwards; the tests skip when the server is unreachable).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, SQLModel, select

import state.models  # noqa: F401  (the head tables on SQLModel.metadata)
from lead.cli import app as lead_app
from lead.cli_runner import run_cli
from state.engine import make_engine
from state.migrations import (
    BASELINE_REVISION,
    HEAD_REVISION,
    REVISIONS,
    SchemaTooNew,
    read_schema_state,
)
from state.migrations.runner import alembic_config, script_revisions, upgrade_to_head
from state.models import Requirement, Task

FIXTURE = Path(__file__).parent / "fixtures" / "state-6bf6ae3.db"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
UPGRADED_LINE = f"state: upgraded the database schema from {BASELINE_REVISION} (unversioned) to {HEAD_REVISION}"

# The columns every release before migrations wrote; they must come through unchanged.
PRIMARY_KEYS = {"requirement": ("id",), "task": ("id",), "task_dependency": ("task_id", "depends_on_id"), "task_event": ("id",)}
OLD_COLUMNS = {
    "requirement": {
        "id": sa.Integer(), "title": sa.String(), "slug": sa.String(), "source_path": sa.Text(),
        "content_sha256": sa.String(), "revision": sa.Integer(), "status": sa.String(), "owner": sa.String(),
        "front_matter": sa.JSON(), "created_at": sa.DateTime(timezone=True), "updated_at": sa.DateTime(timezone=True),
    },
    "task": {
        "id": sa.Integer(), "requirement_id": sa.Integer(), "revision": sa.Integer(), "spec_key": sa.String(),
        "type": sa.String(), "title": sa.String(), "payload": sa.JSON(), "status": sa.String(), "phase": sa.String(),
        "priority": sa.Integer(), "attempts": sa.Integer(), "max_attempts": sa.Integer(),
        "not_before": sa.DateTime(timezone=True), "lease_owner": sa.String(), "lease_expires_at": sa.DateTime(timezone=True),
        "plan": sa.JSON(), "result": sa.JSON(), "error": sa.Text(), "source_path": sa.String(), "source_line": sa.Integer(),
        "source_field": sa.String(), "created_at": sa.DateTime(timezone=True), "updated_at": sa.DateTime(timezone=True),
    },
    "task_dependency": {"task_id": sa.Integer(), "depends_on_id": sa.Integer()},
    "task_event": {
        "id": sa.Integer(), "task_id": sa.Integer(), "from_status": sa.String(), "to_status": sa.String(),
        "phase": sa.String(), "actor": sa.String(), "reason": sa.Text(), "at": sa.DateTime(timezone=True),
    },
}


def _old_table(name: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(column, type_) for column, type_ in OLD_COLUMNS[name].items()))


def select_all(name: str) -> sa.Select:
    table = _old_table(name)
    return sa.select(table).order_by(*(table.c[key] for key in PRIMARY_KEYS[name]))


def snapshot(url: str) -> dict[str, list[dict]]:
    """Every row of the old tables, old columns only, in primary-key order."""
    engine = make_engine(url, create_tables=False)
    try:
        with engine.connect() as connection:
            return {
                name: [dict(row) for row in connection.execute(select_all(name)).mappings()]
                for name in OLD_COLUMNS
            }
    finally:
        engine.dispose()


def differences(url: str) -> list:
    """`compare_metadata` of the database against the head models: [] when they agree."""
    engine = make_engine(url, create_tables=False)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
    finally:
        engine.dispose()


def lead(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_cli(lead_app, "lead", list(args))
    out, err = capsys.readouterr()
    return code, out, err


def retries_by_task(events: list[dict]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for event in events:
        if event["from_status"] == "FAILED" and event["to_status"] == "PENDING":
            counts[event["task_id"]] = counts.get(event["task_id"], 0) + 1
    return counts


def check_upgraded(url: str, before: dict[str, list[dict]], identities: dict[int, tuple[str, str, str]]) -> None:
    """The old rows are unchanged, the new columns filled as the migration promises, the
    schema is the head models' and the models read every row. identities: {requirement id:
    (identity, bundle, target)}."""
    assert snapshot(url) == before
    assert differences(url) == []
    assert read_schema_state(make_engine(url, create_tables=False)).revision == HEAD_REVISION
    retries = retries_by_task(before["task_event"])
    payloads = {row["id"]: row["payload"] for row in before["task"]}
    engine = make_engine(url, create_tables=False)
    try:
        with Session(engine) as session:
            requirements = {r.id: r for r in session.exec(select(Requirement))}
            assert {i: (r.identity, r.bundle, r.target) for i, r in requirements.items()} == identities
            assert {r.kind for r in requirements.values()} == {"file"}
            tasks = list(session.exec(select(Task).order_by(Task.id)))
            assert [t.id for t in tasks] == [row["id"] for row in before["task"]]
            for task, old in zip(tasks, before["task"]):
                assert (task.status, task.payload, task.plan, task.result, task.error) == (old["status"], old["payload"], old["plan"], old["result"], old["error"])
                assert task.created_at.tzinfo is not None
                assert task.retry_generation == retries.get(task.id, 0)
                assert (task.occurrence, task.idempotency_key, task.schedule, task.scheduled_for, task.checkpoint) == (0, None, None, None, None)
                requirement = requirements[task.requirement_id]
                expected_key = f"{requirement.bundle}/{requirement.target}/{payloads[task.id]['job_key']}" if task.type == "deploy_job" else None
                assert task.deployment_key == expected_key
    finally:
        engine.dispose()


@pytest.fixture
def old_sqlite(tmp_path) -> str:
    """A copy of the release-6bf6ae3 database; its URL."""
    path = tmp_path / "state.db"
    shutil.copy(FIXTURE, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database of our own (dropped afterwards); its URL."""
    import psycopg

    try:
        admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {error}")
    name = f"job_agent_migrations_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def migrate_to(url: str, revision: str) -> None:
    """Run the migrations up to `revision` only (to make an older schema)."""
    engine = make_engine(url, create_tables=False)
    try:
        with engine.connect() as connection, connection.begin():
            command.upgrade(alembic_config(connection=connection), revision)
    finally:
        engine.dispose()


# -- the revisions ---------------------------------------------------------------------------


def test_the_revision_constants_are_alembics_history():
    assert script_revisions() == list(REVISIONS)
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_the_baseline_is_exactly_what_release_6bf6ae3_created(tmp_path):
    migrate_to(f"sqlite:///{tmp_path / 'base.db'}", BASELINE_REVISION)

    def ddl(path: Path) -> dict[str, str]:
        with sqlite3.connect(path) as con:
            return dict(con.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version'"))

    made_by_release = ddl(FIXTURE)
    assert set(made_by_release) >= {"requirement", "task", "task_dependency", "task_event", "ix_task_claim"}
    assert ddl(tmp_path / "base.db") == made_by_release


# -- release 6bf6ae3's database on SQLite ----------------------------------------------------


def test_release_6bf6ae3_sqlite_database_upgrades_with_its_tasks_intact(old_sqlite, capsys):
    before = snapshot(old_sqlite)
    # The fixture holds what the checks below are about.
    statuses = [row["status"] for row in before["task"]]
    assert {"COMPLETE", "CANCELLED", "FAILED"} <= set(statuses)
    assert all(row["plan"] and row["result"] for row in before["task"] if row["status"] == "COMPLETE")
    assert sorted(retries_by_task(before["task_event"]).values()) == [2]
    assert before["task_dependency"]

    make_engine(old_sqlite).dispose()
    assert capsys.readouterr().err.strip() == UPGRADED_LINE

    check_upgraded(old_sqlite, before, {
        1: ("nightly_sales/dev", "nightly_sales", "dev"),
        2: ("nightly_sales/dev#2", "nightly_sales", "dev"),  # same bundle/target as REQ-0001, from another path
        3: ("broken-notebook/dev", "broken-notebook", "dev"),  # no bundle/target in the front matter
    })

    make_engine(old_sqlite).dispose()
    assert capsys.readouterr().err == ""  # current now: nothing to say

    code, out, _ = lead(capsys, "status", "--db", old_sqlite, "--json")
    assert code == 0
    board = {row["id"]: row for row in json.loads(out)}
    assert sorted(board) == ["REQ-0001", "REQ-0002", "REQ-0003"]
    assert board["REQ-0003"]["status"] == "FAILED"


def test_lead_db_upgrade_reports_from_and_to(old_sqlite, capsys):
    code, out, _ = lead(capsys, "db", "current", "--db", old_sqlite, "--json")
    assert code == 0
    assert json.loads(out) | {"database": None} == {
        "database": None, "revision": None, "head": HEAD_REVISION, "status": "unversioned", "behind": True,
    }

    code, out, err = lead(capsys, "db", "upgrade", "--db", old_sqlite, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"database": old_sqlite, "from": BASELINE_REVISION, "to": HEAD_REVISION, "upgraded": True, "stamped": True}

    code, out, _ = lead(capsys, "db", "upgrade", "--db", old_sqlite)
    assert (code, out.strip()) == (0, f"the database schema is current ({HEAD_REVISION}).")
    code, out, _ = lead(capsys, "db", "current", "--db", old_sqlite)
    assert (code, out.strip()) == (0, f"{HEAD_REVISION}: current")


def test_a_database_at_the_baseline_revision_is_upgraded(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate_to(url, BASELINE_REVISION)
    assert differences(url) != []  # the comparison does see an old schema

    make_engine(url).dispose()
    assert capsys.readouterr().err.strip() == f"state: upgraded the database schema from {BASELINE_REVISION} to {HEAD_REVISION}"
    assert differences(url) == []


def test_two_processes_upgrading_the_same_old_file_both_succeed_and_it_runs_once(old_sqlite):
    before = snapshot(old_sqlite)
    path = old_sqlite.removeprefix("sqlite:///")
    # Hold the write lock so that both processes find the database behind and then queue for
    # the migration lock (they may also arrive after it is released; either way is correct).
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    code = "import sys; from state.engine import make_engine; print('ready', flush=True); make_engine(sys.argv[1]).dispose()"
    children = [
        subprocess.Popen([sys.executable, "-c", code, old_sqlite], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
    finally:
        holder.execute("COMMIT")
        holder.close()
    results = [child.communicate() for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    messages = [err.strip() for _, err in results]
    assert sorted(messages) == ["", UPGRADED_LINE]
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD_REVISION,)]
    check_upgraded(old_sqlite, before, {
        1: ("nightly_sales/dev", "nightly_sales", "dev"),
        2: ("nightly_sales/dev#2", "nightly_sales", "dev"),
        3: ("broken-notebook/dev", "broken-notebook", "dev"),
    })


# -- new databases -------------------------------------------------------------------------------


def test_an_empty_sqlite_database_is_created_at_the_head_quietly(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'new' / 'state.db'}"
    make_engine(url).dispose()
    assert capsys.readouterr().err == ""
    assert read_schema_state(make_engine(url, create_tables=False)).revision == HEAD_REVISION
    assert differences(url) == []


def test_an_unversioned_database_with_the_head_schema_is_only_stamped(tmp_path, capsys):
    # What `create_all` made from these models before migrations existed (commit a8d9246).
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = make_engine(url, create_tables=False)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    make_engine(url).dispose()
    assert capsys.readouterr().err.strip() == f"state: recorded the unversioned database schema as {HEAD_REVISION}"
    assert differences(url) == []


# -- a newer release's database ------------------------------------------------------------------


def test_a_revision_newer_than_this_code_is_refused(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    make_engine(url).dispose()
    with sqlite3.connect(tmp_path / "state.db") as con:
        con.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")

    with pytest.raises(SchemaTooNew) as raised:
        make_engine(url)
    assert raised.value.revision == "0099_from_the_future"
    with pytest.raises(SchemaTooNew):
        upgrade_to_head(make_engine(url, create_tables=False))

    code, _, err = lead(capsys, "status", "--db", url)
    assert code == 1
    assert "0099_from_the_future" in err and "newer release" in err
    code, _, err = lead(capsys, "db", "upgrade", "--db", url)
    assert code == 1 and "0099_from_the_future" in err
    code, out, _ = lead(capsys, "db", "current", "--db", url, "--json")
    assert code == 0
    assert json.loads(out)["status"] == "too_new"
    with sqlite3.connect(tmp_path / "state.db") as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099_from_the_future",)]


# -- PostgreSQL ------------------------------------------------------------------------------------


def _insert_old_rows(url: str) -> None:
    """Rows as release 6bf6ae3 wrote them, covering the identity rules."""
    from datetime import datetime, timezone

    at = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    requirements = [
        {"id": 1, "source_path": "/repo/reqs/nightly-sales.md", "front_matter": {"bundle": "nightly_sales", "target": "prod"}},
        {"id": 2, "source_path": "/clone/reqs/nightly-sales.md", "front_matter": {"bundle": "nightly_sales", "target": "prod"}},
        {"id": 3, "source_path": "C:\\work\\ops-jobs.md", "front_matter": {"bundle": "", "target": {"not": "a string"}}},
        {"id": 4, "source_path": "/repo/ops-jobs.md", "front_matter": {}},
    ]
    tasks = [
        {"id": 1, "requirement_id": 1, "type": "deploy_job", "payload": {"job_key": "sales", "settings": {"name": "s"}}, "status": "COMPLETE",
         "plan": {"action": "CREATE"}, "result": {"job_id": 11}},
        {"id": 2, "requirement_id": 1, "type": "run_job", "payload": {"job_key": "sales"}, "status": "COMPLETE", "plan": {"action": "RUN"}, "result": {"run_id": 7}},
        {"id": 3, "requirement_id": 2, "type": "deploy_job", "payload": {"job_key": "sales"}, "status": "PENDING", "plan": None, "result": None},
        {"id": 4, "requirement_id": 3, "type": "deploy_job", "payload": {"job_key": "ops"}, "status": "FAILED", "plan": None, "result": None},
        {"id": 5, "requirement_id": 4, "type": "deploy_job", "payload": {"job_key": "ops"}, "status": "PENDING", "plan": None, "result": None},
    ]
    events = [
        (4, None, "PENDING"), (4, "PENDING", "IN_PROGRESS"), (4, "IN_PROGRESS", "FAILED"), (4, "FAILED", "PENDING"),
        (4, "PENDING", "IN_PROGRESS"), (4, "IN_PROGRESS", "FAILED"), (1, None, "PENDING"), (1, "PENDING", "IN_PROGRESS"),
        (1, "IN_PROGRESS", "COMPLETE"),
    ]
    engine = make_engine(url, create_tables=False)
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(_old_table("requirement")), [
                r | {"title": f"r{r['id']}", "slug": f"r{r['id']}", "content_sha256": "0" * 64, "revision": 1, "status": "OPEN",
                     "owner": None, "created_at": at, "updated_at": at} for r in requirements
            ])
            connection.execute(sa.insert(_old_table("task")), [
                t | {"revision": 1, "spec_key": f"k{t['id']}", "title": f"t{t['id']}", "phase": None, "priority": 0, "attempts": 1,
                     "max_attempts": 3, "not_before": None, "lease_owner": None, "lease_expires_at": None, "error": None,
                     "source_path": "/x.md", "source_line": 1, "source_field": "f", "created_at": at, "updated_at": at} for t in tasks
            ])
            connection.execute(sa.insert(_old_table("task_dependency")), [{"task_id": 2, "depends_on_id": 1}])
            connection.execute(sa.insert(_old_table("task_event")), [
                {"id": i, "task_id": t, "from_status": f, "to_status": s, "phase": None, "actor": "lead", "reason": None, "at": at}
                for i, (t, f, s) in enumerate(events, 1)
            ])
            # Ids were given explicitly: move the sequences on, as the release's own inserts would have.
            for table in ("requirement", "task", "task_event"):
                connection.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    finally:
        engine.dispose()


PG_IDENTITIES = {
    1: ("nightly_sales/prod", "nightly_sales", "prod"),
    2: ("nightly_sales/prod#2", "nightly_sales", "prod"),
    3: ("ops-jobs/dev", "ops-jobs", "dev"),  # empty bundle and a non-string target: the file's stem, dev
    4: ("ops-jobs/dev#4", "ops-jobs", "dev"),
}


def _stamp_as_unversioned(url: str) -> None:
    engine = make_engine(url, create_tables=False)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alembic_version")
    finally:
        engine.dispose()


def test_release_6bf6ae3_postgresql_database_upgrades_with_its_tasks_intact(pg_url, capsys):
    migrate_to(pg_url, BASELINE_REVISION)
    _stamp_as_unversioned(pg_url)  # releases before migrations had no alembic_version
    _insert_old_rows(pg_url)
    before = snapshot(pg_url)
    assert differences(pg_url) != []

    make_engine(pg_url).dispose()
    assert capsys.readouterr().err.strip() == UPGRADED_LINE
    check_upgraded(pg_url, before, PG_IDENTITIES)

    code, out, _ = lead(capsys, "status", "--db", pg_url, "--json")
    assert code == 0
    assert [row["id"] for row in json.loads(out)] == ["REQ-0001", "REQ-0002", "REQ-0003", "REQ-0004"]


def test_concurrent_upgrades_on_postgresql_run_once(pg_url):
    migrate_to(pg_url, BASELINE_REVISION)
    _insert_old_rows(pg_url)
    before = snapshot(pg_url)
    engines = [make_engine(pg_url, create_tables=False) for _ in range(3)]
    results: list = [None] * len(engines)
    start = threading.Barrier(len(engines))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = upgrade_to_head(engines[i])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.ran for r in results) == [False, False, True]
    check_upgraded(pg_url, before, PG_IDENTITIES)


def test_an_empty_postgresql_database_is_created_at_the_head(pg_url, capsys):
    make_engine(pg_url).dispose()
    assert capsys.readouterr().err == ""
    assert differences(pg_url) == []
