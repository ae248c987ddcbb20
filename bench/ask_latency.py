"""`lead ask --wait` wall time with one resident worker against the sandbox.

Starts an in-process sandbox, one `worker` process (resident: it keeps polling), waits until it
is up, then asks each question N times through the real `lead ask --wait 60` command (a new
process each time) and prints p50/p95/max wall seconds per question and overall.

    uv run python bench/ask_latency.py [--repeat 5]

Goal (issue 10): p50 under 3 s; the seed's bar is 10 s. Figures only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "Which jobs cost the most in the last 30 days?",
    "Which jobs failed this week?",
    "What is the SLA compliance of our jobs over the past 14 days if the SLA is 30 minutes?",
    "Which jobs failed in the last 7 days and what did the failures cost?",
    "Who logged in with failed attempts in the last 24 hours?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from sandbox import running_sandbox

    with tempfile.TemporaryDirectory() as tmp, running_sandbox(clock_speed=60) as sb:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(DATABRICKS_HOST=sb.url, DATABRICKS_TOKEN=sb.token, DATABRICKS_AUTH_TYPE="pat",
                   JOB_AGENT_DB=f"sqlite:///{root / 'state.db'}", JOB_AGENT_HOME=str(root / ".job-agent"),
                   JOB_AGENT_PROGRESS_DIR=str(root / "progress"))
        log = open(root / "worker.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "worker.cli", "--no-citations", "--poll-interval", "0.05"],
                                  cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while b"workspace =" not in (root / "worker.log").read_bytes():
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise SystemExit("the worker did not start: " + (root / "worker.log").read_text()[-2000:])
                time.sleep(0.1)
            rows, everything = [], []
            for question in QUESTIONS:
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    done = subprocess.run([sys.executable, "-m", "lead.cli", "ask", question, "--wait", "60"], cwd=root,
                                          env=env, capture_output=True, text=True)
                    took = time.perf_counter() - started
                    if done.returncode != 0:
                        print(f"failed: {question}: {done.stderr.strip()[-300:]}", file=sys.stderr)
                        continue
                    times.append(took)
                everything += times
                if times:
                    rows.append((question, statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))], max(times)))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print("| question | p50 s | p95 s | max s |")
    print("|---|---|---|---|")
    for question, p50, p95, worst in rows:
        print(f"| {question} | {p50:.2f} | {p95:.2f} | {worst:.2f} |")
    if everything:
        ordered = sorted(everything)
        print(f"| all ({len(ordered)} asks) | {statistics.median(ordered):.2f} | {ordered[int(0.95 * (len(ordered) - 1))]:.2f} | {ordered[-1]:.2f} |")


if __name__ == "__main__":
    main()
