"""Front matter `defaults` and `tags`, merged into every job of the file.

The supported default keys (anything else under `defaults` is an error):

Job-level, set on each job that does not set them (fields of Jobs API ``JobSettings``):
- ``email_notifications`` (mapping: ``on_start``, ``on_success``, ``on_failure``,
  ``on_duration_warning_threshold_exceeded``, ``on_streaming_backlog_exceeded``,
  ``no_alert_for_skipped_runs``)
- ``webhook_notifications`` (mapping, same event keys, lists of ``{id: ...}``)
- ``notification_settings`` (mapping: ``no_alert_for_skipped_runs``,
  ``no_alert_for_canceled_runs``)
- ``timeout_seconds`` (int: the whole run's timeout)
- ``max_concurrent_runs`` (int)
- ``queue`` (mapping: ``enabled``)

For the mapping-valued ones the merge is per key: a job that sets ``email_notifications:
{on_success: [...]}`` still receives the default ``on_failure``; a key the job sets wins.

Task-level, set on each task (``tasks[]``, Jobs API ``Task``) that does not set them:
- ``max_retries`` (int), ``min_retry_interval_millis`` (int), ``retry_on_timeout`` (bool)
- ``task_timeout_seconds`` (int) -> the task's ``timeout_seconds``

Front matter ``tags`` (string to string) are added to each job's ``tags``; a tag the job
sets itself wins. Every merged field is reported with the front matter path it came from,
so errors found later point at the front matter line.
"""

from __future__ import annotations

import copy
from typing import Any

from lead.errors import FieldProblem
from lead.substitution import suggest

# key (also the JobSettings field it sets) -> expected python type
JOB_DEFAULTS: dict[str, type] = {
    "email_notifications": dict,
    "webhook_notifications": dict,
    "notification_settings": dict,
    "timeout_seconds": int,
    "max_concurrent_runs": int,
    "queue": dict,
}
# key -> (expected python type, the Task field it sets)
TASK_DEFAULTS: dict[str, tuple[type, str]] = {
    "max_retries": (int, "max_retries"),
    "min_retry_interval_millis": (int, "min_retry_interval_millis"),
    "retry_on_timeout": (bool, "retry_on_timeout"),
    "task_timeout_seconds": (int, "timeout_seconds"),
}
SUPPORTED = tuple(JOB_DEFAULTS) + tuple(TASK_DEFAULTS)


def check_defaults(defaults: Any) -> None:
    """Check the front matter's `defaults` mapping: known keys, value types, and (for
    mapping values) field names against the SDK's ``JobSettings``.

    Raises `FieldProblem` with a path starting at ``("defaults", ...)``. A string value
    holding ``${...}`` is accepted for any key (its type is checked after substitution by
    the worker).
    """
    if not isinstance(defaults, dict):
        raise FieldProblem(("defaults",), "must be a mapping of default settings")
    for key, value in defaults.items():
        if key not in JOB_DEFAULTS and key not in TASK_DEFAULTS:
            raise FieldProblem(
                ("defaults", key),
                f"unknown default '{key}'{suggest(key, SUPPORTED)} "
                f"(supported: {', '.join(SUPPORTED)})",
            )
        want = JOB_DEFAULTS[key] if key in JOB_DEFAULTS else TASK_DEFAULTS[key][0]
        if isinstance(value, str) and "${" in value:
            continue
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if not ok:
            raise FieldProblem(("defaults", key), f"must be {_describe(want)}, not {value!r}")
        if want is dict:
            from lead.job_schema import check_fields

            check_fields({key: value}, "JobSettings", ("defaults",))


def _describe(t: type) -> str:
    return {dict: "a mapping", int: "an integer", bool: "true or false"}[t]


def apply_defaults(
    settings: dict[str, Any], defaults: dict[str, Any], tags: dict[str, str]
) -> tuple[dict[str, Any], dict[tuple, tuple]]:
    """Merge `defaults` and `tags` into a copy of one job's `settings`.

    Returns ``(settings, origins)`` where `origins` maps each added path within the settings
    (e.g. ``("tasks", 0, "max_retries")``) to the front matter path it came from (e.g.
    ``("defaults", "max_retries")``).
    """
    out = copy.deepcopy(settings)
    origins: dict[tuple, tuple] = {}
    for key, value in defaults.items():
        if key in JOB_DEFAULTS:
            if key not in out:
                out[key] = copy.deepcopy(value)
                origins[(key,)] = ("defaults", key)
            elif isinstance(out[key], dict) and isinstance(value, dict):
                for sub, sub_value in value.items():
                    if sub not in out[key]:
                        out[key][sub] = copy.deepcopy(sub_value)
                        origins[(key, sub)] = ("defaults", key, sub)
    for i, task in enumerate(out.get("tasks") or []):
        if not isinstance(task, dict):
            continue
        for key, (_, task_field) in TASK_DEFAULTS.items():
            if key in defaults and task_field not in task:
                task[task_field] = copy.deepcopy(defaults[key])
                origins[("tasks", i, task_field)] = ("defaults", key)
    if tags:
        job_tags = out.setdefault("tags", {})
        if isinstance(job_tags, dict):
            for k, v in tags.items():
                if k not in job_tags:
                    job_tags[k] = v
                    origins[("tags", k)] = ("tags", k)
    return out, origins
