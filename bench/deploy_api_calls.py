"""Jobs API calls per deploy (CREATE, UPDATE, NO_OP) next to 10 and 10,000 unrelated jobs.

For each workspace size, an in-process sandbox gets that many unrelated jobs; one requirement
with one job is then deployed three times through the real pipeline (`lead submit`, a worker
loop running validate -> plan -> apply): first a CREATE, then the same bundle from another
path (a new revision whose plan is a NO_OP), then a change (an UPDATE). A zero-latency
sandbox fault rule on `/api/*/jobs/*` counts the Jobs API requests each deploy makes.

    uv run python bench/deploy_api_calls.py [--sizes 10,10000]

Prints a markdown table. Goal (issue 8): at most 3 calls for UPDATE and NO_OP, the same with
10 jobs or 10,000. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXT = """\
---
title: API calls bench
bundle: api_bench
workspace_root: /Workspace/Shared/job-agent
---

```yaml
resources:
  jobs:
    etl:
      name: bench etl
      max_concurrent_runs: {mcr}
      tasks:
        - task_key: step
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
```
"""


def _calls(sb) -> int:
    return sum(rule["seen"] for rule in sb.faults())


def measure(size: int) -> dict[str, int]:
    """Jobs API calls of each deploy kind with `size` unrelated jobs in the workspace."""
    from databricks.sdk.service import jobs

    from lead.cli import app
    from lead.cli_runner import run_cli
    from sandbox import running_sandbox
    from state.engine import make_engine
    from worker.citations import Citer
    from worker.loop import LoopOptions, Worker
    from worker.pipeline import TaskRunner, WorkerSettings

    out: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(clock_speed=3600) as sb:
        root = Path(tmp)
        w = sb.workspace_client()
        for i in range(size):
            w.jobs.create(name=f"unrelated {i:05d}", tasks=[jobs.Task(
                task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/Workspace/Shared/job-agent/notebooks/ingest"))])
        db = f"sqlite:///{root / 'state.db'}"
        engine = make_engine(db)
        sb.add_fault("/api/*/jobs/*", "latency", count=None, latency_ms=0)

        def deploy(label: str, path: Path, mcr: int) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TEXT.format(mcr=mcr))
            assert run_cli(app, "lead", ["submit", str(path), "--db", db, "--progress-dir", str(root / "progress")]) == 0
            before = _calls(sb)
            runner = TaskRunner(engine, WorkerSettings(worker_id="bench", progress_dir=root / "progress"),
                                sb.workspace_client, Citer(lambda m: None, enabled=False), threading.Event())
            outcomes = Worker(engine, runner, LoopOptions(poll_interval=0.05, until_idle=True)).run()
            assert outcomes == {"COMPLETE": 1}, outcomes
            out[label] = _calls(sb) - before

        deploy("CREATE", root / "a" / "req.md", 1)
        deploy("NO_OP", root / "b" / "req.md", 1)  # the same bundle from another checkout
        deploy("UPDATE", root / "b" / "req.md", 2)
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000", help="comma-separated numbers of unrelated jobs")
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"measuring with {size} unrelated jobs ...", file=sys.stderr, flush=True)
        rows.append((size, measure(size)))
    print("| unrelated jobs | CREATE | UPDATE | NO_OP |")
    print("|---|---|---|---|")
    for size, calls in rows:
        print(f"| {size} | {calls['CREATE']} | {calls['UPDATE']} | {calls['NO_OP']} |")


if __name__ == "__main__":
    main()
