"""Graceful shutdown: the first SIGTERM stops a worker that is following a run; the run's task
is left PENDING with its checkpoint (it holds no slot between checks), and the next worker
checks the same run again and finishes it."""

from __future__ import annotations

import signal
import time

from sqlalchemy import select
from sqlmodel import Session

from e2e_helpers import notebook_job, requirement
from state.models import Task


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
            if run_task.phase == "apply" and (run_task.checkpoint or {}).get("run_id"):
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
    assert (released.status, released.attempts, released.lease_owner, released.phase) == ("PENDING", 0, None, "apply")
    run_id = released.checkpoint["run_id"]

    assert e2e.run_worker() == {"COMPLETE": 1}
    with Session(engine) as session:
        done = session.execute(select(Task).where(Task.spec_key == "run_job:slow")).scalar_one()
    assert done.status == "COMPLETE" and done.attempts == 1
    assert done.result["run_id"] == run_id
    runs = list(e2e.sb.workspace_client().jobs.list_runs(job_id=done.result["job_id"]))
    assert [r.run_id for r in runs] == [run_id]
