"""deploy_job validation against the sandbox: each kind of problem with its field, its
requirements line and its citation; several problems reported together; nothing changed."""

from __future__ import annotations

import pytest

from tasks.base import ValidationFailed
from tasks.deploy_job import DeployJob

GOOD = """\
    ```yaml
    resources:
      jobs:
        etl:
          name: Validated ETL
          schedule:
            quartz_cron_expression: "0 30 2 * * ?"
            timezone_id: Europe/Amsterdam
          email_notifications:
            on_failure:
              - team@example.com
          job_clusters:
            - job_cluster_key: main
              new_cluster:
                spark_version: 15.4.x-scala2.12
                node_type_id: i3.xlarge
                num_workers: 2
          environments:
            - environment_key: default
              spec:
                environment_version: "2"
          tasks:
            - task_key: ingest
              job_cluster_key: main
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/ingest
            - task_key: transform
              depends_on:
                - task_key: ingest
              existing_cluster_id: 0101-120000-shared01
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/transform
            - task_key: serverless_notebook
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/publish
            - task_key: cleanup
              depends_on:
                - task_key: transform
              environment_key: default
              spark_python_task:
                python_file: ${workspace.root_path}/scripts/cleanup.py
            - task_key: report
              sql_task:
                warehouse_id: a1b2c3d4e5f60001
                query:
                  query_id: q1
    ```
    """


def problems_of(reqs, make_ctx, body, w=None):
    spec = reqs.specs(body)["deploy_job:etl"]
    with pytest.raises(ValidationFailed) as err:
        DeployJob().validate(make_ctx(spec))
    return err.value.problems


def test_valid_settings_pass(reqs, make_ctx, w):
    DeployJob().validate(make_ctx(reqs.specs(GOOD)["deploy_job:etl"]))
    assert list(w.jobs.list()) == []  # validation changes nothing


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "message", "query"),
    [
        ("notebooks/transform", "notebooks/missing", "tasks[1].notebook_task.notebook_path",
         "notebooks/missing", "does not exist", "jobs Task notebook_task notebook_path"),
        ("scripts/cleanup.py", "scripts/nope.py", "tasks[3].spark_python_task.python_file",
         "scripts/nope.py", "does not exist", "jobs Task spark_python_task python_file"),
        ("node_type_id: i3.xlarge", "node_type_id: z9.mega", "job_clusters[0].new_cluster.node_type_id",
         "z9.mega", "node type 'z9.mega' is not offered", "jobs JobCluster new_cluster node_type_id"),
        ("15.4.x-scala2.12", "9.9.x-scala2.12", "job_clusters[0].new_cluster.spark_version",
         "9.9.x-scala2.12", "Spark version '9.9.x-scala2.12' is not offered", "jobs JobCluster new_cluster spark_version"),
        ('"0 30 2 * * ?"', '"0 30 25 * * ?"', "schedule.quartz_cron_expression",
         "0 30 25", "hours: 25 is outside 0-23", "jobs CronSchedule quartz_cron_expression"),
        ('"0 30 2 * * ?"', '"30 2 * * *"', "schedule.quartz_cron_expression",
         "30 2 * * *", "expected 6 or 7 fields", "jobs CronSchedule quartz_cron_expression"),
        ("Europe/Amsterdam", "Europe/Atlantis", "schedule.timezone_id",
         "Europe/Atlantis", "not a known time zone", "jobs CronSchedule timezone_id"),
        ("team@example.com", "team-at-example.com", "email_notifications.on_failure[0]",
         "team-at-example.com", "not a well-formed e-mail", "jobs JobEmailNotifications on_failure"),
        ("              job_cluster_key: main\n", "              job_cluster_key: mian\n",
         "tasks[0].job_cluster_key", "job_cluster_key: mian", "job cluster 'mian' is not defined in job_clusters",
         "jobs Task job_cluster_key"),
        ("- task_key: serverless_notebook\n", "- task_key: ingest\n", "tasks[2].task_key",
         ("task_key: ingest", 3), "task key 'ingest' is used twice", "jobs Task task_key"),
        ("- task_key: transform\n              environment_key", "- task_key: transformer\n              environment_key",
         "tasks[3].depends_on[0].task_key", "- task_key: transformer", "depends on task 'transformer', which is not a task",
         "jobs Task depends_on task_key"),
        ("0101-120000-shared01", "0101-999999-gone", "tasks[1].existing_cluster_id",
         "0101-999999-gone", "cluster '0101-999999-gone' does not exist", "jobs Task existing_cluster_id"),
        ("environment_key: default\n              spark", "environment_key: gpu\n              spark",
         "tasks[3].environment_key", "environment_key: gpu", "environment 'gpu' is not defined",
         "jobs Task environment_key"),
        ("a1b2c3d4e5f60001", "ffffffffffffffff", "tasks[4].sql_task.warehouse_id",
         "ffffffffffffffff", "SQL warehouse 'ffffffffffffffff' does not exist", "jobs Task sql_task warehouse_id"),
    ],
    ids=["missing-notebook", "missing-file", "node-type", "spark-version", "cron-range", "cron-unix",
         "time-zone", "e-mail", "job-cluster-key", "duplicate-task-key", "depends-on", "existing-cluster",
         "environment-key", "warehouse"],
)
def test_each_problem_names_field_line_and_docs(reqs, make_ctx, cited, w, old, new, field, needle, message, query):
    body = GOOD.replace(old, new, 1)
    assert body != GOOD
    problems = problems_of(reqs, make_ctx, body)
    assert [p.field for p in problems] == [field], [str(p) for p in problems]
    (problem,) = problems
    needle, nth = needle if isinstance(needle, tuple) else (needle, 1)
    assert problem.line == reqs.line_of(needle, nth)
    assert message in problem.message
    assert problem.source_path == str(reqs.path)
    assert problem.citations == [f"docs › {query}"]
    assert list(w.jobs.list()) == []


def test_task_without_compute(reqs, make_ctx):
    body = GOOD.replace("              environment_key: default\n              spark_python_task",
                        "              spark_python_task")
    problems = problems_of(reqs, make_ctx, body)
    assert [p.field for p in problems] == ["tasks[3]"]
    assert "environment_key for serverless compute" in problems[0].message
    assert problems[0].line == reqs.line_of("task_key: cleanup")


def test_problems_are_reported_together(reqs, make_ctx):
    body = (GOOD.replace("Europe/Amsterdam", "Mars/Olympus")
                .replace("notebooks/ingest", "notebooks/absent")
                .replace("node_type_id: i3.xlarge", "node_type_id: q1.tiny"))
    problems = problems_of(reqs, make_ctx, body)
    assert sorted(p.field for p in problems) == sorted([
        "schedule.timezone_id", "tasks[0].notebook_task.notebook_path", "job_clusters[0].new_cluster.node_type_id"])


def test_dependency_cycle(reqs, make_ctx):
    body = GOOD.replace(
        "            - task_key: ingest\n              job_cluster_key: main",
        "            - task_key: ingest\n              depends_on:\n                - task_key: transform\n              job_cluster_key: main")
    problems = problems_of(reqs, make_ctx, body)
    assert [p.field for p in problems] == ["tasks[0].depends_on"]
    assert "cycle" in problems[0].message and "ingest -> transform -> ingest" in problems[0].message


def test_defaults_from_front_matter_point_at_the_front_matter(reqs, make_ctx):
    front = """\
---
title: Defaults
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
defaults:
  email_notifications:
    on_failure:
      - not an address
---
"""
    body = GOOD.replace("          email_notifications:\n            on_failure:\n              - team@example.com\n", "")
    assert body != GOOD
    spec = reqs.specs(body, front=front)["deploy_job:etl"]
    with pytest.raises(ValidationFailed) as err:
        DeployJob().validate(make_ctx(spec))
    fields = {p.field: p.line for p in err.value.problems}
    assert fields == {"email_notifications.on_failure[0]": reqs.line_of("- not an address")}


def test_reserved_ownership_tag(reqs, make_ctx):
    body = GOOD.replace("          name: Validated ETL\n", "          name: Validated ETL\n          tags:\n            job_agent_key: mine\n")
    problems = problems_of(reqs, make_ctx, body)
    assert [p.field for p in problems] == ["tags.job_agent_key"]
    assert problems[0].line == reqs.line_of("job_agent_key: mine")


def test_run_job_task_naming_a_missing_job(reqs, make_ctx):
    body = GOOD.replace("            - task_key: report\n              sql_task:\n                warehouse_id: a1b2c3d4e5f60001\n                query:\n                  query_id: q1\n",
                        "            - task_key: report\n              run_job_task:\n                job_id: 987654\n")
    problems = problems_of(reqs, make_ctx, body)
    assert [p.field for p in problems] == ["tasks[4].run_job_task.job_id"]
    assert "job 987654 does not exist" in problems[0].message
