"""The work queue side of the state: claim, heartbeat, release and lease recovery.

A claim is one atomic operation: pick the highest-priority PENDING task whose dependencies
are all COMPLETE and whose `not_before` has passed, give it a lease (owner and expiry) and
count the attempt. Two workers never hold the same task: on SQLite the claim runs in a
`BEGIN IMMEDIATE` transaction (one writer at a time); on PostgreSQL the candidate row is
locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows. Either
way the move itself is `state.machine.transition`'s compare-and-set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from state.columns import utcnow
from state.engine import writer
from state.machine import TaskStatus, TransitionConflict, transition, update_held
from state.models import Task, TaskDependency


@dataclass(frozen=True)
class Claim:
    """A task a worker now holds: its id, the lease owner and expiry, and its attempt number (1-based)."""

    task_id: int
    lease_owner: str
    lease_expires_at: datetime
    attempt: int


def claimable_condition(now: datetime):
    """The SQL condition for a claimable task: PENDING, `not_before` passed, every dependency COMPLETE."""
    dependency = aliased(Task)
    unfinished_dependency = exists().where(
        TaskDependency.task_id == Task.id,
        TaskDependency.depends_on_id == dependency.id,
        dependency.status != TaskStatus.COMPLETE.value,
    )
    return and_(
        Task.status == TaskStatus.PENDING.value,
        or_(Task.not_before.is_(None), Task.not_before <= now),
        ~unfinished_dependency,
    )


def claim_next(engine: Engine, worker_id: str, lease_ttl: float, *, now: datetime | None = None) -> Claim | None:
    """Claim the next runnable task for `worker_id` with a lease of `lease_ttl` seconds.

    Returns None when nothing is claimable. Commits its own transaction.

    Raises:
        sqlalchemy.exc.OperationalError: the database is unreachable (or locked past the busy timeout).
    """
    for _ in range(5):
        now = now or utcnow()
        # Look first without the write lock: idle workers polling an empty queue then never
        # queue up behind each other (or behind busy ones) on SQLite's single writer.
        with Session(engine) as session:
            if session.execute(select(Task.id).where(claimable_condition(now)).limit(1)).first() is None:
                return None
        with Session(writer(engine)) as session:
            candidate = session.execute(
                select(Task.id, Task.attempts)
                .where(claimable_condition(now))
                .order_by(Task.priority.desc(), Task.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Task)
            ).first()
            if candidate is None:
                session.rollback()
                return None
            task_id, attempts = candidate
            expires = now + timedelta(seconds=lease_ttl)
            try:
                transition(
                    session,
                    task_id,
                    TaskStatus.PENDING,
                    TaskStatus.IN_PROGRESS,
                    actor=worker_id,
                    reason=f"claimed (attempt {attempts + 1})",
                    values={"lease_owner": worker_id, "lease_expires_at": expires, "attempts": attempts + 1, "error": None},
                    now=now,
                )
            except TransitionConflict:
                session.rollback()
                now = None
                continue
            session.commit()
            return Claim(task_id, worker_id, expires, attempts + 1)
    return None


def heartbeat(engine: Engine, claim: Claim, lease_ttl: float, *, now: datetime | None = None) -> Claim:
    """Extend the lease of a held task by `lease_ttl` seconds from now; returns the renewed claim.

    Raises:
        state.machine.TransitionConflict: the lease was lost (it expired and another worker
            recovered the task, or the task was moved on).
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=lease_ttl)
    with Session(writer(engine)) as session:
        update_held(session, claim.task_id, lease_owner=claim.lease_owner, values={"lease_expires_at": expires}, now=now)
        session.commit()
    return Claim(claim.task_id, claim.lease_owner, expires, claim.attempt)


def recover_expired_leases(engine: Engine, *, actor: str, now: datetime | None = None) -> list[tuple[int, TaskStatus]]:
    """Take back tasks whose lease expired (their worker died or hung).

    Each goes back to PENDING if it has attempts left, else to FAILED with the reason.
    Returns `(task_id, new_status)` pairs. Safe to run from many workers at once: each move
    is a compare-and-set on the expired lease.
    """
    now = now or utcnow()
    recovered: list[tuple[int, TaskStatus]] = []
    with Session(writer(engine)) as session:
        rows = session.execute(
            select(Task.id, Task.attempts, Task.max_attempts, Task.lease_owner, Task.phase).where(
                Task.status == TaskStatus.IN_PROGRESS.value, Task.lease_expires_at <= now
            )
        ).all()
        for task_id, attempts, max_attempts, owner, phase in rows:
            retry = attempts < max_attempts
            target = TaskStatus.PENDING if retry else TaskStatus.FAILED
            reason = f"lease of {owner} expired during {phase or 'claim'}" + (
                "; will retry" if retry else f"; no attempts left ({attempts}/{max_attempts})"
            )
            try:
                transition(
                    session,
                    task_id,
                    TaskStatus.IN_PROGRESS,
                    target,
                    actor=actor,
                    reason=reason,
                    lease_expired_by=now,
                    values={} if retry else {"error": reason},
                    now=now,
                )
            except TransitionConflict:
                continue
            recovered.append((task_id, target))
        session.commit()
    return recovered


@dataclass(frozen=True)
class QueueOutlook:
    """What is left to do: tasks IN_PROGRESS, PENDING tasks whose dependencies are all COMPLETE
    (`ready`, claimable now or once their `not_before` passes), and the earliest such
    `not_before` still in the future (None when some are claimable now or none wait)."""

    in_progress: int
    ready: int
    next_not_before: datetime | None

    @property
    def idle(self) -> bool:
        """Nothing is running and nothing can become claimable by waiting."""
        return self.in_progress == 0 and self.ready == 0


def outlook(engine: Engine, *, now: datetime | None = None) -> QueueOutlook:
    """Count the work left (see `QueueOutlook`). PENDING tasks blocked by a FAILED or
    CANCELLED dependency are not counted: they wait for a person."""
    from sqlalchemy import func

    now = now or utcnow()
    dependency = aliased(Task)
    unfinished_dependency = exists().where(
        TaskDependency.task_id == Task.id,
        TaskDependency.depends_on_id == dependency.id,
        dependency.status != TaskStatus.COMPLETE.value,
    )
    with Session(engine) as session:
        in_progress = session.execute(
            select(func.count()).select_from(Task).where(Task.status == TaskStatus.IN_PROGRESS.value)
        ).scalar_one()
        ready_rows = session.execute(
            select(Task.not_before).where(Task.status == TaskStatus.PENDING.value, ~unfinished_dependency)
        ).scalars().all()
    waiting = [nb for nb in ready_rows if nb is not None and nb > now]
    next_nb = min(waiting) if waiting and len(waiting) == len(ready_rows) else None
    return QueueOutlook(in_progress, len(ready_rows), next_nb)
