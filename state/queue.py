"""The work queue side of the state: claim, heartbeat, release and lease recovery.

A claim is one atomic operation: pick the highest-priority PENDING task of its requirement's
newest revision whose dependencies are all COMPLETE, whose `not_before` has passed and whose
deployment key no other task holds IN_PROGRESS, give it a lease (owner and expiry) and count
the attempt. Lease expiry and `not_before` are read on the database's clock
(`state.clock.db_now`), taken after the write lock is held. Two workers never hold the same task: on SQLite the claim runs in a
`BEGIN IMMEDIATE` transaction (one writer at a time); on PostgreSQL the candidate row is
locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows. Either
way the move itself is `state.machine.transition`'s compare-and-set. On PostgreSQL a claim of
a task with a deployment key also takes a transaction-scoped advisory lock on the key and
checks again, so two claimers racing for two tasks of one deployment cannot both win.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from state.clock import db_now
from state.columns import UTCDateTime
from state.engine import writer
from state.machine import Superseded, TaskStatus, TransitionConflict, transition, update_held
from state.models import Requirement, Task, TaskDependency


@dataclass(frozen=True)
class Claim:
    """A task a worker now holds: its id, the lease owner and expiry, and its attempt number (1-based)."""

    task_id: int
    lease_owner: str
    lease_expires_at: datetime
    attempt: int


def current_revision_condition():
    """The SQL condition for a task of its requirement's newest revision."""
    return Task.revision == select(Requirement.revision).where(Requirement.id == Task.requirement_id).scalar_subquery()


def _deployment_busy():
    other = aliased(Task)
    return exists().where(
        other.deployment_key == Task.deployment_key,
        other.status == TaskStatus.IN_PROGRESS.value,
        other.id != Task.id,
    )


def claimable_condition(now):
    """The SQL condition for a claimable task: PENDING, of the newest revision, `not_before`
    passed, every dependency COMPLETE, and no other task of its deployment key IN_PROGRESS.

    `now` is a datetime or a bind parameter (see `_claim_statements`)."""
    dependency = aliased(Task)
    unfinished_dependency = exists().where(
        TaskDependency.task_id == Task.id,
        TaskDependency.depends_on_id == dependency.id,
        dependency.status != TaskStatus.COMPLETE.value,
    )
    return and_(
        Task.status == TaskStatus.PENDING.value,
        or_(Task.not_before.is_(None), Task.not_before <= now),
        current_revision_condition(),
        ~unfinished_dependency,
        or_(Task.deployment_key.is_(None), ~_deployment_busy()),
    )


@functools.lru_cache(maxsize=1)
def _claim_statements():
    """The peek and the candidate query, built once with a `now` bind parameter (building
    these expressions costs milliseconds, more than running them)."""
    now = bindparam("now", type_=UTCDateTime())
    condition = claimable_condition(now)
    peek = select(Task.id).where(condition).limit(1)
    candidate = (
        select(Task.id, Task.attempts, Task.deployment_key)
        .where(condition)
        .order_by(Task.priority.desc(), Task.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Task)
    )
    return peek, candidate


def claim_next(engine: Engine, worker_id: str, lease_ttl: float) -> Claim | None:
    """Claim the next runnable task for `worker_id` with a lease of `lease_ttl` seconds.

    Returns None when nothing is claimable. Commits its own transaction.

    Raises:
        sqlalchemy.exc.OperationalError: the database is unreachable (or locked past the busy timeout).
    """
    for _ in range(5):
        # Look first without the write lock: idle workers polling an empty queue then never
        # queue up behind each other (or behind busy ones) on SQLite's single writer.
        peek, pick = _claim_statements()
        with Session(engine) as session:
            now = db_now(session)
            if session.execute(peek, {"now": now}).first() is None:
                return None
        with Session(writer(engine)) as session:
            now = db_now(session)  # after the write lock: waiting for it never shortens the lease
            candidate = session.execute(pick, {"now": now}).first()
            if candidate is None:
                session.rollback()
                return None
            task_id, attempts, deployment_key = candidate
            if deployment_key is not None and session.get_bind().dialect.name == "postgresql":
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(deployment_key))))
                if session.execute(select(Task.id).where(Task.id == task_id, ~_deployment_busy())).first() is None:
                    session.rollback()
                    continue
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
                continue
            session.commit()
            return Claim(task_id, worker_id, expires, attempts + 1)
    return None


def heartbeat(engine: Engine, claim: Claim, lease_ttl: float) -> Claim:
    """Extend the lease of a held task by `lease_ttl` seconds from now (the database's clock);
    returns the renewed claim.

    Raises:
        state.machine.Superseded: the task's revision was superseded; stop and cancel it.
        state.machine.TransitionConflict: the lease was lost (it expired and another worker
            recovered the task, or the task was moved on).
    """
    with Session(writer(engine)) as session:
        now = db_now(session)
        expires = now + timedelta(seconds=lease_ttl)
        update_held(session, claim.task_id, lease_owner=claim.lease_owner, values={"lease_expires_at": expires}, now=now)
        session.commit()
    return Claim(claim.task_id, claim.lease_owner, expires, claim.attempt)


def recover_expired_leases(engine: Engine, *, actor: str) -> list[tuple[int, TaskStatus]]:
    """Take back tasks whose lease expired (their worker died or hung), on the database's clock.

    Each goes back to PENDING if it has attempts left, else to FAILED with the reason; a task
    of a superseded revision is CANCELLED instead. Returns `(task_id, new_status)` pairs.
    Safe to run from many workers at once: each move is a compare-and-set on the expired lease.
    """
    recovered: list[tuple[int, TaskStatus]] = []
    with Session(writer(engine)) as session:
        now = db_now(session)
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
                with session.begin_nested():
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
            except Superseded as error:
                target = TaskStatus.CANCELLED
                try:
                    transition(session, task_id, TaskStatus.IN_PROGRESS, target, actor=actor,
                               reason=f"lease of {owner} expired; superseded by revision {error.current}",
                               lease_expired_by=now, now=now)
                except TransitionConflict:
                    continue
            except TransitionConflict:
                continue
            recovered.append((task_id, target))
        session.commit()
    return recovered


@dataclass(frozen=True)
class QueueOutlook:
    """What is left to do: tasks IN_PROGRESS, PENDING tasks whose dependencies are all COMPLETE
    (`ready`, claimable now or once their `not_before` passes: a retry's backoff, a run being
    checked again), and the earliest such `not_before` still in the future (None when some are
    claimable now or none wait). Occurrences of recurring tasks that are not due yet are not
    counted: a series never ends by waiting, so `--until-idle` does not wait for it."""

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
    dependency = aliased(Task)
    unfinished_dependency = exists().where(
        TaskDependency.task_id == Task.id,
        TaskDependency.depends_on_id == dependency.id,
        dependency.status != TaskStatus.COMPLETE.value,
    )
    with Session(engine) as session:
        now = now or db_now(session)
        in_progress = session.execute(
            select(func.count()).select_from(Task).where(Task.status == TaskStatus.IN_PROGRESS.value)
        ).scalar_one()
        ready_rows = session.execute(
            select(Task.not_before).where(
                Task.status == TaskStatus.PENDING.value, current_revision_condition(), ~unfinished_dependency,
                or_(Task.scheduled_for.is_(None), Task.scheduled_for <= now),
            )
        ).scalars().all()
    waiting = [nb for nb in ready_rows if nb is not None and nb > now]
    next_nb = min(waiting) if waiting and len(waiting) == len(ready_rows) else None
    return QueueOutlook(in_progress, len(ready_rows), next_nb)


def claim_task(engine: Engine, task_id: int, owner: str, lease_ttl: float) -> "Claim | None":
    """Claim task `task_id` (and no other) for `owner` with a lease of `lease_ttl` seconds, if
    it is claimable now (`state.queue.claimable_condition`: PENDING, newest revision,
    `not_before` passed, dependencies COMPLETE). Returns a `state.queue.Claim`, or None when it
    is not claimable (a worker holds it, it waits, or it has ended). Commits its own transaction.

    The same compare-and-set move (`state.machine.transition`) and event as `claim_next`.
    """
    with Session(writer(engine)) as session:
        now = db_now(session)
        row = session.execute(select(Task.attempts).where(Task.id == task_id, claimable_condition(now))).first()
        if row is None:
            session.rollback()
            return None
        attempts = row[0]
        expires = now + timedelta(seconds=lease_ttl)
        try:
            transition(session, task_id, TaskStatus.PENDING, TaskStatus.IN_PROGRESS, actor=owner,
                       reason=f"claimed by the lead (attempt {attempts + 1})",
                       values={"lease_owner": owner, "lease_expires_at": expires, "attempts": attempts + 1, "error": None},
                       now=now)
        except TransitionConflict:
            session.rollback()
            return None
        session.commit()
    return Claim(task_id, owner, expires, attempts + 1)
