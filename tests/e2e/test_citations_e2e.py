"""Citations end to end: a real docs index (Chroma + the packaged MiniLM model) grounds the
worker's validation errors and plan changes; with no index the worker still works and says so once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from e2e_helpers import notebook_job, requirement
from state.models import Task
from worker.citations import Citer

DOCS = {
    "clusters.md": """\
# Cluster specification

## node_type_id

The node type of the cluster's workers, for example `i3.xlarge`. It must be one of the node
types returned by the list node types API of the workspace; an unknown node type is rejected.

## spark_version

The Databricks Runtime version of the cluster, for example `15.4.x-scala2.12`.
""",
    "schedules.md": """\
# Job schedules

## quartz_cron_expression

A Cron expression using Quartz syntax that describes the schedule for a job, with six or seven
fields: seconds, minutes, hours, day of month, month, day of week and an optional year.

## timezone_id

A Java timezone ID. The schedule for a job is resolved with respect to this timezone.
""",
    "notifications.md": """\
# Notifications

## email_notifications

An optional set of email addresses notified when runs of this job begin, complete or fail.
""",
}


@pytest.fixture(scope="module")
def docs_index(tmp_path_factory):
    from docs_index.store import build_index

    root = tmp_path_factory.mktemp("docs")
    source = root / "docs"
    source.mkdir()
    for name, text in DOCS.items():
        (source / name).write_text(text)
    index_dir = root / "index"
    build_index([str(source)], index_dir)
    return index_dir


def test_validation_problems_and_plan_changes_cite_the_field_documentation(e2e, docs_index):
    notes: list[str] = []
    cite = Citer(notes.append, index_dir=docs_index)
    text = requirement(notebook_job("ingest", node_type="x9.mega"), title="Cited")
    path = e2e.write("req.md", text)
    assert e2e.lead("submit", str(path))[0] == 0
    assert e2e.run_worker(cite=cite) == {"FAILED": 1}
    with Session(e2e.engine()) as session:
        task = session.execute(select(Task)).scalar_one()
    (problem,) = [p for p in task.result["problems"] if p["field"].endswith("node_type_id")]
    assert problem["citations"], problem
    assert "clusters.md" in problem["citations"][0] and "node_type_id" in problem["citations"][0]
    assert "clusters.md" in task.error  # the citation is in the message people read
    assert notes == []

    # fix the node type, deploy, then change the schedule: the UPDATE's change cites the schedule docs
    path.write_text(text.replace("x9.mega", "i3.xlarge"))
    assert e2e.lead("submit", str(path))[0] == 0
    assert e2e.run_worker(cite=cite) == {"COMPLETE": 1}
    scheduled = text.replace("x9.mega", "i3.xlarge").replace(
        "      job_clusters:", '      schedule:\n        quartz_cron_expression: "0 0 3 * * ?"\n        timezone_id: UTC\n      job_clusters:', 1
    )
    path.write_text(scheduled)
    assert e2e.lead("submit", str(path))[0] == 0
    assert e2e.run_worker(cite=cite) == {"COMPLETE": 1}
    with Session(e2e.engine()) as session:
        plan = session.execute(select(Task).where(Task.revision == 3)).scalar_one().plan
    (action,) = plan["actions"]
    assert action["kind"] == "UPDATE"
    changes = {c["field"]: c for c in action["changes"]}
    assert changes["schedule"]["citations"] and any("schedules.md" in c for c in changes["schedule"]["citations"])
    page = next(e2e.progress.glob("REQ-0001-*.md")).read_text()
    assert "Sources: " in page and "schedules.md" in page


def test_without_an_index_the_worker_works_and_says_so_once(e2e, tmp_path):
    notes: list[str] = []
    cite = Citer(notes.append, index_dir=tmp_path / "no-index")
    path = e2e.write("req.md", requirement(notebook_job("a") + notebook_job("b"), title="Uncited"))
    assert e2e.lead("submit", str(path))[0] == 0
    assert e2e.run_worker(cite=cite) == {"COMPLETE": 2}
    assert cite("JobSettings.max_concurrent_runs") == []
    assert len(notes) == 1 and "citations are off" in notes[0] and "docs-index build" in notes[0]
