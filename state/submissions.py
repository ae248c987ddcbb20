"""Recording work: a submitted requirements file's revision and its tasks, and tasks enqueued
later (follow-ups, recurrences, work from the command line).

`record_submission` is one unit of work inside the caller's transaction: the caller commits
when it returns and rolls back on any error, so a failed submit leaves nothing behind. Use a
`state.engine.writer` session (SQLite takes the write lock up front); on PostgreSQL the
requirement row and the superseded tasks are locked (`FOR UPDATE`).

A requirement is identified by its `identity` (`<bundle>/<target>` for a file, as a bundle
deployment is), not by the file's path:

- New identity: a requirement at revision 1 with its tasks, all PENDING.
- Same identity, same content (sha256) and path: nothing is written; the existing
  requirement is returned.
- Same identity, new content or another path (a clone, a moved file): revision + 1 with a
  fresh set of tasks; the still-PENDING tasks of earlier revisions are CANCELLED. Tasks of an
  earlier revision still IN_PROGRESS learn it at their next heartbeat or phase boundary and
  end CANCELLED without applying (see `state.machine.Superseded`).

`enqueue` inserts tasks into an existing requirement's current revision; a task whose
`idempotency_key` already exists is not inserted again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from state.clock import db_now
from state.machine import TaskStatus, TransitionConflict, refresh_requirement_status, transition
from state.models import Requirement, Task, TaskDependency, TaskEvent
from state.schedules import next_due


class SpecLike(Protocol):
    """What a task spec must offer to be recorded (the lead's `TaskSpec` has these).

    Optional attributes read when present: `deployment_key`, `schedule`, `idempotency_key`,
    `not_before`, `max_attempts` (see `NewTask`).
    """

    key: str
    type: str
    title: str
    payload: Mapping[str, Any]
    depends_on: Sequence[str]
    source_line: int | None
    source_field: str | None


@dataclass(frozen=True)
class NewTask:
    """A task to record.

    key: the spec key, unique within one revision (with `occurrence`). depends_on: keys of
    other tasks of the same batch. depends_on_ids: ids of existing tasks. deployment_key:
    `<bundle>/<target>/<job_key>` for a task that changes that deployment. schedule:
    `{"every_seconds": N}` or `{"quartz_cron_expression": ..., "timezone_id": ...}` for a
    recurring task. idempotency_key: enqueueing an existing key inserts nothing.
    not_before: the earliest claim (UTC). occurrence / scheduled_for: a recurrence's number
    and due time.
    """

    key: str
    type: str
    title: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    depends_on: Sequence[str] = ()
    depends_on_ids: Sequence[int] = ()
    source_line: int | None = None
    source_field: str | None = None
    deployment_key: str | None = None
    schedule: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    not_before: datetime | None = None
    occurrence: int = 0
    scheduled_for: datetime | None = None
    max_attempts: int | None = None


@dataclass
class SubmissionResult:
    """What a submit did. `outcome` is `created`, `unchanged` or `revised`; `task_ids` are the
    tasks of the requirement's current revision; `cancelled_ids` the older PENDING tasks cancelled."""

    outcome: Literal["created", "unchanged", "revised"]
    requirement_id: int
    revision: int
    task_ids: list[int] = field(default_factory=list)
    cancelled_ids: list[int] = field(default_factory=list)


class DuplicateSpecKey(ValueError):
    """Two specs of one submission share a key, or a dependency names no spec of it."""


def slugify(title: str, max_length: int = 48) -> str:
    """A file-name-safe slug: `Nightly sales & returns` -> `nightly-sales-returns`."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return (slug[:max_length].rstrip("-")) or "requirement"


def _check_keys(specs: Sequence[SpecLike]) -> None:
    keys = [spec.key for spec in specs]
    if len(set(keys)) != len(keys):
        raise DuplicateSpecKey(f"repeated task spec keys: {sorted({k for k in keys if keys.count(k) > 1})}")
    for spec in specs:
        missing = [dep for dep in spec.depends_on if dep not in keys]
        if missing:
            raise DuplicateSpecKey(f"{spec.key} depends on unknown specs {missing}")


def _lock_requirement(session: Session, identity: str) -> Requirement | None:
    return session.execute(
        select(Requirement).where(Requirement.identity == identity).with_for_update()
    ).scalar_one_or_none()


def record_submission(
    session: Session,
    *,
    source_path: str,
    title: str,
    content_sha256: str,
    front_matter: Mapping[str, Any],
    owner: str | None,
    specs: Sequence[SpecLike],
    identity: str | None = None,
    bundle: str | None = None,
    target: str | None = None,
    max_attempts: int = 3,
    actor: str = "lead",
) -> SubmissionResult:
    """Record one submission of a requirements file (see the module docstring for the cases).

    Args:
        source_path: the file's resolved path, recorded (it does not identify the requirement).
        identity: `<bundle>/<target>`; default `source_path` (for callers without a bundle).
        specs: task specs in dependency order; `depends_on` holds keys of other specs.

    Raises:
        DuplicateSpecKey: repeated spec keys or a dependency on an unknown key.
        sqlalchemy.exc.IntegrityError: another submit created the same identity at the same
            moment (PostgreSQL); submitting again finds it.
    """
    _check_keys(specs)
    identity = identity or source_path
    now = db_now(session)
    requirement = _lock_requirement(session, identity)
    cancelled: list[int] = []
    if requirement is not None and requirement.content_sha256 == content_sha256 and requirement.source_path == source_path:
        task_ids = list(
            session.execute(
                select(Task.id).where(Task.requirement_id == requirement.id, Task.revision == requirement.revision).order_by(Task.id)
            ).scalars()
        )
        return SubmissionResult("unchanged", requirement.id, requirement.revision, task_ids)

    if requirement is None:
        outcome: Literal["created", "revised"] = "created"
        requirement = Requirement(
            identity=identity,
            kind="file",
            bundle=bundle,
            target=target,
            title=title,
            slug=slugify(title),
            source_path=source_path,
            content_sha256=content_sha256,
            revision=1,
            owner=owner,
            front_matter=dict(front_matter),
            created_at=now,
            updated_at=now,
        )
        session.add(requirement)
        session.flush()
    else:
        outcome = "revised"
        new_revision = requirement.revision + 1
        requirement.title = title
        requirement.slug = slugify(title)
        requirement.source_path = source_path
        requirement.bundle = bundle
        requirement.target = target
        requirement.content_sha256 = content_sha256
        requirement.revision = new_revision
        requirement.owner = owner
        requirement.front_matter = dict(front_matter)
        requirement.updated_at = now
        session.add(requirement)
        session.flush()
        pending = session.execute(
            select(Task.id)
            .where(Task.requirement_id == requirement.id, Task.status == TaskStatus.PENDING.value, Task.revision < new_revision)
            .order_by(Task.id)
            .with_for_update()
        ).scalars().all()
        for task_id in pending:
            try:
                transition(session, task_id, TaskStatus.PENDING, TaskStatus.CANCELLED, actor=actor,
                           reason=f"superseded by revision {new_revision}", now=now)
            except TransitionConflict:
                continue  # claimed meanwhile: it learns it is superseded at its next heartbeat
            cancelled.append(task_id)

    ids = _insert(session, requirement, [_as_new_task(spec, max_attempts) for spec in specs], actor=actor, now=now,
                  reason=f"created by revision {requirement.revision} of {requirement.ref}")
    refresh_requirement_status(session, requirement.id, now=now)
    return SubmissionResult(outcome, requirement.id, requirement.revision, ids, cancelled)


def _as_new_task(spec: SpecLike, max_attempts: int) -> NewTask:
    if isinstance(spec, NewTask):
        return spec if spec.max_attempts is not None else NewTask(**{**spec.__dict__, "max_attempts": max_attempts})
    return NewTask(
        key=spec.key, type=spec.type, title=spec.title, payload=dict(spec.payload), depends_on=tuple(spec.depends_on),
        source_line=spec.source_line, source_field=spec.source_field,
        deployment_key=getattr(spec, "deployment_key", None), schedule=getattr(spec, "schedule", None),
        idempotency_key=getattr(spec, "idempotency_key", None), not_before=getattr(spec, "not_before", None),
        max_attempts=getattr(spec, "max_attempts", None) or max_attempts,
    )


def _insert(
    session: Session, requirement: Requirement, tasks: Sequence[NewTask], *, actor: str, now: datetime, reason: str
) -> list[int]:
    """Insert `tasks` into the requirement's current revision with their creation events and
    dependencies; skip tasks whose idempotency key exists. Returns the ids inserted."""
    ids_by_key: dict[str, int] = {}
    for spec in tasks:
        if spec.idempotency_key is not None and session.execute(
            select(Task.id).where(Task.idempotency_key == spec.idempotency_key)
        ).first() is not None:
            continue
        scheduled_for, not_before = spec.scheduled_for, spec.not_before
        if spec.schedule and scheduled_for is None:
            scheduled_for = next_due(spec.schedule, previous_due=None, now=now)
            not_before = max(not_before, scheduled_for) if not_before else scheduled_for
        task = Task(
            requirement_id=requirement.id,
            revision=requirement.revision,
            spec_key=spec.key,
            type=spec.type,
            title=spec.title,
            payload=dict(spec.payload),
            status=TaskStatus.PENDING.value,
            max_attempts=spec.max_attempts or 3,
            deployment_key=spec.deployment_key,
            schedule=dict(spec.schedule) if spec.schedule else None,
            idempotency_key=spec.idempotency_key,
            not_before=not_before,
            occurrence=spec.occurrence,
            scheduled_for=scheduled_for,
            source_path=requirement.source_path,
            source_line=spec.source_line,
            source_field=spec.source_field,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(task)
                session.flush()
        except IntegrityError:
            if spec.idempotency_key is None:
                raise
            continue  # the same key inserted at the same moment by someone else
        ids_by_key[spec.key] = task.id
        session.add(TaskEvent(task_id=task.id, from_status=None, to_status=TaskStatus.PENDING.value, actor=actor,
                              reason=reason, at=now))
    for spec in tasks:
        if spec.key not in ids_by_key:
            continue
        for dep in spec.depends_on:
            if dep in ids_by_key:
                session.add(TaskDependency(task_id=ids_by_key[spec.key], depends_on_id=ids_by_key[dep]))
        for dep_id in spec.depends_on_ids:
            session.add(TaskDependency(task_id=ids_by_key[spec.key], depends_on_id=dep_id))
    session.flush()
    return list(ids_by_key.values())


def enqueue(
    session: Session,
    requirement_id: int,
    tasks: Sequence[NewTask],
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> list[int]:
    """Insert follow-up or recurring tasks into a requirement's current revision, inside the
    caller's transaction (e.g. the one recording the outcome that created them).

    A task whose `idempotency_key` already exists inserts nothing. Returns the new ids.

    Raises:
        DuplicateSpecKey: repeated keys in `tasks` or a dependency on a key not in `tasks`.
    """
    _check_keys(tasks)
    now = now or db_now(session)
    requirement = session.execute(select(Requirement).where(Requirement.id == requirement_id).with_for_update()).scalar_one()
    ids = _insert(session, requirement, tasks, actor=actor, now=now, reason=reason)
    if ids:
        refresh_requirement_status(session, requirement_id, now=now)
    return ids


def ensure_requirement(
    session: Session, *, kind: Literal["recurring", "ad_hoc"], name: str, title: str, owner: str | None = None
) -> int:
    """The id of the requirement `<kind>/<name>` (created at revision 1 when missing): the home
    of work that has no requirements file. The caller commits.

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in ("recurring", "ad_hoc"):
        raise ValueError(f"kind must be recurring or ad_hoc, not {kind!r}")
    identity = f"{kind}/{name}"
    found = _lock_requirement(session, identity)
    if found is not None:
        return found.id
    now = db_now(session)
    requirement = Requirement(identity=identity, kind=kind, title=title, slug=slugify(title), source_path=None,
                              content_sha256="", revision=1, owner=owner, front_matter={}, created_at=now, updated_at=now)
    session.add(requirement)
    session.flush()
    return requirement.id
