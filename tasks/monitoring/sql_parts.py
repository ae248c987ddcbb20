"""SQL pieces several domains' templates share (Databricks SQL; no parameters in them).

- `LATEST_JOBS`: the CTE `latest_jobs(workspace_id, job_id, name, tags)`: `system.lakeflow.jobs`
  is slowly changing (a row per change), so each job's latest row.
- `FAILED_RESULT_STATES`: the `system.lakeflow.job_run_timeline.result_state` values that count
  as a failure, as an SQL list.
"""

from __future__ import annotations

LATEST_JOBS = """latest_jobs AS (
  SELECT workspace_id, job_id, name, tags
  FROM system.lakeflow.jobs
  QUALIFY ROW_NUMBER() OVER (PARTITION BY workspace_id, job_id ORDER BY change_time DESC) = 1
)"""

FAILED_RESULT_STATES = "('FAILED', 'ERROR', 'TIMED_OUT')"
