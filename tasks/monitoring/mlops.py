"""MLOps templates over the serving and MLflow system tables: endpoint usage, request status per
day (the serving system tables record no latency), experiments and runs.

``system.serving.endpoint_usage`` rows are requests; they name a ``served_entity_id`` whose
endpoint is looked up in ``system.serving.served_entities`` (latest row per served entity). An
error is a request with ``status_code >= 400``. MLflow run statuses: FINISHED, FAILED, KILLED,
RUNNING, SCHEDULED.
"""

from __future__ import annotations

from tasks.monitoring.catalogue import Param, Template, register

_USAGE = "system.serving.endpoint_usage"
_ENTITIES = "system.serving.served_entities"
_EXPERIMENTS = "system.mlflow.experiments_latest"
_RUNS = "system.mlflow.runs_latest"
_ENTITY_CTE = f"""WITH entities AS (
  SELECT served_entity_id, max_by(endpoint_name, change_time) AS endpoint_name
  FROM {_ENTITIES}
  GROUP BY served_entity_id
)"""

ENDPOINT = Param("endpoint_name", "STRING", "Only this serving endpoint (exact name); all when empty.")
DAYS = Param("days_back", "INT", "Days back from today (date >= today - N).", default=30, minimum=1, maximum=365)

SERVING_ENDPOINT_USAGE = Template(
    name="serving_endpoint_usage",
    domain="mlops",
    answers="How many requests, errors and tokens did each model serving endpoint have between two dates?",
    params=(Param("start_date", "DATE", "First day (inclusive), by request date.", default="today-30"),
            Param("end_date", "DATE", "Last day (inclusive), by request date.", default="today"), ENDPOINT),
    sql=f"""{_ENTITY_CTE}
SELECT
  coalesce(e.endpoint_name, u.served_entity_id) AS endpoint_name,
  COUNT(*) AS requests,
  COUNT_IF(u.status_code >= 400) AS errors,
  round(COUNT_IF(u.status_code >= 400) / COUNT(*), 4) AS error_rate,
  COUNT(DISTINCT u.requester) AS requesters,
  coalesce(SUM(u.input_token_count), 0) AS input_tokens,
  coalesce(SUM(u.output_token_count), 0) AS output_tokens,
  MIN(u.request_time) AS first_request,
  MAX(u.request_time) AS last_request
FROM {_USAGE} AS u
LEFT JOIN entities AS e ON e.served_entity_id = u.served_entity_id
WHERE CAST(u.request_time AS DATE) BETWEEN :start_date AND :end_date
  AND (:endpoint_name IS NULL OR e.endpoint_name = :endpoint_name)
GROUP BY coalesce(e.endpoint_name, u.served_entity_id)
ORDER BY requests DESC, endpoint_name""",
    columns=("endpoint_name", "requests", "errors", "error_rate", "requesters", "input_tokens", "output_tokens",
             "first_request", "last_request"),
    reads=(f"{_USAGE}(served_entity_id, request_time, status_code, requester, input_token_count, "
           "output_token_count)", f"{_ENTITIES}(served_entity_id, endpoint_name, change_time)"),
    order="requests descending, then endpoint_name",
    totals=("requests", "errors", "input_tokens", "output_tokens"),
    keywords=("serving", "endpoint", "endpoints", "model serving", "requests", "traffic", "tokens", "inference",
              "usage", "llm"),
)

SERVING_LATENCY = Template(
    name="serving_latency",
    domain="mlops",
    answers="How many serving requests succeeded or failed per endpoint per day "
            "(the system tables record no latency, so status codes stand in for it)?",
    params=(DAYS, ENDPOINT),
    sql=f"""{_ENTITY_CTE}
SELECT
  CAST(u.request_time AS DATE) AS request_date,
  coalesce(e.endpoint_name, u.served_entity_id) AS endpoint_name,
  COUNT(*) AS requests,
  COUNT_IF(u.status_code BETWEEN 200 AND 299) AS succeeded,
  COUNT_IF(u.status_code BETWEEN 400 AND 499) AS client_errors,
  COUNT_IF(u.status_code >= 500) AS server_errors,
  round(COUNT_IF(u.status_code >= 400) / COUNT(*), 4) AS error_rate
FROM {_USAGE} AS u
LEFT JOIN entities AS e ON e.served_entity_id = u.served_entity_id
WHERE CAST(u.request_time AS DATE) >= date_sub(current_date(), :days_back)
  AND (:endpoint_name IS NULL OR e.endpoint_name = :endpoint_name)
GROUP BY CAST(u.request_time AS DATE), coalesce(e.endpoint_name, u.served_entity_id)
ORDER BY request_date, endpoint_name""",
    columns=("request_date", "endpoint_name", "requests", "succeeded", "client_errors", "server_errors",
             "error_rate"),
    reads=(f"{_USAGE}(served_entity_id, request_time, status_code)",
           f"{_ENTITIES}(served_entity_id, endpoint_name, change_time)"),
    order="request_date ascending, then endpoint_name",
    chart={"x": "request_date", "y": "requests"},
    totals=("requests", "succeeded", "client_errors", "server_errors"),
    keywords=("latency", "slow", "errors", "5xx", "4xx", "429", "throttled", "status", "serving", "endpoint",
              "availability", "daily"),
)

MLFLOW_EXPERIMENTS = Template(
    name="mlflow_experiments",
    domain="mlops",
    answers="How many MLflow runs did each (not deleted) experiment have in the last N days, and how many failed?",
    params=(DAYS,),
    sql=f"""SELECT
  x.experiment_id,
  x.name AS experiment_name,
  COUNT(r.run_id) AS runs,
  COUNT_IF(r.status = 'FINISHED') AS finished_runs,
  COUNT_IF(r.status = 'FAILED') AS failed_runs,
  COUNT_IF(r.status = 'KILLED') AS killed_runs,
  round(COUNT_IF(r.status = 'FINISHED') / nullif(COUNT(r.run_id), 0), 4) AS success_ratio,
  MAX(r.start_time) AS last_run_start
FROM {_EXPERIMENTS} AS x
LEFT JOIN {_RUNS} AS r
  ON r.experiment_id = x.experiment_id
  AND r.delete_time IS NULL
  AND r.start_time >= date_sub(current_date(), :days_back)
WHERE x.delete_time IS NULL
GROUP BY x.experiment_id, x.name
ORDER BY runs DESC, experiment_name""",
    columns=("experiment_id", "experiment_name", "runs", "finished_runs", "failed_runs", "killed_runs",
             "success_ratio", "last_run_start"),
    reads=(f"{_EXPERIMENTS}(experiment_id, name, delete_time)",
           f"{_RUNS}(run_id, experiment_id, status, start_time, delete_time)"),
    order="runs descending, then experiment_name",
    totals=("runs", "finished_runs", "failed_runs", "killed_runs"),
    keywords=("mlflow", "experiment", "experiments", "training", "ml", "model", "runs"),
)

MLFLOW_RUNS = Template(
    name="mlflow_runs",
    domain="mlops",
    answers="Which MLflow runs started in the last N days (optionally of one experiment or status), and how long did they take?",
    params=(DAYS,
            Param("experiment_name", "STRING", "Only this experiment (exact name or experiment id); all when empty."),
            Param("status", "STRING", "Only runs with this status; all when empty.",
                  choices=("FINISHED", "FAILED", "KILLED", "RUNNING", "SCHEDULED"))),
    sql=f"""SELECT
  r.run_id,
  r.run_name,
  x.name AS experiment_name,
  r.status,
  r.created_by,
  r.start_time,
  r.end_time,
  round(timestampdiff(SECOND, r.start_time, r.end_time) / 60.0, 1) AS duration_minutes
FROM {_RUNS} AS r
LEFT JOIN {_EXPERIMENTS} AS x ON x.experiment_id = r.experiment_id
WHERE r.delete_time IS NULL
  AND r.start_time >= date_sub(current_date(), :days_back)
  AND (:experiment_name IS NULL OR x.name = :experiment_name OR r.experiment_id = :experiment_name)
  AND (:status IS NULL OR r.status = :status)
ORDER BY r.start_time DESC, r.run_id""",
    columns=("run_id", "run_name", "experiment_name", "status", "created_by", "start_time", "end_time",
             "duration_minutes"),
    reads=(f"{_RUNS}(run_id, run_name, experiment_id, status, created_by, start_time, end_time, delete_time)",
           f"{_EXPERIMENTS}(experiment_id, name)"),
    order="start_time descending (newest first), then run_id",
    totals=(),
    keywords=("mlflow", "run", "runs", "training", "failed", "killed", "model", "duration"),
)

register(SERVING_ENDPOINT_USAGE, SERVING_LATENCY, MLFLOW_EXPERIMENTS, MLFLOW_RUNS)
