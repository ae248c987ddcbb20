"""Every allowed and every refused move of the task state machine, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from state.columns import utcnow
from state.machine import (
    ALLOWED_MOVES,
    IllegalTransition,
    TaskStatus,
    TransitionConflict,
    enter_phase,
    transition,
    update_held,
)
from state.models import Requirement, Task, TaskEvent

from state_fixtures import Spec

ALL_PAIRS = [(a, b) for a in TaskStatus for b in TaskStatus if a is not b]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_MOVES[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED_MOVES[a]]

LEASE = {"lease_owner": "w1", "lease_expires_at": None}


def _drive_to(engine, task_id: int, target: TaskStatus) -> None:
    """Bring a fresh PENDING task to `target` through allowed moves."""
    path = {
        TaskStatus.PENDING: [],
        TaskStatus.IN_PROGRESS: [TaskStatus.IN_PROGRESS],
        TaskStatus.COMPLETE: [TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE],
        TaskStatus.FAILED: [TaskStatus.IN_PROGRESS, TaskStatus.FAILED],
        TaskStatus.CANCELLED: [TaskStatus.CANCELLED],
    }[target]
    current = TaskStatus.PENDING
    with Session(engine) as session:
        for step in path:
            _move(session, task_id, current, step)
            current = step
        session.commit()


def _move(session, task_id, from_status, to_status, **kwargs):
    values = kwargs.pop("values", {})
    if to_status is TaskStatus.IN_PROGRESS:
        values = {"lease_owner": "w1", "lease_expires_at": utcnow() + timedelta(seconds=60)} | values
    if from_status is TaskStatus.IN_PROGRESS:
        kwargs.setdefault("lease_owner", "w1")
    transition(session, task_id, from_status, to_status, actor="test", values=values, **kwargs)


def test_the_allowed_moves_are_the_designed_ones():
    assert {(a.value, b.value) for a, b in ALLOWED} == {
        ("PENDING", "IN_PROGRESS"),
        ("PENDING", "CANCELLED"),
        ("IN_PROGRESS", "COMPLETE"),
        ("IN_PROGRESS", "FAILED"),
        ("IN_PROGRESS", "CANCELLED"),
        ("IN_PROGRESS", "PENDING"),
        ("FAILED", "PENDING"),
    }


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=lambda s: s.value)
def test_allowed_move_updates_the_row_and_writes_an_event(engine, submit, from_status, to_status):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    _drive_to(engine, task_id, from_status)
    with Session(engine) as session:
        before = session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)).all()
        _move(session, task_id, from_status, to_status, reason="because")
        session.commit()
    with Session(engine) as session:
        task = session.get(Task, task_id)
        assert task.status == to_status.value
        if from_status is TaskStatus.IN_PROGRESS:
            assert task.lease_owner is None and task.lease_expires_at is None
        if to_status is TaskStatus.IN_PROGRESS:
            assert task.lease_owner == "w1" and task.lease_expires_at.tzinfo is not None
        events = list(session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)).scalars())
        assert len(events) == len(before) + 1
        last = events[-1]
        assert (last.from_status, last.to_status, last.reason) == (from_status.value, to_status.value, "because")
        assert last.at.tzinfo is not None


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED, ids=lambda s: s.value)
def test_refused_move_raises_and_changes_nothing(engine, submit, from_status, to_status):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    _drive_to(engine, task_id, from_status)
    with Session(engine) as session:
        events_before = len(session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)).all())
        with pytest.raises(IllegalTransition) as raised:
            _move(session, task_id, from_status, to_status)
        session.rollback()
    assert f"cannot move {from_status} -> {to_status}" in str(raised.value)
    with Session(engine) as session:
        assert session.get(Task, task_id).status == from_status.value
        assert len(session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)).all()) == events_before


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=lambda s: s.value)
def test_allowed_move_from_the_wrong_current_status_is_a_conflict(engine, submit, from_status, to_status):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    actual = TaskStatus.CANCELLED if from_status is not TaskStatus.CANCELLED else TaskStatus.PENDING
    _drive_to(engine, task_id, actual)
    with Session(engine) as session, pytest.raises(TransitionConflict) as raised:
        _move(session, task_id, from_status, to_status)
    assert raised.value.actual_status == actual.value
    assert f"but it is {actual.value}" in str(raised.value)


def test_leaving_in_progress_needs_the_lease_owner(engine, submit):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    _drive_to(engine, task_id, TaskStatus.IN_PROGRESS)
    with Session(engine) as session:
        with pytest.raises(TransitionConflict) as raised:
            transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE, actor="w2", lease_owner="w2")
        assert raised.value.actual_owner == "w1"
        with pytest.raises(ValueError, match="lease_owner, lease_expired_by or any_lease"):
            transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE, actor="w2")
        with pytest.raises(TransitionConflict):
            update_held(session, task_id, lease_owner="w2", values={"plan": {"actions": []}})
    with Session(engine) as session:
        assert session.get(Task, task_id).status == TaskStatus.IN_PROGRESS.value


def test_recovery_move_only_when_the_lease_has_expired(engine, submit):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    _drive_to(engine, task_id, TaskStatus.IN_PROGRESS)
    now = utcnow()
    with Session(engine) as session:
        with pytest.raises(TransitionConflict):
            transition(session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.PENDING, actor="w2", lease_expired_by=now)
        transition(
            session, task_id, TaskStatus.IN_PROGRESS, TaskStatus.PENDING, actor="w2", lease_expired_by=now + timedelta(seconds=61)
        )
        session.commit()
        assert session.get(Task, task_id).status == TaskStatus.PENDING.value


def test_entering_a_phase_is_an_event_without_a_status_change(engine, submit):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    _drive_to(engine, task_id, TaskStatus.IN_PROGRESS)
    with Session(engine) as session:
        enter_phase(session, task_id, "plan", lease_owner="w1")
        session.commit()
        task = session.get(Task, task_id)
        assert (task.status, task.phase) == ("IN_PROGRESS", "plan")
        last = session.execute(select(TaskEvent).order_by(TaskEvent.id.desc())).scalars().first()
        assert (last.from_status, last.to_status, last.phase, last.actor) == ("IN_PROGRESS", "IN_PROGRESS", "plan", "w1")
        with pytest.raises(TransitionConflict):
            enter_phase(session, task_id, "apply", lease_owner="someone-else")


def test_a_transition_cannot_set_the_status_through_values(engine, submit):
    task_id = submit([Spec("deploy_job:a")]).task_ids[0]
    with Session(engine) as session, pytest.raises(ValueError, match="cannot set"):
        transition(session, task_id, TaskStatus.PENDING, TaskStatus.CANCELLED, actor="t", values={"status": "COMPLETE"})


def test_requirement_status_rolls_up(engine, submit):
    result = submit([Spec("deploy_job:a"), Spec("deploy_job:b")])
    a, b = result.task_ids
    _drive_to(engine, a, TaskStatus.COMPLETE)
    with Session(engine) as session:
        assert session.get(Requirement, result.requirement_id).status == "OPEN"
    _drive_to(engine, b, TaskStatus.FAILED)
    with Session(engine) as session:
        assert session.get(Requirement, result.requirement_id).status == "FAILED"
        transition(session, b, TaskStatus.FAILED, TaskStatus.PENDING, actor="t")
        session.commit()
        assert session.get(Requirement, result.requirement_id).status == "OPEN"
