"""Jobs API 2.2 CRUD, listing and validation through the unmodified WorkspaceClient."""

from __future__ import annotations

import pytest
from databricks.sdk import errors
from databricks.sdk.service import compute, jobs

NB = "/Shared/job-agent/notebooks/ingest"


def cluster(node="i3.xlarge"):
    return compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id=node, num_workers=2)


def two_task_settings(name="orders-etl", tags=None):
    return dict(
        name=name,
        tags=tags or {"job-agent-key": "orders-etl"},
        job_clusters=[jobs.JobCluster(job_cluster_key="main", new_cluster=cluster())],
        tasks=[
            jobs.Task(task_key="ingest", job_cluster_key="main", notebook_task=jobs.NotebookTask(notebook_path=NB)),
            jobs.Task(task_key="transform", job_cluster_key="main", depends_on=[jobs.TaskDependency("ingest")],
                      notebook_task=jobs.NotebookTask(notebook_path="/Shared/job-agent/notebooks/transform",
                                                      base_parameters={"date": "2026-01-01"})),
        ],
        parameters=[jobs.JobParameterDefinition(name="catalog", default="main")],
        max_concurrent_runs=2,
    )


def test_create_then_get_field_by_field(w):
    created = w.jobs.create(**two_task_settings())
    job = w.jobs.get(created.job_id)
    assert job.job_id == created.job_id
    assert job.creator_user_name == "sandbox-user@example.com"
    assert job.run_as_user_name == "sandbox-user@example.com"
    assert job.created_time > 0
    s = job.settings
    assert s.name == "orders-etl"
    assert s.tags == {"job-agent-key": "orders-etl"}
    assert s.max_concurrent_runs == 2
    assert s.timeout_seconds == 0
    assert s.format == jobs.Format.MULTI_TASK
    assert s.parameters[0].name == "catalog" and s.parameters[0].default == "main"
    assert [t.task_key for t in s.tasks] == ["ingest", "transform"]
    assert s.tasks[1].depends_on[0].task_key == "ingest"
    assert s.tasks[1].notebook_task.base_parameters == {"date": "2026-01-01"}
    assert s.tasks[0].run_if == jobs.RunIf.ALL_SUCCESS
    assert s.job_clusters[0].new_cluster.node_type_id == "i3.xlarge"
    assert s.job_clusters[0].new_cluster.num_workers == 2


def test_defaults_for_a_minimal_job(w):
    job = w.jobs.get(w.jobs.create().job_id)
    assert job.settings.name == "Untitled"
    assert job.settings.max_concurrent_runs == 1
    assert job.settings.tasks == []


def test_get_unknown_job_raises_resource_does_not_exist(w):
    with pytest.raises(errors.ResourceDoesNotExist, match="Job 999999 does not exist"):
        w.jobs.get(999999)


def test_list_filters_by_name_case_insensitively_and_expands_tasks(w):
    a = w.jobs.create(**two_task_settings("Nightly Orders")).job_id
    w.jobs.create(**two_task_settings("other"))
    found = list(w.jobs.list(name="nightly orders"))
    assert [j.job_id for j in found] == [a]
    assert found[0].settings.tasks == []  # not expanded
    expanded = list(w.jobs.list(name="Nightly Orders", expand_tasks=True))
    assert [t.task_key for t in expanded[0].settings.tasks] == ["ingest", "transform"]
    assert expanded[0].settings.job_clusters[0].job_cluster_key == "main"
    assert list(w.jobs.list(name="absent")) == []


def test_list_paginates_with_page_tokens(w):
    ids = [w.jobs.create(name=f"job-{i}").job_id for i in range(7)]
    # the SDK follows next_page_token itself
    listed = [j.job_id for j in w.jobs.list(limit=3)]
    assert listed == list(reversed(ids))  # newest first, every job exactly once
    first = w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 3})
    assert len(first["jobs"]) == 3 and first["has_more"] is True and first["next_page_token"]
    second = w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 3, "page_token": first["next_page_token"]})
    assert [j["job_id"] for j in second["jobs"]] == list(reversed(ids))[3:6]
    assert second["prev_page_token"]
    third = w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 3, "page_token": second["next_page_token"]})
    assert len(third["jobs"]) == 1 and third["has_more"] is False and "next_page_token" not in third


def test_list_rejects_a_limit_over_100(w):
    with pytest.raises(errors.InvalidParameterValue):
        w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 101})


def test_reset_replaces_settings(w):
    job_id = w.jobs.create(**two_task_settings()).job_id
    w.jobs.reset(job_id, jobs.JobSettings(name="renamed", tasks=[
        jobs.Task(task_key="only", existing_cluster_id="0101-120000-shared01",
                  notebook_task=jobs.NotebookTask(notebook_path=NB))]))
    s = w.jobs.get(job_id).settings
    assert s.name == "renamed" and [t.task_key for t in s.tasks] == ["only"]
    assert s.job_clusters == [] and s.tags is None


def test_update_merges_tasks_by_key_and_removes_fields(w):
    job_id = w.jobs.create(**two_task_settings()).job_id
    w.jobs.update(job_id, new_settings=jobs.JobSettings(
        tasks=[jobs.Task(task_key="publish", job_cluster_key="main", depends_on=[jobs.TaskDependency("transform")],
                         notebook_task=jobs.NotebookTask(notebook_path="/Shared/job-agent/notebooks/publish"))],
        timeout_seconds=3600), fields_to_remove=["tags"])
    s = w.jobs.get(job_id).settings
    assert [t.task_key for t in s.tasks] == ["ingest", "transform", "publish"]
    assert s.timeout_seconds == 3600 and s.tags is None and s.name == "orders-etl"


def test_update_refusal_raises(w):
    job_id = w.jobs.create(**two_task_settings()).job_id
    with pytest.raises(errors.InvalidParameterValue, match="depends on ingest"):
        w.jobs.update(job_id, fields_to_remove=["tasks/ingest"])
    # the refused update changed nothing
    assert [t.task_key for t in w.jobs.get(job_id).settings.tasks] == ["ingest", "transform"]


def test_delete_then_get_fails(w):
    job_id = w.jobs.create(name="tmp").job_id
    w.jobs.delete(job_id)
    with pytest.raises(errors.ResourceDoesNotExist):
        w.jobs.get(job_id)
    with pytest.raises(errors.InvalidParameterValue, match=f"Job {job_id} does not exist"):
        w.jobs.delete(job_id)


@pytest.mark.parametrize("tasks, job_clusters, message", [
    ([jobs.Task(task_key="a", existing_cluster_id="0101-120000-shared01", notebook_task=jobs.NotebookTask(NB)),
      jobs.Task(task_key="a", existing_cluster_id="0101-120000-shared01", notebook_task=jobs.NotebookTask(NB))],
     None, "Task key a is not unique"),
    ([jobs.Task(task_key="a", depends_on=[jobs.TaskDependency("ghost")], notebook_task=jobs.NotebookTask(NB))],
     None, "depends on ghost"),
    ([jobs.Task(task_key="jar", spark_jar_task=jobs.SparkJarTask(main_class_name="Main"))],
     None, "must specify one of existing_cluster_id"),
    ([jobs.Task(task_key="a", existing_cluster_id="0000-000000-gone", notebook_task=jobs.NotebookTask(NB))],
     None, "Cluster 0000-000000-gone does not exist"),
    ([jobs.Task(task_key="a", job_cluster_key="nope", notebook_task=jobs.NotebookTask(NB))],
     None, "job cluster nope"),
    ([jobs.Task(task_key="a", job_cluster_key="c", notebook_task=jobs.NotebookTask(NB))],
     [jobs.JobCluster("c", compute.ClusterSpec(spark_version="9.9.x-scala2.12", node_type_id="i3.xlarge"))],
     "Invalid spark version"),
    ([jobs.Task(task_key="a", job_cluster_key="c", notebook_task=jobs.NotebookTask(NB))],
     [jobs.JobCluster("c", compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="x9.mega"))],
     "Node type x9.mega"),
    ([jobs.Task(task_key="a", depends_on=[jobs.TaskDependency("b")], notebook_task=jobs.NotebookTask(NB)),
      jobs.Task(task_key="b", depends_on=[jobs.TaskDependency("a")], notebook_task=jobs.NotebookTask(NB))],
     None, "Cycle detected"),
    ([jobs.Task(task_key="q", sql_task=jobs.SqlTask(warehouse_id="nope", query=jobs.SqlTaskQuery("1")))],
     None, "SQL warehouse nope does not exist"),
])
def test_invalid_settings_are_rejected_like_the_service(w, tasks, job_clusters, message):
    with pytest.raises(errors.InvalidParameterValue, match=message) as e:
        w.jobs.create(name="bad", tasks=tasks, job_clusters=job_clusters)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert list(w.jobs.list(name="bad")) == []


def test_serverless_notebook_and_environment_tasks_are_accepted(w):
    job_id = w.jobs.create(name="serverless", environments=[
        jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="1"))], tasks=[
        jobs.Task(task_key="nb", notebook_task=jobs.NotebookTask(NB)),
        jobs.Task(task_key="py", environment_key="default",
                  spark_python_task=jobs.SparkPythonTask(python_file="/Shared/job-agent/scripts/cleanup.py")),
    ]).job_id
    assert [t.task_key for t in w.jobs.get(job_id).settings.tasks] == ["nb", "py"]


def test_jobs_are_isolated_per_token(sb, w):
    from sandbox import Sandbox
    from sandbox.store import new_token

    w.jobs.create(name="mine")
    other = Sandbox(sb.url, new_token(), sb.store).workspace_client()
    assert list(other.jobs.list()) == []


def test_malformed_settings_are_a_bad_request(w):
    with pytest.raises(errors.BadRequest) as e:
        w.api_client.do("POST", "/api/2.2/jobs/create", body={"name": "x", "tasks": "not-a-list"})
    assert e.value.error_code == "MALFORMED_REQUEST"
    with pytest.raises(errors.BadRequest):
        w.api_client.do("POST", "/api/2.2/jobs/create", data="{not json", headers={"Content-Type": "application/json"})


def test_schedules_are_checked(w):
    ok = w.jobs.create(name="sched", schedule=jobs.CronSchedule(quartz_cron_expression="0 0 2 * * ?",
                                                                 timezone_id="Europe/Amsterdam"))
    s = w.jobs.get(ok.job_id).settings.schedule
    assert s.quartz_cron_expression == "0 0 2 * * ?" and s.timezone_id == "Europe/Amsterdam"
    with pytest.raises(errors.InvalidParameterValue, match="quartz_cron_expression"):
        w.jobs.create(name="bad", schedule=jobs.CronSchedule(quartz_cron_expression="0 2 * * *", timezone_id="UTC"))
    with pytest.raises(errors.InvalidParameterValue, match="timezone_id"):
        w.jobs.create(name="bad", schedule=jobs.CronSchedule(quartz_cron_expression="0 0 2 * * ?",
                                                             timezone_id="Mars/Olympus"))
