"""Worker throughput: deploy_job tasks per second for 1, 2, 4 and 8 worker processes.

For each added API latency (0 ms and 50 ms, a sandbox fault rule on every `/api/*` request)
and each worker count, W worker processes (`worker`, concurrency 1 each) start on a fresh
SQLite state database against one in-process sandbox over loopback HTTP; once every one of
them is up (its start-up line printed: imports done), one requirement of N small jobs is
submitted, and when all N deploy_job tasks are COMPLETE the workers are stopped with SIGTERM.
The rate comes from the event log: N / (last COMPLETE - first claim), so process start-up
is not counted.

    uv run python bench/worker_throughput.py [--tasks 60] [--workers 1,2,4,8] [--latency 0,50]

Prints a markdown table. Figures, never assertions (see DEVELOPERS' guide).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def requirement(n: int) -> str:
    jobs = "".join(
        f"""\
    job_{i:04d}:
      name: bench job {i:04d}
      tasks:
        - task_key: step
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
"""
        for i in range(n)
    )
    return (
        "---\ntitle: Throughput bench\nworkspace_root: /Workspace/Shared/job-agent\n---\n\n"
        "```yaml\nresources:\n  jobs:\n" + jobs + "```\n"
    )


def measure(n_tasks: int, workers: int, latency_ms: int) -> tuple[float, float]:
    """Run one configuration; returns (tasks per second, seconds of processing)."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from lead.cli import app
    from lead.cli_runner import run_cli
    from sandbox import running_sandbox
    from state.engine import make_engine
    from state.models import TaskEvent

    with tempfile.TemporaryDirectory() as tmp, running_sandbox(clock_speed=3600) as sb:
        root = Path(tmp)
        db = f"sqlite:///{root / 'state.db'}"
        (root / "bench.md").write_text(requirement(n_tasks))
        if latency_ms:
            sb.add_fault("/api/*", "latency", count=None, latency_ms=latency_ms)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(DATABRICKS_HOST=sb.url, DATABRICKS_TOKEN=sb.token, DATABRICKS_AUTH_TYPE="pat", JOB_AGENT_DB=db,
                   JOB_AGENT_PROGRESS_DIR=str(root / "progress"))
        make_engine(db).dispose()  # tables exist before the workers start polling
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "--poll-interval", "0.05", "--no-citations"],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(workers)
        ]
        for proc in procs:  # wait until each worker is past its imports
            line = proc.stderr.readline()
            if "workspace =" not in line:
                raise SystemExit(f"a worker did not start: {line}")
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        with open(os.devnull, "w") as devnull:
            stdout = sys.stdout
            sys.stdout = devnull
            try:
                assert run_cli(app, "lead", ["submit", str(root / "bench.md"), "--db", db, "--progress-dir", str(root / "progress")]) == 0
            finally:
                sys.stdout = stdout
        engine = make_engine(db)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            with Session(engine) as session:
                done = session.execute(select(func.count()).select_from(TaskEvent).where(TaskEvent.to_status == "COMPLETE")).scalar_one()
            if done >= n_tasks:
                break
            time.sleep(0.2)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        with Session(engine) as session:
            first = session.execute(select(func.min(TaskEvent.at)).where(TaskEvent.to_status == "IN_PROGRESS")).scalar_one()
            last = session.execute(select(func.max(TaskEvent.at)).where(TaskEvent.to_status == "COMPLETE")).scalar_one()
            done = session.execute(select(func.count()).select_from(TaskEvent).where(TaskEvent.to_status == "COMPLETE")).scalar_one()
        engine.dispose()
        if done != n_tasks:
            raise SystemExit(f"only {done}/{n_tasks} tasks completed")
        seconds = (last - first).total_seconds()
        return n_tasks / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--latency", default="0,50", help="added API latency in ms, comma-separated")
    args = parser.parse_args()
    worker_counts = [int(x) for x in args.workers.split(",")]
    latencies = [int(x) for x in args.latency.split(",")]
    print(f"deploy_job tasks per second, {args.tasks} tasks, SQLite state, sandbox over loopback HTTP; {os.cpu_count()} cores")
    print()
    print("| workers | " + " | ".join(f"{ms} ms latency" for ms in latencies) + " |")
    print("|---|" + "---|" * len(latencies))
    for workers in worker_counts:
        cells = []
        for ms in latencies:
            started = time.monotonic()
            rate, seconds = measure(args.tasks, workers, ms)
            cells.append(f"{rate:.1f}/s ({seconds:.1f} s)")
            print(f"  [{workers} workers, {ms} ms: {rate:.1f}/s, wall {time.monotonic() - started:.0f} s]", file=sys.stderr, flush=True)
        print(f"| {workers} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
