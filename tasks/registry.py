"""Task type name -> implementation, imported only when a worker needs it.

Add a task type by adding a line to `TASK_TYPES` ("module:Class"); the class must satisfy
`tasks.base.TaskType`.
"""

from __future__ import annotations

import importlib

from tasks.base import TaskType

TASK_TYPES: dict[str, str] = {
    "deploy_job": "tasks.deploy_job:DeployJob",
    "run_job": "tasks.run_job:RunJob",
    "workspace_check": "tasks.workspace_check:WorkspaceCheck",
    "remediate_run": "tasks.remediate_run:RemediateRun",
    "watch_runs": "tasks.watch_runs:WatchRuns",
    "monitor_query": "tasks.monitor_query:MonitorQuery",
    "answer": "tasks.answer:Answer",
    "start_run": "tasks.run_control:StartRun",
    "run_status": "tasks.run_control:RunStatus",
    "cancel_run": "tasks.run_control:CancelRun",
}


class UnknownTaskType(LookupError):
    """No task type is registered under that name."""


def get_task_type(name: str) -> TaskType:
    """A new instance of the task type registered as `name`.

    Raises:
        UnknownTaskType: nothing is registered under `name`.
    """
    try:
        target = TASK_TYPES[name]
    except KeyError:
        raise UnknownTaskType(f"unknown task type {name!r} (known: {', '.join(sorted(TASK_TYPES))})") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)()
