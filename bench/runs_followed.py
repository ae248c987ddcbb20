"""Runs one worker process follows at once: `run_job` waits for its run holding no slot.

An in-process sandbox (clock speed 4 by default: a run of 10 simulated minutes lasts 150 real
seconds; the worker's check intervals are real seconds, 1 s growing to 30 s, so a faster
clock makes each simulated minute cost more checks) gets one deployed job allowing many concurrent runs; N `run_job` tasks depending on its
deploy are enqueued (each its own run, through its own idempotency token). One `worker`
process with `--concurrency 1` then takes them all. The bench samples how many runs are
being followed at once (started, not ended, their task waiting to check again) and reports
the peak, the runs completed, and the wall time from the first run started to the last task
COMPLETE (a run lasts 10 s; followed one after the other, N runs would take N x 10 s).

    uv run python bench/runs_followed.py [--runs 200] [--run-minutes 10] [--clock-speed 4]

Goal (issue 8): at least 200 runs of 10 simulated minutes followed at once. Figures only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXT = """\
---
title: Runs followed bench
bundle: runs_bench
workspace_root: /Workspace/Shared/job-agent
---

```yaml
resources:
  jobs:
    etl:
      name: bench etl
      max_concurrent_runs: 1000
      tasks:
        - task_key: step
          notebook_task:
            notebook_path: ${workspace.root_path}/notebooks/ingest
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--run-minutes", type=float, default=10.0, help="simulated minutes a run lasts")
    parser.add_argument("--clock-speed", type=float, default=4.0, help="simulated seconds per real second")
    args = parser.parse_args()

    from sqlalchemy import func, select
    from sqlmodel import Session

    from lead.cli import app
    from lead.cli_runner import run_cli
    from sandbox import running_sandbox
    from state.engine import make_engine, writer
    from state.models import Task
    from state.submissions import NewTask, enqueue

    with tempfile.TemporaryDirectory() as tmp, running_sandbox(clock_speed=args.clock_speed) as sb:
        root = Path(tmp)
        sb.load_scenario({"rules": [], "defaults": {"duration_seconds": int(args.run_minutes * 60)}})
        db = f"sqlite:///{root / 'state.db'}"
        (root / "req.md").write_text(TEXT)
        assert run_cli(app, "lead", ["submit", str(root / "req.md"), "--db", db, "--progress-dir", str(root / "progress")]) == 0
        engine = make_engine(db)
        with Session(writer(engine)) as session:
            deploy = session.execute(select(Task)).scalar_one()
            enqueue(session, deploy.requirement_id, [
                NewTask(key=f"run_job:etl#{i}", type="run_job", title=f"Run etl ({i})", depends_on_ids=[deploy.id],
                        payload={"job_key": "etl", "deploy_task": "deploy_job:etl", "source": {"path": "req.md", "line": 1}})
                for i in range(args.runs)
            ], actor="bench", reason="bench runs")
            session.commit()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(DATABRICKS_HOST=sb.url, DATABRICKS_TOKEN=sb.token, DATABRICKS_AUTH_TYPE="pat", JOB_AGENT_DB=db,
                   JOB_AGENT_PROGRESS_DIR=str(root / "progress"), JOB_AGENT_HOME=str(root / ".job-agent"))
        log = open(root / "worker.log", "wb")
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "--no-citations", "--until-idle", "--concurrency", "1",
                                 "--poll-interval", "0.05", "--run-timeout", "3600"], cwd=root, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        peak, first_run_at = 0, None
        while proc.poll() is None:
            with Session(engine) as session:
                followed = [c for (c,) in session.execute(
                    select(Task.checkpoint).where(Task.type == "run_job", Task.status.in_(("PENDING", "IN_PROGRESS")))
                ).all() if c and c.get("run_id")]
            if followed and first_run_at is None:
                first_run_at = time.monotonic()
            peak = max(peak, len(followed))
            time.sleep(0.2)
        ended = time.monotonic()
        with Session(engine) as session:
            done = session.execute(select(func.count()).select_from(Task).where(
                Task.type == "run_job", Task.status == "COMPLETE")).scalar_one()
            claims = session.execute(select(func.count()).select_from(Task).where(Task.type == "run_job")).scalar_one()
        engine.dispose()
        print("| runs | run length (simulated) | worker slots | peak runs followed at once | runs COMPLETE | "
              "first run started -> all done (s) | exit code |")
        print("|---|---|---|---|---|---|---|")
        span = ended - (first_run_at or started)
        real = args.run_minutes * 60 / args.clock_speed
        print(f"| {claims} | {args.run_minutes:g} min (= {real:g} s real) | 1 | {peak} | {done} | {span:.1f} | "
              f"{proc.returncode} |")


if __name__ == "__main__":
    main()
