"""Graceful shutdown: the first SIGTERM releases a task that is following a run; the next
worker picks the same run up again through its idempotency token."""

from __future__ import annotations

import signal
import time

from sqlalchemy import select
from sqlmodel import Session

from e2e_helpers import notebook_job, requirement
from state.models import Task, TaskEvent


def test_sigterm_releases_the_running_task_and_the_next_worker_finishes_the_same_run(e2e):
    path = e2e.write("req.md", requirement(notebook_job("slow"), title="Slow", extra="run_after_deploy: [slow]\n"))
    assert e2e.lead("submit", str(path))[0] == 0
    e2e.sb.load_scenario({"rules": [], "defaults": {"duration_seconds": 36000}})  # ~10 s of real time at 3600x
    engine = e2e.engine()
    proc = e2e.spawn_worker("--until-idle", "--poll-interval", "0.05", log_name="first.log")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with Session(engine) as session:
                run_task = session.execute(select(Task).where(Task.spec_key == "run_job:slow")).scalar_one()
            if run_task.status == "IN_PROGRESS" and run_task.phase == "apply":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the worker never started following the run")
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (e2e.root / "first.log").read_text()
    assert "SIGTERM: stopping" in log
    with Session(engine) as session:
        released = session.execute(select(Task).where(Task.spec_key == "run_job:slow")).scalar_one()
        reasons = session.execute(select(TaskEvent.reason).where(TaskEvent.task_id == released.id)).scalars().all()
    assert (released.status, released.attempts, released.lease_owner) == ("PENDING", 0, None)
    assert any("worker stopping" in (r or "") for r in reasons)

    assert e2e.run_worker() == {"COMPLETE": 1}
    with Session(engine) as session:
        done = session.execute(select(Task).where(Task.spec_key == "run_job:slow")).scalar_one()
    assert done.status == "COMPLETE" and done.attempts == 1
    runs = list(e2e.sb.workspace_client().jobs.list_runs(job_id=done.result["job_id"]))
    assert [r.run_id for r in runs] == [done.result["run_id"]]
