"""The task state machine: statuses, phases, the allowed moves, and the one way to move.

Statuses (see DESIGN.md): PENDING waits for its dependencies, its `not_before` and a worker;
IN_PROGRESS is held by a worker's lease; COMPLETE, FAILED and CANCELLED. The phase
(validate, plan, apply) is a separate column. Allowed moves, as data in `ALLOWED_MOVES`:

    PENDING     -> IN_PROGRESS | CANCELLED
    IN_PROGRESS -> COMPLETE | FAILED | PENDING   (retry with backoff, released lease, stale
                                                 plan, "check again at T")
                 | CANCELLED                     (superseded by a newer revision, cancelled
                                                 by a person while running)
    FAILED      -> PENDING                       (explicit retry)

Every move is a compare-and-set (`UPDATE task ... WHERE id = :id AND status = :from`, plus
the lease owner while IN_PROGRESS) that writes a `TaskEvent` in the same transaction, and a
refused move raises `TransitionConflict` (the row was not as expected), `Superseded` (a
superseded revision's task may not go back to PENDING) or `IllegalTransition` (the move is
not allowed at all). No other code assigns a status.

Locking: a move that can change the requirement's roll-up first locks the requirement row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite writers are serialised by `BEGIN IMMEDIATE`),
then the task row, so two workers finishing a requirement's last two tasks cannot both read
the other's task as still running (write skew). A claim (PENDING -> IN_PROGRESS) never changes
the roll-up and locks only the task row. Times come from the database's clock
(`state.clock.db_now`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from state.clock import db_now
from state.models import Requirement, Task, TaskDependency, TaskEvent, format_id


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
    ACTIVE = "ACTIVE"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ALLOWED_MOVES: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.PENDING, TaskStatus.CANCELLED}),
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),
    TaskStatus.COMPLETE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}
"""Every allowed move, from -> {to}. Anything not listed is refused."""

_LEASE_COLUMNS = ("lease_owner", "lease_expires_at")
_WRITABLE = frozenset(
    {
        "phase", "attempts", "not_before", "lease_owner", "lease_expires_at", "plan", "result", "error", "priority",
        "checkpoint", "retry_generation",
    }
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


class Superseded(TransitionError):
    """The task belongs to a revision older than its requirement's current one: it may not be
    claimed, retried or sent back to PENDING. `revision` is the task's, `current` the newest."""

    def __init__(self, task_id: int, revision: int, current: int) -> None:
        super().__init__(task_id, f"belongs to revision {revision}, superseded by revision {current}")
        self.revision = revision
        self.current = current


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
    any_lease: bool = False,
    values: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Move one task from `from_status` to `to_status` as a compare-and-set, with its event.

    Args:
        session: the open session; the caller commits (the move and its event are one unit).
        lease_owner: required when moving out of IN_PROGRESS: the worker holding the lease.
        lease_expired_by: instead of `lease_owner`, for recovering a dead worker's task: the
            move succeeds only if the lease expired at or before this time.
        any_lease: instead of both, for a person cancelling a running task: whoever holds it
            loses the lease (its worker notices at its next heartbeat or phase boundary).
        values: other columns to set in the same UPDATE (`_WRITABLE`: phase, attempts,
            not_before, lease columns, plan, result, error, priority, checkpoint,
            retry_generation; SQL expressions such as `Task.retry_generation + 1` work).
            Moving into IN_PROGRESS must set `lease_owner` and `lease_expires_at`; moving out
            clears them.
        now: the time recorded (default: the database's clock, `state.clock.db_now`).

    Raises:
        IllegalTransition: the move is not allowed.
        Superseded: a move into PENDING of a task whose revision is no longer the newest.
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
    now = now or db_now(session)
    claiming = from_status is TaskStatus.PENDING and to_status is TaskStatus.IN_PROGRESS
    requirement_id = None
    if not claiming:
        # Lock the requirement first (see the module docstring), then check the revision.
        located = session.execute(_locate_and_lock(), {"task_id": task_id}).first()
        if located is None:
            raise TransitionConflict(task_id, str(from_status), None, None)
        requirement_id, revision, current = located
        if to_status is TaskStatus.PENDING and revision < current:
            raise Superseded(task_id, revision, current)
    conditions = [Task.id == task_id, Task.status == from_status.value]
    expected = str(from_status)
    if from_status is TaskStatus.IN_PROGRESS:
        if lease_owner is not None:
            conditions.append(Task.lease_owner == lease_owner)
            expected += f" held by {lease_owner}"
        elif lease_expired_by is not None:
            conditions.append(Task.lease_expires_at <= lease_expired_by)
            expected += f" with a lease expired by {lease_expired_by.isoformat()}"
        elif not any_lease:
            raise ValueError("moving out of IN_PROGRESS needs lease_owner, lease_expired_by or any_lease")
        for column in _LEASE_COLUMNS:
            values.setdefault(column, None)
    if to_status is TaskStatus.IN_PROGRESS and not (values.get("lease_owner") and values.get("lease_expires_at")):
        raise ValueError("moving into IN_PROGRESS needs lease_owner and lease_expires_at in values")
    values["status"] = to_status.value
    values["updated_at"] = now
    row = session.execute(
        update(Task).where(*conditions).values(**values).returning(Task.phase).execution_options(synchronize_session=False)
    ).first()
    if row is None:
        found = session.execute(select(Task.status, Task.lease_owner).where(Task.id == task_id)).first()
        raise TransitionConflict(task_id, expected, found[0] if found else None, found[1] if found else None)
    session.add(
        TaskEvent(
            task_id=task_id,
            from_status=from_status.value,
            to_status=to_status.value,
            phase=row[0],
            actor=lease_owner or actor,
            reason=reason,
            at=now,
        )
    )
    if not claiming:
        session.flush()
        refresh_requirement_status(session, requirement_id, now=now)


@functools.lru_cache(maxsize=1)
def _locate_and_lock():
    """`(requirement_id, task revision, requirement revision)` of `:task_id`, locking the
    requirement row (`FOR UPDATE OF requirement` on PostgreSQL)."""
    return (
        select(Task.requirement_id, Task.revision, Requirement.revision)
        .join(Requirement, Requirement.id == Task.requirement_id)
        .where(Task.id == bindparam("task_id"))
        .with_for_update(of=Requirement)
    )


def cancel_with_dependents(
    session: Session, task_id: int, *, actor: str, reason: str, running: bool = False, now: datetime | None = None
) -> list[int]:
    """Cancel a task and, transitively, every PENDING task that depends on it.

    The task itself moves PENDING -> CANCELLED (or, with `running`, IN_PROGRESS -> CANCELLED
    whoever holds it). Each dependent gets the reason "cancelled because T-0001 was
    cancelled", so a requirement whose task was cancelled can still end. Returns the ids
    cancelled, the task first. The caller commits.

    Raises:
        TransitionConflict / IllegalTransition: the task itself is not PENDING (or
            IN_PROGRESS with `running`).
    """
    now = now or db_now(session)
    status = session.execute(select(Task.status).where(Task.id == task_id)).scalar_one_or_none()
    if running and status == TaskStatus.IN_PROGRESS.value:
        transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED, actor=actor, reason=reason,
                   any_lease=True, now=now)
    else:
        try:
            transition(session, task_id, TaskStatus.PENDING, TaskStatus.CANCELLED, actor=actor, reason=reason, now=now)
        except TransitionConflict as conflict:
            # Claimed while we waited for its row (PostgreSQL): cancel it as a running task.
            if not (running and conflict.actual_status == TaskStatus.IN_PROGRESS.value):
                raise
            transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED, actor=actor, reason=reason,
                       any_lease=True, now=now)
    cancelled = [task_id]
    frontier = [task_id]
    while frontier:
        cause = frontier.pop()
        dependents = session.execute(
            select(Task.id)
            .join(TaskDependency, TaskDependency.task_id == Task.id)
            .where(TaskDependency.depends_on_id == cause, Task.status == TaskStatus.PENDING.value)
            .order_by(Task.id)
        ).scalars().all()
        for dependent in dependents:
            try:
                transition(session, dependent, TaskStatus.PENDING, TaskStatus.CANCELLED, actor=actor,
                           reason=f"cancelled because {format_id('task', cause)} was cancelled", now=now)
            except TransitionConflict:
                continue  # claimed meanwhile (it cannot be: its dependency was not COMPLETE) or already ended
            cancelled.append(dependent)
            frontier.append(dependent)
    return cancelled


def enter_phase(
    session: Session, task_id: int, phase: Phase, *, lease_owner: str, reason: str | None = None, now: datetime | None = None
) -> None:
    """Record that the IN_PROGRESS task held by `lease_owner` entered `phase` (an event, no status change).

    Raises:
        Superseded: the task's revision was superseded (see `update_held`).
        TransitionConflict: the task is not IN_PROGRESS under that lease any more.
    """
    phase = Phase(phase)
    now = now or db_now(session)
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
        Superseded: the task's revision is no longer its requirement's newest (the worker
            must stop and record it CANCELLED).
        TransitionConflict: the lease was lost (expired and taken over, or the task moved on).
        ValueError: `values` names a status or an unknown column.
    """
    values = dict(values)
    unknown = set(values) - _WRITABLE
    if unknown:
        raise ValueError(f"update_held cannot set {sorted(unknown)}")
    values["updated_at"] = now or db_now(session)
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == TaskStatus.IN_PROGRESS.value, Task.lease_owner == lease_owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        row = session.execute(select(Task.status, Task.lease_owner).where(Task.id == task_id)).first()
        raise TransitionConflict(task_id, f"IN_PROGRESS held by {lease_owner}", row[0] if row else None, row[1] if row else None)
    revisions = session.execute(
        select(Task.revision, Requirement.revision).join(Requirement, Requirement.id == Task.requirement_id).where(Task.id == task_id)
    ).one()
    if revisions[0] < revisions[1]:
        raise Superseded(task_id, revisions[0], revisions[1])


@functools.lru_cache(maxsize=1)
def _rollup_counts():
    """`(status, recurring, count)` over the latest occurrence of each task of
    `:requirement_id` at `:revision`."""
    latest = (
        select(Task.spec_key.label("spec_key"), func.max(Task.occurrence).label("occurrence"))
        .where(Task.requirement_id == bindparam("requirement_id"), Task.revision == bindparam("revision"))
        .group_by(Task.spec_key)
        .subquery()
    )
    recurring = Task.scheduled_for.is_not(None)
    return (
        select(Task.status, recurring, func.count())
        .join(latest, (latest.c.spec_key == Task.spec_key) & (latest.c.occurrence == Task.occurrence))
        .where(Task.requirement_id == bindparam("requirement_id"), Task.revision == bindparam("revision"))
        .group_by(Task.status, recurring)
    )


def refresh_requirement_status(session: Session, requirement_id: int, *, now: datetime | None = None) -> RequirementStatus:
    """Recompute a requirement's roll-up status from its current revision's tasks and store it.

    Only the latest occurrence of each recurring task counts (earlier ones are history).
    FAILED when any counted task is FAILED (it needs someone's attention: `lead retry` moves
    it back); ACTIVE when a recurring task's next occurrence waits or runs; COMPLETE when
    every counted task not CANCELLED is COMPLETE (and at least one is); CANCELLED when all are
    CANCELLED; OPEN otherwise. Returns the status.

    Call it with the requirement row locked (`transition` does) so that concurrent moves
    cannot leave it stale.
    """
    requirement = session.get(Requirement, requirement_id, populate_existing=True)
    rows = session.execute(_rollup_counts(), {"requirement_id": requirement_id, "revision": requirement.revision}).all()
    counts: dict[str, int] = {}
    recurring_live = 0
    for status, scheduled, n in rows:
        counts[status] = counts.get(status, 0) + n
        if scheduled and status in (TaskStatus.PENDING.value, TaskStatus.IN_PROGRESS.value):
            recurring_live += n
    live = sum(n for status, n in counts.items() if status != TaskStatus.CANCELLED)
    if not counts or (live == 0):
        status = RequirementStatus.CANCELLED if counts else RequirementStatus.OPEN
    elif counts.get(TaskStatus.FAILED, 0):
        status = RequirementStatus.FAILED
    elif recurring_live:
        status = RequirementStatus.ACTIVE
    elif counts.get(TaskStatus.COMPLETE, 0) == live:
        status = RequirementStatus.COMPLETE
    else:
        status = RequirementStatus.OPEN
    if requirement.status != status.value:
        session.execute(
            update(Requirement)
            .where(Requirement.id == requirement_id)
            .values(status=status.value, updated_at=now or db_now(session))
            .execution_options(synchronize_session=False)
        )
    return status
