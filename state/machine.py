"""The task state machine: statuses, phases, the allowed moves, and the one way to move.

Statuses (see DESIGN.md): PENDING waits for its dependencies, its `not_before` and a worker;
IN_PROGRESS is held by a worker's lease; COMPLETE, FAILED and CANCELLED. The phase
(validate, plan, apply) is a separate column. Allowed moves, as data in `ALLOWED_MOVES`:

    PENDING     -> IN_PROGRESS | CANCELLED
    IN_PROGRESS -> COMPLETE | FAILED | PENDING   (retry with backoff, released lease, stale plan)
    FAILED      -> PENDING                       (explicit retry)

Every move is a compare-and-set (`UPDATE task ... WHERE id = :id AND status = :from`, plus
the lease owner while IN_PROGRESS) that writes a `TaskEvent` in the same transaction, and a
refused move raises `TransitionConflict` (the row was not as expected) or
`IllegalTransition` (the move is not allowed at all). No other code assigns a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from state.columns import utcnow
from state.models import Requirement, Task, TaskEvent, format_id


class TaskStatus(StrEnum):
    """Where a task stands. Stored as its string value."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Phase(StrEnum):
    """Which step of validate -> plan -> apply a task is in (or last was in)."""

    VALIDATE = "validate"
    PLAN = "plan"
    APPLY = "apply"


class RequirementStatus(StrEnum):
    """A requirement's roll-up of its current revision's tasks."""

    OPEN = "OPEN"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ALLOWED_MOVES: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.PENDING}),
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),
    TaskStatus.COMPLETE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}
"""Every allowed move, from -> {to}. Anything not listed is refused."""

_LEASE_COLUMNS = ("lease_owner", "lease_expires_at")
_WRITABLE = frozenset(
    {"phase", "attempts", "not_before", "lease_owner", "lease_expires_at", "plan", "result", "error", "priority"}
)


class TransitionError(Exception):
    """A status move that was refused. Nothing was written."""

    def __init__(self, task_id: int, message: str) -> None:
        super().__init__(f"{format_id('task', task_id)}: {message}")
        self.task_id = task_id


class IllegalTransition(TransitionError):
    """The move is not in `ALLOWED_MOVES` (e.g. COMPLETE -> PENDING)."""

    def __init__(self, task_id: int, from_status: TaskStatus, to_status: TaskStatus) -> None:
        allowed = ", ".join(sorted(ALLOWED_MOVES[from_status])) or "nothing"
        super().__init__(task_id, f"cannot move {from_status} -> {to_status} (from {from_status} only: {allowed})")
        self.from_status = from_status
        self.to_status = to_status


class TransitionConflict(TransitionError):
    """The compare-and-set found the task not as expected: another status, or another lease owner.

    `actual_status` and `actual_owner` are what the row held when the move was refused
    (None when the task does not exist).
    """

    def __init__(self, task_id: int, expected: str, actual_status: str | None, actual_owner: str | None) -> None:
        if actual_status is None:
            detail = "no such task"
        else:
            detail = f"it is {actual_status}" + (f" (lease held by {actual_owner})" if actual_owner else "")
        super().__init__(task_id, f"expected {expected}, but {detail}")
        self.expected = expected
        self.actual_status = actual_status
        self.actual_owner = actual_owner


def transition(
    session: Session,
    task_id: int,
    from_status: TaskStatus,
    to_status: TaskStatus,
    *,
    actor: str,
    reason: str | None = None,
    lease_owner: str | None = None,
    lease_expired_by: datetime | None = None,
    values: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Move one task from `from_status` to `to_status` as a compare-and-set, with its event.

    Args:
        session: the open session; the caller commits (the move and its event are one unit).
        lease_owner: required when moving out of IN_PROGRESS: the worker holding the lease.
        lease_expired_by: instead of `lease_owner`, for recovering a dead worker's task: the
            move succeeds only if the lease expired at or before this time.
        values: other columns to set in the same UPDATE (`_WRITABLE`: phase, attempts,
            not_before, lease columns, plan, result, error, priority). Moving into
            IN_PROGRESS must set `lease_owner` and `lease_expires_at`; moving out clears them.
        now: the time recorded (default: now, UTC).

    Raises:
        IllegalTransition: the move is not allowed.
        TransitionConflict: the row was not in `from_status` (or not held by `lease_owner`).
        ValueError: a status or an unknown column in `values`, or a missing lease.
    """
    from_status, to_status = TaskStatus(from_status), TaskStatus(to_status)
    if to_status not in ALLOWED_MOVES[from_status]:
        raise IllegalTransition(task_id, from_status, to_status)
    values = dict(values or {})
    unknown = set(values) - _WRITABLE
    if unknown:
        raise ValueError(f"transition cannot set {sorted(unknown)}")
    now = now or utcnow()
    conditions = [Task.id == task_id, Task.status == from_status.value]
    expected = str(from_status)
    if from_status is TaskStatus.IN_PROGRESS:
        if lease_owner is not None:
            conditions.append(Task.lease_owner == lease_owner)
            expected += f" held by {lease_owner}"
        elif lease_expired_by is not None:
            conditions.append(Task.lease_expires_at <= lease_expired_by)
            expected += f" with a lease expired by {lease_expired_by.isoformat()}"
        else:
            raise ValueError("moving out of IN_PROGRESS needs lease_owner or lease_expired_by")
        for column in _LEASE_COLUMNS:
            values.setdefault(column, None)
    if to_status is TaskStatus.IN_PROGRESS and not (values.get("lease_owner") and values.get("lease_expires_at")):
        raise ValueError("moving into IN_PROGRESS needs lease_owner and lease_expires_at in values")
    values["status"] = to_status.value
    values["updated_at"] = now
    result = session.execute(update(Task).where(*conditions).values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        row = session.execute(select(Task.status, Task.lease_owner).where(Task.id == task_id)).first()
        raise TransitionConflict(task_id, expected, row[0] if row else None, row[1] if row else None)
    phase = values.get("phase", None) if "phase" in values else session.execute(select(Task.phase).where(Task.id == task_id)).scalar_one()
    session.add(
        TaskEvent(
            task_id=task_id,
            from_status=from_status.value,
            to_status=to_status.value,
            phase=phase,
            actor=lease_owner or actor,
            reason=reason,
            at=now,
        )
    )
    requirement_id = session.execute(select(Task.requirement_id).where(Task.id == task_id)).scalar_one()
    refresh_requirement_status(session, requirement_id, now=now)


def enter_phase(
    session: Session, task_id: int, phase: Phase, *, lease_owner: str, reason: str | None = None, now: datetime | None = None
) -> None:
    """Record that the IN_PROGRESS task held by `lease_owner` entered `phase` (an event, no status change).

    Raises:
        TransitionConflict: the task is not IN_PROGRESS under that lease any more.
    """
    phase = Phase(phase)
    now = now or utcnow()
    update_held(session, task_id, lease_owner=lease_owner, values={"phase": phase.value}, now=now)
    session.add(
        TaskEvent(
            task_id=task_id,
            from_status=TaskStatus.IN_PROGRESS.value,
            to_status=TaskStatus.IN_PROGRESS.value,
            phase=phase.value,
            actor=lease_owner,
            reason=reason or f"entered {phase.value}",
            at=now,
        )
    )


def update_held(
    session: Session, task_id: int, *, lease_owner: str, values: Mapping[str, Any], now: datetime | None = None
) -> None:
    """Set columns of an IN_PROGRESS task only while `lease_owner` still holds it (heartbeats, plans, results).

    Writes no event and never changes the status.

    Raises:
        TransitionConflict: the lease was lost (expired and taken over, or the task moved on).
        ValueError: `values` names a status or an unknown column.
    """
    values = dict(values)
    unknown = set(values) - _WRITABLE
    if unknown:
        raise ValueError(f"update_held cannot set {sorted(unknown)}")
    values["updated_at"] = now or utcnow()
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == TaskStatus.IN_PROGRESS.value, Task.lease_owner == lease_owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        row = session.execute(select(Task.status, Task.lease_owner).where(Task.id == task_id)).first()
        raise TransitionConflict(task_id, f"IN_PROGRESS held by {lease_owner}", row[0] if row else None, row[1] if row else None)


def refresh_requirement_status(session: Session, requirement_id: int, *, now: datetime | None = None) -> RequirementStatus:
    """Recompute a requirement's roll-up status from its current revision's tasks and store it.

    COMPLETE when every task not CANCELLED is COMPLETE (and at least one is); CANCELLED when
    all are CANCELLED; FAILED when any task is FAILED (it needs someone's attention: `lead
    retry` moves it back); OPEN otherwise. Returns the status.
    """
    requirement = session.get(Requirement, requirement_id)
    rows = session.execute(
        select(Task.status, func.count())
        .where(Task.requirement_id == requirement_id, Task.revision == requirement.revision)
        .group_by(Task.status)
    ).all()
    counts = {status: n for status, n in rows}
    live = sum(n for status, n in counts.items() if status != TaskStatus.CANCELLED)
    if not counts or (live == 0):
        status = RequirementStatus.CANCELLED if counts else RequirementStatus.OPEN
    elif counts.get(TaskStatus.COMPLETE, 0) == live:
        status = RequirementStatus.COMPLETE
    elif counts.get(TaskStatus.FAILED, 0):
        status = RequirementStatus.FAILED
    else:
        status = RequirementStatus.OPEN
    if requirement.status != status.value:
        session.execute(
            update(Requirement)
            .where(Requirement.id == requirement_id)
            .values(status=status.value, updated_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
    return status
