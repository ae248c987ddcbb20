"""A worker killed (SIGKILL) in the middle of apply: the next worker completes the task exactly once."""

from __future__ import annotations

import signal
import time

from sqlalchemy import select
from sqlmodel import Session

from e2e_helpers import claims_never_overlap, notebook_job, requirement
from state.models import Task

ONE_JOB = requirement(notebook_job("nightly"), title="Crash test", extra="run_after_deploy: [nightly]\n")


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_during_apply_then_another_worker_completes_exactly_once(e2e):
    path = e2e.write("req.md", ONE_JOB)
    assert e2e.lead("submit", str(path))[0] == 0
    engine = e2e.engine()
    # The first create is slow (the worker dies while waiting for it; the server still applies
    # it), a second create would lose its response, and the first run-now loses its response:
    # the cases that make naive clients create duplicates.
    e2e.sb.add_fault("/api/2.2/jobs/create", "latency", count=1, latency_ms=4000)
    e2e.sb.add_fault("/api/2.2/jobs/create", "lose_response", count=1)
    e2e.sb.add_fault("/api/2.2/jobs/run-now", "lose_response", count=1)

    first = e2e.spawn_worker("--until-idle", "--lease-ttl", "2", "--poll-interval", "0.1", log_name="first.log")
    try:
        def in_apply():
            with Session(engine) as session:
                task = session.execute(select(Task).where(Task.spec_key == "deploy_job:nightly")).scalar_one()
                return task.status == "IN_PROGRESS" and task.phase == "apply"

        _wait_for(in_apply, 120, "the first worker to reach apply")
        time.sleep(0.5)  # inside the slow jobs/create
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL

    second = e2e.spawn_worker("--until-idle", "--lease-ttl", "2", "--poll-interval", "0.1", "--backoff-base", "0.1", log_name="second.log")
    assert second.wait(timeout=180) == 0, (e2e.root / "second.log").read_text()

    with Session(engine) as session:
        tasks = {t.spec_key: t for t in session.execute(select(Task)).scalars()}
    assert {k: t.status for k, t in tasks.items()} == {"deploy_job:nightly": "COMPLETE", "run_job:nightly": "COMPLETE"}
    assert tasks["deploy_job:nightly"].attempts == 2  # the killed attempt, then the recovery
    claims = claims_never_overlap(engine)
    assert claims[tasks["deploy_job:nightly"].id] == 2

    w = e2e.sb.workspace_client()
    jobs = list(w.jobs.list())
    assert len(jobs) == 1, [j.settings.name for j in jobs]
    assert jobs[0].job_id == tasks["deploy_job:nightly"].result["job_id"]
    runs = list(w.jobs.list_runs(job_id=jobs[0].job_id))
    assert len(runs) == 1
    assert runs[0].run_id == tasks["run_job:nightly"].result["run_id"]
    fired = {(f["path"], f["kind"]): f["fired"] for f in e2e.sb.faults()}
    assert fired[("/api/2.2/jobs/create", "latency")] == 1
    assert fired[("/api/2.2/jobs/run-now", "lose_response")] == 1
