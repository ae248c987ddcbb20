"""Cost, reliability and performance templates against the sandbox, over HTTP with the unmodified
SDK (``statement_execution.execute_statement`` with typed named parameters from ``bind``).

Expected figures are computed here from the seeded history as documented in
``sandbox.system_tables`` (four jobs, runs at 02:00 UTC lasting 20 minutes, d = days before today,
1..42) -- not read from the sandbox's code:

    nightly-orders-etl  9000001  daily            4.0 DBU  jobs compute 0.15/DBU   fails d % 7 == 0
    hourly-clickstream  9000002  02/08/14/20 h    0.5 DBU  jobs compute 0.15/DBU   never fails
    weekly-ml-training  9000003  d % 7 == 3       40  DBU  jobs compute 0.15/DBU   fails d == 10
    adhoc-reporting     9000004  d even           2.0 DBU  serverless   0.35/DBU   fails d % 10 == 0

Classic-compute runs also leave one 20-minute node on cluster ``0101-120000-jobhist`` with
CPU 35 % user + 5 % system and memory 92 % (failed run) or 55 %; warehouse queries: seven, one a
day for d = 1..7 at 10:00, taking 8 - d seconds.
"""

from __future__ import annotations

import datetime as dt

import pytest
from databricks.sdk.service import jobs, sql

from tasks.monitoring import catalogue
from tasks.monitoring.catalogue import TemplateParamError, bind

DOMAINS = ("cost", "reliability", "performance")
WORKSPACE = "1234567890123456"
HIST_CLUSTER = "0101-120000-jobhist"

# (job_id, name, hours, runs on d, DBUs per run, USD per DBU, fails on d, classic compute)
SEED = [
    ("9000001", "nightly-orders-etl", [2], lambda d: True, 4.0, 0.15, lambda d: d % 7 == 0, True),
    ("9000002", "hourly-clickstream", [2, 8, 14, 20], lambda d: True, 0.5, 0.15, lambda d: False, True),
    ("9000003", "weekly-ml-training", [2], lambda d: d % 7 == 3, 40.0, 0.15, lambda d: d == 10, True),
    ("9000004", "adhoc-reporting", [2], lambda d: d % 2 == 0, 2.0, 0.35, lambda d: d % 10 == 0, False),
]
HISTORY_DAYS = 42


def seed_runs(first_d=1, last_d=HISTORY_DAYS):
    """Every seeded run with first_d <= d <= last_d: dicts job_id, name, d, hour, cost, failed, classic."""
    out = []
    for job_id, name, hours, runs_on, dbus, price, fails, classic in SEED:
        for d in range(first_d, last_d + 1):
            if runs_on(d):
                out += [dict(job_id=job_id, name=name, d=d, hour=h, dbus=dbus, cost=dbus * price, failed=fails(d),
                             classic=classic) for h in hours]
    return out


def day_cost(d):
    return sum(r["cost"] for r in seed_runs(d, d))


def execute(w, warehouse_id, name, given=None, today=None):
    """Run template `name` with `given`; returns (column names, rows as dicts of strings)."""
    t = catalogue.get(name)
    params = [sql.StatementParameterListItem(**p) for p in bind(t, given or {}, today=today)]
    r = w.statement_execution.execute_statement(statement=t.sql, warehouse_id=warehouse_id, parameters=params,
                                                wait_timeout="30s")
    assert r.status.state == sql.StatementState.SUCCEEDED, (name, r.status.error)
    cols = [c.name for c in r.manifest.schema.columns]
    data = (r.result.data_array if r.result else None) or []
    return cols, [dict(zip(cols, row)) for row in data]


def f(x):
    return None if x is None else float(x)


MINE = [t for d in DOMAINS for t in catalogue.templates(d)]


def test_the_contract_templates_are_registered():
    names = {t.name for t in MINE}
    assert {"top_cost_contributors", "cost_trend_by_sku", "budget_variance", "spend_by_day_and_sku",
            "cost_anomalies", "spend_by_tag", "untagged_spend", "most_expensive_runs", "failed_run_cost",
            "failed_jobs", "job_sla_compliance", "job_failure_rate", "repairs_and_time_to_repair",
            "slow_queries", "job_duration_trends", "job_duration_outliers", "jobs_on_all_purpose_clusters",
            "idle_or_oversized_clusters"} <= names
    contract = {"top_cost_contributors": ["start_date", "end_date", "top_n"],
                "cost_trend_by_sku": ["start_date", "end_date", "sku_name"],
                "budget_variance": ["budget", "start_date", "end_date"],
                "failed_jobs": ["start_date", "end_date", "workspace_id"],
                "job_sla_compliance": ["sla_minutes", "start_date", "end_date"],
                "slow_queries": ["min_duration", "start_date", "end_date"],
                "job_duration_trends": ["job_name", "days_back"]}
    for name, params in contract.items():
        assert [p.name for p in catalogue.get(name).params] == params
    assert {"job_name", "list_cost_usd"} <= set(catalogue.get("top_cost_contributors").columns)


@pytest.mark.parametrize("t", MINE, ids=lambda t: t.name)
def test_template_metadata_is_complete(t):
    assert t.domain in DOMAINS and t.answers and "\n" not in t.answers
    assert t.reads and all(r.startswith("system.") for r in t.reads)
    assert t.columns and len(set(t.columns)) == len(t.columns) and t.order and t.keywords
    assert set(t.totals) <= set(t.columns)
    if t.chart:
        assert {t.chart["x"], t.chart["y"]} <= set(t.columns)
    assert "{" not in t.sql and "}" not in t.sql  # no leftover string formatting
    for p in t.params:
        assert p.type in catalogue.PARAM_TYPES and p.description
        if p.type == "DATE":
            assert p.default in ("today", "today-30")


@pytest.mark.parametrize("t", MINE, ids=lambda t: t.name)
def test_every_template_runs_and_returns_its_documented_columns(w, warehouse_id, today, t):
    given = {"budget": "100"} if t.name == "budget_variance" else {}
    cols, _rows = execute(w, warehouse_id, t.name, given, today)
    assert tuple(cols) == t.columns


# ---- cost -------------------------------------------------------------------------------------

def test_top_cost_contributors_over_the_last_30_days(w, warehouse_id, today):
    per_job = {}
    for r in seed_runs(1, 30):
        per_job.setdefault((r["job_id"], r["name"]), [0.0, 0])
        per_job[(r["job_id"], r["name"])][0] += r["cost"]
        per_job[(r["job_id"], r["name"])][1] += 1
    expected = sorted(per_job.items(), key=lambda kv: -kv[1][0])
    cols, rows = execute(w, warehouse_id, "top_cost_contributors", {}, today)
    assert [(r["job_id"], r["job_name"]) for r in rows] == [k for k, _ in expected]
    assert [f(r["list_cost_usd"]) for r in rows] == pytest.approx([v[0] for _, v in expected])
    assert [int(r["runs"]) for r in rows] == [v[1] for _, v in expected]
    assert [r["cost_rank"] for r in rows] == ["1", "2", "3", "4"]
    top = rows[0]
    assert top["job_name"] == "weekly-ml-training" and top["list_cost_usd"] == "24.00"  # 4 runs x 40 DBU x 0.15
    assert f(top["pct_of_job_spend"]) == pytest.approx(100 * 24 / sum(v[0] for _, v in expected), abs=0.01)
    _, two = execute(w, warehouse_id, "top_cost_contributors", {"top_n": 2}, today)
    assert [r["job_name"] for r in two] == ["weekly-ml-training", "nightly-orders-etl"]


def test_cost_trend_by_sku_filters_one_sku_and_accumulates(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "cost_trend_by_sku", {"sku_name": "serverless"}, today)
    serverless = [r for r in seed_runs(1, 30) if not r["classic"]]
    assert {r["sku_name"] for r in rows} == {"PREMIUM_JOBS_SERVERLESS_COMPUTE_US_WEST_OREGON"}
    assert [r["usage_date"] for r in rows] == sorted((today - dt.timedelta(days=r["d"])).isoformat()
                                                     for r in serverless)
    assert f(rows[-1]["cumulative_cost_usd"]) == pytest.approx(sum(r["cost"] for r in serverless))  # 10.50
    _, every = execute(w, warehouse_id, "cost_trend_by_sku", {}, today)
    assert sum(f(r["list_cost_usd"]) for r in every) == pytest.approx(sum(r["cost"] for r in seed_runs(1, 30)))


def test_budget_variance_over_a_past_and_a_running_period(w, warehouse_id, today):
    spent = sum(r["cost"] for r in seed_runs(1, 30))  # 61.50
    _, [row] = execute(w, warehouse_id, "budget_variance", {"budget": 50}, today)
    assert f(row["actual_cost_usd"]) == pytest.approx(spent)
    assert f(row["variance_usd"]) == pytest.approx(spent - 50)
    assert f(row["variance_pct"]) == pytest.approx(100 * (spent - 50) / 50, abs=0.01)
    assert row["status"] == "OVER_BUDGET" and row["days_in_period"] == "31" and row["days_elapsed"] == "31"
    # a 30-day period 10 days in: spend of d = 1..9, projected linearly
    start, end = today - dt.timedelta(days=9), today + dt.timedelta(days=20)
    _, [row] = execute(w, warehouse_id, "budget_variance",
                       {"budget": 1000, "start_date": start.isoformat(), "end_date": end.isoformat()}, today)
    spent = sum(r["cost"] for r in seed_runs(1, 9))
    assert (row["days_elapsed"], row["days_in_period"]) == ("10", "30")
    assert f(row["actual_cost_usd"]) == pytest.approx(spent)
    assert f(row["projected_cost_usd"]) == pytest.approx(spent * 3, abs=0.01)
    assert row["status"] == "ON_TRACK"


def test_spend_by_day_and_sku_adds_up_per_day(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "spend_by_day_and_sku", {}, today)
    for d in range(1, 31):
        day = (today - dt.timedelta(days=d)).isoformat()
        mine = [r for r in rows if r["usage_date"] == day]
        assert sum(f(r["list_cost_usd"]) for r in mine) == pytest.approx(day_cost(d)), day
        assert all(f(r["day_total_usd"]) == pytest.approx(day_cost(d)) for r in mine)
        assert sum(f(r["pct_of_day"]) for r in mine) == pytest.approx(100, abs=0.05)


def test_cost_anomalies_are_the_ml_training_days(w, warehouse_id, today):
    expected = []
    for d in range(1, 31):
        baseline = sum(day_cost(d + k) for k in range(1, 8) if d + k <= HISTORY_DAYS) / 7
        if baseline > 0 and day_cost(d) >= 2 * baseline:
            expected.append(((today - dt.timedelta(days=d)).isoformat(), day_cost(d), baseline))
    assert [e[0] for e in expected] == [(today - dt.timedelta(days=d)).isoformat() for d in (3, 10, 17, 24)]
    _, rows = execute(w, warehouse_id, "cost_anomalies", {}, today)
    assert [r["usage_date"] for r in rows] == [e[0] for e in expected]
    assert [f(r["list_cost_usd"]) for r in rows] == pytest.approx([e[1] for e in expected])
    assert [f(r["baseline_cost_usd"]) for r in rows] == pytest.approx([e[2] for e in expected], abs=0.006)
    assert [f(r["ratio_to_baseline"]) for r in rows] == pytest.approx([e[1] / e[2] for e in expected], abs=0.006)
    highest = max(e[1] / e[2] for e in expected)
    _, none = execute(w, warehouse_id, "cost_anomalies", {"threshold": round(highest + 0.1, 2)}, today)
    assert none == []


def test_spend_by_tag_and_untagged_spend(w, warehouse_id, today):
    total = sum(r["cost"] for r in seed_runs(1, 30))
    _, rows = execute(w, warehouse_id, "spend_by_tag", {"tag_key": "team"}, today)  # every seeded job: team=data-eng
    assert [(r["tag_key"], r["tag_value"]) for r in rows] == [("team", "data-eng")]
    assert f(rows[0]["list_cost_usd"]) == pytest.approx(total) and f(rows[0]["pct_of_total"]) == 100
    _, rows = execute(w, warehouse_id, "spend_by_tag", {"tag_key": "cost_center"}, today)
    assert [(r["tag_value"], f(r["list_cost_usd"])) for r in rows] == [("(untagged)", pytest.approx(total))]
    _, rows = execute(w, warehouse_id, "untagged_spend", {"tag_key": "cost_center"}, today)
    assert {r["job_name"] for r in rows} == {name for _, name, *_ in SEED}
    assert sum(f(r["list_cost_usd"]) for r in rows) == pytest.approx(total)
    assert execute(w, warehouse_id, "untagged_spend", {"tag_key": "team"}, today)[1] == []
    assert execute(w, warehouse_id, "untagged_spend", {"tag_key": None}, today)[1] == []  # all carry job tags


def test_most_expensive_runs(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "most_expensive_runs", {"top_n": 5}, today)
    ml = sorted((r for r in seed_runs(1, 30) if r["name"] == "weekly-ml-training"), key=lambda r: -r["d"])
    assert [r["job_name"] for r in rows[:4]] == ["weekly-ml-training"] * 4
    assert [r["list_cost_usd"] for r in rows[:4]] == ["6.00"] * 4
    assert sorted(r["run_start"][:10] for r in rows[:4]) == [
        (today - dt.timedelta(days=r["d"])).isoformat() for r in ml]
    assert [r["result_state"] for r in rows[:4]].count("FAILED") == 1  # d = 10
    assert rows[4]["job_name"] == "adhoc-reporting" and rows[4]["list_cost_usd"] == "0.70"


def test_failed_run_cost(w, warehouse_id, today):
    per_job = {}
    for r in seed_runs(1, 30):
        e = per_job.setdefault(r["name"], [0, 0.0, 0.0])
        e[2] += r["cost"]
        if r["failed"]:
            e[0] += 1
            e[1] += r["cost"]
    expected = sorted(((k, v) for k, v in per_job.items() if v[0]), key=lambda kv: -kv[1][1])
    _, rows = execute(w, warehouse_id, "failed_run_cost", {}, today)
    assert [r["job_name"] for r in rows] == [k for k, _ in expected]  # ML 6.00, nightly 2.40, adhoc 2.10
    for r, (_, (n, failed_cost, total)) in zip(rows, expected):
        assert int(r["failed_runs"]) == n
        assert f(r["failed_cost_usd"]) == pytest.approx(failed_cost)
        assert f(r["total_cost_usd"]) == pytest.approx(total)
        assert f(r["pct_of_job_cost"]) == pytest.approx(100 * failed_cost / total, abs=0.01)


# ---- reliability ------------------------------------------------------------------------------

def test_failed_jobs_with_and_without_a_workspace(w, warehouse_id, today):
    failed = [r for r in seed_runs(1, 30) if r["failed"]]
    _, rows = execute(w, warehouse_id, "failed_jobs", {}, today)
    assert len(rows) == len(failed) == 8
    counts = {}
    for r in rows:
        counts[r["job_name"]] = counts.get(r["job_name"], 0) + 1
    assert counts == {"nightly-orders-etl": 4, "weekly-ml-training": 1, "adhoc-reporting": 3}
    assert [r["run_start"] for r in rows] == sorted((r["run_start"] for r in rows), reverse=True)
    assert {(r["result_state"], r["termination_code"], r["duration_minutes"]) for r in rows} == {
        ("FAILED", "RUN_EXECUTION_ERROR", "20.0")}
    assert len(execute(w, warehouse_id, "failed_jobs", {"workspace_id": WORKSPACE}, today)[1]) == 8
    assert execute(w, warehouse_id, "failed_jobs", {"workspace_id": "999"}, today)[1] == []


def test_job_sla_compliance(w, warehouse_id, today):
    runs = seed_runs(1, 30)
    _, rows = execute(w, warehouse_id, "job_sla_compliance", {"sla_minutes": 30}, today)
    by_name = {r["job_name"]: r for r in rows}
    for _, name, *_ in SEED:
        mine = [r for r in runs if r["name"] == name]
        ok = sum(not r["failed"] for r in mine)
        assert int(by_name[name]["runs"]) == len(mine) and int(by_name[name]["within_sla"]) == ok
        assert f(by_name[name]["sla_compliance_pct"]) == pytest.approx(100 * ok / len(mine), abs=0.005)
        assert f(by_name[name]["p90_duration_minutes"]) == 20.0  # every seeded run takes 20 minutes
    assert [r["job_name"] for r in rows] == ["weekly-ml-training", "adhoc-reporting", "nightly-orders-etl",
                                             "hourly-clickstream"]  # 75 %, 80 %, 86.67 %, 100 %
    _, rows = execute(w, warehouse_id, "job_sla_compliance", {"sla_minutes": 15}, today)
    assert {r["sla_compliance_pct"] for r in rows} == {"0.0"}
    assert all(r["late_runs"] == r["runs"] for r in rows)


def test_job_failure_rate(w, warehouse_id, today):
    runs = seed_runs(1, 30)
    _, rows = execute(w, warehouse_id, "job_failure_rate", {}, today)
    assert len(rows) == 4
    for r in rows:
        mine = [x for x in runs if x["name"] == r["job_name"]]
        failed = [x for x in mine if x["failed"]]
        assert (int(r["runs"]), int(r["failed"])) == (len(mine), len(failed))
        assert f(r["failure_rate_pct"]) == pytest.approx(100 * len(failed) / len(mine), abs=0.005)
        if failed:
            last = min(x["d"] for x in failed)
            assert r["last_failure_start"][:10] == (today - dt.timedelta(days=last)).isoformat()
    assert rows[0]["job_name"] == "weekly-ml-training" and rows[-1]["job_name"] == "hourly-clickstream"
    assert [r["job_name"] for r in execute(w, warehouse_id, "job_failure_rate", {"min_runs": 20}, today)[1]] == [
        "nightly-orders-etl", "hourly-clickstream"]


def test_repairs_and_time_to_recovery(w, warehouse_id, today):
    every = seed_runs(1, HISTORY_DAYS)
    expected = {}
    for r in seed_runs(1, 30):
        if not r["failed"]:
            continue
        later = [x for x in every if x["name"] == r["name"] and not x["failed"]
                 and (-x["d"], x["hour"]) > (-r["d"], r["hour"])]
        nxt = min(later, key=lambda x: (-x["d"], x["hour"]))
        expected.setdefault(r["name"], []).append((r["d"] - nxt["d"]) * 24 + nxt["hour"] - r["hour"])
    assert expected == {"nightly-orders-etl": [24] * 4, "weekly-ml-training": [168], "adhoc-reporting": [48] * 3}
    _, rows = execute(w, warehouse_id, "repairs_and_time_to_repair", {}, today)
    assert [r["job_name"] for r in rows] == ["weekly-ml-training", "adhoc-reporting", "nightly-orders-etl"]
    for r in rows:
        hours = expected[r["job_name"]]
        assert int(r["failed_runs"]) == int(r["recovered_failures"]) == len(hours)
        assert r["unrecovered_failures"] == "0" and r["repaired_runs"] == "0" and r["avg_repair_minutes"] is None
        assert f(r["mean_time_to_recovery_hours"]) == pytest.approx(sum(hours) / len(hours))
        assert f(r["max_time_to_recovery_hours"]) == pytest.approx(max(hours))


# ---- performance ------------------------------------------------------------------------------

def test_slow_queries(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "slow_queries", {"min_duration": 5}, today)
    durations = sorted((8 - d for d in range(1, 8) if 8 - d >= 5), reverse=True)  # 7, 6, 5 seconds
    assert [f(r["duration_seconds"]) for r in rows] == durations
    assert {r["warehouse_id"] for r in rows} == {"a1b2c3d4e5f60001"}
    assert rows[0]["statement_preview"] == "SELECT * FROM sales.orders"
    assert execute(w, warehouse_id, "slow_queries", {}, today)[1] == []  # none reach the 30 s default
    assert len(execute(w, warehouse_id, "slow_queries", {"min_duration": 0}, today)[1]) == 7


def test_job_duration_trends_for_one_job(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "job_duration_trends", {"job_name": "NIGHTLY", "days_back": 7}, today)
    assert [r["run_date"] for r in rows] == [(today - dt.timedelta(days=d)).isoformat() for d in range(7, 0, -1)]
    assert {(r["job_name"], r["runs"], r["avg_duration_minutes"], r["p90_duration_minutes"]) for r in rows} == {
        ("nightly-orders-etl", "1", "20.0", "20.0")}
    _, rows = execute(w, warehouse_id, "job_duration_trends", {"days_back": 7}, today)
    assert sum(int(r["runs"]) for r in rows) == len(seed_runs(1, 7))


def test_job_duration_outliers(w, warehouse_id, today):
    _, rows = execute(w, warehouse_id, "job_duration_outliers", {}, today)
    assert len(rows) == 4
    for r in rows:
        assert (r["p50_duration_minutes"], r["p90_duration_minutes"], r["max_duration_minutes"],
                r["max_to_p50_ratio"]) == ("20.0", "20.0", "20.0", "1.0")
    _, rows = execute(w, warehouse_id, "job_duration_outliers", {"min_runs": 5}, today)
    assert "weekly-ml-training" not in {r["job_name"] for r in rows}  # 4 runs in 30 days


def test_idle_or_oversized_clusters(w, warehouse_id, today):
    assert execute(w, warehouse_id, "idle_or_oversized_clusters", {}, today)[1] == []  # 40 % CPU, 55-92 % memory
    nodes = [r for r in seed_runs(1, 30) if r["classic"]]
    mem = [92.0 if r["failed"] else 55.0 for r in nodes]
    _, rows = execute(w, warehouse_id, "idle_or_oversized_clusters", {"cpu_threshold": 45}, today)
    assert [(r["cluster_id"], r["finding"]) for r in rows] == [(HIST_CLUSTER, "IDLE")]
    assert f(rows[0]["node_hours"]) == pytest.approx(len(nodes) / 3, abs=0.005)
    assert f(rows[0]["avg_cpu_percent"]) == 40.0 and f(rows[0]["max_mem_used_percent"]) == 92.0
    assert f(rows[0]["avg_mem_used_percent"]) == pytest.approx(sum(mem) / len(mem), abs=0.005)
    _, rows = execute(w, warehouse_id, "idle_or_oversized_clusters", {"mem_threshold": 95}, today)
    assert [(r["cluster_id"], r["finding"]) for r in rows] == [(HIST_CLUSTER, "OVERSIZED")]


def test_jobs_on_all_purpose_clusters(sb, w, warehouse_id, today):
    assert execute(w, warehouse_id, "jobs_on_all_purpose_clusters", {}, today)[1] == []
    job_id = w.jobs.create(name="on-shared", tasks=[jobs.Task(
        task_key="main", existing_cluster_id="0101-120000-shared01",
        notebook_task=jobs.NotebookTask("/Shared/job-agent/notebooks/ingest"))]).job_id
    w.jobs.run_now(job_id)
    sb.advance(600)
    now = dt.datetime.fromtimestamp(sb.now_ms() / 1000, dt.timezone.utc).date()
    _, rows = execute(w, warehouse_id, "jobs_on_all_purpose_clusters", {}, now)
    assert [(r["job_id"], r["job_name"], r["cluster_id"], r["cluster_name"], r["job_runs"]) for r in rows] == [
        (str(job_id), "on-shared", "0101-120000-shared01", "shared-autoscaling", "1")]
    # the sandbox bills a run on an existing cluster as 1 node x its DBU/h for ~35 s: under a cent, but joined
    r = w.statement_execution.execute_statement(
        statement="SELECT SUM(usage_quantity * 0.15) FROM system.billing.usage "
                  "WHERE usage_metadata.job_id = :job AND usage_metadata.cluster_id = '0101-120000-shared01'",
        warehouse_id=warehouse_id, wait_timeout="30s",
        parameters=[sql.StatementParameterListItem(name="job", value=str(job_id))])
    billed = float(r.result.data_array[0][0])
    assert 0 < billed < 0.005 and rows[0]["list_cost_usd"] == f"{billed:.2f}"


# ---- injection and binding --------------------------------------------------------------------

EVIL = ["'; DROP TABLE system.billing.usage; --", "x' OR '1'='1", 'O\'Brien "quoted" \\ back', "ünïcødé ✓ 日本語 🚀",
        ":start_date", "%", ") UNION SELECT 1 --"]


@pytest.mark.parametrize("value", EVIL)
def test_string_parameters_are_inert(w, warehouse_id, today, value):
    for name, param in [("cost_trend_by_sku", "sku_name"), ("untagged_spend", "tag_key"),
                        ("failed_jobs", "workspace_id"), ("job_duration_trends", "job_name")]:
        _, rows = execute(w, warehouse_id, name, {param: value}, today)
        if value != "%":  # a LIKE wildcard matches everything, harmlessly
            assert rows == [] or name == "untagged_spend", (name, value)
    _, rows = execute(w, warehouse_id, "spend_by_tag", {"tag_key": value}, today)
    assert [(r["tag_key"], r["tag_value"]) for r in rows] == [(value, "(untagged)")]  # the literal comes back
    _, rows = execute(w, warehouse_id, "top_cost_contributors", {}, today)  # tables intact
    assert rows[0]["list_cost_usd"] == "24.00" and len(rows) == 4


def test_bind_rejects_bad_types_and_bounds():
    top = catalogue.get("top_cost_contributors")
    for given, param in [({"top_n": 0}, "top_n"), ({"top_n": 1001}, "top_n"), ({"top_n": "ten"}, "top_n"),
                         ({"top_n": "2.5"}, "top_n"), ({"start_date": "yesterday"}, "start_date"),
                         ({"end_date": "2026-13-01"}, "end_date"), ({"limit": 3}, "limit")]:
        with pytest.raises(TemplateParamError) as e:
            bind(top, given)
        assert e.value.param == param
    bad = [("budget_variance", {}, "budget"), ("budget_variance", {"budget": -1}, "budget"),
           ("budget_variance", {"budget": "nan"}, "budget"), ("cost_anomalies", {"threshold": 0.5}, "threshold"),
           ("job_sla_compliance", {"sla_minutes": 0}, "sla_minutes"),
           ("job_sla_compliance", {"sla_minutes": 10081}, "sla_minutes"),
           ("slow_queries", {"min_duration": -1}, "min_duration"),
           ("slow_queries", {"min_duration": "fast"}, "min_duration"),
           ("job_duration_trends", {"days_back": 366}, "days_back"),
           ("idle_or_oversized_clusters", {"cpu_threshold": 101}, "cpu_threshold"),
           ("cost_trend_by_sku", {"sku_name": "x" * 1001}, "sku_name")]
    for name, given, param in bad:
        with pytest.raises(TemplateParamError) as e:
            bind(catalogue.get(name), given)
        assert e.value.param == param, name
    day = dt.date(2026, 3, 31)
    assert bind(top, {}, today=day) == [
        {"name": "start_date", "value": "2026-03-01", "type": "DATE"},
        {"name": "end_date", "value": "2026-03-31", "type": "DATE"},
        {"name": "top_n", "value": "10", "type": "INT"}]
    assert bind(catalogue.get("cost_trend_by_sku"), {}, today=day)[2] == {"name": "sku_name", "value": None,
                                                                          "type": "STRING"}
