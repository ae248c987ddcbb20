"""Requirement texts and event-log checks shared by the end-to-end tests."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlmodel import Session

from state.models import TaskEvent

FRONT = """\
---
title: {title}
owner: data-eng@example.com
workspace_root: /Workspace/Shared/job-agent
variables:
  catalog: main
{extra}---

"""


def requirement(body: str, title: str = "E2E jobs", extra: str = "") -> str:
    """A requirements document with the standard front matter and a ```yaml block."""
    return FRONT.format(title=title, extra=extra) + "```yaml\nresources:\n  jobs:\n" + body + "```\n"


def notebook_job(key: str, name: str | None = None, *, node_type: str = "i3.xlarge", notebook: str = "ingest", extra: str = "") -> str:
    """A job with one notebook task on a job cluster (indented for `resources.jobs`)."""
    return f"""\
    {key}:
      name: {name or key}
{extra}      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: {node_type}
            num_workers: 1
      tasks:
        - task_key: step
          job_cluster_key: main
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/{notebook}
"""


def claims_never_overlap(engine) -> dict[int, int]:
    """Check from the event log that no task was ever held by two workers at once.

    Returns task id -> number of claims. Raises AssertionError on an overlap: a claim
    (-> IN_PROGRESS) while the task was already IN_PROGRESS.
    """
    with Session(engine) as session:
        events = session.execute(select(TaskEvent).order_by(TaskEvent.id)).scalars().all()
    held: dict[int, bool] = defaultdict(bool)
    claims: dict[int, int] = defaultdict(int)
    for event in events:
        if event.to_status == "IN_PROGRESS" and event.from_status == "PENDING":
            assert not held[event.task_id], f"T-{event.task_id:04d} claimed while held (event {event.id})"
            held[event.task_id] = True
            claims[event.task_id] += 1
        elif event.from_status == "IN_PROGRESS" and event.to_status != "IN_PROGRESS":
            held[event.task_id] = False
    return dict(claims)
