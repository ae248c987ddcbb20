"""The remediation decision log: recording decisions, their outcomes and people's corrections.

A decision is keyed by `(workspace, run_id, repair_count)`: recording the same failure again
(a retried apply) updates the row instead of adding one. Counting decisions is how the
remediation budget is enforced. Corrections (`lead feedback`) are kept beside the decision and
win over it in exports and in the classifier's labelled neighbours. The caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from state.clock import db_now
from state.models import Decision

DECISION_FIELDS = (
    "task_id", "job_id", "job_name", "inputs_digest", "message", "category", "remediation", "confidence",
    "evidence", "layer", "priority", "reason", "detail", "status", "outcome", "outcome_run_state",
)
"""Columns `record_decision` and `update_decision` may set."""

REMEDIATIONS = ("RETRY", "RETRY_WITH_NEW_PARAMS", "NOTIFY_OWNER", "ESCALATE", "IGNORE")


def parse_decision_id(text: str) -> int:
    """`D-0007`, `d-7` or `7` -> 7.

    Raises:
        ValueError: not a decision id.
    """
    raw = text.strip().upper().removeprefix("D-")
    if not raw.isdigit():
        raise ValueError(f"{text!r} is not a decision id (expected like D-0001)")
    return int(raw)


def record_decision(session: Session, workspace: str, run_id: int, repair_count: int, **fields: Any) -> int:
    """Create or update the decision of one failure; returns its id.

    Raises:
        ValueError: an unknown field.
    """
    unknown = set(fields) - set(DECISION_FIELDS)
    if unknown:
        raise ValueError(f"record_decision cannot set {sorted(unknown)}")
    now = db_now(session)
    row = session.execute(
        select(Decision).where(Decision.workspace == workspace, Decision.run_id == run_id,
                               Decision.repair_count == repair_count).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = Decision(workspace=workspace, run_id=run_id, repair_count=repair_count, created_at=now, **fields)
    else:
        for key, value in fields.items():
            setattr(row, key, value)
    row.updated_at = now
    session.add(row)
    session.flush()
    return row.id


def update_decision(session: Session, decision_id: int, **fields: Any) -> None:
    """Set fields of a decision (e.g. `status`, `outcome`, `detail`).

    Raises:
        ValueError: an unknown field or no such decision.
    """
    unknown = set(fields) - set(DECISION_FIELDS)
    if unknown:
        raise ValueError(f"update_decision cannot set {sorted(unknown)}")
    row = session.get(Decision, decision_id, with_for_update=True)
    if row is None:
        raise ValueError(f"no decision D-{decision_id:04d}")
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = db_now(session)
    session.add(row)
    session.flush()


def count_decisions(
    session: Session, workspace: str, *, run_id: int | None = None, job_id: int | None = None,
    since_hours: float | None = None, remediations: tuple[str, ...] = ("RETRY", "RETRY_WITH_NEW_PARAMS"),
) -> int:
    """How many decisions with one of `remediations` exist for a run, or for a job within the
    last `since_hours` (the database's clock)."""
    query = select(func.count()).select_from(Decision).where(
        Decision.workspace == workspace, Decision.remediation.in_(remediations))
    if run_id is not None:
        query = query.where(Decision.run_id == run_id)
    if job_id is not None:
        query = query.where(Decision.job_id == job_id)
    if since_hours is not None:
        query = query.where(Decision.created_at >= db_now(session) - timedelta(hours=since_hours))
    return session.execute(query).scalar_one()


def record_feedback(
    session: Session, decision_id: int, *, remediation: str, category: str | None, note: str | None,
    categories: tuple[str, ...] | None = None,
) -> Decision:
    """Store a person's correction of a decision; returns the decision.

    Raises:
        ValueError: no such decision, an unknown remediation or category.
    """
    if remediation not in REMEDIATIONS:
        raise ValueError(f"unknown remediation {remediation!r} (one of {', '.join(REMEDIATIONS)})")
    if category is not None and categories is not None and category not in categories:
        raise ValueError(f"unknown category {category!r} (one of {', '.join(categories)})")
    row = session.get(Decision, decision_id, with_for_update=True)
    if row is None:
        raise ValueError(f"no decision D-{decision_id:04d}")
    row.feedback_remediation = remediation
    row.feedback_category = category
    row.feedback_note = note
    row.feedback_at = db_now(session)
    session.add(row)
    session.flush()
    return row


def corrections(session: Session, limit: int = 1000) -> list[dict[str, Any]]:
    """Labelled examples from people's corrections, newest first: `{"message", "category",
    "remediation"}` (the correction wins over the decision; a correction without a category
    keeps the decided one)."""
    rows = session.execute(
        select(Decision).where(Decision.feedback_remediation.is_not(None)).order_by(Decision.feedback_at.desc()).limit(limit)
    ).scalars()
    return [{"message": r.message, "category": r.feedback_category or r.category, "remediation": r.feedback_remediation}
            for r in rows]


def list_decisions(session: Session, limit: int = 200) -> list[Decision]:
    """The latest decisions, newest first."""
    return list(session.execute(select(Decision).order_by(Decision.id.desc()).limit(limit)).scalars())


def decision_as_json(row: Decision) -> dict[str, Any]:
    """The `lead decisions --json` shape: `{"id", "run_id", "job_id", "job_name", "category",
    "remediation", "confidence", "evidence", "status", "outcome"}` plus detail fields."""
    return {
        "id": row.ref, "run_id": row.run_id, "job_id": row.job_id, "job_name": row.job_name,
        "category": row.category, "remediation": row.remediation, "confidence": round(row.confidence, 3),
        "evidence": row.evidence, "status": row.status, "outcome": row.outcome,
        "repair_count": row.repair_count, "priority": row.priority, "reason": row.reason, "layer": row.layer,
        "task": f"T-{row.task_id:04d}" if row.task_id else None,
        "feedback": ({"remediation": row.feedback_remediation, "category": row.feedback_category,
                      "note": row.feedback_note} if row.feedback_remediation else None),
        "created_at": row.created_at.isoformat() if isinstance(row.created_at, datetime) else row.created_at,
    }
