"""The lineage, serving and MLflow system tables and the richer audit log of the seed, and data
sets loaded instead of the seed (``running_sandbox(system_tables=DIR)``, ``sandbox serve
--system-tables DIR``): JSON lines, CSV and Parquet files with the real column names, nested
columns as JSON objects, tables without a file empty. Everything through the unmodified SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import sql

from sandbox import running_sandbox
from sandbox.system_tables import DDL, DatasetError

WH = "a1b2c3d4e5f60001"


def q(w, statement, params=None):
    r = w.statement_execution.execute_statement(statement=statement, warehouse_id=WH, wait_timeout="30s",
                                                parameters=params)
    assert r.status.state == sql.StatementState.SUCCEEDED, r.status.error
    return r.result.data_array or []


def test_new_seeded_tables_have_real_columns_and_rows(w):
    checks = {
        "system.access.table_lineage": "source_table_full_name, target_table_full_name, entity_metadata.job_info.job_id",
        "system.access.column_lineage": "source_column_name, target_column_name, entity_run_id",
        "system.serving.endpoint_usage": "status_code, request_time, input_token_count, usage_context, served_entity_id",
        "system.serving.served_entities": "endpoint_name, served_entity_name, entity_type, custom_model_config",
        "system.mlflow.experiments_latest": "experiment_id, name, create_time, delete_time",
        "system.mlflow.runs_latest": "run_id, experiment_id, status, params, tags, aggregated_metrics",
    }
    for table, cols in checks.items():
        assert len(q(w, f"SELECT {cols} FROM {table} LIMIT 3")) > 0, table


def test_seeded_audit_has_users_failed_logins_and_a_new_ip(w):
    users = q(w, "SELECT DISTINCT user_identity.email FROM system.access.audit ORDER BY 1")
    assert [u[0] for u in users] == ["analyst@example.com", "other-user@example.com", "sandbox-user@example.com"]
    failed = q(w, """SELECT user_identity.email, response.status_code, COUNT(*) FROM system.access.audit
                     WHERE response.status_code IN (401, 403) AND event_date >= date_sub(current_date(), 30)
                     GROUP BY 1, 2 ORDER BY 1, 2""")
    assert failed == [["analyst@example.com", "401", "3"], ["other-user@example.com", "403", "2"]]
    ips = q(w, "SELECT DISTINCT source_ip_address FROM system.access.audit ORDER BY 1")
    assert [i[0] for i in ips] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "198.51.100.23", "203.0.113.7"]
    # the three job events of the original seed are still there
    assert q(w, "SELECT action_name, response.status_code FROM system.access.audit WHERE service_name = 'jobs' "
                "AND action_name IN ('runNow', 'create', 'delete') ORDER BY event_time") == [
        ["delete", "403"], ["create", "200"], ["runNow", "200"]]


def test_seeded_serving_and_lineage_figures(w):
    rows = q(w, """SELECT e.endpoint_name, COUNT(*), COUNT_IF(u.status_code >= 400), SUM(u.input_token_count),
                          SUM(u.output_token_count)
                   FROM system.serving.endpoint_usage u
                   JOIN (SELECT DISTINCT served_entity_id, endpoint_name FROM system.serving.served_entities) e
                     ON e.served_entity_id = u.served_entity_id
                   WHERE CAST(u.request_time AS DATE) >= date_sub(current_date(), 30)
                   GROUP BY 1 ORDER BY 1""")
    assert rows == [["churn-model", "600", "12", None, None], ["llm-chat", "300", "10", "31350", "14500"]]
    writes = q(w, """SELECT target_table_full_name, COUNT(DISTINCT entity_run_id) FROM system.access.table_lineage
                     WHERE target_table_full_name IS NOT NULL AND event_date >= date_sub(current_date(), 30)
                     GROUP BY 1 ORDER BY 1""")
    assert writes == [["main.sales.daily_revenue", "12"], ["main.sales.orders", "26"], ["main.web.sessions", "120"]]
    assert q(w, "SELECT COUNT(*) FROM system.mlflow.runs_latest WHERE status = 'KILLED'") == [["1"]]


def _write_dataset(d: Path) -> None:
    (d / "system.access.audit.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"event_time": "2026-03-01T10:00:00Z", "event_date": "2026-03-01", "source_ip_address": "192.0.2.1",
         "user_identity": {"email": "zoë@corp.com"}, "service_name": "accounts", "action_name": "login",
         "request_params": {"user": "zoë", "quote": "it's"}, "response": {"status_code": 401, "error_message": "bad"}},
        {"event_time": "2026-03-01T12:30:00+02:00", "event_date": "2026-03-01", "source_ip_address": "192.0.2.2",
         "user_identity": {"email": "bob@corp.com"}, "service_name": "jobs", "action_name": "runNow",
         "response": {"status_code": 200}},
    ]) + "\n")
    (d / "system.access.table_lineage.csv").write_text(
        "source_table_full_name,target_table_full_name,entity_type,event_time,event_date,entity_metadata\n"
        'a.b.src,a.b.dst,JOB,2026-03-01 06:00:00,2026-03-01,"{""job_info"": {""job_id"": ""11"", ""job_run_id"": ""7""}}"\n'
        "a.b.dst,,DASHBOARD,2026-03-02T07:00:00Z,2026-03-02,\n")
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES ('r1', 200, TIMESTAMP '2026-03-01 01:00:00', 5, 'se-1'),
                                               ('r2', 500, TIMESTAMP '2026-03-01 02:00:00', 7, 'se-1'))
                          AS t(databricks_request_id, status_code, request_time, input_token_count, served_entity_id))
                    TO '{d / "system.serving.endpoint_usage.parquet"}' (FORMAT parquet)""")
    con.close()


def test_running_sandbox_loads_a_dataset_instead_of_the_seed(tmp_path):
    _write_dataset(tmp_path)
    with running_sandbox(clock_speed=0, system_tables=tmp_path) as sb:
        w = sb.workspace_client()
        assert q(w, """SELECT user_identity.email, response.status_code, request_params['quote'], event_time
                       FROM system.access.audit ORDER BY event_time""") == [
            ["zoë@corp.com", "401", "it's", "2026-03-01T10:00:00.000Z"],
            ["bob@corp.com", "200", None, "2026-03-01T10:30:00.000Z"]]  # +02:00 is stored as UTC
        assert q(w, """SELECT source_table_full_name, target_table_full_name, entity_metadata.job_info.job_id,
                              event_time FROM system.access.table_lineage ORDER BY event_time""") == [
            ["a.b.src", "a.b.dst", "11", "2026-03-01T06:00:00.000Z"],
            ["a.b.dst", None, None, "2026-03-02T07:00:00.000Z"]]
        assert q(w, "SELECT COUNT(*), SUM(input_token_count), COUNT_IF(status_code >= 500), "
                    "MIN(account_id) FROM system.serving.endpoint_usage") == [["2", "12", "1", None]]
        # tables without a file exist with their columns and are empty (no seeded jobs either)
        for table in ("billing.usage", "lakeflow.jobs", "mlflow.runs_latest", "access.column_lineage"):
            assert q(w, f"SELECT COUNT(*) FROM system.{table}") == [["0"]], table
        r = w.statement_execution.execute_statement(statement="SELECT usage_quantity, custom_tags FROM "
                                                    "system.billing.usage", warehouse_id=WH, wait_timeout="30s")
        assert [c.name for c in r.manifest.schema.columns] == ["usage_quantity", "custom_tags"]


def test_dataset_errors_are_reported_before_serving(tmp_path):
    (tmp_path / "system.billing.nope.jsonl").write_text("{}\n")
    with pytest.raises(DatasetError, match="system.billing.nope"):
        with running_sandbox(clock_speed=0, system_tables=tmp_path):
            pass
    os.remove(tmp_path / "system.billing.nope.jsonl")
    (tmp_path / "system.billing.usage.jsonl").write_text(json.dumps({"usage_quantiy": 1}) + "\n")
    with pytest.raises(DatasetError, match="usage_quantiy"):
        with running_sandbox(clock_speed=0, system_tables=tmp_path):
            pass
    (tmp_path / "system.billing.usage.jsonl").write_text(json.dumps({"usage_date": "yesterday"}) + "\n")
    with pytest.raises(DatasetError, match="does not exist"):
        with running_sandbox(clock_speed=0, system_tables=tmp_path / "missing"):
            pass
    with pytest.raises(DatasetError, match="usage_date"):
        with running_sandbox(clock_speed=0, system_tables=tmp_path):
            pass


def test_every_table_of_the_ddl_can_be_given_as_a_file(tmp_path):
    for table in DDL:
        (tmp_path / f"system.{table}.jsonl").write_text(json.dumps({"account_id": "acc"}) + "\n")
    with running_sandbox(clock_speed=0, system_tables=tmp_path) as sb:
        w = sb.workspace_client()
        for table in DDL:
            assert q(w, f"SELECT account_id FROM system.{table}") == [["acc"]], table


def test_serve_command_with_system_tables(tmp_path):
    _write_dataset(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.cli", "serve", "--port", "0", "--clock-speed", "0",
         "--system-tables", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=root)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        host = lines[1].removeprefix("DATABRICKS_HOST=")
        token = lines[2].removeprefix("DATABRICKS_TOKEN=")
        w = WorkspaceClient(host=host, token=token, auth_type="pat")
        assert q(w, "SELECT COUNT(*) FROM system.access.audit WHERE response.status_code = 401") == [["1"]]
        assert q(w, "SELECT COUNT(*) FROM system.lakeflow.job_run_timeline") == [["0"]]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "sandbox.cli", "serve", "--port", "0",
                          "--system-tables", str(tmp_path / "missing")],
                         capture_output=True, text=True, env=env, cwd=root, timeout=60)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_count_if_is_zero_over_no_rows_like_databricks(w):
    assert q(w, "SELECT count_if(x > 1), count(*) FROM (SELECT 1 AS x) AS t WHERE x > 5") == [["0", "0"]]
    assert q(w, "SELECT count_if(x > 1) FROM (SELECT CAST(NULL AS INT) AS x) AS t") == [["0"]]
