"""The remediation decision log: table `decision`.

Revision ID: 0003_decisions
Revises: 0002_identity_recurrence
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_decisions"
down_revision = "0002_identity_recurrence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("repair_count", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("job_name", sa.String(), nullable=True),
        sa.Column("inputs_digest", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("remediation", sa.String(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("outcome_run_state", sa.String(), nullable=True),
        sa.Column("feedback_remediation", sa.String(), nullable=True),
        sa.Column("feedback_category", sa.String(), nullable=True),
        sa.Column("feedback_note", sa.Text(), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace", "run_id", "repair_count", name="uq_decision_run"),
    )
    op.create_index("ix_decision_task_id", "decision", ["task_id"])
    op.create_index("ix_decision_run_id", "decision", ["run_id"])
    op.create_index("ix_decision_job_id", "decision", ["job_id"])


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported: restore a backup of the database instead")
