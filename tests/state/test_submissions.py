"""Recording submissions: creation, idempotent re-submits, revisions, dependencies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from state.machine import TaskStatus
from state.models import Requirement, Task, TaskDependency, TaskEvent
from state.submissions import DuplicateSpecKey, slugify
from state_fixtures import Spec


def _count(engine, model) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_first_submit_creates_requirement_tasks_dependencies_and_events(engine, submit):
    result = submit([Spec("deploy_job:a"), Spec("run_job:a", type="run_job", depends_on=("deploy_job:a",))])
    assert result.outcome == "created" and result.revision == 1
    with Session(engine) as session:
        req = session.get(Requirement, result.requirement_id)
        assert (req.ref, req.slug, req.status) == ("REQ-0001", "nightly-sales", "OPEN")
        tasks = list(session.execute(select(Task).order_by(Task.id)).scalars())
        assert [(t.ref, t.spec_key, t.status, t.attempts) for t in tasks] == [
            ("T-0001", "deploy_job:a", "PENDING", 0),
            ("T-0002", "run_job:a", "PENDING", 0),
        ]
        deps = session.execute(select(TaskDependency.task_id, TaskDependency.depends_on_id)).all()
        assert deps == [(2, 1)]
        events = session.execute(select(TaskEvent.from_status, TaskEvent.to_status, TaskEvent.actor)).all()
        assert events == [(None, "PENDING", "lead"), (None, "PENDING", "lead")]


def test_unchanged_resubmit_creates_nothing(engine, submit):
    first = submit([Spec("deploy_job:a")])
    counts = [_count(engine, m) for m in (Requirement, Task, TaskEvent)]
    again = submit([Spec("deploy_job:a")])
    assert again.outcome == "unchanged"
    assert (again.requirement_id, again.task_ids) == (first.requirement_id, first.task_ids)
    assert [_count(engine, m) for m in (Requirement, Task, TaskEvent)] == counts


def test_changed_file_is_a_new_revision_that_cancels_pending_tasks(engine, submit):
    first = submit([Spec("deploy_job:a"), Spec("deploy_job:b")])
    second = submit([Spec("deploy_job:a"), Spec("deploy_job:c")], sha="b")
    assert second.outcome == "revised" and second.revision == 2
    assert second.requirement_id == first.requirement_id
    assert sorted(second.cancelled_ids) == sorted(first.task_ids)
    with Session(engine) as session:
        old = [session.get(Task, t) for t in first.task_ids]
        assert {t.status for t in old} == {TaskStatus.CANCELLED.value}
        new = [session.get(Task, t) for t in second.task_ids]
        assert [(t.spec_key, t.revision, t.status) for t in new] == [("deploy_job:a", 2, "PENDING"), ("deploy_job:c", 2, "PENDING")]
        reasons = session.execute(select(TaskEvent.reason).where(TaskEvent.to_status == "CANCELLED")).scalars().all()
        assert reasons == ["superseded by revision 2", "superseded by revision 2"]
        assert session.get(Requirement, first.requirement_id).revision == 2


def test_revision_leaves_finished_tasks_alone(engine, submit):
    from datetime import timedelta

    from state.columns import utcnow
    from state.machine import transition

    first = submit([Spec("deploy_job:a")])
    with Session(engine) as session:
        transition(session, first.task_ids[0], "PENDING", "IN_PROGRESS", actor="w", values={"lease_owner": "w", "lease_expires_at": utcnow() + timedelta(seconds=9)})
        transition(session, first.task_ids[0], "IN_PROGRESS", "COMPLETE", actor="w", lease_owner="w")
        session.commit()
    second = submit([Spec("deploy_job:a")], sha="changed")
    assert second.cancelled_ids == []
    with Session(engine) as session:
        assert session.get(Task, first.task_ids[0]).status == "COMPLETE"


def test_bad_specs_are_refused_before_anything_is_written(engine, submit):
    with pytest.raises(DuplicateSpecKey):
        submit([Spec("deploy_job:a"), Spec("deploy_job:a")])
    with pytest.raises(DuplicateSpecKey, match="unknown specs"):
        submit([Spec("run_job:a", depends_on=("deploy_job:zzz",))])
    assert _count(engine, Requirement) == 0 and _count(engine, Task) == 0


def test_slugify():
    assert slugify("Nightly sales & returns (EU)") == "nightly-sales-returns-eu"
    assert slugify("!!!") == "requirement"
