"""Read models over the state tables, shared by the `lead` CLI and the progress files.

Nothing here writes. Everything here is for people to read, so it is masked on the way out
(`state.redaction`): titles, errors and event reasons through `redact_text`, results and
plans through `redact`. "Blocked by" is derived: a PENDING task whose dependency is FAILED or
CANCELLED will not start until that dependency is retried; "waiting on" lists dependencies
not yet COMPLETE.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from state.machine import TaskStatus
from state.models import Requirement, Task, TaskDependency, TaskEvent, format_id
from state.redaction import redact, redact_text

STATUS_ORDER = [s.value for s in TaskStatus]


@dataclass
class RequirementSummary:
    """One line of the board: a requirement and its current revision's task counts per status."""

    id: str
    title: str
    slug: str
    status: str
    revision: int
    source_path: str | None
    identity: str
    kind: str
    owner: str | None
    counts: dict[str, int]
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict (timestamps as ISO 8601 strings)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data


@dataclass
class TaskRow:
    """One task as the CLI and the progress files show it."""

    id: str
    number: int
    spec_key: str
    type: str
    title: str
    status: str
    phase: str | None
    attempts: int
    max_attempts: int
    error: str | None
    depends_on: list[str]
    waiting_on: list[str]
    blocked_by: list[str]
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    source_line: int | None = None
    not_before: datetime | None = None
    plan: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict (timestamps as ISO 8601 strings; the plan left out: `lead show` gives it, redacted)."""
        data = asdict(self)
        data.pop("plan", None)
        for key in ("created_at", "updated_at", "not_before"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass
class EventRow:
    """One `TaskEvent` as shown to people."""

    task: str
    from_status: str | None
    to_status: str
    phase: str | None
    actor: str
    reason: str | None
    at: datetime

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def requirement_summaries(session: Session, requirement_ids: list[int] | None = None) -> list[RequirementSummary]:
    """Summaries of all requirements (or of `requirement_ids`), newest id last."""
    query = select(Requirement).order_by(Requirement.id)
    if requirement_ids is not None:
        query = query.where(Requirement.id.in_(requirement_ids))
    requirements = list(session.execute(query).scalars())
    counts: dict[int, Counter] = defaultdict(Counter)
    if requirements:
        revisions = {r.id: r.revision for r in requirements}
        rows = session.execute(
            select(Task.requirement_id, Task.revision, Task.status).where(Task.requirement_id.in_(list(revisions)))
        ).all()
        for requirement_id, revision, status in rows:
            if revisions[requirement_id] == revision:
                counts[requirement_id][status] += 1
    return [
        RequirementSummary(
            id=r.ref,
            title=redact_text(r.title),
            slug=r.slug,
            status=r.status,
            revision=r.revision,
            source_path=r.source_path,
            identity=r.identity,
            kind=r.kind,
            owner=r.owner,
            counts={status: counts[r.id].get(status, 0) for status in STATUS_ORDER},
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in requirements
    ]


def task_rows(session: Session, requirement_id: int, revision: int | None = None) -> list[TaskRow]:
    """The tasks of one requirement's revision (default: the current one), in id order."""
    if revision is None:
        revision = session.execute(select(Requirement.revision).where(Requirement.id == requirement_id)).scalar_one()
    tasks = session.execute(
        select(*_ROW_COLUMNS).where(Task.requirement_id == requirement_id, Task.revision == revision).order_by(Task.id)
    ).all()
    return _rows(session, tasks)


def task_row(session: Session, task_id: int) -> TaskRow | None:
    """One task's row, or None when there is no such task."""
    task = session.execute(select(*_ROW_COLUMNS).where(Task.id == task_id)).first()
    return _rows(session, [task])[0] if task else None


_ROW_COLUMNS = (
    Task.id, Task.spec_key, Task.type, Task.title, Task.status, Task.phase, Task.attempts, Task.max_attempts,
    Task.error, Task.result, Task.plan, Task.created_at, Task.updated_at, Task.source_line, Task.not_before,
)


def _rows(session: Session, tasks: list[Any]) -> list[TaskRow]:
    """Rows from plain column tuples (`_ROW_COLUMNS`): no ORM objects, one query for dependencies."""
    ids = [t.id for t in tasks]
    deps: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        dep_task = select(TaskDependency.task_id, TaskDependency.depends_on_id, Task.status).join(
            Task, Task.id == TaskDependency.depends_on_id
        )
        for task_id, dep_id, dep_status in session.execute(dep_task.where(TaskDependency.task_id.in_(ids))).all():
            deps[task_id].append((dep_id, dep_status))
    rows = []
    for t in tasks:
        mine = sorted(deps[t.id])
        pending = t.status == TaskStatus.PENDING.value
        rows.append(
            TaskRow(
                id=format_id("task", t.id),
                number=t.id,
                spec_key=t.spec_key,
                type=t.type,
                title=redact_text(t.title),
                status=t.status,
                phase=t.phase,
                attempts=t.attempts,
                max_attempts=t.max_attempts,
                error=redact_text(t.error),
                depends_on=[format_id("task", d) for d, _ in mine],
                waiting_on=[format_id("task", d) for d, s in mine if pending and s != TaskStatus.COMPLETE.value],
                blocked_by=[
                    format_id("task", d)
                    for d, s in mine
                    if pending and s in (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)
                ],
                result=redact(t.result),
                created_at=t.created_at,
                updated_at=t.updated_at,
                source_line=t.source_line,
                not_before=t.not_before,
                plan=redact(t.plan),
            )
        )
    return rows


def recent_events(
    session: Session, *, requirement_id: int | None = None, task_id: int | None = None, limit: int = 20
) -> list[EventRow]:
    """The latest events (newest first) of a requirement's tasks, of one task, or of everything."""
    query = select(TaskEvent).order_by(TaskEvent.at.desc(), TaskEvent.id.desc()).limit(limit)
    if task_id is not None:
        query = query.where(TaskEvent.task_id == task_id)
    elif requirement_id is not None:
        query = query.join(Task, Task.id == TaskEvent.task_id).where(Task.requirement_id == requirement_id)
    return [
        EventRow(format_id("task", e.task_id), e.from_status, e.to_status, e.phase, e.actor, redact_text(e.reason), e.at)
        for e in session.execute(query).scalars()
    ]
