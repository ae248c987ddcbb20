"""Recurring tasks: every occurrence enqueues the next in the same transaction that ends it;
two workers never create an occurrence twice; the schedule does not drift; `lead cancel`
stops the series; the requirement shows ACTIVE meanwhile."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select
from sqlmodel import Session

from state.engine import writer
from state.models import Requirement, Task
from state.submissions import NewTask, enqueue, ensure_requirement


def _enqueue_probe(engine, every: float) -> int:
    with Session(writer(engine)) as session:
        requirement_id = ensure_requirement(session, kind="recurring", name="workspace-probe", title="Workspace probe")
        enqueue(session, requirement_id, [NewTask(key="workspace_check", type="workspace_check", title="Check the workspace",
                                                  schedule={"every_seconds": every})],
                actor="test", reason="scheduled by the test")
        session.commit()
    return requirement_id


def _occurrences(engine) -> list[Task]:
    with Session(engine) as session:
        return list(session.execute(select(Task).order_by(Task.occurrence)).scalars())


def test_every_2_s_for_10_s_with_two_workers_gives_5_occurrences_and_cancel_stops_it(e2e):
    engine = e2e.engine()
    engine.dispose()
    workers = [e2e.spawn_worker("--poll-interval", "0.1", log_name=f"w{i}.log") for i in range(2)]
    try:
        time.sleep(6)  # both workers are up (the SDK import takes a few seconds)
        assert all(p.poll() is None for p in workers)
        requirement_id = _enqueue_probe(engine, 2)
        time.sleep(10)
        code, out, err = e2e.lead("cancel", f"REQ-{requirement_id:04d}")
        assert code == 0, err
        cancelled_at = time.time()
        time.sleep(4)  # a stopped series enqueues nothing more
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
    tasks = _occurrences(engine)
    first = tasks[0].scheduled_for
    due = [(t.scheduled_for - first).total_seconds() for t in tasks]
    done = [t for t in tasks if t.status == "COMPLETE"]
    assert 4 <= len(done) <= 6, [(t.occurrence, t.status, d) for t, d in zip(tasks, due)]
    assert [t.occurrence for t in tasks] == list(range(len(tasks)))  # no gap, no duplicate
    assert len({t.idempotency_key for t in tasks[1:]}) == len(tasks) - 1
    assert due == [2.0 * n for n in range(len(tasks))]  # no drift: due times on the 2 s grid
    assert tasks[-1].status == "CANCELLED"
    assert all(t.created_at.timestamp() < cancelled_at for t in tasks)
    claimed_by = Counter(t.result["user"] for t in done)
    assert claimed_by and all(t.result["host"] == e2e.sb.url.rstrip("/") for t in done)
    with Session(engine) as session:
        assert session.get(Requirement, requirement_id).status == "CANCELLED"


def test_a_recurring_requirement_is_active_while_its_next_occurrence_waits(e2e):
    engine = e2e.engine()
    requirement_id = _enqueue_probe(engine, 3600)
    outcomes = e2e.run_worker()
    assert outcomes == {"COMPLETE": 1}  # the next occurrence waits an hour: --until-idle does not wait for it
    tasks = _occurrences(engine)
    assert [(t.occurrence, t.status) for t in tasks] == [(0, "COMPLETE"), (1, "PENDING")]
    assert (tasks[1].scheduled_for - tasks[0].scheduled_for).total_seconds() == 3600
    with Session(engine) as session:
        assert session.get(Requirement, requirement_id).status == "ACTIVE"
    code, out, _ = e2e.lead("status", "--json")
    assert code == 0 and '"ACTIVE"' in out
