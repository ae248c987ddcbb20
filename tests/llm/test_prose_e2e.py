"""The prose lead end to end: prose -> the model (scripted local OpenAI-compatible server),
grounded on a real docs index (Chroma + the packaged MiniLM model) -> `lead submit` -> a real
worker -> a job deployed in the sandbox workspace through the unmodified SDK.
"""

from __future__ import annotations

import json
import textwrap
import threading
import uuid

import pytest
from sqlalchemy import select
from sqlmodel import Session

from lead.cli import app
from lead.cli_runner import run_cli
from state.engine import make_engine
from state.models import Task

DOCS = {
    "schedules.md": """\
# Job schedules

## quartz_cron_expression

A Cron expression using Quartz syntax that describes the schedule for a job, with six or seven
fields: seconds, minutes, hours, day of month, month, day of week and an optional year.

## timezone_id

A Java timezone ID. The schedule for a job is resolved with respect to this timezone.
""",
    "clusters.md": """\
# Cluster specification

## node_type_id

The node type of the cluster's workers, for example `i3.xlarge`.
""",
}

PROSE = textwrap.dedent("""\
    ---
    title: Hourly clicks
    owner: data-eng@example.com
    workspace_root: /Workspace/Shared/job-agent
    ---

    # Hourly clicks

    Deploy a job called "Hourly clicks" that runs the notebook notebooks/ingest on a
    schedule at minute 15 of every hour (UTC), on a job cluster with one i3.xlarge worker.
    """)

YAML = textwrap.dedent("""\
    resources:
      jobs:
        hourly_clicks:
          name: Hourly clicks
          max_concurrent_runs: 1
          schedule:
            quartz_cron_expression: "0 15 * * * ?"
            timezone_id: UTC
          job_clusters:
            - job_cluster_key: main
              new_cluster:
                spark_version: 15.4.x-scala2.12
                node_type_id: i3.xlarge
                num_workers: 1
          tasks:
            - task_key: ingest
              job_cluster_key: main
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/ingest
    """)


@pytest.fixture
def sandbox_ws():
    from sandbox import running_sandbox

    with running_sandbox(clock_speed=3600.0) as sb:
        yield sb


@pytest.fixture
def docs_home(tmp_path, monkeypatch):
    """A docs index built from `DOCS` at `$JOB_AGENT_HOME/docs-index`, where the retriever looks."""
    from docs_index.store import build_index

    source = tmp_path / "docs"
    source.mkdir()
    for name, text in DOCS.items():
        (source / name).write_text(text)
    home = tmp_path / ".job-agent"
    build_index([str(source)], home / "docs-index")
    monkeypatch.setenv("JOB_AGENT_HOME", str(home))
    return home


def run_worker(engine, sb, progress) -> None:
    from worker.citations import Citer
    from worker.loop import LoopOptions, Worker
    from worker.pipeline import TaskRunner, WorkerSettings

    settings = WorkerSettings(
        worker_id=f"test-{uuid.uuid4().hex[:6]}", lease_ttl=30.0, backoff_base=0.05, progress_dir=progress,
        task_settings={"run_poll_initial_seconds": 0.02, "run_poll_max_seconds": 0.2, "run_timeout_seconds": 60},
    )
    runner = TaskRunner(engine, settings, sb.workspace_client, Citer(lambda m: None, enabled=False), threading.Event())
    Worker(engine, runner, LoopOptions(concurrency=1, poll_interval=0.05, until_idle=True)).run()


def test_prose_to_a_deployed_job_grounded_with_citations_kept(tmp_path, monkeypatch, capsys, sandbox_ws, docs_home, llm_env):
    monkeypatch.chdir(tmp_path)
    llm_env.script([f"```yaml\n{YAML}```\n"])
    path = tmp_path / "clicks.md"
    path.write_text(PROSE)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    progress = tmp_path / "progress"
    code = run_cli(app, "lead", ["submit", str(path), "--db", db, "--progress-dir", str(progress), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    generated = json.loads(out)["generated"]
    assert generated["grounded"] is True
    # the passages on the fields involved went into the prompt, and their citations are kept
    assert any(c.startswith("schedules.md") for c in generated["citations"]), generated["citations"]
    prompt = llm_env.requests[0]["messages"][-1]["content"]
    assert "Quartz syntax" in prompt
    page = next(progress.glob("REQ-0001-*.md")).read_text()
    assert "Grounded on: " in page and "schedules.md" in page

    engine = make_engine(db)
    run_worker(engine, sandbox_ws, progress)
    with Session(engine) as session:
        [task] = session.execute(select(Task)).scalars().all()
        assert task.status == "COMPLETE", task.error
        assert task.payload["generated"]["citations"] == generated["citations"]
        job_id = task.result["job_id"]
    engine.dispose()
    job = sandbox_ws.workspace_client().jobs.get(int(job_id))
    assert job.settings.name == "Hourly clicks"
    assert job.settings.schedule.quartz_cron_expression == "0 15 * * * ?"
    assert job.settings.tasks[0].notebook_task.notebook_path == "/Workspace/Shared/job-agent/notebooks/ingest"
    assert job.settings.tags["job_agent_key"] == "clicks/dev/hourly_clicks"
