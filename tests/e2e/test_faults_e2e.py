"""With about 20% of sandbox requests answered 429 or 503, every task completes and nothing is duplicated."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from e2e_helpers import claims_never_overlap, notebook_job, requirement
from state.models import Task

N_JOBS = 12
RUN = ["job_00", "job_01", "job_02"]


def test_every_task_completes_once_under_429_and_503(e2e):
    body = "".join(notebook_job(f"job_{i:02d}") for i in range(N_JOBS))
    path = e2e.write("req.md", requirement(body, title="Faulty API", extra=f"run_after_deploy: [{', '.join(RUN)}]\n"))
    assert e2e.lead("submit", str(path))[0] == 0
    e2e.sb.add_fault("/api/*", "429", count=None, probability=0.10, seed=1, retry_after=0)
    e2e.sb.add_fault("/api/*", "503", count=None, probability=0.11, seed=2, retry_after=0)

    outcomes = e2e.run_worker(concurrency=3)
    assert outcomes == {"COMPLETE": N_JOBS + len(RUN)}

    engine = e2e.engine()
    with Session(engine) as session:
        assert dict(session.execute(select(Task.status, func.count()).group_by(Task.status)).all()) == {"COMPLETE": N_JOBS + len(RUN)}
        results = {t.spec_key: t.result for t in session.execute(select(Task)).scalars()}
    assert set(claims_never_overlap(engine).values()) <= {1, 2, 3}

    faults = e2e.sb.faults()
    seen = faults[0]["seen"]
    fired = sum(f["fired"] for f in faults)
    assert seen > 100 and 0.12 < fired / seen < 0.30, (fired, seen)

    w = e2e.sb.workspace_client()
    e2e.sb.clear_faults()
    jobs = list(w.jobs.list())
    assert sorted(j.settings.name for j in jobs) == [f"job_{i:02d}" for i in range(N_JOBS)]
    for key in RUN:
        job_id = results[f"deploy_job:{key}"]["job_id"]
        runs = list(w.jobs.list_runs(job_id=job_id))
        assert [r.run_id for r in runs] == [results[f"run_job:{key}"]["run_id"]]
