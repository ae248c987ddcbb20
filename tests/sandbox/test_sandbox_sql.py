"""SQL warehouses and Statement Execution over the synthetic system tables, through the
unmodified WorkspaceClient. Expected figures follow from the seed documented in
``sandbox.system_tables`` / ``sandbox.example_queries``."""

from __future__ import annotations

import pytest
from databricks.sdk import errors
from databricks.sdk.service import compute, jobs, sql

from sandbox.example_queries import COST_PER_JOB, FAILED_JOBS_SUCCESS_RATIO

WH = "a1b2c3d4e5f60001"
DAYS = [sql.StatementParameterListItem(name="days", value="30", type="INT")]


def run_sql(w, statement, parameters=None, wait="30s"):
    return w.statement_execution.execute_statement(statement=statement, warehouse_id=WH, wait_timeout=wait,
                                                   parameters=parameters)


def test_warehouses_list_and_get(w):
    whs = {x.id: x for x in w.warehouses.list()}
    assert set(whs) == {"a1b2c3d4e5f60001", "a1b2c3d4e5f60002"}
    starter = w.warehouses.get(WH)
    assert starter.name == "Serverless Starter Warehouse"
    assert starter.state == sql.State.RUNNING
    assert starter.enable_serverless_compute is True and starter.cluster_size == "2X-Small"
    assert starter.odbc_params.path == f"/sql/1.0/warehouses/{WH}"
    assert whs["a1b2c3d4e5f60002"].state == sql.State.STOPPED
    with pytest.raises(errors.NotFound):
        w.warehouses.get("0000000000000000")


def test_cost_per_job_over_30_days(w):
    r = run_sql(w, COST_PER_JOB, DAYS)
    assert r.status.state == sql.StatementState.SUCCEEDED
    cols = r.manifest.schema.columns
    assert [c.name for c in cols] == ["job_id", "job_name", "list_cost_usd"]
    assert cols[2].type_name == sql.ColumnInfoTypeName.DECIMAL and cols[2].type_scale == 2
    assert r.manifest.format == sql.Format.JSON_ARRAY and r.manifest.total_row_count == 4
    assert r.result.data_array == [
        ["9000003", "weekly-ml-training", "24.00"],
        ["9000001", "nightly-orders-etl", "18.00"],
        ["9000004", "adhoc-reporting", "10.50"],
        ["9000002", "hourly-clickstream", "9.00"],
    ]


def test_failed_jobs_with_success_ratio(w):
    r = run_sql(w, FAILED_JOBS_SUCCESS_RATIO, DAYS)
    assert [c.name for c in r.manifest.schema.columns] == [
        "job_id", "job_name", "runs", "succeeded", "failed", "success_ratio"]
    assert r.result.data_array == [
        ["9000003", "weekly-ml-training", "4", "3", "1", "0.75"],
        ["9000004", "adhoc-reporting", "15", "12", "3", "0.8"],
        ["9000001", "nightly-orders-etl", "30", "26", "4", "0.8667"],
    ]
    # a wider window takes in the older failures (d = 35, 42; 40; none for the ML job)
    r = run_sql(w, FAILED_JOBS_SUCCESS_RATIO, [sql.StatementParameterListItem("days", type="INT", value="42")])
    assert r.result.data_array[-1] == ["9000001", "nightly-orders-etl", "42", "36", "6", "0.8571"]


def test_the_sandboxs_own_runs_are_billed_and_in_the_timeline(sb, w):
    sb.load_scenario({"rules": [{"job": "billed", "attempts": [1], "message": "boom"}]})
    job_id = w.jobs.create(name="billed", tasks=[jobs.Task(
        task_key="t", notebook_task=jobs.NotebookTask("/Shared/job-agent/notebooks/ingest"),
        new_cluster=compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge",
                                        num_workers=2))]).job_id
    failed = w.jobs.run_now(job_id).run_id
    sb.advance(600)
    ok_run = w.jobs.run_now(job_id).run_id
    sb.advance(600)
    r = run_sql(w, "SELECT usage_metadata.job_run_id, sku_name, CAST(usage_quantity AS DECIMAL(10,6)) "
                   "FROM system.billing.usage WHERE usage_metadata.job_id = :job ORDER BY 1",
                [sql.StatementParameterListItem(name="job", value=str(job_id))])
    # setup 10 s + 20 s (failure) or 30 s (success) + cleanup 1 s, on 3 i3.xlarge nodes of 1 DBU/h
    assert r.result.data_array == [
        [str(failed), "PREMIUM_JOBS_COMPUTE", f"{31 / 3600 * 3:.6f}"],
        [str(ok_run), "PREMIUM_JOBS_COMPUTE", f"{41 / 3600 * 3:.6f}"],
    ]
    r = run_sql(w, FAILED_JOBS_SUCCESS_RATIO, DAYS)
    assert ["billed", "2", "1", "1", "0.5"] == r.result.data_array[0][1:]


def test_wait_timeout_zero_returns_pending_then_the_result(w):
    r = run_sql(w, "SELECT COUNT(*) AS n FROM system.lakeflow.jobs", wait="0s")
    assert r.status.state == sql.StatementState.PENDING and r.result is None
    got = w.statement_execution.get_statement(r.statement_id)
    assert got.status.state == sql.StatementState.SUCCEEDED
    assert got.result.data_array == [["4"]] and got.manifest.schema.columns[0].type_name == sql.ColumnInfoTypeName.LONG


def test_sql_errors_are_failed_statements_not_http_errors(w):
    r = run_sql(w, "SELECT * FROM system.billing.nope")
    assert r.status.state == sql.StatementState.FAILED
    assert r.status.error.error_code == sql.ServiceErrorCode.BAD_REQUEST
    assert r.status.error.message.startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    r = run_sql(w, "SELECT :missing")
    assert r.status.error.message.startswith("[UNBOUND_SQL_PARAMETER]")
    r = run_sql(w, "SELEC 1")
    assert r.status.state == sql.StatementState.FAILED


def test_request_errors_are_http_errors(w):
    with pytest.raises(errors.InvalidParameterValue, match="wait_timeout"):
        run_sql(w, "SELECT 1", wait="3s")
    with pytest.raises(errors.NotFound):
        w.statement_execution.execute_statement(statement="SELECT 1", warehouse_id="nope")
    with pytest.raises(errors.NotFound):
        w.statement_execution.get_statement("00000000-0000-0000-0000-000000000000")


def test_every_system_table_is_queryable_with_real_column_names(w):
    checks = {
        "system.billing.usage": "usage_quantity",
        "system.billing.list_prices": "pricing.default",
        "system.lakeflow.jobs": "name",
        "system.lakeflow.job_run_timeline": "result_state",
        "system.lakeflow.job_task_run_timeline": "task_key",
        "system.access.audit": "user_identity.email",
        "system.query.history": "statement_text",
        "system.compute.clusters": "worker_node_type",
        "system.compute.node_timeline": "mem_used_percent",
    }
    for table, column in checks.items():
        r = run_sql(w, f"SELECT COUNT({column}) FROM {table}")
        assert r.status.state == sql.StatementState.SUCCEEDED, (table, r.status.error)
        assert int(r.result.data_array[0][0]) > 0, table


def test_statements_cannot_change_the_system_tables(w):
    r = run_sql(w, "DELETE FROM system.lakeflow.jobs")
    assert r.status.state == sql.StatementState.SUCCEEDED
    assert run_sql(w, "SELECT COUNT(*) FROM system.lakeflow.jobs").result.data_array == [["4"]]
