"""Documented system-table queries in Databricks SQL, with the figures the sandbox's seeded
history implies (see ``sandbox.system_tables`` for the seed). Each query takes the named
parameter ``:days`` (type INT) and runs unchanged on a real SQL warehouse.

``COST_PER_JOB`` with ``days=30`` on a fresh workspace returns, most expensive first::

    job_id   job_name             list_cost_usd
    9000003  weekly-ml-training   24.00
    9000001  nightly-orders-etl   18.00
    9000004  adhoc-reporting      10.50
    9000002  hourly-clickstream    9.00

``FAILED_JOBS_SUCCESS_RATIO`` with ``days=30`` returns the jobs with at least one failed run,
lowest success ratio first::

    job_id   job_name             runs  succeeded  failed  success_ratio
    9000003  weekly-ml-training      4          3       1         0.75
    9000004  adhoc-reporting        15         12       3         0.8
    9000001  nightly-orders-etl     30         26       4         0.8667

Runs the sandbox executed itself are added once terminal (billing and timelines of "today").
Sources: docs "Monitor job costs & performance with system tables" and the billing / jobs
system table references (``system.billing.usage``, ``system.billing.list_prices``,
``system.lakeflow.jobs``, ``system.lakeflow.job_run_timeline``).
"""

COST_PER_JOB = """
WITH latest_jobs AS (
  SELECT workspace_id, job_id, name
  FROM system.lakeflow.jobs
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, job_id ORDER BY change_time DESC) = 1
)
SELECT
  u.usage_metadata.job_id AS job_id,
  j.name AS job_name,
  ROUND(SUM(u.usage_quantity * lp.pricing.default), 2) AS list_cost_usd
FROM system.billing.usage u
JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name
 AND u.usage_start_time >= lp.price_start_time
 AND (lp.price_end_time IS NULL OR u.usage_start_time < lp.price_end_time)
LEFT JOIN latest_jobs j
  ON u.workspace_id = j.workspace_id AND u.usage_metadata.job_id = j.job_id
WHERE u.usage_metadata.job_id IS NOT NULL
  AND u.usage_date >= date_sub(current_date(), :days)
GROUP BY ALL
ORDER BY list_cost_usd DESC
"""

FAILED_JOBS_SUCCESS_RATIO = """
WITH latest_jobs AS (
  SELECT workspace_id, job_id, name
  FROM system.lakeflow.jobs
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, job_id ORDER BY change_time DESC) = 1
),
finished AS (
  SELECT workspace_id, job_id, run_id, result_state
  FROM system.lakeflow.job_run_timeline
  WHERE result_state IS NOT NULL
    AND period_start_time >= date_sub(current_date(), :days)
)
SELECT
  f.job_id,
  j.name AS job_name,
  COUNT(*) AS runs,
  COUNT_IF(f.result_state = 'SUCCEEDED') AS succeeded,
  COUNT_IF(f.result_state IN ('FAILED', 'ERROR', 'TIMED_OUT')) AS failed,
  ROUND(COUNT_IF(f.result_state = 'SUCCEEDED') / COUNT(*), 4) AS success_ratio
FROM finished f
LEFT JOIN latest_jobs j ON f.workspace_id = j.workspace_id AND f.job_id = j.job_id
GROUP BY ALL
HAVING COUNT_IF(f.result_state IN ('FAILED', 'ERROR', 'TIMED_OUT')) > 0
ORDER BY success_ratio ASC, f.job_id
"""
