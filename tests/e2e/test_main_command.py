"""The README's main command, as a new user runs it: `lead submit EXAMPLE && worker --sandbox --until-idle`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.md"))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs_to_complete_in_the_sandbox(tmp_path, example):
    submitted = _run(["lead.cli", "submit", str(example)], tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    worker = _run(["worker.cli", "--sandbox", "--until-idle", "--poll-interval", "0.05", "--sandbox-clock-speed", "3600"], tmp_path)
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert "SANDBOX MODE" in worker.stderr and "nothing reaches Databricks" in worker.stderr
    status = _run(["lead.cli", "status", "REQ-0001", "--json"], tmp_path)
    tasks = json.loads(status.stdout)["tasks"]
    page = next((tmp_path / "progress").glob("REQ-0001-*.md")).read_text()
    if example.name == "monitoring.md":  # recurring monitors: each ran once, the next occurrences wait
        assert {t["type"] for t in tasks} == {"monitor_query"}
        assert sorted(t["status"] for t in tasks) == ["COMPLETE", "COMPLETE", "PENDING", "PENDING"]
        assert "status: ACTIVE" in page
    else:
        assert tasks and {t["status"] for t in tasks} == {"COMPLETE"}
        assert "status: COMPLETE" in page
    deploys = [t for t in tasks if t["type"] == "deploy_job"]
    for task in deploys:
        assert f"/jobs/{task['result']['job_id']}" in page
    # the sandbox state persists: a second worker run sees the same jobs and has nothing to do
    again = _run(["worker.cli", "--sandbox", "--until-idle", "--poll-interval", "0.05"], tmp_path)
    assert again.returncode == 0 and "no tasks" in again.stderr
    assert (tmp_path / ".job-agent" / "sandbox.json").exists()


def test_unreachable_workspace_is_a_user_error_before_anything_is_claimed(tmp_path):
    submitted = _run(["lead.cli", "submit", str(EXAMPLES[0])], tmp_path)
    assert submitted.returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
    env.update(DATABRICKS_HOST="http://127.0.0.1:9", DATABRICKS_TOKEN="dapi-wrong")
    worker = subprocess.run(
        [sys.executable, "-m", "worker.cli", "--until-idle", "--connect-timeout", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert worker.returncode == 1
    assert "worker: error: cannot use the workspace" in worker.stderr
    assert "Traceback" not in worker.stderr and "dapi-wrong" not in worker.stderr
    status = json.loads(_run(["lead.cli", "status", "REQ-0001", "--json"], tmp_path).stdout)
    assert {t["status"] for t in status["tasks"]} == {"PENDING"} and {t["attempts"] for t in status["tasks"]} == {0}
