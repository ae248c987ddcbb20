"""Performance templates: query and job durations, compute placement and utilisation.

Sources: `system.query.history` (warehouse statements), `system.lakeflow.job_run_timeline` and
`system.lakeflow.job_task_run_timeline` (runs, folded from their rows: start = MIN
period_start_time, end = MAX period_end_time, outcome = last row's result_state),
`system.compute.clusters` (slowly changing: latest row per cluster) and
`system.compute.node_timeline` (per-node utilisation). Job names come from the latest row of
`system.lakeflow.jobs`, falling back to the run name. Durations of finished runs only.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register
from tasks.monitoring.sql_parts import LATEST_JOBS

_START = Param("start_date", "DATE", "first date (inclusive)", default="today-30")
_END = Param("end_date", "DATE", "last date (inclusive)", default="today")

_TIMELINE_READ = ("system.lakeflow.job_run_timeline(workspace_id, job_id, run_id, run_name, period_start_time, "
                  "period_end_time, result_state)")
_JOBS_READ = "system.lakeflow.jobs(workspace_id, job_id, name, change_time)"
_CLUSTERS_READ = "system.compute.clusters(workspace_id, cluster_id, cluster_name, cluster_source, owned_by, change_time)"

_LATEST_CLUSTERS = """latest_clusters AS (
  SELECT workspace_id, cluster_id, cluster_name, cluster_source, owned_by
  FROM system.compute.clusters
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, cluster_id ORDER BY change_time DESC) = 1
)"""


def _runs(since: str, until: str | None) -> str:
    """Finished runs (one row each) that started in [since, until) (SQL date expressions)."""
    upper = f"\n    AND MIN(period_start_time) < {until}" if until else ""
    return f"""runs AS (
  SELECT
    workspace_id,
    job_id,
    run_id,
    MAX(run_name) AS run_name,
    MIN(period_start_time) AS run_start,
    MAX(period_end_time) AS run_end,
    max_by(result_state, period_end_time) AS result_state,
    timestampdiff(SECOND, MIN(period_start_time), MAX(period_end_time)) / 60.0 AS duration_minutes
  FROM system.lakeflow.job_run_timeline
  WHERE period_start_time >= date_sub({since}, 7)
  GROUP BY workspace_id, job_id, run_id
  HAVING MIN(period_start_time) >= {since}{upper}
    AND max_by(result_state, period_end_time) IS NOT NULL
)"""


SLOW_QUERIES = Template(
    name="slow_queries",
    domain="performance",
    answers="Which SQL statements ran longer than N seconds between two dates?",
    params=(Param("min_duration", "DOUBLE", "minimum total duration, seconds", default=30, minimum=0,
                  maximum=86400), _START, _END),
    sql="""SELECT
  q.statement_id,
  q.executed_by,
  q.compute.warehouse_id AS warehouse_id,
  q.statement_type,
  q.execution_status,
  q.start_time,
  ROUND(q.total_duration_ms / 1000.0, 2) AS duration_seconds,
  q.read_rows,
  q.produced_rows,
  substr(q.statement_text, 1, 200) AS statement_preview
FROM system.query.history q
WHERE q.start_time >= CAST(:start_date AS DATE)
  AND q.start_time < date_add(CAST(:end_date AS DATE), 1)
  AND q.total_duration_ms >= CAST(:min_duration AS DOUBLE) * 1000
ORDER BY q.total_duration_ms DESC, q.statement_id
LIMIT 1000""",
    columns=("statement_id", "executed_by", "warehouse_id", "statement_type", "execution_status", "start_time",
             "duration_seconds", "read_rows", "produced_rows", "statement_preview"),
    reads=("system.query.history(statement_id, executed_by, compute.warehouse_id, statement_type, execution_status, "
           "start_time, total_duration_ms, read_rows, produced_rows, statement_text)",),
    order="duration_seconds descending (slowest first), then statement_id; at most 1000 rows",
    keywords=("slow queries", "long running", "sql", "query performance", "warehouse", "duration"),
)

JOB_DURATION_TRENDS = Template(
    name="job_duration_trends",
    domain="performance",
    answers="How has the daily run duration of a job (or of every job) changed over the last N days?",
    params=(Param("job_name", "STRING", "job name or part of it, case-insensitive (NULL = every job)"),
            Param("days_back", "INT", "how many days back from today", default=30, minimum=1, maximum=365)),
    sql=f"""WITH {_runs("date_sub(current_date(), :days_back)", None)},
{LATEST_JOBS},
named AS (
  SELECT r.*, COALESCE(j.name, r.run_name) AS job_name
  FROM runs r
  LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
)
SELECT
  CAST(run_start AS DATE) AS run_date,
  workspace_id,
  job_id,
  MAX(job_name) AS job_name,
  COUNT(*) AS runs,
  ROUND(AVG(duration_minutes), 2) AS avg_duration_minutes,
  ROUND(percentile_approx(duration_minutes, 0.9), 2) AS p90_duration_minutes,
  ROUND(MAX(duration_minutes), 2) AS max_duration_minutes
FROM named
WHERE :job_name IS NULL OR lower(job_name) LIKE concat('%', lower(:job_name), '%')
GROUP BY CAST(run_start AS DATE), workspace_id, job_id
ORDER BY run_date, workspace_id, job_id""",
    columns=("run_date", "workspace_id", "job_id", "job_name", "runs", "avg_duration_minutes",
             "p90_duration_minutes", "max_duration_minutes"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="run_date ascending, then workspace_id, job_id",
    chart={"x": "run_date", "y": "avg_duration_minutes"},
    totals=("runs",),
    keywords=("duration trend", "getting slower", "run time", "how long", "runtime over time"),
)

JOB_DURATION_OUTLIERS = Template(
    name="job_duration_outliers",
    domain="performance",
    answers="Per job between two dates: median (p50), p90 and longest run duration, and how far the longest "
            "run is from the median?",
    params=(_START, _END, Param("min_runs", "INT", "only jobs with at least this many finished runs", default=3,
                                minimum=1, maximum=100000)),
    sql=f"""WITH {_runs("CAST(:start_date AS DATE)", "date_add(CAST(:end_date AS DATE), 1)")},
{LATEST_JOBS},
per_job AS (
  SELECT
    r.workspace_id,
    r.job_id,
    COALESCE(MAX(j.name), MAX(r.run_name)) AS job_name,
    COUNT(*) AS runs,
    percentile_approx(r.duration_minutes, 0.5) AS p50,
    percentile_approx(r.duration_minutes, 0.9) AS p90,
    MAX(r.duration_minutes) AS longest,
    max_by(r.run_id, r.duration_minutes) AS slowest_run_id
  FROM runs r
  LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
  GROUP BY r.workspace_id, r.job_id
)
SELECT
  workspace_id,
  job_id,
  job_name,
  runs,
  ROUND(p50, 2) AS p50_duration_minutes,
  ROUND(p90, 2) AS p90_duration_minutes,
  ROUND(longest, 2) AS max_duration_minutes,
  ROUND(longest / NULLIF(p50, 0), 2) AS max_to_p50_ratio,
  slowest_run_id
FROM per_job
WHERE runs >= :min_runs
ORDER BY max_to_p50_ratio DESC NULLS LAST, max_duration_minutes DESC, workspace_id, job_id""",
    columns=("workspace_id", "job_id", "job_name", "runs", "p50_duration_minutes", "p90_duration_minutes",
             "max_duration_minutes", "max_to_p50_ratio", "slowest_run_id"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="max_to_p50_ratio descending (most erratic first), then max_duration_minutes descending, "
          "workspace_id, job_id",
    totals=("runs",),
    keywords=("outliers", "p90", "p50", "percentile", "slowest run", "duration spread"),
)

JOBS_ON_ALL_PURPOSE_CLUSTERS = Template(
    name="jobs_on_all_purpose_clusters",
    domain="performance",
    answers="Which jobs ran tasks on all-purpose (interactive) clusters between two dates, and what did it cost?",
    params=(_START, _END),
    sql=f"""WITH task_compute AS (
  SELECT t.workspace_id, t.job_id, t.job_run_id, t.run_id AS task_run_id, t.period_start_time,
         explode(t.compute_ids) AS cluster_id
  FROM system.lakeflow.job_task_run_timeline t
  WHERE t.period_start_time >= CAST(:start_date AS DATE)
    AND t.period_start_time < date_add(CAST(:end_date AS DATE), 1)
),
{_LATEST_CLUSTERS},
{LATEST_JOBS},
on_all_purpose AS (
  SELECT tc.*, c.cluster_name, c.owned_by
  FROM task_compute tc
  JOIN latest_clusters c ON c.workspace_id = tc.workspace_id AND c.cluster_id = tc.cluster_id
  WHERE c.cluster_source IN ('UI', 'API')
),
run_cost AS (
  SELECT u.workspace_id, u.usage_metadata.job_run_id AS job_run_id, u.usage_metadata.cluster_id AS cluster_id,
         SUM(CAST(u.usage_quantity AS DECIMAL(38, 10)) * CAST(lp.pricing.default AS DECIMAL(20, 10))) AS list_cost
  FROM system.billing.usage u
  JOIN system.billing.list_prices lp
    ON lp.sku_name = u.sku_name
   AND lp.cloud = u.cloud
   AND lp.usage_unit = u.usage_unit
   AND lp.currency_code = 'USD'
   AND lp.price_start_time <= u.usage_start_time
   AND (lp.price_end_time IS NULL OR u.usage_start_time < lp.price_end_time)
  WHERE u.usage_date >= CAST(:start_date AS DATE)
    AND u.usage_metadata.job_run_id IS NOT NULL
  GROUP BY u.workspace_id, u.usage_metadata.job_run_id, u.usage_metadata.cluster_id
),
per_job_cluster AS (
  SELECT
    a.workspace_id,
    a.job_id,
    a.cluster_id,
    MAX(a.cluster_name) AS cluster_name,
    MAX(a.owned_by) AS cluster_owner,
    COUNT(DISTINCT a.job_run_id) AS job_runs,
    COUNT(DISTINCT a.task_run_id) AS task_runs,
    MAX(a.period_start_time) AS last_task_start
  FROM on_all_purpose a
  GROUP BY a.workspace_id, a.job_id, a.cluster_id
),
cost_per_job_cluster AS (
  SELECT r.workspace_id, r.job_id, r.cluster_id, SUM(rc.list_cost) AS list_cost
  FROM (SELECT DISTINCT workspace_id, job_id, job_run_id, cluster_id FROM on_all_purpose) r
  JOIN run_cost rc ON rc.workspace_id = r.workspace_id AND rc.job_run_id = r.job_run_id
                  AND rc.cluster_id = r.cluster_id
  GROUP BY r.workspace_id, r.job_id, r.cluster_id
)
SELECT
  p.workspace_id,
  p.job_id,
  j.name AS job_name,
  p.cluster_id,
  p.cluster_name,
  p.cluster_owner,
  p.job_runs,
  p.task_runs,
  p.last_task_start,
  ROUND(COALESCE(k.list_cost, 0), 2) AS list_cost_usd
FROM per_job_cluster p
LEFT JOIN cost_per_job_cluster k
  ON k.workspace_id = p.workspace_id AND k.job_id = p.job_id AND k.cluster_id = p.cluster_id
LEFT JOIN latest_jobs j ON j.workspace_id = p.workspace_id AND j.job_id = p.job_id
ORDER BY p.job_runs DESC, list_cost_usd DESC, p.workspace_id, p.job_id, p.cluster_id""",
    columns=("workspace_id", "job_id", "job_name", "cluster_id", "cluster_name", "cluster_owner", "job_runs",
             "task_runs", "last_task_start", "list_cost_usd"),
    reads=("system.lakeflow.job_task_run_timeline(workspace_id, job_id, job_run_id, run_id, period_start_time, "
           "compute_ids)", _CLUSTERS_READ, _JOBS_READ,
           "system.billing.usage(workspace_id, sku_name, cloud, usage_unit, usage_start_time, usage_date, "
           "usage_quantity, usage_metadata.job_run_id, usage_metadata.cluster_id)",
           "system.billing.list_prices(sku_name, cloud, usage_unit, currency_code, price_start_time, "
           "price_end_time, pricing.default)"),
    order="job_runs descending, then list_cost_usd descending, workspace_id, job_id, cluster_id; all-purpose = "
          "cluster_source UI or API",
    totals=("job_runs", "task_runs", "list_cost_usd"),
    keywords=("all-purpose", "interactive cluster", "jobs compute", "existing cluster", "wrong compute"),
)

IDLE_OR_OVERSIZED_CLUSTERS = Template(
    name="idle_or_oversized_clusters",
    domain="performance",
    answers="Which clusters sat idle (CPU never above a threshold) or were oversized (low average CPU or low "
            "peak memory) between two dates?",
    params=(_START, _END,
            Param("cpu_threshold", "DOUBLE", "CPU % (user + system) under which a node counts as underused",
                  default=20, minimum=0, maximum=100),
            Param("mem_threshold", "DOUBLE", "peak memory % under which a cluster counts as oversized",
                  default=50, minimum=0, maximum=100)),
    sql=f"""WITH nodes AS (
  SELECT
    workspace_id,
    cluster_id,
    instance_id,
    timestampdiff(SECOND, start_time, end_time) / 3600.0 AS hours,
    cpu_user_percent + cpu_system_percent AS cpu_percent,
    mem_used_percent
  FROM system.compute.node_timeline
  WHERE start_time >= CAST(:start_date AS DATE)
    AND start_time < date_add(CAST(:end_date AS DATE), 1)
),
per_cluster AS (
  SELECT
    workspace_id,
    cluster_id,
    COUNT(DISTINCT instance_id) AS instances,
    SUM(hours) AS node_hours,
    AVG(cpu_percent) AS avg_cpu,
    MAX(cpu_percent) AS max_cpu,
    AVG(mem_used_percent) AS avg_mem,
    MAX(mem_used_percent) AS max_mem
  FROM nodes
  GROUP BY workspace_id, cluster_id
),
{_LATEST_CLUSTERS}
SELECT
  p.workspace_id,
  p.cluster_id,
  c.cluster_name,
  c.cluster_source,
  p.instances,
  ROUND(p.node_hours, 2) AS node_hours,
  ROUND(p.avg_cpu, 2) AS avg_cpu_percent,
  ROUND(p.max_cpu, 2) AS max_cpu_percent,
  ROUND(p.avg_mem, 2) AS avg_mem_used_percent,
  ROUND(p.max_mem, 2) AS max_mem_used_percent,
  CASE WHEN p.max_cpu < CAST(:cpu_threshold AS DOUBLE) THEN 'IDLE' ELSE 'OVERSIZED' END AS finding
FROM per_cluster p
LEFT JOIN latest_clusters c ON c.workspace_id = p.workspace_id AND c.cluster_id = p.cluster_id
WHERE p.avg_cpu < CAST(:cpu_threshold AS DOUBLE) OR p.max_mem < CAST(:mem_threshold AS DOUBLE)
ORDER BY node_hours DESC, p.workspace_id, p.cluster_id""",
    columns=("workspace_id", "cluster_id", "cluster_name", "cluster_source", "instances", "node_hours",
             "avg_cpu_percent", "max_cpu_percent", "avg_mem_used_percent", "max_mem_used_percent", "finding"),
    reads=("system.compute.node_timeline(workspace_id, cluster_id, instance_id, start_time, end_time, "
           "cpu_user_percent, cpu_system_percent, mem_used_percent)", _CLUSTERS_READ),
    order="node_hours descending (largest waste first), then workspace_id, cluster_id; IDLE = peak CPU under "
          "cpu_threshold, else OVERSIZED (average CPU under cpu_threshold or peak memory under mem_threshold)",
    totals=("node_hours",),
    keywords=("idle", "oversized", "underutilized", "utilization", "cpu", "memory", "right-size"),
)

register(SLOW_QUERIES, JOB_DURATION_TRENDS, JOB_DURATION_OUTLIERS, JOBS_ON_ALL_PURPOSE_CLUSTERS,
         IDLE_OR_OVERSIZED_CLUSTERS)
