"""Checks of one job's settings against the Jobs API schema and the live workspace, before
anything is deployed. Reads only; returns findings as (field path, message) pairs.

What is checked, and the Databricks source of each rule:

- the settings survive `jobs.JobSettings.from_dict(..).as_dict()` (unknown fields and enum
  values the SDK does not know are dropped by that round trip);
- task keys present and unique, `depends_on` naming other tasks of the job, no cycles
  (Jobs API `Task.task_key`, `Task.depends_on`);
- a compute for every task that needs one (Jobs API `Task`, "Serverless compute for jobs"):
  `existing_cluster_id`, `new_cluster`, `job_cluster_key` (defined in `job_clusters`) or
  `environment_key` (defined in `environments`); a notebook task without any runs on
  serverless compute; `spark_python_task` / `python_wheel_task` on serverless need an
  `environment_key`; `spark_jar_task` / `spark_submit_task` need a cluster; `sql_task` needs
  `warehouse_id`; `run_job_task`, `condition_task`, `pipeline_task`, `for_each_task` and the
  other orchestration tasks need none;
- node types (`clusters.list_node_types`) and Spark versions (`clusters.spark_versions`) the
  workspace offers, existing clusters (`clusters.get`), SQL warehouses (`warehouses.get`) and
  jobs named by `run_job_task.job_id` (`jobs.get`);
- notebooks and Python files that exist (`workspace.get_status`) for workspace sources;
- `schedule.quartz_cron_expression` (`tasks.quartz_cron`) and `schedule.timezone_id` (a Java
  time zone id; checked against the IANA database through `zoneinfo`, plus `UTC`/`GMT`);
- e-mail addresses in `email_notifications` of the job and of each task;
- at most 25 tags (`JobSettings.tags`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tasks.quartz_cron import quartz_cron_errors

if TYPE_CHECKING:  # pragma: no cover
    from databricks.sdk import WorkspaceClient

Finding = tuple[str, str]

_TASK_KINDS = (
    "notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task",
    "sql_task", "pipeline_task", "run_job_task", "condition_task", "dbt_task", "for_each_task",
    "clean_rooms_notebook_task", "dashboard_task", "power_bi_task", "gen_ai_compute_task", "dbt_cloud_task",
    "alert_task", "dbt_platform_task",
)
_CLUSTER_ONLY = ("spark_jar_task", "spark_submit_task")
_SERVERLESS_NEEDS_ENV = ("spark_python_task", "python_wheel_task")
_EMAIL_LISTS = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded",
                "on_streaming_backlog_exceeded")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_MAX_TAGS = 25


def is_email(address: Any) -> bool:
    """True for a well-formed address (`local@domain.tld`, RFC 5322 dot-atom local part)."""
    return isinstance(address, str) and _EMAIL.fullmatch(address) is not None and ".." not in address


def is_time_zone(name: Any) -> bool:
    """True when `name` is a time zone id the scheduler accepts (`CronSchedule.timezone_id`,
    Java time zone ids): an IANA zone known to `zoneinfo`, or `UTC` / `GMT`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        return False
    if name in ("UTC", "GMT", "Z"):
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _round_trip_losses(raw: Any, kept: Any, path: str, out: list[Finding]) -> None:
    """Fields of `raw` that the SDK round trip dropped (unknown names or enum values)."""
    if isinstance(raw, dict):
        for name, value in raw.items():
            sub = f"{path}.{name}" if path else name
            if not isinstance(kept, dict) or name not in kept:
                if value in (None, {}, []):
                    continue
                out.append((sub, f"{value!r} is not accepted by jobs.JobSettings (unknown field or value)"))
            else:
                _round_trip_losses(value, kept[name], sub, out)
    elif isinstance(raw, list) and isinstance(kept, list):
        for i, value in enumerate(raw):
            if i < len(kept):
                _round_trip_losses(value, kept[i], f"{path}[{i}]", out)


def check_schema(settings: dict[str, Any]) -> list[Finding]:
    """Fields that `jobs.JobSettings.from_dict(..).as_dict()` does not keep."""
    from databricks.sdk.service import jobs

    try:
        kept = jobs.JobSettings.from_dict(settings).as_dict()
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [("", f"the settings do not fit jobs.JobSettings: {exc}")]
    out: list[Finding] = []
    _round_trip_losses(settings, kept, "", out)
    return out


def _check_tasks(settings: dict[str, Any], out: list[Finding]) -> None:
    tasks = settings.get("tasks") or []
    keys: dict[str, int] = {}
    for i, task in enumerate(tasks):
        key = task.get("task_key")
        if not key:
            out.append((f"tasks[{i}].task_key", "every task needs a task_key"))
        elif key in keys:
            out.append((f"tasks[{i}].task_key",
                        f"task key {key!r} is used twice (also by tasks[{keys[key]}]); task keys must be unique in a job"))
        else:
            keys[key] = i
    job_clusters = {jc.get("job_cluster_key") for jc in settings.get("job_clusters") or []}
    envs = {e.get("environment_key") for e in settings.get("environments") or []}
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        for d, dep in enumerate(task.get("depends_on") or []):
            target = (dep or {}).get("task_key")
            if target == task.get("task_key"):
                out.append((f"{where}.depends_on[{d}].task_key", f"task {target!r} cannot depend on itself"))
            elif target not in keys:
                out.append((f"{where}.depends_on[{d}].task_key",
                            f"depends on task {target!r}, which is not a task of this job (tasks: {', '.join(keys) or 'none'})"))
        kinds = [k for k in _TASK_KINDS if task.get(k) is not None]
        if len(kinds) != 1:
            out.append((where, "a task needs exactly one task type (e.g. notebook_task), found "
                               + (", ".join(kinds) if kinds else "none")))
        kind = kinds[0] if kinds else ""
        jck, env = task.get("job_cluster_key"), task.get("environment_key")
        if jck and jck not in job_clusters:
            out.append((f"{where}.job_cluster_key",
                        f"job cluster {jck!r} is not defined in job_clusters (defined: {', '.join(sorted(k for k in job_clusters if k)) or 'none'})"))
        if env and env not in envs:
            out.append((f"{where}.environment_key",
                        f"environment {env!r} is not defined in environments (defined: {', '.join(sorted(k for k in envs if k)) or 'none'})"))
        has_cluster = bool(task.get("existing_cluster_id") or task.get("new_cluster") or jck)
        if kind in _CLUSTER_ONLY and not has_cluster:
            out.append((where, f"a {kind} needs a cluster: existing_cluster_id, new_cluster or job_cluster_key"))
        if kind in _SERVERLESS_NEEDS_ENV and not has_cluster and not env:
            out.append((where, f"a {kind} needs a compute: existing_cluster_id, new_cluster, job_cluster_key, "
                               "or environment_key for serverless compute"))
        if kind == "sql_task" and not (task.get("sql_task") or {}).get("warehouse_id"):
            out.append((f"{where}.sql_task.warehouse_id", "a sql_task needs a warehouse_id"))
    # cycles
    graph = {t.get("task_key"): [(d or {}).get("task_key") for d in t.get("depends_on") or []] for t in tasks}
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> list[str] | None:
        if state.get(key) == 2 or key not in graph:
            return None
        if state.get(key) == 1:
            return trail + [key]
        state[key] = 1
        for nxt in graph[key]:
            if nxt != key and (cycle := visit(nxt, trail + [key])):
                return cycle
        state[key] = 2
        return None

    for key in graph:
        if cycle := visit(key, []):
            out.append((f"tasks[{keys.get(cycle[0], 0)}].depends_on", "task dependencies form a cycle: " + " -> ".join(cycle)))
            break


def _check_schedule(settings: dict[str, Any], out: list[Finding]) -> None:
    schedule = settings.get("schedule")
    if not schedule:
        return
    expr = schedule.get("quartz_cron_expression")
    if expr is None:
        out.append(("schedule.quartz_cron_expression", "a schedule needs a quartz_cron_expression"))
    else:
        errors = quartz_cron_errors(expr)
        if errors:
            out.append(("schedule.quartz_cron_expression", f"{expr!r} is not a valid Quartz cron expression: " + "; ".join(errors)))
    tz = schedule.get("timezone_id")
    if tz is None:
        out.append(("schedule.timezone_id", "a schedule needs a timezone_id (e.g. Europe/Amsterdam or UTC)"))
    elif not is_time_zone(tz):
        out.append(("schedule.timezone_id", f"{tz!r} is not a known time zone id (e.g. Europe/Amsterdam, America/New_York, UTC)"))


def _check_emails(settings: dict[str, Any], out: list[Finding]) -> None:
    holders = [("email_notifications", settings.get("email_notifications"))]
    holders += [(f"tasks[{i}].email_notifications", t.get("email_notifications")) for i, t in enumerate(settings.get("tasks") or [])]
    for where, notes in holders:
        for name in _EMAIL_LISTS:
            for j, address in enumerate((notes or {}).get(name) or []):
                if not is_email(address):
                    out.append((f"{where}.{name}[{j}]", f"{address!r} is not a well-formed e-mail address"))


def _check_tags(settings: dict[str, Any], out: list[Finding]) -> None:
    tags = settings.get("tags") or {}
    if len(tags) > _MAX_TAGS:
        out.append(("tags", f"a job can have at most {_MAX_TAGS} tags (including the pipeline's own), got {len(tags)}"))


def check_settings(settings: dict[str, Any]) -> list[Finding]:
    """Every problem found in `settings` without calling the workspace (schema, tasks,
    dependencies, compute declarations, schedule, e-mails, tags)."""
    out = check_schema(settings)
    _check_tasks(settings, out)
    _check_schedule(settings, out)
    _check_emails(settings, out)
    _check_tags(settings, out)
    return out


def _cluster_specs(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    specs = [(f"job_clusters[{i}].new_cluster", jc.get("new_cluster") or {})
             for i, jc in enumerate(settings.get("job_clusters") or [])]
    specs += [(f"tasks[{i}].new_cluster", t["new_cluster"])
              for i, t in enumerate(settings.get("tasks") or []) if t.get("new_cluster")]
    return specs


def _workspace_paths(settings: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, path, expected kind) of every workspace notebook / file the tasks name."""
    found = []
    default_source = "GIT" if settings.get("git_source") else "WORKSPACE"
    for i, task in enumerate(settings.get("tasks") or []):
        nb = task.get("notebook_task")
        if nb and (nb.get("source") or default_source) == "WORKSPACE":
            found.append((f"tasks[{i}].notebook_task.notebook_path", nb.get("notebook_path") or "", "notebook"))
        py = task.get("spark_python_task")
        if py and (py.get("source") or default_source) == "WORKSPACE":
            path = py.get("python_file") or ""
            if not path.startswith(("/Volumes/", "/dbfs/", "dbfs:", "s3:", "abfss:", "gs:")):
                found.append((f"tasks[{i}].spark_python_task.python_file", path, "file"))
    return found


def check_workspace(workspace: "WorkspaceClient", settings: dict[str, Any]) -> list[Finding]:
    """Every reference in `settings` that the workspace does not have: node types, Spark
    versions, existing clusters, SQL warehouses, jobs of `run_job_task`, notebooks and files.

    Calls only read APIs, each at most once per distinct value. SDK errors other than
    "not found" propagate (the worker's retry policy classifies them).
    """
    from databricks.sdk import errors

    out: list[Finding] = []
    specs = _cluster_specs(settings)
    if specs:
        node_types = {n.node_type_id for n in workspace.clusters.list_node_types().node_types or []}
        versions = {v.key for v in workspace.clusters.spark_versions().versions or []}
        for where, spec in specs:
            sv = spec.get("spark_version")
            if not sv:
                out.append((f"{where}.spark_version", "a new cluster needs a spark_version"))
            elif sv not in versions:
                out.append((f"{where}.spark_version",
                            f"Spark version {sv!r} is not offered by this workspace (offered: {', '.join(sorted(versions))})"))
            for name in ("node_type_id", "driver_node_type_id"):
                nt = spec.get(name)
                if nt and nt not in node_types:
                    out.append((f"{where}.{name}", f"node type {nt!r} is not offered by this workspace"))
            if not spec.get("node_type_id") and not spec.get("instance_pool_id") and not spec.get("policy_id"):
                out.append((f"{where}.node_type_id", "a new cluster needs a node_type_id (or an instance_pool_id or policy_id)"))

    def missing(call, *args) -> bool:
        try:
            call(*args)
        except errors.NotFound:
            return True
        except errors.InvalidParameterValue as exc:
            if "does not exist" in str(exc):
                return True
            raise
        return False

    seen: dict[tuple[str, Any], bool] = {}

    def absent(kind: str, value: Any, call) -> bool:
        if (kind, value) not in seen:
            seen[(kind, value)] = missing(call, value)
        return seen[(kind, value)]

    for i, task in enumerate(settings.get("tasks") or []):
        cid = task.get("existing_cluster_id")
        if cid and absent("cluster", cid, workspace.clusters.get):
            out.append((f"tasks[{i}].existing_cluster_id", f"cluster {cid!r} does not exist in this workspace"))
        wid = (task.get("sql_task") or {}).get("warehouse_id")
        if wid and absent("warehouse", wid, workspace.warehouses.get):
            out.append((f"tasks[{i}].sql_task.warehouse_id", f"SQL warehouse {wid!r} does not exist in this workspace"))
        jid = (task.get("run_job_task") or {}).get("job_id")
        if isinstance(jid, int) and absent("job", jid, workspace.jobs.get):
            out.append((f"tasks[{i}].run_job_task.job_id", f"job {jid} does not exist in this workspace"))
        elif jid is not None and not isinstance(jid, int) and not (isinstance(jid, str) and jid.startswith("${")):
            out.append((f"tasks[{i}].run_job_task.job_id", f"{jid!r} is not a job id"))
    for where, path, kind in _workspace_paths(settings):
        if not path.startswith("/"):
            out.append((where, f"{path!r} is not an absolute workspace path"))
            continue
        try:
            status = workspace.workspace.get_status(path)
        except errors.NotFound:
            out.append((where, f"the {kind} {path} does not exist in the workspace"))
            continue
        object_type = str(getattr(status.object_type, "value", status.object_type) or "")
        if kind == "notebook" and object_type not in ("NOTEBOOK", ""):
            out.append((where, f"{path} is a {object_type.lower()}, not a notebook"))
        if kind == "file" and object_type in ("DIRECTORY", "REPO", "LIBRARY"):
            out.append((where, f"{path} is a {object_type.lower()}, not a file"))
    return out
