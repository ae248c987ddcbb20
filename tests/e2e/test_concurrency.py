"""Several worker processes on one database: no task claimed twice, no task lost.

4 processes on one SQLite file, and 4 on PostgreSQL (the machine's server on
127.0.0.1:5432; skipped with a message when none runs), share 300 deploy_job tasks.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from e2e_helpers import claims_never_overlap, requirement
from state.models import Task

N_JOBS = 300
WORKERS = 4


def _many_jobs(n: int) -> str:
    body = "".join(
        f"""\
    job_{i:03d}:
      name: job {i:03d}
      tasks:
        - task_key: step
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
"""
        for i in range(n)
    )
    return requirement(body, title="Many jobs")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("pg_url")


def test_four_worker_processes_share_300_tasks(e2e, db_url):
    e2e.db_url = db_url
    path = e2e.write("many.md", _many_jobs(N_JOBS))
    code, _, err = e2e.lead("submit", str(path))
    assert code == 0, err
    workers = [
        e2e.spawn_worker("--until-idle", "--poll-interval", "0.05", "--lease-ttl", "30", log_name=f"w{i}.log")
        for i in range(WORKERS)
    ]
    codes = [w.wait(timeout=600) for w in workers]
    logs = [(e2e.root / f"w{i}.log").read_text() for i in range(WORKERS)]
    assert codes == [0] * WORKERS, "\n".join(log[-2000:] for log in logs)

    engine = e2e.engine()
    with Session(engine) as session:
        statuses = dict(session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
        owners = session.execute(select(Task.result)).scalars().all()
    assert statuses == {"COMPLETE": N_JOBS}
    claims = claims_never_overlap(engine)
    assert len(claims) == N_JOBS and set(claims.values()) == {1}
    # every process did some of the work, and the workspace holds each job exactly once
    workers_seen = {line.split("worker=")[1].split("/")[0] for log in logs for line in log.splitlines() if "event=outcome" in line}
    assert len(workers_seen) == WORKERS
    jobs = list(e2e.sb.workspace_client().jobs.list())
    assert len(jobs) == N_JOBS
    assert len({j.settings.name for j in jobs}) == N_JOBS
    assert sorted(r["job_id"] for r in owners) == sorted(j.job_id for j in jobs)
