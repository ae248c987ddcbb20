"""PostgreSQL races in the core: a cancel racing a claim, and two workers finishing a
requirement's last two tasks at once (write skew on the roll-up)."""

from __future__ import annotations

import threading
import time

from e2e_helpers import notebook_job, requirement
from sqlalchemy import select
from sqlmodel import Session

from state.machine import TaskStatus, transition
from state.models import Requirement, Task
from state.queue import claim_next


def test_two_workers_finishing_the_last_two_tasks_leave_the_requirement_complete(e2e, pg_url):
    e2e.db_url = pg_url
    path = e2e.write("req.md", requirement(notebook_job("a") + notebook_job("b")))
    assert e2e.lead("submit", str(path))[0] == 0
    engine = e2e.engine()
    first, second = claim_next(engine, "w1", 60), claim_next(engine, "w2", 60)
    session_a = Session(engine)
    transition(session_a, first.task_id, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE, actor="w1", lease_owner="w1")
    # w1 has not committed yet; w2 finishes the other task meanwhile, in its own transaction
    done = threading.Event()

    def finish_second() -> None:
        with Session(engine) as session_b:
            transition(session_b, second.task_id, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETE, actor="w2", lease_owner="w2")
            session_b.commit()
        done.set()

    thread = threading.Thread(target=finish_second)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set(), "the second finish did not wait for the requirement lock"
    session_a.commit()
    session_a.close()
    thread.join(timeout=30)
    assert done.is_set()
    with Session(engine) as session:
        assert session.execute(select(Requirement.status)).scalar_one() == "COMPLETE"


def test_cancel_racing_a_claim_waits_for_it_and_cancels_the_running_task(e2e, pg_url):
    e2e.db_url = pg_url
    path = e2e.write("req.md", requirement(notebook_job("a")))
    assert e2e.lead("submit", str(path))[0] == 0
    engine = e2e.engine()
    claimer = Session(engine)
    (task_id,) = claimer.execute(select(Task.id).with_for_update(skip_locked=True)).scalars().all()
    from datetime import datetime, timedelta, timezone

    transition(claimer, task_id, TaskStatus.PENDING, TaskStatus.IN_PROGRESS, actor="w1",
               values={"lease_owner": "w1", "lease_expires_at": datetime.now(timezone.utc) + timedelta(seconds=60),
                       "attempts": 1})
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("cancel", e2e.lead("cancel", "REQ-0001")))
    thread.start()
    time.sleep(0.5)
    claimer.commit()  # the claim lands while the cancel waits on the row
    claimer.close()
    thread.join(timeout=30)
    code, out, err = result["cancel"]
    assert code == 0, err
    assert "T-0001" in out
    with Session(engine) as session:
        assert session.get(Task, task_id).status == "CANCELLED"
        assert session.execute(select(Requirement.status)).scalar_one() == "CANCELLED"
