"""Claims, heartbeats and lease recovery on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from state.columns import utcnow
from state.machine import TaskStatus, TransitionConflict, transition
from state.models import Task
from state.queue import claim_next, heartbeat, recover_expired_leases
from state_fixtures import Spec


def test_claim_respects_dependencies_priority_and_not_before(engine, submit):
    result = submit([Spec("deploy_job:a"), Spec("deploy_job:b"), Spec("run_job:a", depends_on=("deploy_job:a",))])
    a, b, run_a = result.task_ids
    with Session(engine) as session:
        session.get(Task, b).priority = 5
        session.commit()
    first = claim_next(engine, "w1", 30)
    assert first.task_id == b and first.attempt == 1
    second = claim_next(engine, "w2", 30)
    assert second.task_id == a
    assert claim_next(engine, "w3", 30) is None  # run_a waits for a
    with Session(engine) as session:
        transition(session, a, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE, actor="w2", lease_owner="w2")
        session.commit()
    third = claim_next(engine, "w3", 30)
    assert third.task_id == run_a


def _set(engine, task_id, **values):
    """Move a task's times into the past, as the passing of time would (the queue reads the database's clock)."""
    from sqlalchemy import update

    with Session(engine) as session:
        session.execute(update(Task).where(Task.id == task_id).values(**values))
        session.commit()


def test_not_before_delays_the_claim(engine, submit):
    (task_id,) = submit([Spec("deploy_job:a")]).task_ids
    claim = claim_next(engine, "w1", 30)
    later = utcnow() + timedelta(minutes=5)
    with Session(engine) as session:
        transition(session, task_id, "IN_PROGRESS", "PENDING", actor="w1", lease_owner="w1", values={"not_before": later})
        session.commit()
    assert claim_next(engine, "w1", 30) is None
    _set(engine, task_id, not_before=utcnow() - timedelta(seconds=1))  # the time has come
    again = claim_next(engine, "w1", 30)
    assert again.task_id == task_id and again.attempt == claim.attempt + 1


def test_heartbeat_extends_only_the_holders_lease(engine, submit):
    submit([Spec("deploy_job:a")])
    claim = claim_next(engine, "w1", 5)
    renewed = heartbeat(engine, claim, 60)
    assert renewed.lease_expires_at > claim.lease_expires_at
    with Session(engine) as session:
        assert session.get(Task, claim.task_id).lease_expires_at == renewed.lease_expires_at
    impostor = type(claim)(claim.task_id, "w2", claim.lease_expires_at, 1)
    with pytest.raises(TransitionConflict):
        heartbeat(engine, impostor, 60)


def test_expired_lease_goes_back_to_pending_then_fails_when_attempts_run_out(engine, submit):
    (task_id,) = submit([Spec("deploy_job:a")]).task_ids
    with Session(engine) as session:
        session.get(Task, task_id).max_attempts = 2
        session.commit()
    for attempt in (1, 2):
        claim = claim_next(engine, "dead", 1)
        assert claim.attempt == attempt
        assert recover_expired_leases(engine, actor="w2") == []  # not expired yet
        _set(engine, task_id, lease_expires_at=utcnow() - timedelta(seconds=1))  # the lease runs out
        recovered = recover_expired_leases(engine, actor="w2")
        expected = TaskStatus.PENDING if attempt == 1 else TaskStatus.FAILED
        assert recovered == [(task_id, expected)]
    with Session(engine) as session:
        task = session.get(Task, task_id)
        assert task.status == "FAILED" and "no attempts left (2/2)" in task.error
    with pytest.raises(TransitionConflict):
        heartbeat(engine, claim, 30)
