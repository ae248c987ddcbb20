"""Checks the Jobs service applies to job settings on ``jobs/create``, ``reset``, ``update`` and
``runs/submit``, raising ``InvalidParameterValue`` (HTTP 400) with the service's wording.

Checked: unique ``task_key`` values; ``depends_on`` naming existing tasks, without cycles; a
compute for every task that needs one (``existing_cluster_id``, ``new_cluster``,
``job_cluster_key`` or ``environment_key``; notebook tasks may run serverless); referenced job
clusters, environments, existing clusters, SQL warehouses and ``run_job_task`` jobs exist;
``new_cluster`` runtime and node type are in the catalogue; a ``schedule`` has a 6- or 7-field
Quartz cron expression and a known ``timezone_id``; at most 25 tags; ``max_concurrent_runs``
in 0..1000. Source: Jobs API 2.2 ``jobs/create`` reference and ``jobs.JobSettings`` / ``jobs.Task``.
"""

from __future__ import annotations

from sandbox import seed
from sandbox.errors import InvalidParameterValue

_TASK_KINDS = ("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task",
               "sql_task", "pipeline_task", "run_job_task", "condition_task", "dbt_task", "for_each_task",
               "clean_rooms_notebook_task", "dashboard_task", "power_bi_task", "gen_ai_compute_task",
               "dbt_cloud_task", "alert_task")
_CLUSTER_ONLY = ("spark_jar_task", "spark_submit_task")
_SERVERLESS_NEEDS_ENV = ("spark_python_task", "python_wheel_task")


def _time_zones() -> set[str]:
    import zoneinfo

    return zoneinfo.available_timezones() | {"UTC", "GMT"}


def _check_cluster_spec(spec: dict, where: str) -> None:
    sv = spec.get("spark_version")
    if not sv:
        raise InvalidParameterValue(f"{where}: spark_version is required for a new cluster.")
    if sv not in seed.spark_version_keys():
        raise InvalidParameterValue(f"{where}: Invalid spark version {sv}.")
    for field in ("node_type_id", "driver_node_type_id"):
        nt = spec.get(field)
        if nt and seed.node_memory_mb(nt) is None:
            raise InvalidParameterValue(f"{where}: Node type {nt} is not supported.")
    if not spec.get("node_type_id") and not spec.get("instance_pool_id") and not spec.get("policy_id"):
        raise InvalidParameterValue(f"{where}: node_type_id is required for a new cluster.")


def validate_settings(ws: dict, settings: dict, *, submit: bool = False) -> None:
    """Raise ``InvalidParameterValue`` if ``settings`` (a ``JobSettings``/``SubmitRun`` dict) is invalid."""
    tasks = settings.get("tasks") or []
    keys: list[str] = []
    for t in tasks:
        key = t.get("task_key")
        if not key:
            raise InvalidParameterValue("Task key must be specified for every task.")
        if key in keys:
            raise InvalidParameterValue(f"Task key {key} is not unique. Task keys must be unique within a job.")
        keys.append(key)
    job_clusters = {}
    for jc in settings.get("job_clusters") or []:
        k = jc.get("job_cluster_key")
        if not k:
            raise InvalidParameterValue("job_cluster_key must be specified for every job cluster.")
        if k in job_clusters:
            raise InvalidParameterValue(f"Job cluster key {k} is not unique.")
        _check_cluster_spec(jc.get("new_cluster") or {}, f"Job cluster {k}")
        job_clusters[k] = jc
    envs = {e.get("environment_key") for e in settings.get("environments") or []}
    for t in tasks:
        key = t["task_key"]
        kinds = [k for k in _TASK_KINDS if k in t]
        if not kinds:
            raise InvalidParameterValue(f"Task {key} must specify exactly one task type, e.g. notebook_task.")
        if len(kinds) > 1:
            raise InvalidParameterValue(f"Task {key} specifies more than one task type: {', '.join(kinds)}.")
        kind = kinds[0]
        for dep in t.get("depends_on") or []:
            if dep.get("task_key") not in keys:
                raise InvalidParameterValue(
                    f"Task {key} depends on {dep.get('task_key')} which is not defined in the job.")
            if dep.get("task_key") == key:
                raise InvalidParameterValue(f"Task {key} cannot depend on itself.")
        if t.get("job_cluster_key") and t["job_cluster_key"] not in job_clusters:
            raise InvalidParameterValue(
                f"Task {key} refers to job cluster {t['job_cluster_key']} which is not defined in job_clusters.")
        if t.get("environment_key") and t["environment_key"] not in envs:
            raise InvalidParameterValue(
                f"Task {key} refers to environment {t['environment_key']} which is not defined in environments.")
        if t.get("existing_cluster_id") and t["existing_cluster_id"] not in ws["clusters"]:
            raise InvalidParameterValue(f"Cluster {t['existing_cluster_id']} does not exist")
        if t.get("new_cluster"):
            _check_cluster_spec(t["new_cluster"], f"Task {key}")
        has_cluster = bool(t.get("existing_cluster_id") or t.get("new_cluster") or t.get("job_cluster_key"))
        if kind in _CLUSTER_ONLY and not has_cluster:
            raise InvalidParameterValue(
                f"Task {key} must specify one of existing_cluster_id, new_cluster or job_cluster_key.")
        if kind in _SERVERLESS_NEEDS_ENV and not has_cluster and not t.get("environment_key"):
            raise InvalidParameterValue(
                f"Task {key} must specify one of existing_cluster_id, new_cluster, job_cluster_key or environment_key.")
        if kind == "sql_task":
            wid = (t["sql_task"] or {}).get("warehouse_id")
            if not wid:
                raise InvalidParameterValue(f"Task {key}: sql_task.warehouse_id is required.")
            if wid not in seed.warehouses("").keys():
                raise InvalidParameterValue(f"Task {key}: SQL warehouse {wid} does not exist.")
        if kind == "run_job_task":
            jid = (t["run_job_task"] or {}).get("job_id")
            if str(jid) not in ws["jobs"]:
                raise InvalidParameterValue(f"Task {key}: Job {jid} does not exist.")
    # cycles
    deps = {t["task_key"]: [d["task_key"] for d in t.get("depends_on") or []] for t in tasks}
    state: dict[str, int] = {}

    def visit(k: str, path: list[str]) -> None:
        if state.get(k) == 2:
            return
        if state.get(k) == 1:
            raise InvalidParameterValue(f"Cycle detected in task dependencies: {' -> '.join(path + [k])}")
        state[k] = 1
        for d in deps.get(k, []):
            visit(d, path + [k])
        state[k] = 2

    for k in deps:
        visit(k, [])
    schedule = settings.get("schedule")
    if schedule:
        cron = (schedule.get("quartz_cron_expression") or "").split()
        if len(cron) not in (6, 7):
            raise InvalidParameterValue(
                f"Invalid quartz_cron_expression {schedule.get('quartz_cron_expression')!r}: a Quartz cron "
                "expression has 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]).")
        tz = schedule.get("timezone_id")
        if not tz:
            raise InvalidParameterValue("schedule.timezone_id is required.")
        if tz not in _time_zones():
            raise InvalidParameterValue(f"Invalid timezone_id {tz!r}: use a Java time zone id such as 'UTC' or "
                                        "'Europe/Amsterdam'.")
    tags = settings.get("tags") or {}
    if len(tags) > 25:
        raise InvalidParameterValue(f"A job can have at most 25 tags, got {len(tags)}.")
    mcr = settings.get("max_concurrent_runs")
    if mcr is not None and not (0 <= mcr <= 1000):
        raise InvalidParameterValue("max_concurrent_runs must be between 0 and 1000.")
    if not submit and settings.get("name") is not None and len(settings["name"]) > 4096:
        raise InvalidParameterValue("Job name is too long (at most 4096 characters).")
