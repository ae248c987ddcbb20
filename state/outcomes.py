"""Recording how a claimed task's attempt ended, with what it leaves behind, in one transaction.

`record_outcome` moves the task out of IN_PROGRESS (compare-and-set on the lease) and, in the
same transaction:

- inserts the follow-up tasks the attempt produced (an existing idempotency key inserts
  nothing);
- for a recurring task that ended (COMPLETE or FAILED), enqueues the next occurrence, due at
  the series' next time after this occurrence's due time (`state.schedules`). Its
  idempotency key is `<requirement>:<revision>:<spec key>#<occurrence>`, so two workers can
  never create the same occurrence twice, and a cancelled series enqueues nothing more. What
  an occurrence's result hands on under `"carry"` reaches the next one as `payload["carried"]`.

A task whose revision was superseded is recorded CANCELLED instead of going back to PENDING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from state.clock import db_now
from state.machine import Superseded, TaskStatus, transition
from state.models import Requirement, Task
from state.schedules import next_due
from state.submissions import NewTask, enqueue


@dataclass(frozen=True)
class FollowUpTask:
    """A task an attempt enqueues: type, title, payload, idempotency key, and a delay in
    seconds before it may be claimed (None: at once)."""

    type: str
    title: str
    payload: Mapping[str, Any]
    idempotency_key: str
    not_before_seconds: float | None = None


def occurrence_key(requirement_id: int, revision: int, spec_key: str, occurrence: int) -> str:
    """The idempotency key of one occurrence of a recurring task."""
    return f"{requirement_id}:{revision}:{spec_key}#{occurrence}"


def record_outcome(
    session: Session,
    task_id: int,
    to_status: TaskStatus,
    *,
    lease_owner: str,
    reason: str,
    values: Mapping[str, Any] | None = None,
    follow_ups: Sequence[FollowUpTask] = (),
    not_before_in: float | None = None,
) -> TaskStatus:
    """Record the end of an attempt (see the module docstring). The caller commits.

    Args:
        to_status: COMPLETE, FAILED, PENDING (retry or "check again") or CANCELLED.
        not_before_in: for PENDING, seconds from now (the database's clock) before the next
            claim; sets `not_before`.

    Returns the status recorded: `to_status`, or CANCELLED when the task was superseded.

    Raises:
        state.machine.TransitionConflict: the lease was lost.
    """
    now = db_now(session)
    values = dict(values or {})
    if not_before_in is not None:
        values["not_before"] = now + timedelta(seconds=not_before_in)
    try:
        transition(session, task_id, TaskStatus.IN_PROGRESS, to_status, actor=lease_owner, lease_owner=lease_owner,
                   reason=reason, values=values, now=now)
    except Superseded as error:
        if to_status is not TaskStatus.PENDING:
            raise
        transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED, actor=lease_owner,
                   lease_owner=lease_owner, reason=f"superseded by revision {error.current} ({reason})", now=now)
        return TaskStatus.CANCELLED
    if to_status in (TaskStatus.COMPLETE, TaskStatus.FAILED):
        task = session.get(Task, task_id, populate_existing=True)
        current = session.execute(select(Requirement.revision).where(Requirement.id == task.requirement_id)).scalar_one()
        new: list[NewTask] = [
            NewTask(
                key=f"follow_up:{item.idempotency_key}", type=item.type, title=item.title, payload=dict(item.payload),
                idempotency_key=item.idempotency_key,
                not_before=now + timedelta(seconds=item.not_before_seconds) if item.not_before_seconds else None,
            )
            for item in follow_ups
        ]
        if task.schedule and task.revision == current:
            due = next_due(task.schedule, previous_due=task.scheduled_for, now=now)
            occurrence = task.occurrence + 1
            new.append(NewTask(
                key=task.spec_key, type=task.type, title=task.title, payload=_next_payload(task),
                deployment_key=task.deployment_key, schedule=dict(task.schedule), max_attempts=task.max_attempts,
                idempotency_key=occurrence_key(task.requirement_id, task.revision, task.spec_key, occurrence),
                not_before=due, occurrence=occurrence, scheduled_for=due,
                source_line=task.source_line, source_field=task.source_field,
            ))
        if new:
            enqueue(session, task.requirement_id, new, actor=lease_owner,
                    reason=f"enqueued by {task.ref} ({to_status.value.lower()})", now=now)
    return to_status


def _next_payload(task: Task) -> dict[str, Any]:
    """The next occurrence's payload: the same, plus what this occurrence handed on
    (`result["carry"]`, as `payload["carried"]`: e.g. which alerts were already firing)."""
    payload = dict(task.payload)
    carry = (task.result or {}).get("carry") if isinstance(task.result, dict) else None
    if carry is not None:
        payload["carried"] = carry
    return payload


def first_occurrence_due(schedule: Mapping[str, Any], now: datetime) -> datetime:
    """When the first occurrence of a new recurring task is due (now, for an interval)."""
    return next_due(schedule, previous_due=None, now=now)
