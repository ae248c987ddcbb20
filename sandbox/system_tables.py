"""Synthetic Databricks system tables, with the real column names, loaded into DuckDB.

Tables (catalog ``system``): ``billing.usage``, ``billing.list_prices``, ``lakeflow.jobs``,
``lakeflow.job_run_timeline``, ``lakeflow.job_task_run_timeline``, ``access.audit``,
``query.history``, ``compute.clusters``, ``compute.node_timeline``. Column names and types follow
the system-table reference (docs: "Billable usage system table reference", "Jobs system table
reference", "Audit log system table reference", "Compute system tables reference"); only a
subset of the columns is filled, the others are NULL. Ids are strings, as in the real tables.

Rows come from the workspace's own jobs and runs (runs that have reached a terminal state by the
query time) plus a deterministic seeded history, anchored on the simulated "today" (UTC) of the
query; ``d`` below is the number of days before today (1..42), every run starts 02:00 UTC:

====================  =====================  ==========================  =====================  ==============
job (id)              schedule               DBUs per run (sku)          fails when             last 30 days*
====================  =====================  ==========================  =====================  ==============
nightly-orders-etl    daily                  4.0 (PREMIUM_JOBS_COMPUTE)  d % 7 == 0             30 runs, 4 failed,
(9000001)                                                                                       cost 18.00
hourly-clickstream    every 6 h (4 per day)  0.5 (PREMIUM_JOBS_COMPUTE)  never                  120 runs, 0 failed,
(9000002)                                                                                       cost 9.00
weekly-ml-training    d % 7 == 3             40.0 (PREMIUM_JOBS_COMPUTE) d == 10                4 runs, 1 failed,
(9000003)                                                                                       cost 24.00
adhoc-reporting       d even                 2.0 (PREMIUM_JOBS_SERVERLESS_ d % 10 == 0          15 runs, 3 failed,
(9000004)                                    COMPUTE_US_WEST_OREGON)                            cost 10.50
====================  =====================  ==========================  =====================  ==============

(*) ``usage_date >= date_sub(current_date(), 30)``, i.e. d = 1..30 (plus today's own runs).
List prices (USD per DBU, ``pricing.default``): PREMIUM_JOBS_COMPUTE 0.15,
PREMIUM_JOBS_SERVERLESS_COMPUTE_US_WEST_OREGON 0.35, PREMIUM_ALL_PURPOSE_COMPUTE 0.55,
PREMIUM_SERVERLESS_SQL_COMPUTE_US_WEST_OREGON 0.70. Failed seeded runs end ``FAILED`` with
termination code ``RUN_EXECUTION_ERROR``. Sandbox runs are billed ``duration_h * (workers + 1) *
DBU/h of the node type`` on PREMIUM_JOBS_COMPUTE (serverless tasks: 1 DBU/h on the serverless sku).

More tables: ``access.table_lineage``, ``access.column_lineage`` (docs: "Lineage system tables
reference"), ``serving.endpoint_usage``, ``serving.served_entities`` ("Serving system tables
reference"; the tables record no latency), ``mlflow.experiments_latest``, ``mlflow.runs_latest``
("MLflow system tables reference"). Seeded history (d = days before today, 1..42):

* ``access.audit`` (users sandbox-user@, other-user@, analyst@example.com): three job events
  (d=1 runNow 200, d=2 create 200 by sandbox-user; d=3 delete 403 by other-user); daily
  ``accounts/tokenLogin`` 200 for sandbox-user (10.0.0.1), on even d for other-user (10.0.0.2),
  on d % 3 == 0 for analyst (10.0.0.3); failed logins: analyst ``login`` 401 three times on d=2 from
  203.0.113.7, other-user ``tokenLogin`` 403 on d=5; analyst logs in on d=1 from the new IP
  198.51.100.23 (so in the last 7 days three user/IP pairs are new: analyst from 203.0.113.7 with 3
  events and from 198.51.100.23 with 1, other-user from 10.0.0.1 with the d=3 delete); permission changes: d=4 ``unityCatalog/updatePermissions`` (main.sales.orders) by
  sandbox-user, d=6 ``accounts/addPrincipalToGroup`` (admins) by other-user, d=12
  ``jobs/changeJobAcl`` by sandbox-user. Last 30 days: failed (status >= 400) analyst 3,
  other-user 2 (one of them a login).
* lineage, one edge per source table per successful run of the writing job, at start + 20 min:
  main.sales.orders_raw -> main.sales.orders (job 9000001; 26 writes in d=1..30),
  main.web.clickstream_raw -> main.web.sessions (job 9000002; 120), main.sales.orders and
  main.sales.customers -> main.sales.daily_revenue (job 9000004; 12 each); a dashboard reads
  main.sales.daily_revenue daily at 09:00 (no target). Column edges: orders_raw.order_id/amount ->
  orders.order_id/amount, clickstream_raw.session_id -> sessions.session_id, orders.amount ->
  daily_revenue.revenue, customers.region -> daily_revenue.region. Last writes: orders d=1 02:20,
  sessions d=1 20:20, daily_revenue d=2 02:20.
* serving: endpoint churn-model (served entity se-churn-3 since d=20, se-churn-2 before) gets 20
  requests a day, two of them 500 when d % 5 == 0; llm-chat (se-llm-1, foundation model) gets 10 a
  day by analyst, input tokens 100..109, output 50, the tenth 429 (no output) when d % 3 == 0.
  Last 30 days: churn-model 600 requests, 12 errors; llm-chat 300 requests, 10 errors, 31350 input
  and 14500 output tokens.
* mlflow: experiments 1001 ``/Users/sandbox-user@example.com/churn``, 1002 ``/Shared/llm-eval``,
  1003 ``/Users/other-user@example.com/scratch`` (deleted d=15); runs: churn on d % 7 == 3 (FAILED on
  d=10; 4 runs in d=1..30), llm-eval daily for d=1..14 (KILLED on d=4), scratch on d=40, 41.

A data set can replace the seed (``sandbox serve --system-tables DIR``, ``load_dataset``): one file
per table, ``system.<schema>.<table>.jsonl`` (or ``.csv``, ``.parquet``), real column names, nested
columns as JSON objects (maps and structs) or arrays, timestamps as ISO strings (UTC, or with an
offset). Tables without a file are empty; unknown tables or columns are errors.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile

from sandbox import seed

ACCOUNT_ID = "5f1c7a3e-0000-4000-8000-000000000001"
JOBS_SKU = "PREMIUM_JOBS_COMPUTE"
SERVERLESS_SKU = "PREMIUM_JOBS_SERVERLESS_COMPUTE_US_WEST_OREGON"
PRICES = {
    JOBS_SKU: 0.15,
    SERVERLESS_SKU: 0.35,
    "PREMIUM_ALL_PURPOSE_COMPUTE": 0.55,
    "PREMIUM_SERVERLESS_SQL_COMPUTE_US_WEST_OREGON": 0.70,
}

# (job_id, name, runs-per-day offsets in hours, predicate on d for running, DBUs, sku, fails(d))
HISTORY_JOBS = [
    ("9000001", "nightly-orders-etl", [2], lambda d: True, 4.0, JOBS_SKU, lambda d: d % 7 == 0),
    ("9000002", "hourly-clickstream", [2, 8, 14, 20], lambda d: True, 0.5, JOBS_SKU, lambda d: False),
    ("9000003", "weekly-ml-training", [2], lambda d: d % 7 == 3, 40.0, JOBS_SKU, lambda d: d == 10),
    ("9000004", "adhoc-reporting", [2], lambda d: d % 2 == 0, 2.0, SERVERLESS_SKU, lambda d: d % 10 == 0),
]
HISTORY_DAYS = 42
_HIST_CLUSTER = "0101-120000-jobhist"

_USAGE_META = ("STRUCT(cluster_id VARCHAR, job_id VARCHAR, warehouse_id VARCHAR, instance_pool_id VARCHAR, "
               "node_type VARCHAR, job_run_id VARCHAR, notebook_id VARCHAR, dlt_pipeline_id VARCHAR, "
               "endpoint_name VARCHAR, run_name VARCHAR, job_name VARCHAR, notebook_path VARCHAR)")

_LINEAGE_SIDE = ("{side}_table_full_name VARCHAR, {side}_table_catalog VARCHAR, {side}_table_schema VARCHAR, "
                 "{side}_table_name VARCHAR, {side}_path VARCHAR, {side}_type VARCHAR{col}")
_ENTITY_META = ("STRUCT(job_info STRUCT(job_id VARCHAR, job_run_id VARCHAR), dashboard_id VARCHAR, "
                "legacy_dashboard_id VARCHAR, notebook_id VARCHAR, sql_query_id VARCHAR, "
                "dlt_pipeline_info STRUCT(dlt_pipeline_id VARCHAR, dlt_update_id VARCHAR))")

DDL = {
    "billing.usage": f"""record_id VARCHAR, account_id VARCHAR, workspace_id VARCHAR, sku_name VARCHAR, cloud VARCHAR,
        usage_start_time TIMESTAMP, usage_end_time TIMESTAMP, usage_date DATE, custom_tags MAP(VARCHAR, VARCHAR),
        usage_unit VARCHAR, usage_quantity DECIMAL(38,18), usage_metadata {_USAGE_META},
        identity_metadata STRUCT(run_as VARCHAR, created_by VARCHAR), record_type VARCHAR, ingestion_date DATE,
        billing_origin_product VARCHAR, product_features STRUCT(jobs_tier VARCHAR, is_serverless BOOLEAN,
        is_photon BOOLEAN), usage_type VARCHAR""",
    "billing.list_prices": """price_start_time TIMESTAMP, price_end_time TIMESTAMP, account_id VARCHAR,
        sku_name VARCHAR, cloud VARCHAR, currency_code VARCHAR, usage_unit VARCHAR,
        pricing STRUCT("default" DECIMAL(30,18), promotional STRUCT("default" DECIMAL(30,18)),
        effective_list STRUCT("default" DECIMAL(30,18)))""",
    "lakeflow.jobs": """account_id VARCHAR, workspace_id VARCHAR, job_id VARCHAR, name VARCHAR, description VARCHAR,
        creator_id VARCHAR, tags MAP(VARCHAR, VARCHAR), change_time TIMESTAMP, delete_time TIMESTAMP, run_as VARCHAR""",
    "lakeflow.job_run_timeline": """account_id VARCHAR, workspace_id VARCHAR, job_id VARCHAR, run_id VARCHAR,
        period_start_time TIMESTAMP, period_end_time TIMESTAMP, trigger_type VARCHAR, run_type VARCHAR,
        run_name VARCHAR, compute_ids VARCHAR[], result_state VARCHAR, termination_code VARCHAR,
        job_parameters MAP(VARCHAR, VARCHAR)""",
    "lakeflow.job_task_run_timeline": """account_id VARCHAR, workspace_id VARCHAR, job_id VARCHAR, run_id VARCHAR,
        job_run_id VARCHAR, parent_run_id VARCHAR, period_start_time TIMESTAMP, period_end_time TIMESTAMP,
        task_key VARCHAR, compute_ids VARCHAR[], result_state VARCHAR, termination_code VARCHAR""",
    "access.audit": """account_id VARCHAR, workspace_id VARCHAR, version VARCHAR, event_time TIMESTAMP, event_date DATE,
        source_ip_address VARCHAR, user_agent VARCHAR, session_id VARCHAR,
        user_identity STRUCT(email VARCHAR, subject_name VARCHAR), service_name VARCHAR, action_name VARCHAR,
        request_id VARCHAR, request_params MAP(VARCHAR, VARCHAR),
        response STRUCT(status_code INTEGER, error_message VARCHAR, result VARCHAR), audit_level VARCHAR,
        event_id VARCHAR""",
    "query.history": """account_id VARCHAR, workspace_id VARCHAR, statement_id VARCHAR, executed_by VARCHAR,
        session_id VARCHAR, execution_status VARCHAR,
        compute STRUCT(type VARCHAR, cluster_id VARCHAR, warehouse_id VARCHAR), executed_by_user_id VARCHAR,
        statement_text VARCHAR, statement_type VARCHAR, error_message VARCHAR, client_application VARCHAR,
        total_duration_ms BIGINT, start_time TIMESTAMP, end_time TIMESTAMP, read_rows BIGINT, produced_rows BIGINT""",
    "compute.clusters": """account_id VARCHAR, workspace_id VARCHAR, cluster_id VARCHAR, cluster_name VARCHAR,
        owned_by VARCHAR, create_time TIMESTAMP, delete_time TIMESTAMP, driver_node_type VARCHAR,
        worker_node_type VARCHAR, worker_count BIGINT, min_autoscale_workers BIGINT, max_autoscale_workers BIGINT,
        auto_termination_minutes BIGINT, enable_elastic_disk BOOLEAN, tags MAP(VARCHAR, VARCHAR),
        cluster_source VARCHAR, dbr_version VARCHAR, change_time TIMESTAMP, change_date DATE,
        data_security_mode VARCHAR, policy_id VARCHAR""",
    "compute.node_timeline": """account_id VARCHAR, workspace_id VARCHAR, cluster_id VARCHAR, instance_id VARCHAR,
        start_time TIMESTAMP, end_time TIMESTAMP, driver BOOLEAN, cpu_user_percent DOUBLE, cpu_system_percent DOUBLE,
        cpu_wait_percent DOUBLE, mem_used_percent DOUBLE, mem_swap_percent DOUBLE, network_sent_bytes BIGINT,
        network_received_bytes BIGINT, node_type VARCHAR""",
    "access.table_lineage": f"""account_id VARCHAR, metastore_id VARCHAR, workspace_id VARCHAR, entity_type VARCHAR,
        entity_id VARCHAR, entity_run_id VARCHAR, {_LINEAGE_SIDE.format(side="source", col="")},
        {_LINEAGE_SIDE.format(side="target", col="")}, created_by VARCHAR, event_time TIMESTAMP, event_date DATE,
        record_id VARCHAR, event_id VARCHAR, statement_id VARCHAR, entity_metadata {_ENTITY_META}""",
    "access.column_lineage": f"""account_id VARCHAR, metastore_id VARCHAR, workspace_id VARCHAR, entity_type VARCHAR,
        entity_id VARCHAR, entity_run_id VARCHAR,
        {_LINEAGE_SIDE.format(side="source", col=", source_column_name VARCHAR")},
        {_LINEAGE_SIDE.format(side="target", col=", target_column_name VARCHAR")}, created_by VARCHAR,
        event_time TIMESTAMP, event_date DATE, record_id VARCHAR, event_id VARCHAR, statement_id VARCHAR,
        entity_metadata {_ENTITY_META}""",
    "serving.endpoint_usage": """account_id VARCHAR, workspace_id VARCHAR, client_request_id VARCHAR,
        databricks_request_id VARCHAR, requester VARCHAR, status_code INTEGER, request_time TIMESTAMP,
        input_token_count BIGINT, output_token_count BIGINT, input_character_count BIGINT,
        output_character_count BIGINT, usage_context MAP(VARCHAR, VARCHAR), request_streaming BOOLEAN,
        served_entity_id VARCHAR""",
    "serving.served_entities": """served_entity_id VARCHAR, account_id VARCHAR, workspace_id VARCHAR,
        created_by VARCHAR, endpoint_name VARCHAR, endpoint_id VARCHAR, served_entity_name VARCHAR,
        entity_type VARCHAR, entity_name VARCHAR, entity_version VARCHAR, endpoint_config_version BIGINT,
        task VARCHAR, external_model_config STRUCT(provider VARCHAR, name VARCHAR, task VARCHAR),
        foundation_model_config STRUCT(min_provisioned_throughput BIGINT, max_provisioned_throughput BIGINT),
        custom_model_config STRUCT(min_concurrency BIGINT, max_concurrency BIGINT, compute_type VARCHAR),
        feature_spec_config STRUCT(min_concurrency BIGINT, max_concurrency BIGINT),
        change_time TIMESTAMP, endpoint_delete_time TIMESTAMP""",
    "mlflow.experiments_latest": """account_id VARCHAR, update_time TIMESTAMP, delete_time TIMESTAMP,
        experiment_id VARCHAR, workspace_id VARCHAR, name VARCHAR, create_time TIMESTAMP""",
    "mlflow.runs_latest": """account_id VARCHAR, update_time TIMESTAMP, delete_time TIMESTAMP, workspace_id VARCHAR,
        run_id VARCHAR, experiment_id VARCHAR, created_by VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP,
        run_name VARCHAR, status VARCHAR, params MAP(VARCHAR, VARCHAR), tags MAP(VARCHAR, VARCHAR),
        aggregated_metrics STRUCT(metric_name VARCHAR, latest_value DOUBLE, latest_step BIGINT,
        latest_timestamp TIMESTAMP, max_value DOUBLE, min_value DOUBLE)[]""",
}

_RESULT = {"SUCCESS": "SUCCEEDED", "FAILED": "FAILED", "TIMEDOUT": "TIMED_OUT", "CANCELED": "CANCELLED",
           "SUCCESS_WITH_FAILURES": "SUCCEEDED", "UPSTREAM_FAILED": "SKIPPED", "UPSTREAM_CANCELED": "SKIPPED",
           "EXCLUDED": "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED": "SKIPPED"}


def _ts(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).replace(tzinfo=None)


def _map(d: dict | None) -> dict:
    d = d or {}
    return {"key": list(d.keys()), "value": [str(v) for v in d.values()]}


def _usage_meta(**kw) -> dict:
    keys = ("cluster_id", "job_id", "warehouse_id", "instance_pool_id", "node_type", "job_run_id", "notebook_id",
            "dlt_pipeline_id", "endpoint_name", "run_name", "job_name", "notebook_path")
    return {k: kw.get(k) for k in keys}


def _usage_row(rid: str, sku: str, start: dt.datetime, end: dt.datetime, dbus: float, meta: dict) -> tuple:
    serverless = "SERVERLESS" in sku
    return (rid, ACCOUNT_ID, seed.WORKSPACE_ID, sku, "AWS", start, end, start.date(), _map({}), "DBU", dbus,
            meta, {"run_as": seed.USER_NAME, "created_by": None}, "ORIGINAL", start.date(), "JOBS",
            {"jobs_tier": "PREMIUM", "is_serverless": serverless, "is_photon": False}, "COMPUTE_TIME")


def build_rows(snapshot: dict, now_ms: int) -> dict[str, list[tuple]]:
    """Rows of every table (keys as in ``DDL``) for a workspace ``snapshot`` at ``now_ms``.

    ``snapshot`` holds the workspace's ``jobs``, ``runs`` and ``clusters`` dicts (see ``sandbox.store``).
    """
    from sandbox import runs as runlife

    rows: dict[str, list[tuple]] = {k: [] for k in DDL}
    today = _ts(now_ms).date()
    midnight = dt.datetime.combine(today, dt.time())
    epoch = dt.datetime(2020, 1, 1)
    for sku, price in PRICES.items():
        p = {"default": price, "promotional": {"default": price}, "effective_list": {"default": price}}
        rows["billing.list_prices"].append((epoch, None, ACCOUNT_ID, sku, "AWS", "USD", "DBU", p))

    def job_row(job_id, name, tags, created):
        rows["lakeflow.jobs"].append((ACCOUNT_ID, seed.WORKSPACE_ID, job_id, name, None, seed.USER_ID, _map(tags),
                                      created, None, seed.USER_NAME))

    seq = 0
    for job_id, name, hours, runs_on, dbus, sku, fails in HISTORY_JOBS:
        job_row(job_id, name, {"team": "data-eng"}, midnight - dt.timedelta(days=HISTORY_DAYS + 1))
        for d in range(HISTORY_DAYS, 0, -1):
            if not runs_on(d):
                continue
            for h in hours:
                seq += 1
                start = midnight - dt.timedelta(days=d) + dt.timedelta(hours=h)
                end = start + dt.timedelta(minutes=20)
                run_id = str(7_000_000 + seq)
                failed = fails(d)
                state, code = ("FAILED", "RUN_EXECUTION_ERROR") if failed else ("SUCCEEDED", "SUCCESS")
                compute = [] if "SERVERLESS" in sku else [_HIST_CLUSTER]
                rows["lakeflow.job_run_timeline"].append(
                    (ACCOUNT_ID, seed.WORKSPACE_ID, job_id, run_id, start, end, "CRON", "JOB_RUN", name, compute,
                     state, code, _map({})))
                rows["lakeflow.job_task_run_timeline"].append(
                    (ACCOUNT_ID, seed.WORKSPACE_ID, job_id, str(8_000_000 + seq), run_id, run_id, start, end, "main",
                     compute, state, code))
                rows["billing.usage"].append(_usage_row(
                    f"hist-{seq}", sku, start, end, dbus,
                    _usage_meta(job_id=job_id, job_run_id=run_id, run_name=name, job_name=name,
                                cluster_id=compute[0] if compute else None,
                                node_type=None if not compute else "i3.xlarge")))
                if compute:
                    rows["compute.node_timeline"].append(
                        (ACCOUNT_ID, seed.WORKSPACE_ID, _HIST_CLUSTER, f"i-{seq:08x}", start, end, True, 35.0, 5.0,
                         1.0, 92.0 if failed else 55.0, 0.0, 10_000_000, 20_000_000, "i3.xlarge"))
    # the workspace's own jobs and finished runs
    for job in snapshot["jobs"].values():
        job_row(str(job["job_id"]), job["settings"].get("name"), job["settings"].get("tags"), _ts(job["created_time"]))
    for run in snapshot["runs"].values():
        if run.get("skipped") or not runlife.is_terminal(run, now_ms):
            continue
        d = runlife.run_dict(run, now_ms, "", include_tasks=True)
        job_id = str(run["job_id"]) if run.get("job_id") is not None else None
        start, end = _ts(d["start_time"]), _ts(d["end_time"])
        clusters = sorted({t["cluster_instance"]["cluster_id"] for t in d.get("tasks", []) if t.get("cluster_instance")})
        rows["lakeflow.job_run_timeline"].append(
            (ACCOUNT_ID, seed.WORKSPACE_ID, job_id, str(run["run_id"]), start, end, "ONE_TIME",
             "SUBMIT_RUN" if run["run_type"] == "SUBMIT_RUN" else "JOB_RUN", run["run_name"], clusters,
             _RESULT.get(d["state"].get("result_state"), "ERROR"), d["status"]["termination_details"]["code"],
             _map({p["name"]: p.get("value") for p in run.get("job_parameters") or []})))
        for att in run["attempts"].values():
            if att["life_cycle_state"] == "SKIPPED" and att["result_state"] != "SUCCESS":
                t_state = "SKIPPED"
            else:
                t_state = "CANCELLED" if att.get("cancel_ms") is not None else _RESULT.get(att["result_state"], "ERROR")
            a_start, a_end = att["start_ms"], runlife._attempt_end(att)
            cid = (att["compute"] or {}).get("cluster_id") or (f"job-{run['run_id']}" if att["compute"]["kind"] == "new" else None)
            rows["lakeflow.job_task_run_timeline"].append(
                (ACCOUNT_ID, seed.WORKSPACE_ID, job_id, str(att["run_id"]), str(run["run_id"]), str(run["run_id"]),
                 _ts(a_start), _ts(a_end), att["task_key"], [cid] if cid else [], t_state, att["termination_code"]))
            hours = (a_end - a_start) / 3_600_000
            if hours <= 0:
                continue
            compute = att["compute"]
            if compute["kind"] == "serverless":
                sku, dbus = SERVERLESS_SKU, hours * 1.0
            else:
                spec = att["task"].get("new_cluster") or next(
                    (jc.get("new_cluster") for jc in run["settings"].get("job_clusters") or []
                     if jc.get("job_cluster_key") == att["task"].get("job_cluster_key")), None) or {}
                workers = spec.get("num_workers") or (spec.get("autoscale") or {}).get("min_workers") or 0
                sku, dbus = JOBS_SKU, hours * (workers + 1) * seed.node_dbu_per_hour(compute["node_type_id"])
            rows["billing.usage"].append(_usage_row(
                f"run-{att['run_id']}", sku, _ts(a_start), _ts(a_end), round(dbus, 6),
                _usage_meta(job_id=job_id, job_run_id=str(run["run_id"]), run_name=run["run_name"],
                            job_name=run["run_name"], cluster_id=cid, node_type=compute["node_type_id"],
                            notebook_path=(att["task"].get("notebook_task") or {}).get("notebook_path"))))
    for cl in snapshot["clusters"].values():
        created = _ts(cl.get("start_time", now_ms))
        auto = cl.get("autoscale") or {}
        rows["compute.clusters"].append(
            (ACCOUNT_ID, seed.WORKSPACE_ID, cl["cluster_id"], cl["cluster_name"], cl.get("creator_user_name"), created,
             None, cl.get("driver_node_type_id"), cl.get("node_type_id"), cl.get("num_workers"),
             auto.get("min_workers"), auto.get("max_workers"), cl.get("autotermination_minutes"),
             cl.get("enable_elastic_disk"), _map(cl.get("custom_tags")), cl.get("cluster_source"),
             cl.get("spark_version"), created, created.date(), cl.get("data_security_mode"), None))
    # a little audit and query history
    for i, (d, action, status) in enumerate([(1, "runNow", 200), (2, "create", 200), (3, "delete", 403)]):
        t = midnight - dt.timedelta(days=d) + dt.timedelta(hours=9)
        rows["access.audit"].append(
            (ACCOUNT_ID, seed.WORKSPACE_ID, "2.0", t, t.date(), "10.0.0.1", "databricks-sdk-py", None,
             {"email": seed.USER_NAME if status == 200 else seed.OTHER_USER_NAME, "subject_name": None}, "jobs",
             action, f"req-{i}", _map({"job_id": "9000001"}),
             {"status_code": status, "error_message": None if status == 200 else "PERMISSION_DENIED", "result": None},
             "WORKSPACE_LEVEL", f"evt-{i}"))
    _seed_access(rows, midnight)
    _seed_lineage(rows, midnight)
    _seed_serving(rows, midnight)
    _seed_mlflow(rows, midnight)
    for i, d in enumerate(range(1, 8)):
        t = midnight - dt.timedelta(days=d) + dt.timedelta(hours=10)
        rows["query.history"].append(
            (ACCOUNT_ID, seed.WORKSPACE_ID, f"01ef-{i:04d}", seed.USER_NAME, None, "FINISHED",
             {"type": "WAREHOUSE", "cluster_id": None, "warehouse_id": "a1b2c3d4e5f60001"}, seed.USER_ID,
             "SELECT * FROM sales.orders", "SELECT", None, "Databricks SQL Editor", 1000 * (i + 1), t,
             t + dt.timedelta(seconds=i + 1), 1000 * (i + 1), 10))
    return rows


ANALYST = "analyst@example.com"
NEW_IP = "198.51.100.23"
FAILED_LOGIN_IP = "203.0.113.7"
METASTORE_ID = "5a31ba44-0000-4000-8000-000000000002"


def _audit(rows, t, email, ip, service, action, params, status, error=None):
    n = len(rows["access.audit"])
    rows["access.audit"].append(
        (ACCOUNT_ID, seed.WORKSPACE_ID, "2.0", t, t.date(), ip, "databricks-sdk-py", None,
         {"email": email, "subject_name": None}, service, action, f"req-a{n}", _map(params),
         {"status_code": status, "error_message": error, "result": None}, "WORKSPACE_LEVEL", f"evt-a{n}"))


def _seed_access(rows, midnight):
    """Logins, failed logins, a new source IP and permission changes (see the module docstring)."""
    day = lambda d, h, m=0: midnight - dt.timedelta(days=d) + dt.timedelta(hours=h, minutes=m)  # noqa: E731
    for d in range(1, HISTORY_DAYS + 1):
        _audit(rows, day(d, 8), seed.USER_NAME, "10.0.0.1", "accounts", "tokenLogin", {"user": seed.USER_NAME}, 200)
        if d % 2 == 0:
            _audit(rows, day(d, 8, 30), seed.OTHER_USER_NAME, "10.0.0.2", "accounts", "tokenLogin",
                   {"user": seed.OTHER_USER_NAME}, 200)
        if d % 3 == 0:
            _audit(rows, day(d, 9), ANALYST, "10.0.0.3", "accounts", "tokenLogin", {"user": ANALYST}, 200)
    for m in range(3):
        _audit(rows, day(2, 7, m), ANALYST, FAILED_LOGIN_IP, "accounts", "login", {"user": ANALYST}, 401,
               "Invalid credentials")
    _audit(rows, day(1, 7, 10), ANALYST, NEW_IP, "accounts", "tokenLogin", {"user": ANALYST}, 200)
    _audit(rows, day(5, 8, 30), seed.OTHER_USER_NAME, "10.0.0.2", "accounts", "tokenLogin",
           {"user": seed.OTHER_USER_NAME}, 403, "User is disabled")
    _audit(rows, day(4, 11), seed.USER_NAME, "10.0.0.1", "unityCatalog", "updatePermissions",
           {"securable_type": "table", "securable_full_name": "main.sales.orders",
            "changes": '[{"principal":"analysts","add":["SELECT"]}]'}, 200)
    _audit(rows, day(6, 11), seed.OTHER_USER_NAME, "10.0.0.2", "accounts", "addPrincipalToGroup",
           {"targetGroupName": "admins", "targetUserName": ANALYST}, 200)
    _audit(rows, day(12, 11), seed.USER_NAME, "10.0.0.1", "jobs", "changeJobAcl",
           {"jobId": "9000001", "aclPermissionSet": "CAN_MANAGE_RUN"}, 200)


# (entity job_id, [(source table, [(source col, target col)])], target table)
LINEAGE_FLOWS = [
    ("9000001", [("main.sales.orders_raw", [("order_id", "order_id"), ("amount", "amount")])], "main.sales.orders"),
    ("9000002", [("main.web.clickstream_raw", [("session_id", "session_id")])], "main.web.sessions"),
    ("9000004", [("main.sales.orders", [("amount", "revenue")]), ("main.sales.customers", [("region", "region")])],
     "main.sales.daily_revenue"),
]


def _side(full: str | None) -> tuple:
    if full is None:
        return (None, None, None, None, None, None)
    cat, sch, name = full.split(".")
    return (full, cat, sch, name, None, "TABLE")


def _seed_lineage(rows, midnight):
    """A lineage edge per source table for every successful seeded run of the writing jobs; dashboard reads."""
    seq = 0
    by_job = {j[0]: j for j in HISTORY_JOBS}
    for job_id, sources, target in LINEAGE_FLOWS:
        _, _, hours, runs_on, _, _, fails = by_job[job_id]
        for d in range(HISTORY_DAYS, 0, -1):
            if not runs_on(d) or fails(d):
                continue
            for h in hours:
                t = midnight - dt.timedelta(days=d) + dt.timedelta(hours=h, minutes=20)
                run_id = f"lr-{job_id}-{d}-{h}"
                for source, cols in sources:
                    seq += 1
                    meta = {"job_info": {"job_id": job_id, "job_run_id": run_id}, "dashboard_id": None,
                            "legacy_dashboard_id": None, "notebook_id": None, "sql_query_id": None,
                            "dlt_pipeline_info": None}
                    common = (ACCOUNT_ID, METASTORE_ID, seed.WORKSPACE_ID, "JOB", job_id, run_id)
                    tail = (seed.USER_NAME, t, t.date(), f"tl-{seq}", f"te-{seq}", None, meta)
                    rows["access.table_lineage"].append(common + _side(source) + _side(target) + tail)
                    for sc, tc in cols:
                        rows["access.column_lineage"].append(
                            common + _side(source) + (sc,) + _side(target) + (tc,)
                            + (seed.USER_NAME, t, t.date(), f"cl-{seq}-{tc}", f"ce-{seq}-{tc}", None, meta))
    for d in range(1, HISTORY_DAYS + 1):  # a dashboard reads the revenue table daily (no target)
        seq += 1
        t = midnight - dt.timedelta(days=d) + dt.timedelta(hours=9)
        meta = {"job_info": None, "dashboard_id": "01ef-dash-revenue", "legacy_dashboard_id": None,
                "notebook_id": None, "sql_query_id": None, "dlt_pipeline_info": None}
        rows["access.table_lineage"].append(
            (ACCOUNT_ID, METASTORE_ID, seed.WORKSPACE_ID, "DASHBOARD", "01ef-dash-revenue", None)
            + _side("main.sales.daily_revenue") + _side(None)
            + (ANALYST, t, t.date(), f"tl-{seq}", f"te-{seq}", None, meta))


SERVING_ENDPOINTS = [
    # served_entity_id, endpoint, served entity name, entity type, entity name, version, task, changed d days ago
    ("se-churn-2", "churn-model", "churn-model-2", "CUSTOM_MODEL", "main.ml.churn", "2", None, HISTORY_DAYS),
    ("se-churn-3", "churn-model", "churn-model-3", "CUSTOM_MODEL", "main.ml.churn", "3", None, 20),
    ("se-llm-1", "llm-chat", "databricks-meta-llama-3-3-70b-instruct", "FOUNDATION_MODEL",
     "system.ai.databricks-meta-llama-3-3-70b-instruct", "1", "llm/v1/chat", HISTORY_DAYS),
]


def _seed_serving(rows, midnight):
    """Two endpoints: churn-model (20 requests a day) and llm-chat (10 a day); see the module docstring."""
    for i, (eid, endpoint, sname, etype, ename, version, task, d) in enumerate(SERVING_ENDPOINTS):
        t = midnight - dt.timedelta(days=d)
        custom = {"min_concurrency": 0, "max_concurrency": 4, "compute_type": "CPU"} if etype == "CUSTOM_MODEL" else None
        found = {"min_provisioned_throughput": 0, "max_provisioned_throughput": 100} if task else None
        rows["serving.served_entities"].append(
            (eid, ACCOUNT_ID, seed.WORKSPACE_ID, seed.USER_NAME, endpoint, f"ep-{endpoint}", sname, etype, ename,
             version, i + 1, task, None, found, custom, None, t, None))
    n = 0
    for d in range(HISTORY_DAYS, 0, -1):
        base = midnight - dt.timedelta(days=d)
        for i in range(20):
            n += 1
            status = 500 if d % 5 == 0 and i < 2 else 200
            rows["serving.endpoint_usage"].append(
                (ACCOUNT_ID, seed.WORKSPACE_ID, None, f"dr-{n}", seed.USER_NAME, status,
                 base + dt.timedelta(hours=i, minutes=5), None, None, 512, 0 if status != 200 else 16,
                 _map({}), False, "se-churn-3" if d <= 20 else "se-churn-2"))
        for i in range(10):
            n += 1
            status = 429 if i == 9 and d % 3 == 0 else 200
            rows["serving.endpoint_usage"].append(
                (ACCOUNT_ID, seed.WORKSPACE_ID, f"chat-{n}", f"dr-{n}", ANALYST, status,
                 base + dt.timedelta(hours=2 * i, minutes=30), 100 + i, 0 if status != 200 else 50, 400 + 4 * i,
                 0 if status != 200 else 200, _map({"app": "support-bot"}), True, "se-llm-1"))


MLFLOW_EXPERIMENTS = [
    ("1001", f"/Users/{seed.USER_NAME}/churn", HISTORY_DAYS, None),
    ("1002", "/Shared/llm-eval", HISTORY_DAYS, None),
    ("1003", f"/Users/{seed.OTHER_USER_NAME}/scratch", HISTORY_DAYS, 15),
]


def _seed_mlflow(rows, midnight):
    """Experiments and runs: churn training runs with weekly-ml-training, daily llm-eval runs for 14 days."""
    ago = lambda d, h=0: midnight - dt.timedelta(days=d) + dt.timedelta(hours=h)  # noqa: E731
    for exp_id, name, created, deleted in MLFLOW_EXPERIMENTS:
        rows["mlflow.experiments_latest"].append(
            (ACCOUNT_ID, ago(deleted or created), None if deleted is None else ago(deleted), exp_id,
             seed.WORKSPACE_ID, name, ago(created)))

    def run(exp_id, run_id, name, user, start, minutes, status, metrics):
        end = start + dt.timedelta(minutes=minutes)
        agg = [{"metric_name": k, "latest_value": v, "latest_step": 10, "latest_timestamp": end, "max_value": v,
                "min_value": v / 2} for k, v in metrics.items()]
        rows["mlflow.runs_latest"].append(
            (ACCOUNT_ID, end, None, seed.WORKSPACE_ID, run_id, exp_id, user, start, end, name, status,
             _map({"max_depth": "6"}), _map({"mlflow.source.type": "JOB"}), agg))

    for d in range(HISTORY_DAYS, 0, -1):
        if d % 7 == 3:
            run("1001", f"run-churn-{d}", f"churn-train-d{d}", seed.USER_NAME, ago(d, 2), 18,
                "FAILED" if d == 10 else "FINISHED", {} if d == 10 else {"auc": round(0.80 + d / 1000, 3)})
        if d <= 14:
            run("1002", f"run-eval-{d}", f"llm-eval-d{d}", ANALYST, ago(d, 4), 30,
                "KILLED" if d == 4 else "FINISHED", {"accuracy": 0.9})
    for d in (40, 41):
        run("1003", f"run-scratch-{d}", f"scratch-{d}", seed.OTHER_USER_NAME, ago(d, 12), 5, "FINISHED", {})


# DuckDB reserves the catalog name "system"; the SQL engine renames references to this one.
ENGINE_CATALOG = "dbx_system"


def _create(con) -> None:
    con.execute(f"ATTACH ':memory:' AS {ENGINE_CATALOG}")
    for schema in sorted({name.split(".")[0] for name in DDL}):
        con.execute(f"CREATE SCHEMA {ENGINE_CATALOG}.{schema}")
    for name, ddl in DDL.items():
        con.execute(f"CREATE TABLE {ENGINE_CATALOG}.{name} ({ddl})")


def _table_info(con, name: str) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in con.execute(f"PRAGMA table_info('{ENGINE_CATALOG}.{name}')").fetchall()]


def _insert_json_rows(con, name: str, records, tmp: str) -> None:
    """Insert ``records`` (dicts keyed by column, JSON-ready values) through newline-delimited JSON."""
    info = _table_info(con, name)
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in info) + "}"
    con.execute(f"INSERT INTO {ENGINE_CATALOG}.{name} SELECT * FROM read_json('{path}', "
                f"format='newline_delimited', columns={spec})")


def load(con, snapshot: dict, now_ms: int) -> None:
    """Create the system catalog (as ``ENGINE_CATALOG``) in DuckDB connection ``con`` and fill every table."""
    _create(con)
    rows = build_rows(snapshot, now_ms)
    # rows go through newline-delimited JSON and DuckDB's read_json with the declared column
    # types: binding struct/map values row by row (executemany) is about thirty times slower
    with tempfile.TemporaryDirectory(prefix="sandbox-sql-") as tmp:
        for name in DDL:
            if rows[name]:
                cols = [c for c, _ in _table_info(con, name)]
                _insert_json_rows(con, name, ({c: _json_value(v) for c, v in zip(cols, row)} for row in rows[name]),
                                  tmp)


def _json_value(v):
    """JSON form of a row value built by ``build_rows`` (maps arrive as ``{"key": [...], "value": [...]}``)."""
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, dict) and set(v) == {"key", "value"}:
        return dict(zip(v["key"], v["value"]))
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    return v


# --- data sets (``sandbox serve --system-tables DIR``) ---------------------------------------

DATASET_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


class DatasetError(ValueError):
    """A system-table data set that cannot be loaded (unknown table or column, bad value)."""


def dataset_files(directory: str | os.PathLike) -> dict[str, str]:
    """``{"billing.usage": path, ...}`` for the files of a data set directory.

    Files are named ``system.<schema>.<table>.<jsonl|json|csv|parquet>``; other files are ignored.
    Raises ``DatasetError`` for a missing directory, an unknown table or a table given twice.
    """
    if not os.path.isdir(directory):
        raise DatasetError(f"system tables directory {directory} does not exist")
    found: dict[str, str] = {}
    for fname in sorted(os.listdir(directory)):
        suffix = next((x for x in DATASET_SUFFIXES if fname.endswith(x)), None)
        if suffix is None or not fname.startswith("system."):
            continue
        table = fname[len("system."):-len(suffix)]
        if table not in DDL:
            raise DatasetError(f"{fname}: no system table system.{table} (known: "
                               + ", ".join(f"system.{t}" for t in DDL) + ")")
        if table in found:
            raise DatasetError(f"system.{table} is given twice ({os.path.basename(found[table])}, {fname})")
        found[table] = os.path.join(directory, fname)
    return found


def _scalar(value, ctype: str, where: str):
    """A CSV/JSON cell as the JSON value DuckDB's read_json casts to ``ctype``."""
    if value is None or value == "":
        return None
    t = ctype.upper()
    nested = t.startswith(("STRUCT", "MAP")) or t.endswith("[]")
    if isinstance(value, str) and nested:
        try:
            value = json.loads(value)
        except ValueError:
            raise DatasetError(f"{where}: {value!r} is not a JSON object/array") from None
    if nested:
        return value
    try:
        if t == "TIMESTAMP":
            ts = dt.datetime.fromisoformat(str(value).replace(" ", "T"))
            if ts.tzinfo is not None:
                ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return ts.isoformat(sep=" ")
        if t == "DATE":
            return dt.date.fromisoformat(str(value)[:10]).isoformat()
        if t in ("BIGINT", "INTEGER"):
            return int(value)
        if t == "DOUBLE" or t.startswith("DECIMAL"):
            return float(value) if isinstance(value, str) else value
        if t == "BOOLEAN":
            return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "t", "yes")
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: {value!r} is not a {t}") from None
    return value if isinstance(value, str) else (json.dumps(value) if isinstance(value, (dict, list)) else str(value))


def _records(path: str, info: list[tuple[str, str]]):
    import csv

    types = dict(info)
    name = os.path.basename(path)
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            raw = list(csv.DictReader(fh))
    else:
        raw = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        raw.append(json.loads(line))
                    except ValueError as e:
                        raise DatasetError(f"{name}:{n}: not JSON ({e})") from None
    out = []
    for n, rec in enumerate(raw, 1):
        if not isinstance(rec, dict):
            raise DatasetError(f"{name}:{n}: a row must be a JSON object")
        unknown = sorted(set(rec) - set(types))
        if unknown:
            raise DatasetError(f"{name}:{n}: unknown column(s) {', '.join(unknown)}")
        out.append({c: _scalar(rec.get(c), t, f"{name}:{n}:{c}") for c, t in info})
    return out


def load_dataset(con, directory: str | os.PathLike) -> None:
    """Create the system catalog in ``con`` and fill it from a data set directory (see ``dataset_files``);
    tables without a file stay empty. Raises ``DatasetError``."""
    import duckdb

    files = dataset_files(directory)
    _create(con)
    with tempfile.TemporaryDirectory(prefix="sandbox-sql-") as tmp:
        for table, path in files.items():
            info = _table_info(con, table)
            try:
                if path.endswith(".parquet"):
                    have = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]
                    unknown = sorted(set(have) - {c for c, _ in info})
                    if unknown:
                        raise DatasetError(f"{os.path.basename(path)}: unknown column(s) {', '.join(unknown)}")
                    con.execute(f"INSERT INTO {ENGINE_CATALOG}.{table} BY NAME SELECT * FROM read_parquet(?)", [path])
                else:
                    _insert_json_rows(con, table, _records(path, info), tmp)
            except duckdb.Error as e:
                raise DatasetError(f"{os.path.basename(path)}: {e}") from None


def dataset_key(directory: str | os.PathLike) -> tuple:
    """A cache key that changes when a data set file is added, removed or rewritten."""
    files = dataset_files(directory)
    return tuple((t, p, os.stat(p).st_mtime_ns, os.stat(p).st_size) for t, p in sorted(files.items()))
