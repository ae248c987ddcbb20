"""Recording a submitted requirements file: a requirement, its revision and its tasks.

`record_submission` is one unit of work inside the caller's transaction: the caller commits
when it returns and rolls back on any error, so a failed submit leaves nothing behind.

- New source path: a requirement at revision 1 with its tasks, all PENDING.
- Same path, same content (sha256): nothing is written; the existing requirement is returned.
- Same path, new content: revision + 1 with a fresh set of tasks; the still-PENDING tasks
  of earlier revisions are CANCELLED (tasks already IN_PROGRESS finish; history stays).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlmodel import Session

from state.columns import utcnow
from state.machine import TaskStatus, refresh_requirement_status, transition
from state.models import Requirement, Task, TaskDependency, TaskEvent


class SpecLike(Protocol):
    """What a task spec must offer to be recorded (the lead's `TaskSpec` has these)."""

    key: str
    type: str
    title: str
    payload: Mapping[str, Any]
    depends_on: Sequence[str]
    source_line: int | None
    source_field: str | None


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


def record_submission(
    session: Session,
    *,
    source_path: str,
    title: str,
    content_sha256: str,
    front_matter: Mapping[str, Any],
    owner: str | None,
    specs: Sequence[SpecLike],
    max_attempts: int = 3,
    actor: str = "lead",
) -> SubmissionResult:
    """Record one submission of a requirements file (see the module docstring for the cases).

    Args:
        source_path: the file's resolved path; it identifies the requirement.
        specs: task specs in dependency order; `depends_on` holds keys of other specs.

    Raises:
        DuplicateSpecKey: repeated spec keys or a dependency on an unknown key.
    """
    keys = [spec.key for spec in specs]
    if len(set(keys)) != len(keys):
        raise DuplicateSpecKey(f"repeated task spec keys: {sorted({k for k in keys if keys.count(k) > 1})}")
    for spec in specs:
        missing = [dep for dep in spec.depends_on if dep not in keys]
        if missing:
            raise DuplicateSpecKey(f"{spec.key} depends on unknown specs {missing}")

    now = utcnow()
    requirement = session.execute(select(Requirement).where(Requirement.source_path == source_path)).scalar_one_or_none()
    cancelled: list[int] = []
    if requirement is not None and requirement.content_sha256 == content_sha256:
        task_ids = list(
            session.execute(
                select(Task.id).where(Task.requirement_id == requirement.id, Task.revision == requirement.revision).order_by(Task.id)
            ).scalars()
        )
        return SubmissionResult("unchanged", requirement.id, requirement.revision, task_ids)

    if requirement is None:
        outcome: Literal["created", "revised"] = "created"
        requirement = Requirement(
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
        pending = session.execute(
            select(Task.id).where(Task.requirement_id == requirement.id, Task.status == TaskStatus.PENDING.value).order_by(Task.id)
        ).scalars()
        new_revision = requirement.revision + 1
        for task_id in list(pending):
            transition(
                session,
                task_id,
                TaskStatus.PENDING,
                TaskStatus.CANCELLED,
                actor=actor,
                reason=f"superseded by revision {new_revision}",
                now=now,
            )
            cancelled.append(task_id)
        requirement.title = title
        requirement.slug = slugify(title)
        requirement.content_sha256 = content_sha256
        requirement.revision = new_revision
        requirement.owner = owner
        requirement.front_matter = dict(front_matter)
        requirement.updated_at = now
        session.add(requirement)
        session.flush()

    ids_by_key: dict[str, int] = {}
    for spec in specs:
        task = Task(
            requirement_id=requirement.id,
            revision=requirement.revision,
            spec_key=spec.key,
            type=spec.type,
            title=spec.title,
            payload=dict(spec.payload),
            status=TaskStatus.PENDING.value,
            max_attempts=max_attempts,
            source_path=source_path,
            source_line=spec.source_line,
            source_field=spec.source_field,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        ids_by_key[spec.key] = task.id
        session.add(
            TaskEvent(
                task_id=task.id,
                from_status=None,
                to_status=TaskStatus.PENDING.value,
                actor=actor,
                reason=f"created by revision {requirement.revision} of {requirement.ref}",
                at=now,
            )
        )
    for spec in specs:
        for dep in spec.depends_on:
            session.add(TaskDependency(task_id=ids_by_key[spec.key], depends_on_id=ids_by_key[dep]))
    session.flush()
    refresh_requirement_status(session, requirement.id, now=now)
    return SubmissionResult(outcome, requirement.id, requirement.revision, list(ids_by_key.values()), cancelled)
