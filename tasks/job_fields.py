"""Where a job settings field came from (its requirements line) and the documentation query
that explains it.

Field paths are dotted paths within `JobSettings`, as the lead writes them in a deploy_job
payload's `field_lines` (`tasks[0].notebook_task.notebook_path`); plan diffs name keyed list
elements by key instead (`tasks[ingest].notebook_task.notebook_path`). Both forms are accepted.
"""

from __future__ import annotations

import re
from typing import Any

_INDEX = re.compile(r"\[[^\]]*\]")

# first path segment -> the SDK class documenting the elements below it (databricks/sdk/service/jobs.py)
_CLASSES = {
    "tasks": "jobs Task",
    "job_clusters": "jobs JobCluster",
    "environments": "jobs JobEnvironment",
    "parameters": "jobs JobParameterDefinition",
    "schedule": "jobs CronSchedule",
    "email_notifications": "jobs JobEmailNotifications",
    "trigger": "jobs TriggerSettings",
    "tags": "JobSettings.tags",
}


def parent_path(path: str) -> str:
    """The enclosing field: `tasks[0].notebook_task` -> `tasks[0]` -> `tasks` -> ``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def field_line(payload: dict[str, Any], path: str) -> int | None:
    """The requirements line of `path` from `payload["field_lines"]`, else of its nearest
    listed parent, else the job's own line (`payload["source"]["line"]`)."""
    lines = payload.get("field_lines") or {}
    current = path
    while current:
        if current in lines:
            return lines[current]
        current = parent_path(current)
    return (payload.get("source") or {}).get("line")


def cite_query(path: str) -> str:
    """The documentation query for a settings field, e.g.
    `tasks[0].notebook_task.notebook_path` -> `jobs Task notebook_task notebook_path`,
    `max_concurrent_runs` -> `JobSettings.max_concurrent_runs`."""
    segments = [s for s in _INDEX.sub("", path).split(".") if s]
    if not segments:
        return "jobs JobSettings"
    head, rest = segments[0], segments[1:]
    if head == "tags":
        return "JobSettings.tags"
    if head in _CLASSES and rest:
        return f"{_CLASSES[head]} {' '.join(rest)}"
    return f"JobSettings.{'.'.join(segments)}"
