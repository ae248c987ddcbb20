"""Identity, deployments, recurrence, checkpoints and retry generation.

requirement: `identity` (unique, not null), `kind` (default 'file'), `bundle`, `target`;
`source_path` becomes nullable and no longer unique. task: `retry_generation`,
`idempotency_key` (unique), `deployment_key` (indexed), `occurrence`, `schedule`,
`scheduled_for`, `checkpoint`; `uq_task_spec` gains `occurrence`. New table `deployment`.

Existing rows (every one was a submitted file):
- requirement: `bundle` = front matter `bundle` if a non-empty string, else the stem of the
  source file's name; `target` = front matter `target` if a non-empty string, else `dev`;
  `identity` = `<bundle>/<target>`; when rows share an identity, the later ones (higher id)
  get `#<id>` appended, so none is lost. `kind` = `file`.
- task: `retry_generation` = the number of its FAILED -> PENDING events (explicit retries);
  `deployment_key` = `<bundle>/<target>/<payload.job_key>` for `deploy_job` tasks;
  `occurrence` = 0.

New NOT NULL columns carry a server default so existing rows get a value. Jobs already in
Databricks keep the tag the old release gave them; the deploy code adopts them.

Revision ID: 0002_identity_recurrence
Revises: 0001_baseline
Create Date: 2026-11-30
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_identity_recurrence"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

DEFAULT_TARGET = "dev"

# Reflected unnamed unique constraints get names from this in SQLite's batch mode (the table
# is rebuilt there); PostgreSQL names its own (`<table>_<column>_key`), read back below.
_SQLITE_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}

_requirement = sa.table(
    "requirement",
    sa.column("id", sa.Integer()),
    sa.column("source_path", sa.Text()),
    sa.column("front_matter", sa.JSON()),
    sa.column("identity", sa.Text()),
    sa.column("kind", sa.String()),
    sa.column("bundle", sa.String()),
    sa.column("target", sa.String()),
)
_task = sa.table(
    "task",
    sa.column("id", sa.Integer()),
    sa.column("requirement_id", sa.Integer()),
    sa.column("type", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("retry_generation", sa.Integer()),
    sa.column("deployment_key", sa.Text()),
)
_task_event = sa.table(
    "task_event",
    sa.column("task_id", sa.Integer()),
    sa.column("from_status", sa.String()),
    sa.column("to_status", sa.String()),
)


def bundle_and_target(source_path: str | None, front_matter: Any) -> tuple[str, str]:
    """The bundle and target of a requirement written by an earlier release (see the module
    docstring); the same rule as the submit code's, except that a block's `bundle: name:` is
    not known here (only the front matter was stored), so such a file gets its stem."""
    front_matter = front_matter if isinstance(front_matter, dict) else {}
    bundle = front_matter.get("bundle")
    if not (isinstance(bundle, str) and bundle.strip()):
        name = re.split(r"[\\/]", source_path or "")[-1]
        bundle = PurePosixPath(name).stem or name or "requirement"
    target = front_matter.get("target")
    if not (isinstance(target, str) and target.strip()):
        target = DEFAULT_TARGET
    return bundle, target


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"

    # requirement ---------------------------------------------------------------------------
    op.add_column("requirement", sa.Column("identity", sa.Text(), nullable=True))
    op.add_column("requirement", sa.Column("kind", sa.String(), nullable=False, server_default="file"))
    op.add_column("requirement", sa.Column("bundle", sa.String(), nullable=True))
    op.add_column("requirement", sa.Column("target", sa.String(), nullable=True))
    names = _fill_requirements(bind)
    if sqlite:
        source_path_unique, identity_unique = "uq_requirement_source_path", "uq_requirement_identity"
    else:
        source_path_unique, identity_unique = _unique_name(bind, "requirement", "source_path"), "requirement_identity_key"
    with op.batch_alter_table("requirement", naming_convention=_SQLITE_NAMING if sqlite else None) as batch:
        batch.drop_constraint(source_path_unique, type_="unique")
        batch.alter_column("source_path", existing_type=sa.Text(), nullable=True)
        batch.alter_column("identity", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint(identity_unique, ["identity"])

    # task ----------------------------------------------------------------------------------
    op.add_column("task", sa.Column("retry_generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("task", sa.Column("idempotency_key", sa.Text(), nullable=True))
    op.add_column("task", sa.Column("deployment_key", sa.Text(), nullable=True))
    op.add_column("task", sa.Column("occurrence", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("task", sa.Column("schedule", sa.JSON(), nullable=True))
    op.add_column("task", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.add_column("task", sa.Column("checkpoint", sa.JSON(), nullable=True))
    _fill_tasks(bind, names)
    idempotency_unique = "uq_task_idempotency_key" if sqlite else "task_idempotency_key_key"
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("uq_task_spec", type_="unique")
        batch.create_unique_constraint("uq_task_spec", ["requirement_id", "revision", "spec_key", "occurrence"])
        batch.create_unique_constraint(idempotency_unique, ["idempotency_key"])
        batch.create_index("ix_task_deployment_key", ["deployment_key"])

    # deployment ----------------------------------------------------------------------------
    op.create_table(
        "deployment",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("extra_job_ids", sa.JSON(), nullable=False),
        sa.Column("settings_hash", sa.String(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace", "key"),
    )


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported: restore a backup of the database instead")


def _fill_requirements(bind) -> dict[int, tuple[str, str]]:
    """Set identity, kind, bundle and target of every row; returns {id: (bundle, target)}."""
    rows = bind.execute(
        sa.select(_requirement.c.id, _requirement.c.source_path, _requirement.c.front_matter).order_by(_requirement.c.id)
    ).all()
    seen: set[str] = set()
    names: dict[int, tuple[str, str]] = {}
    updates = []
    for row_id, source_path, front_matter in rows:
        bundle, target = bundle_and_target(source_path, front_matter)
        identity = f"{bundle}/{target}"
        if identity in seen:
            identity = f"{identity}#{row_id}"
        seen.add(identity)
        names[row_id] = (bundle, target)
        updates.append({"_id": row_id, "_identity": identity, "_bundle": bundle, "_target": target})
    if updates:
        bind.execute(
            sa.update(_requirement)
            .where(_requirement.c.id == sa.bindparam("_id"))
            .values(identity=sa.bindparam("_identity"), kind="file", bundle=sa.bindparam("_bundle"), target=sa.bindparam("_target")),
            updates,
        )
    return names


def _fill_tasks(bind, names: dict[int, tuple[str, str]]) -> None:
    """Backfill retry_generation from the events and deployment_key of deploy_job tasks."""
    retries = (
        sa.select(sa.func.count())
        .select_from(_task_event)
        .where(_task_event.c.task_id == _task.c.id, _task_event.c.from_status == "FAILED", _task_event.c.to_status == "PENDING")
        .scalar_subquery()
    )
    retried = sa.select(_task_event.c.task_id).where(_task_event.c.from_status == "FAILED", _task_event.c.to_status == "PENDING")
    bind.execute(sa.update(_task).where(_task.c.id.in_(retried)).values(retry_generation=retries))

    rows = bind.execute(
        sa.select(_task.c.id, _task.c.requirement_id, _task.c.payload).where(_task.c.type == "deploy_job")
    ).all()
    updates = []
    for task_id, requirement_id, payload in rows:
        job_key = payload.get("job_key") if isinstance(payload, dict) else None
        if isinstance(job_key, str) and job_key and requirement_id in names:
            bundle, target = names[requirement_id]
            updates.append({"_id": task_id, "_key": f"{bundle}/{target}/{job_key}"})
    if updates:
        bind.execute(sa.update(_task).where(_task.c.id == sa.bindparam("_id")).values(deployment_key=sa.bindparam("_key")), updates)


def _unique_name(bind, table: str, column: str) -> str:
    for constraint in sa.inspect(bind).get_unique_constraints(table):
        if constraint["column_names"] == [column] and constraint["name"]:
            return constraint["name"]
    raise RuntimeError(f"no unique constraint on {table}.{column} to drop")
