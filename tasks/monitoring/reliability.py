"""Reliability templates: job run outcomes from `system.lakeflow.job_run_timeline`.

The timeline can split one run into several rows (long runs are sliced by hour, repairs add
rows), so every template first folds rows into runs: start = MIN(period_start_time), end =
MAX(period_end_time), outcome = the `result_state` of the last row (`max_by`). A run belongs to
[start_date, end_date] by its start (rows are scanned from 7 days before start_date so runs that
began earlier are not cut). Failed = FAILED, ERROR or TIMED_OUT. Job names come from the latest
row of the slowly changing `system.lakeflow.jobs`, falling back to the run name.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register
from tasks.monitoring.sql_parts import FAILED_RESULT_STATES, LATEST_JOBS

_START = Param("start_date", "DATE", "first run start date (inclusive)", default="today-30")
_END = Param("end_date", "DATE", "last run start date (inclusive)", default="today")

_TIMELINE_READ = ("system.lakeflow.job_run_timeline(workspace_id, job_id, run_id, run_name, period_start_time, "
                  "period_end_time, result_state, termination_code, trigger_type)")
_JOBS_READ = "system.lakeflow.jobs(workspace_id, job_id, name, change_time)"


# every run that started on or after start_date (no upper bound: later runs tell recoveries)
_ALL_RUNS = f"""all_runs AS (
  SELECT
    workspace_id,
    job_id,
    run_id,
    MAX(run_name) AS run_name,
    MAX(trigger_type) AS trigger_type,
    MIN(period_start_time) AS run_start,
    MAX(period_end_time) AS run_end,
    max_by(result_state, period_end_time) AS result_state,
    max_by(termination_code, period_end_time) AS termination_code,
    MIN(CASE WHEN result_state IN {FAILED_RESULT_STATES} THEN period_end_time END) AS first_failure_end
  FROM system.lakeflow.job_run_timeline
  WHERE period_start_time >= date_sub(CAST(:start_date AS DATE), 7)
  GROUP BY workspace_id, job_id, run_id
  HAVING MIN(period_start_time) >= CAST(:start_date AS DATE)
)"""

# runs that started in [start_date, end_date] and have finished
_RUNS = f"""{_ALL_RUNS},
runs AS (
  SELECT *, timestampdiff(SECOND, run_start, run_end) / 60.0 AS duration_minutes
  FROM all_runs
  WHERE run_start < date_add(CAST(:end_date AS DATE), 1) AND result_state IS NOT NULL
)"""

FAILED_JOBS = Template(
    name="failed_jobs",
    domain="reliability",
    answers="Which job runs failed between two dates (optionally in one workspace), and how?",
    params=(_START, _END, Param("workspace_id", "STRING", "workspace id (NULL = every workspace)")),
    sql=f"""WITH {_RUNS},
{LATEST_JOBS}
SELECT
  r.workspace_id,
  r.job_id,
  COALESCE(j.name, r.run_name) AS job_name,
  r.run_id,
  r.run_start,
  r.run_end,
  ROUND(r.duration_minutes, 2) AS duration_minutes,
  r.result_state,
  r.termination_code,
  r.trigger_type
FROM runs r
LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
WHERE r.result_state IN {FAILED_RESULT_STATES}
  AND (:workspace_id IS NULL OR r.workspace_id = :workspace_id)
ORDER BY r.run_start DESC, r.run_id""",
    columns=("workspace_id", "job_id", "job_name", "run_id", "run_start", "run_end", "duration_minutes",
             "result_state", "termination_code", "trigger_type"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="run_start descending (latest failure first), then run_id",
    keywords=("failed", "failures", "errors", "broken jobs", "what failed", "crashed"),
)

JOB_SLA_COMPLIANCE = Template(
    name="job_sla_compliance",
    domain="reliability",
    answers="Which jobs finish successfully within an SLA of N minutes, and how often?",
    params=(Param("sla_minutes", "INT", "longest acceptable run duration, minutes", default=60, minimum=1,
                  maximum=10080), _START, _END),
    sql=f"""WITH {_RUNS},
{LATEST_JOBS},
per_job AS (
  SELECT
    r.workspace_id,
    r.job_id,
    COALESCE(MAX(j.name), MAX(r.run_name)) AS job_name,
    COUNT(*) AS runs,
    COUNT_IF(r.result_state = 'SUCCEEDED' AND r.duration_minutes <= :sla_minutes) AS within_sla,
    COUNT_IF(r.duration_minutes > :sla_minutes) AS late_runs,
    COUNT_IF(r.result_state IN {FAILED_RESULT_STATES}) AS failed_runs,
    percentile_approx(r.duration_minutes, 0.9) AS p90_duration,
    MAX(r.duration_minutes) AS max_duration
  FROM runs r
  LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
  GROUP BY r.workspace_id, r.job_id
)
SELECT
  workspace_id,
  job_id,
  job_name,
  runs,
  within_sla,
  late_runs,
  failed_runs,
  ROUND(100.0 * within_sla / runs, 2) AS sla_compliance_pct,
  ROUND(p90_duration, 2) AS p90_duration_minutes,
  ROUND(max_duration, 2) AS max_duration_minutes
FROM per_job
ORDER BY sla_compliance_pct ASC, workspace_id, job_id""",
    columns=("workspace_id", "job_id", "job_name", "runs", "within_sla", "late_runs", "failed_runs",
             "sla_compliance_pct", "p90_duration_minutes", "max_duration_minutes"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="sla_compliance_pct ascending (worst first), then workspace_id, job_id; compliant = SUCCEEDED "
          "within sla_minutes",
    totals=("runs", "within_sla", "late_runs", "failed_runs"),
    keywords=("sla", "on time", "deadline", "compliance", "late", "breach"),
)

JOB_FAILURE_RATE = Template(
    name="job_failure_rate",
    domain="reliability",
    answers="What share of each job's runs failed between two dates?",
    params=(_START, _END, Param("min_runs", "INT", "only jobs with at least this many finished runs", default=1,
                                minimum=1, maximum=100000)),
    sql=f"""WITH {_RUNS},
{LATEST_JOBS},
per_job AS (
  SELECT
    r.workspace_id,
    r.job_id,
    COALESCE(MAX(j.name), MAX(r.run_name)) AS job_name,
    COUNT(*) AS runs,
    COUNT_IF(r.result_state = 'SUCCEEDED') AS succeeded,
    COUNT_IF(r.result_state IN {FAILED_RESULT_STATES}) AS failed,
    MAX(CASE WHEN r.result_state IN {FAILED_RESULT_STATES} THEN r.run_start END) AS last_failure_start,
    max_by(CASE WHEN r.result_state IN {FAILED_RESULT_STATES} THEN r.termination_code END,
           CASE WHEN r.result_state IN {FAILED_RESULT_STATES} THEN r.run_start END) AS last_termination_code
  FROM runs r
  LEFT JOIN latest_jobs j ON j.workspace_id = r.workspace_id AND j.job_id = r.job_id
  GROUP BY r.workspace_id, r.job_id
)
SELECT
  workspace_id,
  job_id,
  job_name,
  runs,
  succeeded,
  failed,
  ROUND(100.0 * failed / runs, 2) AS failure_rate_pct,
  last_failure_start,
  last_termination_code
FROM per_job
WHERE runs >= :min_runs
ORDER BY failure_rate_pct DESC, failed DESC, workspace_id, job_id""",
    columns=("workspace_id", "job_id", "job_name", "runs", "succeeded", "failed", "failure_rate_pct",
             "last_failure_start", "last_termination_code"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="failure_rate_pct descending, then failed descending, workspace_id, job_id",
    totals=("runs", "succeeded", "failed"),
    keywords=("failure rate", "success rate", "flaky", "reliability", "how often fail", "unstable"),
)

REPAIRS_AND_TIME_TO_REPAIR = Template(
    name="repairs_and_time_to_repair",
    domain="reliability",
    answers="For jobs that failed between two dates: how many runs were repaired, and how long until a "
            "failure was fixed (repair in the same run, or the next successful run)?",
    params=(_START, _END),
    sql=f"""WITH {_ALL_RUNS},
{LATEST_JOBS},
with_next AS (
  SELECT
    a.*,
    MIN(CASE WHEN a.result_state = 'SUCCEEDED' THEN a.run_end END) OVER (
      PARTITION BY a.workspace_id, a.job_id ORDER BY a.run_end, a.run_id
      ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_success_end
  FROM all_runs a
  WHERE a.result_state IS NOT NULL
),
failures AS (
  SELECT
    *,
    result_state = 'SUCCEEDED' AND first_failure_end IS NOT NULL AS repaired,
    CASE WHEN result_state = 'SUCCEEDED' AND first_failure_end IS NOT NULL
         THEN timestampdiff(SECOND, first_failure_end, run_end) / 60.0 END AS repair_minutes,
    CASE WHEN result_state IN {FAILED_RESULT_STATES}
         THEN timestampdiff(SECOND, run_end, next_success_end) / 3600.0 END AS recovery_hours
  FROM with_next
  WHERE first_failure_end IS NOT NULL
    AND run_start < date_add(CAST(:end_date AS DATE), 1)
)
SELECT
  f.workspace_id,
  f.job_id,
  COALESCE(MAX(j.name), MAX(f.run_name)) AS job_name,
  COUNT(*) AS failed_runs,
  COUNT_IF(f.repaired) AS repaired_runs,
  ROUND(AVG(f.repair_minutes), 2) AS avg_repair_minutes,
  COUNT(f.recovery_hours) AS recovered_failures,
  COUNT_IF(f.result_state IN {FAILED_RESULT_STATES} AND f.recovery_hours IS NULL) AS unrecovered_failures,
  ROUND(AVG(f.recovery_hours), 2) AS mean_time_to_recovery_hours,
  ROUND(MAX(f.recovery_hours), 2) AS max_time_to_recovery_hours
FROM failures f
LEFT JOIN latest_jobs j ON j.workspace_id = f.workspace_id AND j.job_id = f.job_id
GROUP BY f.workspace_id, f.job_id
ORDER BY mean_time_to_recovery_hours DESC NULLS FIRST, failed_runs DESC, f.workspace_id, f.job_id""",
    columns=("workspace_id", "job_id", "job_name", "failed_runs", "repaired_runs", "avg_repair_minutes",
             "recovered_failures", "unrecovered_failures", "mean_time_to_recovery_hours",
             "max_time_to_recovery_hours"),
    reads=(_TIMELINE_READ, _JOBS_READ),
    order="mean_time_to_recovery_hours descending (never-recovered jobs first), then failed_runs descending, "
          "workspace_id, job_id",
    totals=("failed_runs", "repaired_runs", "recovered_failures", "unrecovered_failures"),
    keywords=("repair", "time to repair", "mttr", "recovery", "fixed", "rerun"),
)

register(FAILED_JOBS, JOB_SLA_COMPLIANCE, JOB_FAILURE_RATE, REPAIRS_AND_TIME_TO_REPAIR)
