"""Wall time of `lead run --no-wait` against a sandbox state file, and where it goes.

Set-up (untimed): a temp directory with a SQLite database and a sandbox state file in which a
real worker deployed one job (`bench/rnw/dev/ingest`, a notebook job whose runs last an hour of
simulated time, so nothing ends while we measure).

Timed, whole processes from outside (interpreter and SDK start-up included), `--runs` times:

    python -m lead.cli run bench/rnw/dev/ingest --param run_date=... --no-wait --json \\
        --sandbox --sandbox-state <file> --db sqlite:///<file> --progress-dir <dir>

Prints the median, min and max wall seconds (the goal: under 3 s), then the breakdown of one
more run done step by step in a fresh interpreter: importing the CLI, the SDK, the pipeline;
opening the database; starting the sandbox server on the state file (the `--sandbox` switch);
creating the SDK client; resolving the job (API calls); recording the task; running it
(validate -> plan -> apply: `jobs/get`, `jobs/run-now`, `jobs/runs/get`, progress rendering).
Each run starts a real run; they are cancelled afterwards.

Run: ``uv run python bench/run_no_wait.py [--runs 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY = "rnw/dev/ingest"
REQUIREMENTS = """\
---
title: Run no-wait bench
bundle: rnw
workspace_root: /Workspace/Shared/job-agent
---

```yaml
resources:
  jobs:
    ingest:
      name: rnw-ingest
      max_concurrent_runs: 1000
      parameters:
        - name: run_date
          default: '2026-01-01'
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: 1
      tasks:
        - task_key: step
          job_cluster_key: main
          notebook_task:
            notebook_path: ${workspace.root_path}/notebooks/ingest
```
"""

BREAKDOWN = r"""
import json, sys, time
marks = []
t0 = time.perf_counter()
def mark(name):
    global t0
    now = time.perf_counter(); marks.append((name, now - t0)); t0 = now
from lead import cli, cli_run  # noqa: F401
mark("import lead CLI (typer, lead.cli and its sub-apps)")
import databricks.sdk  # noqa: F401
from databricks.sdk.service import jobs  # noqa: F401
mark("import databricks.sdk (+ service.jobs)")
import worker.pipeline, tasks.run_control, lead.run_control as rc  # noqa: E401
mark("import sqlalchemy, sqlmodel, state, worker.pipeline, run control")
from lead.cli_runner import open_engine
engine = open_engine(sys.argv[1])
mark("open the state database (migrations checked)")
from pathlib import Path
from worker.workspace import open_workspace
with open_workspace(sandbox=True, sandbox_state=Path(sys.argv[2]), sandbox_clock_speed=60.0) as provider:
    mark("start the sandbox server on the state file")
    client = provider()
    mark("SDK WorkspaceClient (config, auth)")
    job_id, settings = rc.resolve_job(engine, client, sys.argv[3])
    mark("resolve the job key (db + jobs/get)")
    task_id, task_ref, req_ref = rc._record(engine, type_="start_run", key=f"start_run:{job_id}:bench",
        title="bench", payload={"job_id": job_id, "job_name": settings.get("name"), "job_ref": sys.argv[3],
        "params": {}, "wait": False, "timeout_s": 60.0})
    mark("record the task (one write transaction)")
    row = rc.execute_task(engine, provider, task_id, progress_dir=Path(sys.argv[4]))
    mark("run the task: validate/plan/apply (jobs/get x2, run-now, runs/get) + progress")
    assert row["status"] == "COMPLETE", row
    print(json.dumps({"marks": marks, "run_id": row["result"]["run_id"]}))
"""


def _setup(work: Path) -> tuple[str, Path]:
    """Deploy the bench job into a fresh sandbox state file with a real worker loop."""
    sys.path.insert(0, str(REPO))
    from lead.cli import app
    from lead.cli_runner import run_cli
    from sandbox import running_sandbox
    from state.engine import make_engine
    from worker.citations import Citer
    from worker.loop import LoopOptions, Worker
    from worker.pipeline import TaskRunner, WorkerSettings

    db_url = f"sqlite:///{work / 'state.db'}"
    state_file = work / ".job-agent" / "sandbox.json"
    state_file.parent.mkdir(parents=True)
    (work / "rnw.md").write_text(REQUIREMENTS)
    assert run_cli(app, "lead", ["submit", str(work / "rnw.md"), "--db", db_url, "--progress-dir", str(work / "progress")]) == 0
    with running_sandbox(state_file=state_file, clock_speed=60.0, scenario={"defaults": {"duration_seconds": 3600}}) as sb:
        engine = make_engine(db_url)
        runner = TaskRunner(engine, WorkerSettings(worker_id="bench", progress_dir=work / "progress"),
                            sb.workspace_client, Citer(lambda m: None, enabled=False), threading.Event())
        outcomes = Worker(engine, runner, LoopOptions(poll_interval=0.05, until_idle=True)).run()
        assert dict(outcomes) == {"COMPLETE": 1}, outcomes
        engine.dispose()
    return db_url, state_file


def _cancel_all(state_file: Path, run_ids: list[int]) -> None:
    from sandbox import running_sandbox

    with running_sandbox(state_file=state_file, clock_speed=60.0) as sb:
        w = sb.workspace_client()
        for run_id in run_ids:
            w.jobs.cancel_run(run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="run-no-wait-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
    try:
        db_url, state_file = _setup(work)
        cmd = [sys.executable, "-m", "lead.cli", "run", KEY, "--no-wait", "--json", "--sandbox",
               "--sandbox-state", str(state_file), "--db", db_url, "--progress-dir", str(work / "progress")]
        baseline = [sys.executable, "-c", "import databricks.sdk"]
        run_ids, times, floor = [], [], []
        for i in range(args.runs + 1):  # the first pair is untimed (warms the OS file cache)
            start = time.perf_counter()
            proc = subprocess.run([*cmd, "--param", f"run_date=2026-03-{i + 1:02d}"], cwd=work, env=env,
                                  capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(f"lead run exited {proc.returncode}: {proc.stderr[-800:]}")
            run_ids.append(json.loads(proc.stdout)["run_id"])
            start = time.perf_counter()
            subprocess.run(baseline, cwd=work, env=env, check=True)
            if i:
                times.append(elapsed)
                floor.append(time.perf_counter() - start)
        extra = [a - b for a, b in zip(times, floor)]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"lead run --no-wait, {args.runs} runs (whole process, sandbox state file; load average {load:.1f} "
              f"on {os.cpu_count()} cores):")
        print(f"  median {statistics.median(times):.2f} s   min {min(times):.2f} s   max {max(times):.2f} s   (goal < 3 s)")
        print(f"  the floor, python -c 'import databricks.sdk', run alternately: median {statistics.median(floor):.2f} s")
        print(f"  lead run beyond that floor: median {statistics.median(extra):.2f} s "
              f"(ratio {statistics.median(a / b for a, b in zip(times, floor)):.2f})")

        proc = subprocess.run([sys.executable, "-c", BREAKDOWN, db_url, str(state_file), KEY, str(work / "progress")],
                              cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"breakdown failed: {proc.stderr[-1500:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        run_ids.append(data["run_id"])
        print("breakdown of one run, step by step in a fresh interpreter (interpreter start-up not included):")
        for name, seconds in data["marks"]:
            print(f"  {seconds * 1000:8.0f} ms  {name}")
        print(f"  {sum(s for _, s in data['marks']) * 1000:8.0f} ms  in all")
        _cancel_all(state_file, run_ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
