"""Field-level comparison of desired and deployed job settings (`jobs.JobSettings` dicts).

Both sides are normalised through `jobs.JobSettings.from_dict(..).as_dict()` (the SDK's own
shape, so `1` and `"1"`-free dicts, enum spellings and dropped `None`s agree). Values the
Jobs service fills in when a field is not given are then ignored on the deployed side when the
desired settings leave that field out, so a job deployed from unchanged settings compares
equal. The defaults come from the Jobs API 2.2 `jobs/create` reference (`JobSettings`:
`max_concurrent_runs` default 1, `timeout_seconds` default 0 = no timeout, `format`
MULTI_TASK, `edit_mode`; `Task`: `run_if` default ALL_SUCCESS, `timeout_seconds` 0,
`max_retries` 0, `retry_on_timeout` false, `notebook_task.source` / `spark_python_task.source`
WORKSPACE when no `git_source`; `run_as` defaults to the creator) and from empty objects
the service echoes (`email_notifications: {}`, `webhook_notifications: {}`, ...). Inside
`new_cluster` specs any field the desired spec leaves out is ignored (the service fills cloud
defaults there); a field the desired spec sets is always compared.

Lists of keyed objects are compared by key, not position (the service does not promise to
keep their order): `tasks` by `task_key`, `job_clusters` by `job_cluster_key`,
`environments` by `environment_key`, `parameters` by `name`, `depends_on` by `task_key`.
Paths name such elements by key: `tasks[transform].notebook_task.notebook_path`; other lists
are compared whole (`email_notifications.on_failure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_KEYED_LISTS = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "environments": "environment_key",
    "parameters": "name",
    "depends_on": "task_key",
}

# field (last path segments, indices removed) -> value the service fills in when absent
_SERVER_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "max_concurrent_runs": (1,),
    "timeout_seconds": (0,),
    "format": ("MULTI_TASK", "SINGLE_TASK"),
    "edit_mode": ("EDITABLE", "UI_LOCKED"),
    "tasks.run_if": ("ALL_SUCCESS",),
    "tasks.timeout_seconds": (0,),
    "tasks.max_retries": (0,),
    "tasks.min_retry_interval_millis": (0,),
    "tasks.retry_on_timeout": (False,),
    "tasks.disable_auto_optimization": (False,),
    "tasks.notebook_task.source": ("WORKSPACE",),
    "tasks.spark_python_task.source": ("WORKSPACE",),
}
# fields the service fills with a value of its own when absent (any value is ignored)
_SERVER_FILLED = {"run_as", "run_as_user_name", "effective_budget_policy_id", "effective_usage_policy_id"}
# inside a cluster spec the service fills cloud defaults (`enable_elastic_disk`, `aws_attributes`,
# `data_security_mode`, `runtime_engine`...; `compute.ClusterSpec`): a field the desired spec leaves
# out is never a change there
_CLUSTER_SPECS = ("job_clusters.new_cluster.", "tasks.new_cluster.")


@dataclass
class FieldChange:
    """One differing field: dotted `path`, the deployed value `before` and the desired value
    `after` (None when absent on that side)."""

    path: str
    before: Any
    after: Any


def normalise(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` through `jobs.JobSettings.from_dict(..).as_dict()`."""
    from databricks.sdk.service import jobs

    return jobs.JobSettings.from_dict(settings or {}).as_dict()


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def _is_server_default(kind: str, value: Any) -> bool:
    """True when `value` is what the service fills in for field `kind` (path without indices)."""
    if _empty(value):
        return True
    if kind in _SERVER_FILLED:
        return True
    if kind.startswith(_CLUSTER_SPECS):
        return True
    return kind in _SERVER_DEFAULTS and value in _SERVER_DEFAULTS[kind]


def _keyed(items: list[Any], key: str) -> dict[str, Any] | None:
    """`items` as key -> item, or None when they are not all dicts with distinct keys."""
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get(key), str) or item[key] in out:
            return None
        out[item[key]] = item
    return out


def _walk(before: Any, after: Any, path: str, kind: str, out: list[FieldChange]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for name in sorted(set(before) | set(after)):
            sub_path = f"{path}.{name}" if path else name
            sub_kind = f"{kind}.{name}" if kind else name
            if name not in after:
                if not _is_server_default(sub_kind, before[name]):
                    out.append(FieldChange(sub_path, before[name], None))
                continue
            if name not in before:
                out.append(FieldChange(sub_path, None, after[name]))
                continue
            _walk(before[name], after[name], sub_path, sub_kind, out)
        return
    leaf = kind.split(".")[-1] if kind else ""
    if isinstance(before, list) and isinstance(after, list) and leaf in _KEYED_LISTS:
        key = _KEYED_LISTS[leaf]
        kb, ka = _keyed(before, key), _keyed(after, key)
        if kb is not None and ka is not None:
            if leaf == "depends_on":
                if sorted(kb) != sorted(ka) or any(kb[k] != ka[k] for k in ka):
                    out.append(FieldChange(path, before, after))
                return
            for name in list(ka) + [k for k in kb if k not in ka]:
                item_path = f"{path}[{name}]"
                if name not in ka:
                    out.append(FieldChange(item_path, kb[name], None))
                elif name not in kb:
                    out.append(FieldChange(item_path, None, ka[name]))
                else:
                    _walk(kb[name], ka[name], item_path, kind, out)
            return
    if before != after:
        out.append(FieldChange(path, before, after))


def diff_settings(deployed: dict[str, Any], desired: dict[str, Any]) -> list[FieldChange]:
    """The field changes that turn `deployed` into `desired` (both `JobSettings` dicts).

    Both are normalised first; server-filled defaults present only on the deployed side are
    not changes. An empty list means the job is up to date (NO_OP).
    """
    out: list[FieldChange] = []
    _walk(normalise(deployed), normalise(desired), "", "", out)
    return out
