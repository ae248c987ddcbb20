"""The pure helpers of the job task types: the Quartz validator, the settings diff, field
lines and citation queries, time zones and e-mail addresses."""

from __future__ import annotations

import pytest

from tasks.job_diff import diff_settings
from tasks.job_fields import cite_query, field_line
from tasks.job_refs import short_name
from tasks.job_validation import is_email, is_time_zone
from tasks.quartz_cron import is_valid_quartz_cron, quartz_cron_errors

GOOD_CRONS = [
    "0 30 2 * * ?",            # 02:30 daily
    "0 0 8 ? * MON-FRI",       # weekdays
    "0 0/15 * * * ?",          # every 15 minutes
    "0 */5 9-17 ? * mon-fri",  # names are case-insensitive
    "0 0 12 L * ?",            # last day of the month
    "0 0 12 L-3 * ?",
    "0 0 12 15W * ?",
    "0 0 12 LW * ?",
    "0 0 12 ? * 6#3",          # third Friday
    "0 0 12 ? * FRI#1",
    "0 0 12 ? * 6L",           # last Friday
    "0 0 12 ? * L",
    "0 15 10 ? * 6L 2030",     # with a year
    "0 15 10 * * ? 2030-2035",
    "0,30 0 1,13 1-5,20 JAN-MAR,JUL,DEC ?",
    "0 0 22-2 * * ?",          # a range over midnight
    "0 0 0 1/7 * ?",
    "59 59 23 31 12 ? 2099",
]

BAD_CRONS = [
    ("", "empty"),
    ("0 30 2 * *", "expected 6 or 7 fields"),
    ("0 30 2 * * ? 2030 x", "expected 6 or 7 fields"),
    ("60 0 0 * * ?", "seconds: 60 is outside 0-59"),
    ("0 60 0 * * ?", "minutes: 60 is outside 0-59"),
    ("0 0 24 * * ?", "hours: 24 is outside 0-23"),
    ("0 0 0 0 * ?", "day-of-month: 0 is outside 1-31"),
    ("0 0 0 32 * ?", "day-of-month: 32 is outside 1-31"),
    ("0 0 0 ? 13 MON", "month: 13 is outside 1-12"),
    ("0 0 0 ? * 8", "day-of-week: 8 is outside 1-7"),
    ("0 0 0 ? * 0", "day-of-week: 0 is outside 1-7"),
    ("0 0 0 * * *", "one of day-of-month and day-of-week must be '?'"),
    ("0 0 0 1 * MON", "one of day-of-month and day-of-week must be '?'"),
    ("0 0 0 ? * ?", "only one of day-of-month and day-of-week"),
    ("? 0 0 * * ?", "seconds: '?' is only allowed in day-of-month and day-of-week"),
    ("0 0 0 ? FOO *", "month: 'FOO' is not a number or a name"),
    ("0 0 0 ? * MON-FUN", "day-of-week: 'FUN' is not a number or a name"),
    ("0 0/0 0 * * ?", "increment '0'"),
    ("0 0/61 0 * * ?", "increment 61"),
    ("0 0 0/x * * ?", "increment 'x'"),
    ("0 0 0 L,5 * ?", "cannot be combined"),
    ("0 0 0 32W * ?", "day in '32W' must be 1-31"),
    ("0 0 0 ? * 6#6", "week number in '6#6' must be 1-5"),
    ("0 0 0 ? * 9L", "9 is outside 1-7"),
    ("0 0 L * * ?", "L, W and # are only allowed"),
    ("0 0 0 1 * ? 1969", "year: 1969 is outside 1970-2099"),
    ("0 0 0 -5 * ?", "has no start value"),
    ("0 0 0 5- * ?", "'' is not a number"),
    ("0 0 0 1,,2 * ?", "has no start value"),
]


@pytest.mark.parametrize("expression", GOOD_CRONS)
def test_valid_quartz_expressions(expression):
    assert quartz_cron_errors(expression) == []
    assert is_valid_quartz_cron(expression)


@pytest.mark.parametrize(("expression", "message"), BAD_CRONS, ids=[e or "empty" for e, _ in BAD_CRONS])
def test_invalid_quartz_expressions(expression, message):
    errors = quartz_cron_errors(expression)
    assert any(message in e for e in errors), errors
    assert not is_valid_quartz_cron(expression)


def test_several_cron_errors_are_all_reported():
    errors = quartz_cron_errors("61 0 25 * * *")
    assert len(errors) == 3, errors


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "UTC", "Asia/Kolkata", "GMT"])
def test_time_zones(zone):
    assert is_time_zone(zone)


@pytest.mark.parametrize("zone", ["Europe/Atlantis", "", "CEST+1", "../etc/passwd", None, 3])
def test_bad_time_zones(zone):
    assert not is_time_zone(zone)


@pytest.mark.parametrize("address", ["a@example.com", "first.last+tag@sub.example.co.uk", "x_y-z@d-1.io"])
def test_emails(address):
    assert is_email(address)


@pytest.mark.parametrize("address", ["plain", "a@b", "a@@b.com", "a b@c.com", "a..b@c.com", "@c.com", "a@-c.com", None])
def test_bad_emails(address):
    assert not is_email(address)


def test_field_line_falls_back_to_the_nearest_parent_then_the_job():
    payload = {"field_lines": {"tasks": 10, "tasks[0]": 11, "tasks[0].notebook_task": 13, "schedule": 5},
               "source": {"path": "x.md", "line": 3}}
    assert field_line(payload, "tasks[0].notebook_task.notebook_path") == 13
    assert field_line(payload, "tasks[0].job_cluster_key") == 11
    assert field_line(payload, "tasks[1].task_key") == 10
    assert field_line(payload, "schedule.timezone_id") == 5
    assert field_line(payload, "max_concurrent_runs") == 3


@pytest.mark.parametrize(("path", "query"), [
    ("max_concurrent_runs", "JobSettings.max_concurrent_runs"),
    ("tasks[0].notebook_task.notebook_path", "jobs Task notebook_task notebook_path"),
    ("tasks[transform].notebook_task.notebook_path", "jobs Task notebook_task notebook_path"),
    ("schedule.quartz_cron_expression", "jobs CronSchedule quartz_cron_expression"),
    ("job_clusters[0].new_cluster.node_type_id", "jobs JobCluster new_cluster node_type_id"),
    ("tags.team", "JobSettings.tags"),
    ("", "jobs JobSettings"),
])
def test_cite_queries(path, query):
    assert cite_query(path) == query


def test_short_name():
    assert short_name("Jane.Doe-x@example.com") == "jane_doe_x"


DEPLOYED = {
    "name": "etl", "max_concurrent_runs": 1, "timeout_seconds": 0, "format": "MULTI_TASK",
    "email_notifications": {}, "webhook_notifications": {},
    "run_as": {"user_name": "someone@example.com"},
    "tags": {"team": "a"},
    "tasks": [
        {"task_key": "a", "run_if": "ALL_SUCCESS", "timeout_seconds": 0, "email_notifications": {},
         "notebook_task": {"notebook_path": "/x", "source": "WORKSPACE"}, "existing_cluster_id": "c1"},
        {"task_key": "b", "run_if": "ALL_SUCCESS", "depends_on": [{"task_key": "a"}],
         "notebook_task": {"notebook_path": "/y"}, "existing_cluster_id": "c1"},
    ],
}
DESIRED = {
    "name": "etl", "tags": {"team": "a"},
    "tasks": [
        {"task_key": "b", "depends_on": [{"task_key": "a"}], "notebook_task": {"notebook_path": "/y"},
         "existing_cluster_id": "c1"},
        {"task_key": "a", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c1"},
    ],
}


def test_server_defaults_and_task_order_are_not_changes():
    assert diff_settings(DEPLOYED, DESIRED) == []


def test_diff_names_fields_by_task_key():
    desired = {**DESIRED, "max_concurrent_runs": 2,
               "tasks": [DESIRED["tasks"][1], {**DESIRED["tasks"][0], "run_if": "ALL_DONE"},
                         {"task_key": "c", "notebook_task": {"notebook_path": "/z"}}]}
    changes = [(c.path, c.before, c.after) for c in diff_settings(DEPLOYED, desired)]
    assert changes == [
        ("max_concurrent_runs", 1, 2),
        ("tasks[b].run_if", "ALL_SUCCESS", "ALL_DONE"),
        ("tasks[c]", None, {"task_key": "c", "notebook_task": {"notebook_path": "/z"}}),
    ]


def test_removed_task_and_non_default_value_are_changes():
    deployed = {**DEPLOYED, "timeout_seconds": 600}
    desired = {**DESIRED, "tasks": [DESIRED["tasks"][1]]}
    changes = {c.path: (c.before, c.after) for c in diff_settings(deployed, desired)}
    assert set(changes) == {"timeout_seconds", "tasks[b]"}
    assert changes["timeout_seconds"] == (600, None)
    assert changes["tasks[b]"][1] is None


def test_server_filled_cluster_fields_are_not_changes_but_set_ones_are():
    deployed = {"job_clusters": [{"job_cluster_key": "m", "new_cluster": {
        "spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2,
        "enable_elastic_disk": True, "aws_attributes": {"availability": "SPOT_WITH_FALLBACK"}}}]}
    desired = {"job_clusters": [{"job_cluster_key": "m", "new_cluster": {
        "spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}}]}
    assert diff_settings(deployed, desired) == []
    desired["job_clusters"][0]["new_cluster"]["num_workers"] = 4
    assert [(c.path, c.before, c.after) for c in diff_settings(deployed, desired)] == [
        ("job_clusters[m].new_cluster.num_workers", 2, 4)]
