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
    for i, d in enumerate(range(1, 8)):
        t = midnight - dt.timedelta(days=d) + dt.timedelta(hours=10)
        rows["query.history"].append(
            (ACCOUNT_ID, seed.WORKSPACE_ID, f"01ef-{i:04d}", seed.USER_NAME, None, "FINISHED",
             {"type": "WAREHOUSE", "cluster_id": None, "warehouse_id": "a1b2c3d4e5f60001"}, seed.USER_ID,
             "SELECT * FROM sales.orders", "SELECT", None, "Databricks SQL Editor", 1000 * (i + 1), t,
             t + dt.timedelta(seconds=i + 1), 1000 * (i + 1), 10))
    return rows


# DuckDB reserves the catalog name "system"; the SQL engine renames references to this one.
ENGINE_CATALOG = "dbx_system"


def load(con, snapshot: dict, now_ms: int) -> None:
    """Create the system catalog (as ``ENGINE_CATALOG``) in DuckDB connection ``con`` and fill every table."""
    con.execute(f"ATTACH ':memory:' AS {ENGINE_CATALOG}")
    for schema in sorted({name.split(".")[0] for name in DDL}):
        con.execute(f"CREATE SCHEMA {ENGINE_CATALOG}.{schema}")
    rows = build_rows(snapshot, now_ms)
    # rows go through newline-delimited JSON and DuckDB's read_json with the declared column
    # types: binding struct/map values row by row (executemany) is about thirty times slower
    with tempfile.TemporaryDirectory(prefix="sandbox-sql-") as tmp:
        for name, ddl in DDL.items():
            table = f"{ENGINE_CATALOG}.{name}"
            con.execute(f"CREATE TABLE {table} ({ddl})")
            if not rows[name]:
                continue
            info = con.execute(f"PRAGMA table_info('{table}')").fetchall()
            cols = [r[1] for r in info]
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as fh:
                for row in rows[name]:
                    fh.write(json.dumps({c: _json_value(v) for c, v in zip(cols, row)}) + "\n")
            spec = "{" + ", ".join(f"'{r[1]}': '{r[2]}'" for r in info) + "}"
            con.execute(f"INSERT INTO {table} SELECT * FROM read_json('{path}', format='newline_delimited', "
                        f"columns={spec})")


def _json_value(v):
    """JSON form of a row value built by ``build_rows`` (maps arrive as ``{"key": [...], "value": [...]}``)."""
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, dict) and set(v) == {"key", "value"}:
        return dict(zip(v["key"], v["value"]))
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    return v
