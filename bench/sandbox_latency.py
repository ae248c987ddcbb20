"""Request latency of the sandbox workspace: 1,000 ``jobs/get`` calls through the unmodified SDK.

Starts ``sandbox serve`` in its own process (as worker processes would use it; ``--in-process``
runs it on a thread of this process instead, sharing the GIL with the client), creates one
two-task job, warms up with 50 calls, then times 1,000 ``WorkspaceClient.jobs.get`` calls one
after the other (each a real HTTP round trip: SDK request building, requests/urllib3, uvicorn,
Starlette, the handler, JSON, and the SDK's ``Job.from_dict``). Prints the median, p95 and max
in milliseconds, and the same for a bare ``http.client`` GET of the same endpoint (the server's
share of the time).

Run: ``uv run python bench/sandbox_latency.py [--calls 1000] [--in-process]``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse


@contextlib.contextmanager
def served_sandbox():
    """(url, token) of ``python -m sandbox.cli serve --port 0`` started in a child process."""
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "serve", "--port", "0", "--clock-speed", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        yield lines[1].removeprefix("DATABRICKS_HOST="), lines[2].removeprefix("DATABRICKS_TOKEN=")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def in_process_sandbox():
    """(url, token) of an in-process sandbox (server thread in this process)."""
    from sandbox import running_sandbox

    with running_sandbox(clock_speed=0) as sb:
        yield sb.url, sb.token


def summary(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * len(samples))) - 1)]
    return f"median {statistics.median(samples):.3f} ms   p95 {p95:.3f} ms   max {samples[-1]:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed jobs.get calls (default 1000)")
    parser.add_argument("--in-process", action="store_true", help="serve from a thread of this process")
    args = parser.parse_args()

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import compute, jobs

    with (in_process_sandbox() if args.in_process else served_sandbox()) as (url, token):
        w = WorkspaceClient(host=url, token=token, auth_type="pat")
        job_id = w.jobs.create(
            name="latency-bench",
            job_clusters=[jobs.JobCluster("main", compute.ClusterSpec(spark_version="15.4.x-scala2.12",
                                                                      node_type_id="i3.xlarge", num_workers=2))],
            tasks=[jobs.Task(task_key="ingest", job_cluster_key="main",
                             notebook_task=jobs.NotebookTask("/Shared/job-agent/notebooks/ingest")),
                   jobs.Task(task_key="transform", job_cluster_key="main", depends_on=[jobs.TaskDependency("ingest")],
                             notebook_task=jobs.NotebookTask("/Shared/job-agent/notebooks/transform"))],
        ).job_id
        for _ in range(50):
            w.jobs.get(job_id)
        samples = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            w.jobs.get(job_id)
            samples.append((time.perf_counter() - t0) * 1000)
        bare = []
        conn = http.client.HTTPConnection(urlparse(url).hostname, urlparse(url).port)
        for i in range(args.calls + 50):
            t0 = time.perf_counter()
            conn.request("GET", f"/api/2.2/jobs/get?job_id={job_id}", headers={"Authorization": f"Bearer {token}"})
            conn.getresponse().read()
            if i >= 50:
                bare.append((time.perf_counter() - t0) * 1000)
        conn.close()
    where = "in-process server thread" if args.in_process else "server in its own process"
    print(f"jobs/get over loopback HTTP, {len(samples)} calls, {where}")
    print(f"  databricks-sdk WorkspaceClient.jobs.get: {summary(samples)}")
    print(f"  bare http.client GET (server share):     {summary(bare)}")


if __name__ == "__main__":
    main()
