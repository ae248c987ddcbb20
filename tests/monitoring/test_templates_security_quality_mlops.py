"""The security, quality and mlops templates of the query catalogue on a real sandbox over HTTP
with the unmodified SDK: every template runs and returns its documented columns (on the seed),
exact figures on a planted data set (``running_sandbox(system_tables=DIR)``), and injection
values in STRING parameters are inert."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from databricks.sdk.service import sql

from sandbox import running_sandbox
from tasks.monitoring.catalogue import TemplateParamError, bind, get, templates

WH = "a1b2c3d4e5f60001"
DOMAINS = ("security", "quality", "mlops")
EXPECTED = {
    "security": {"access_anomalies", "user_activity_summary", "permission_changes", "failed_logins", "new_source_ips"},
    "quality": {"table_lineage", "column_lineage", "data_freshness"},
    "mlops": {"serving_endpoint_usage", "serving_latency", "mlflow_experiments", "mlflow_runs"},
}
REQUIRED = {"user_activity_summary": {"user_email": "analyst@example.com"},
            "table_lineage": {"table_name": "main.sales.daily_revenue"},
            "column_lineage": {"table_name": "main.sales.orders"}}


def _today(sb) -> dt.date:
    return dt.datetime.fromtimestamp(sb.now_ms() / 1000, dt.timezone.utc).date()


def run(sb, name, given=None):
    t = get(name)
    w = sb.workspace_client()
    r = w.statement_execution.execute_statement(
        statement=t.sql, warehouse_id=WH, wait_timeout="30s",
        parameters=[sql.StatementParameterListItem(**p) for p in bind(t, given or {}, today=_today(sb))])
    assert r.status.state == sql.StatementState.SUCCEEDED, (name, r.status.error)
    assert tuple(c.name for c in r.manifest.schema.columns) == t.columns, name
    return r.result.data_array or []


# --- the catalogue ---------------------------------------------------------------------------

def test_registry_has_the_templates_with_complete_metadata():
    for domain, names in EXPECTED.items():
        ts = templates(domain)
        assert names <= {t.name for t in ts}
        for t in ts:
            if t.name not in names:
                continue
            assert t.answers and "\n" not in t.answers and t.order and t.keywords and t.reads and t.columns
            assert all(r.startswith("system.") for r in t.reads)
            assert set(t.totals) <= set(t.columns)
            if t.chart:
                assert {t.chart["x"], t.chart["y"]} <= set(t.columns)
            for p in t.params:
                assert p.description
                if p.type in ("INT", "DOUBLE"):
                    assert p.minimum is not None and p.maximum is not None
    contract = {p.name: p.type for p in get("access_anomalies").params}
    assert contract == {"start_date": "DATE", "end_date": "DATE", "threshold": "INT"}
    assert [(p.name, p.type) for p in get("user_activity_summary").params] == [
        ("user_email", "STRING"), ("days_back", "INT")]
    assert get("table_lineage").param("direction").choices == ("upstream", "downstream", "both")
    assert get("serving_latency").chart == {"x": "request_date", "y": "requests"}
    with pytest.raises(TemplateParamError, match="user_email"):
        bind(get("user_activity_summary"), {})
    with pytest.raises(TemplateParamError, match="direction"):
        bind(get("table_lineage"), {"table_name": "a.b.c", "direction": "sideways"})
    with pytest.raises(TemplateParamError, match="threshold"):
        bind(get("access_anomalies"), {"threshold": "0"})


# --- on the seed -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seeded():
    with running_sandbox(clock_speed=0) as sb:
        yield sb


@pytest.mark.parametrize("name", sorted(n for names in EXPECTED.values() for n in names))
def test_every_template_runs_on_the_seed_with_its_columns(seeded, name):
    rows = run(seeded, name, REQUIRED.get(name))
    assert rows, name


def test_seed_figures(seeded):
    assert [r[:4] for r in run(seeded, "access_anomalies")] == [["analyst@example.com", "14", "3", "3"]]
    assert [r[0] for r in run(seeded, "access_anomalies", {"threshold": "1"})] == [
        "analyst@example.com", "other-user@example.com"]
    assert [r[:2] + r[4:] for r in run(seeded, "new_source_ips")] == [
        ["analyst@example.com", "198.51.100.23", "1", "0"], ["analyst@example.com", "203.0.113.7", "3", "3"],
        ["other-user@example.com", "10.0.0.1", "1", "1"]]
    usage = run(seeded, "serving_endpoint_usage")
    assert [r[:4] + r[5:7] for r in usage] == [["churn-model", "600", "12", "0.02", "0", "0"],
                                               ["llm-chat", "300", "10", "0.0333", "31350", "14500"]]
    assert [r[1:7] for r in run(seeded, "mlflow_experiments")] == [
        ["/Shared/llm-eval", "14", "13", "0", "1", "0.9286"],
        ["/Users/sandbox-user@example.com/churn", "4", "3", "1", "0", "0.75"]]
    assert [(r[0], r[3]) for r in run(seeded, "data_freshness")] == [
        ("main.sales.daily_revenue", "12"), ("main.sales.orders", "26"), ("main.web.sessions", "120")]


# --- on a planted data set -------------------------------------------------------------------

def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _plant(d, today: dt.date) -> None:
    def at(days: int, hour: int, minute: int = 0) -> str:
        return (dt.datetime.combine(today - dt.timedelta(days=days), dt.time(hour, minute))).isoformat() + "Z"

    def audit(days, hour, minute, email, ip, service, action, status, params=None):
        return {"event_time": at(days, hour, minute), "event_date": (today - dt.timedelta(days=days)).isoformat(),
                "source_ip_address": ip, "user_identity": {"email": email}, "service_name": service,
                "action_name": action, "request_params": params or {}, "response": {"status_code": status}}

    rows = [audit(d_, 8, 0, "alice@corp.com", "10.1.0.1", "accounts", "tokenLogin", 200) for d_ in range(16, 21)]
    rows += [audit(2, 7, m, "alice@corp.com", "192.0.2.50", "accounts", "login", 401) for m in range(4)]
    rows += [audit(25, 8, 0, "bob@corp.com", "10.1.0.2", "accounts", "tokenLogin", 200)]
    rows += [audit(1, 9, m, "bob@corp.com", "10.1.0.2", "accounts", "tokenLogin", 403) for m in range(2)]
    rows += [audit(3, 11, 0, "bob@corp.com", "10.1.0.2", "unityCatalog", "updatePermissions", 200,
                   {"securable_full_name": "main.x.t", "changes": "[{\"add\": [\"SELECT\"]}]"})]
    rows += [audit(40, 9, 0, "carol@corp.com", "10.1.0.9", "jobs", "delete", 403)]  # outside 30 days
    rows += [audit(1, 10, 0, "zoë@corp.com", "2001:db8::1", "jobs", "runNow", 200)]
    _jsonl(d / "system.access.audit.jsonl", rows)

    def edge(src, dst, job, run, days, hour, cols=None):
        row = {"source_table_full_name": src, "target_table_full_name": dst, "entity_type": "JOB" if job else "DASHBOARD",
               "entity_id": job or "dash-1", "entity_run_id": run, "event_time": at(days, hour),
               "event_date": (today - dt.timedelta(days=days)).isoformat(), "event_id": f"e-{src}-{dst}-{days}-{hour}",
               "entity_metadata": {"job_info": {"job_id": job, "job_run_id": run}} if job else None}
        if cols:
            row.update(source_column_name=cols[0], target_column_name=cols[1])
        return row

    table, column = [], []
    for days in (1, 2, 3):  # job 11 writes a.b.mid from src1 and src2, at 06:00
        for src in ("a.b.src1", "a.b.src2"):
            table.append(edge(src, "a.b.mid", "11", f"r11-{days}", days, 6))
        column.append(edge("a.b.src1", "a.b.mid", "11", f"r11-{days}", days, 6, ("x", "x")))
        column.append(edge("a.b.src2", "a.b.mid", "11", f"r11-{days}", days, 6, ("z", "z")))
    for days in (3, 4):  # job 12 writes a.b.out from a.b.mid
        table.append(edge("a.b.mid", "a.b.out", "12", f"r12-{days}", days, 6))
        column.append(edge("a.b.mid", "a.b.out", "12", f"r12-{days}", days, 6, ("x", "y")))
    table.append(edge("a.b.out", None, None, None, 1, 9))  # a dashboard reads a.b.out
    _jsonl(d / "system.access.table_lineage.jsonl", table)
    _jsonl(d / "system.access.column_lineage.jsonl", column)

    _jsonl(d / "system.serving.served_entities.jsonl", [
        {"served_entity_id": "se-a1", "endpoint_name": "ep-a", "served_entity_name": "a-1", "change_time": at(30, 0)},
        {"served_entity_id": "se-a2", "endpoint_name": "ep-a", "served_entity_name": "a-2", "change_time": at(5, 0)},
        {"served_entity_id": "se-a2", "endpoint_name": "ep-a", "served_entity_name": "a-2", "change_time": at(4, 0),
         "endpoint_config_version": 3},
        {"served_entity_id": "se-b", "endpoint_name": "ep-b", "served_entity_name": "b", "change_time": at(30, 0)},
    ])
    usage = [{"request_time": at(2, h), "status_code": s, "served_entity_id": "se-a1" if h < 3 else "se-a2",
              "requester": "app@corp.com"} for h, s in enumerate([200, 200, 500, 200, 429, 500, 200])]
    usage += [{"request_time": at(1, h), "status_code": 200, "served_entity_id": "se-b", "requester": r,
               "input_token_count": 10, "output_token_count": 20} for h, r in enumerate(["u1", "u2", "u1"])]
    usage += [{"request_time": at(45, 1), "status_code": 200, "served_entity_id": "se-b"}]  # outside the window
    _jsonl(d / "system.serving.endpoint_usage.jsonl", usage)

    _jsonl(d / "system.mlflow.experiments_latest.jsonl", [
        {"experiment_id": "1", "name": "/Shared/exp-one", "create_time": at(20, 0), "update_time": at(20, 0)},
        {"experiment_id": "2", "name": "/Shared/exp-two", "create_time": at(20, 0), "delete_time": at(2, 0)},
        {"experiment_id": "3", "name": "/Shared/idle", "create_time": at(20, 0)},
    ])
    _jsonl(d / "system.mlflow.runs_latest.jsonl", [
        {"run_id": "a", "experiment_id": "1", "run_name": "first", "status": "FINISHED", "created_by": "alice@corp.com",
         "start_time": at(3, 1), "end_time": at(3, 1, 30), "aggregated_metrics": [{"metric_name": "auc", "latest_value": 0.9}]},
        {"run_id": "b", "experiment_id": "1", "run_name": "second", "status": "FAILED", "created_by": "alice@corp.com",
         "start_time": at(2, 1), "end_time": at(2, 1, 6)},
        {"run_id": "c", "experiment_id": "1", "run_name": "third", "status": "FINISHED", "created_by": "bob@corp.com",
         "start_time": at(1, 1), "end_time": at(1, 2, 15)},
        {"run_id": "d", "experiment_id": "1", "run_name": "gone", "status": "FINISHED", "start_time": at(1, 3),
         "delete_time": at(1, 4)},
        {"run_id": "e", "experiment_id": "2", "run_name": "other", "status": "FINISHED", "start_time": at(2, 1)},
    ])


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("system-tables")
    with running_sandbox(clock_speed=0, system_tables=d) as sb:
        _plant(d, _today(sb))  # the data set is read at the first statement
        yield sb


def test_security_figures(planted):
    assert run(planted, "access_anomalies", {"threshold": "2"}) == [
        ["alice@corp.com", "9", "4", "4", "2", _ts(planted, 20, 8), _ts(planted, 2, 7, 3)],
        ["bob@corp.com", "4", "2", "2", "1", _ts(planted, 25, 8), _ts(planted, 1, 9, 1)]]
    assert [r[0] for r in run(planted, "access_anomalies")] == ["alice@corp.com"]  # default threshold 3
    assert run(planted, "access_anomalies", {"threshold": "5"}) == []
    # carol's failure is 40 days old: only a window reaching back that far sees it
    assert [r[0] for r in run(planted, "access_anomalies", {"threshold": "1", "start_date": "today-45"})] == [
        "alice@corp.com", "bob@corp.com", "carol@corp.com"]
    day = lambda n: (_today(planted) - dt.timedelta(days=n)).isoformat()  # noqa: E731
    assert run(planted, "failed_logins") == [
        [day(1), "bob@corp.com", "10.1.0.2", "tokenLogin", "403", "2"],
        [day(2), "alice@corp.com", "192.0.2.50", "login", "401", "4"]]
    assert run(planted, "failed_logins", {"user_email": "ALICE@corp.com"}) == [
        [day(2), "alice@corp.com", "192.0.2.50", "login", "401", "4"]]
    assert run(planted, "new_source_ips") == [
        ["zoë@corp.com", "2001:db8::1", _ts(planted, 1, 10), _ts(planted, 1, 10), "1", "0"],
        ["alice@corp.com", "192.0.2.50", _ts(planted, 2, 7), _ts(planted, 2, 7, 3), "4", "4"]]
    assert run(planted, "permission_changes") == [
        [_ts(planted, 3, 11), "bob@corp.com", "unityCatalog", "updatePermissions", "main.x.t",
         '[{"add": ["SELECT"]}]', "200"]]
    assert run(planted, "permission_changes", {"user_email": "alice@corp.com"}) == []
    assert run(planted, "user_activity_summary", {"user_email": "alice@corp.com", "days_back": "30"}) == [
        ["accounts", "tokenLogin", "5", "0", "1", _ts(planted, 20, 8), _ts(planted, 16, 8)],
        ["accounts", "login", "4", "4", "1", _ts(planted, 2, 7), _ts(planted, 2, 7, 3)]]
    assert [r[:3] for r in run(planted, "user_activity_summary", {"user_email": "zoë@corp.com"})] == [
        ["jobs", "runNow", "1"]]


def test_quality_figures(planted):
    assert run(planted, "table_lineage", {"table_name": "a.b.mid"}) == [
        ["upstream", "a.b.src1", "a.b.mid", "JOB", "11", "3", _ts(planted, 1, 6)],
        ["upstream", "a.b.src2", "a.b.mid", "JOB", "11", "3", _ts(planted, 1, 6)],
        ["downstream", "a.b.mid", "a.b.out", "JOB", "12", "2", _ts(planted, 3, 6)]]
    assert [r[:3] for r in run(planted, "table_lineage", {"table_name": "A.B.MID", "direction": "upstream"})] == [
        ["upstream", "a.b.src1", "a.b.mid"], ["upstream", "a.b.src2", "a.b.mid"]]
    assert run(planted, "table_lineage", {"table_name": "a.b.out", "direction": "downstream"}) == [
        ["downstream", "a.b.out", None, "DASHBOARD", "dash-1", "1", _ts(planted, 1, 9)]]
    assert [r[:3] for r in run(planted, "table_lineage", {"table_name": "a.b.mid", "days_back": "2"})] == [
        ["upstream", "a.b.src1", "a.b.mid"], ["upstream", "a.b.src2", "a.b.mid"]]
    assert [r[:6] for r in run(planted, "column_lineage", {"table_name": "a.b.mid"})] == [
        ["upstream", "a.b.src1", "x", "a.b.mid", "x", "3"], ["upstream", "a.b.src2", "z", "a.b.mid", "z", "3"],
        ["downstream", "a.b.mid", "x", "a.b.out", "y", "2"]]
    assert [r[:5] for r in run(planted, "column_lineage", {"table_name": "a.b.mid", "column_name": "X"})] == [
        ["upstream", "a.b.src1", "x", "a.b.mid", "x"], ["downstream", "a.b.mid", "x", "a.b.out", "y"]]
    now = dt.datetime.fromtimestamp(planted.now_ms() / 1000, dt.timezone.utc).replace(tzinfo=None, second=0,
                                                                                      microsecond=0)
    def hours(n: int) -> str:
        # as the SQL computes it: whole minutes / 60, rounded half up to one decimal (Python's
        # round() on the float would round 40.65 down and fail whenever the frozen clock's minute
        # falls on such a value)
        from decimal import ROUND_HALF_UP, Decimal

        minutes = int((now - _dt(planted, n, 6)).total_seconds() // 60)
        return str((Decimal(minutes) / Decimal(60)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    assert run(planted, "data_freshness") == [
        ["a.b.out", _ts(planted, 3, 6), hours(3), "2", "1"],
        ["a.b.mid", _ts(planted, 1, 6), hours(1), "3", "1"]]
    assert [r[0] for r in run(planted, "data_freshness", {"table_prefix": "A.B.O"})] == ["a.b.out"]
    assert [r[0] for r in run(planted, "data_freshness", {"min_hours": str(float(hours(1)) + 1)})] == ["a.b.out"]


def test_mlops_figures(planted):
    assert run(planted, "serving_endpoint_usage") == [
        ["ep-a", "7", "3", "0.4286", "1", "0", "0", _ts(planted, 2, 0), _ts(planted, 2, 6)],
        ["ep-b", "3", "0", "0.0", "2", "30", "60", _ts(planted, 1, 0), _ts(planted, 1, 2)]]
    assert [r[:2] for r in run(planted, "serving_endpoint_usage", {"endpoint_name": "ep-b"})] == [["ep-b", "3"]]
    day = lambda n: (_today(planted) - dt.timedelta(days=n)).isoformat()  # noqa: E731
    assert run(planted, "serving_latency") == [
        [day(2), "ep-a", "7", "4", "1", "2", "0.4286"],
        [day(1), "ep-b", "3", "3", "0", "0", "0.0"]]
    assert run(planted, "mlflow_experiments") == [
        ["1", "/Shared/exp-one", "3", "2", "1", "0", "0.6667", _ts(planted, 1, 1)],
        ["3", "/Shared/idle", "0", "0", "0", "0", None, None]]
    assert run(planted, "mlflow_runs", {"experiment_name": "/Shared/exp-one"}) == [
        ["c", "third", "/Shared/exp-one", "FINISHED", "bob@corp.com", _ts(planted, 1, 1), _ts(planted, 1, 2, 15), "75.0"],
        ["b", "second", "/Shared/exp-one", "FAILED", "alice@corp.com", _ts(planted, 2, 1), _ts(planted, 2, 1, 6), "6.0"],
        ["a", "first", "/Shared/exp-one", "FINISHED", "alice@corp.com", _ts(planted, 3, 1), _ts(planted, 3, 1, 30),
         "30.0"]]
    assert [r[0] for r in run(planted, "mlflow_runs", {"status": "FAILED", "experiment_name": "1"})] == ["b"]


def _dt(sb, days, hour, minute=0):
    return dt.datetime.combine(_today(sb) - dt.timedelta(days=days), dt.time(hour, minute))


def _ts(sb, days, hour, minute=0):
    return _dt(sb, days, hour, minute).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- injection -------------------------------------------------------------------------------

INJECTIONS = ["'; DROP TABLE system.access.audit; --", "x' OR '1'='1", 'a"b\\c', "zoë ünïcödé 名前 \u202e",
              "%", ":user_email"]
STRING_PARAMS = [(t.name, p.name) for d in DOMAINS for t in templates(d) for p in t.params
                 if p.type == "STRING" and not p.choices and t.name in EXPECTED[d]]


@pytest.mark.parametrize("name,param", STRING_PARAMS)
def test_injection_values_in_string_parameters_are_inert(planted, name, param):
    given = dict(REQUIRED.get(name, {}))
    for value in INJECTIONS:
        given[param] = value
        assert run(planted, name, given) == [], (name, param, value)  # "%" is no wildcard either
    assert len(run(planted, "access_anomalies", {"threshold": "1"})) == 2  # the audit table is intact


def test_choice_parameters_reject_anything_else():
    for name, param in [("table_lineage", "direction"), ("column_lineage", "direction"), ("mlflow_runs", "status")]:
        given = dict(REQUIRED.get(name, {}))
        given[param] = "both' OR '1'='1"
        with pytest.raises(TemplateParamError, match=param):
            bind(get(name), given)
