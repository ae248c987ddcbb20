"""What the remediation loop needs from the sandbox, through the unmodified SDK (Jobs API 2.2):
finding failed runs (`runs/list` with `job_id`, `completed_only` / `active_only`,
`start_time_from` / `start_time_to`), reading why they failed (`runs/get` with tasks and their
`attempt_number`, `runs/get-output` `error` / `error_trace` from the scenario's message and
trace), repairing them (`runs/repair` with `latest_repair_id` after the first repair, the
history kept in `repair_history`), moving a job to a bigger node with `jobs/update` before the
repair, and runs cancelled by a user (`CANCELED` / `USER_CANCELED`).

Shapes: `databricks.sdk.service.jobs` (`Run`, `RunTask`, `RepairHistoryItem`, `RunOutput`,
`TerminationDetails`). The clock is frozen; `sb.advance` moves it.
"""

from __future__ import annotations

import pytest
from databricks.sdk import errors
from databricks.sdk.service import compute, jobs

L = jobs.RunLifeCycleState
R = jobs.RunResultState
NB = "/Shared/job-agent/notebooks/ingest"
OOM_TRACE = ("Py4JJavaError: An error occurred while calling o412.save.\n"
             ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times\n"
             "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3236)")
SCENARIO = {"rules": [{"job": "orders", "task": "transform", "message": "java.lang.OutOfMemoryError: Java heap space",
                       "trace": OOM_TRACE, "succeeds_when": {"min_memory_gb": 60}}]}


def cluster(node: str) -> list[jobs.JobCluster]:
    return [jobs.JobCluster("etl", compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id=node, num_workers=2))]


def orders_job(w, node="i3.xlarge") -> int:
    return w.jobs.create(name="orders", job_clusters=cluster(node), tasks=[
        jobs.Task(task_key="ingest", job_cluster_key="etl", notebook_task=jobs.NotebookTask(NB)),
        jobs.Task(task_key="transform", job_cluster_key="etl", depends_on=[jobs.TaskDependency("ingest")],
                  notebook_task=jobs.NotebookTask(NB)),
    ]).job_id


def finish(sb, w, run_id, step=5, limit=400) -> jobs.Run:
    for _ in range(limit):
        run = w.jobs.get_run(run_id)
        if run.state.life_cycle_state in (L.TERMINATED, L.INTERNAL_ERROR, L.SKIPPED):
            return run
        sb.advance(step)
    raise AssertionError(f"run {run_id} did not finish")


def by_key(run: jobs.Run) -> dict[str, jobs.RunTask]:
    return {t.task_key: t for t in run.tasks}


def test_update_to_a_bigger_node_then_repair_succeeds(sb, w):
    sb.load_scenario(SCENARIO)
    job_id = orders_job(w)
    run_id = w.jobs.run_now(job_id).run_id
    run = finish(sb, w, run_id)
    assert run.state.result_state == R.FAILED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    failed = by_key(run)["transform"]
    assert failed.attempt_number == 0 and failed.state.result_state == R.FAILED
    out = w.jobs.get_run_output(failed.run_id)
    assert out.error == "java.lang.OutOfMemoryError: Java heap space" and out.error_trace == OOM_TRACE

    # jobs/update (partial: job_clusters merged by key), not reset, moves the cluster to 128 GB
    w.jobs.update(job_id, new_settings=jobs.JobSettings(job_clusters=cluster("r5d.4xlarge")))
    assert w.jobs.get(job_id).settings.job_clusters[0].new_cluster.node_type_id == "r5d.4xlarge"
    assert [t.task_key for t in w.jobs.get(job_id).settings.tasks] == ["ingest", "transform"]
    repair_id = w.jobs.repair_run(run_id, rerun_all_failed_tasks=True).response.repair_id
    run = finish(sb, w, run_id)
    assert run.state.result_state == R.SUCCESS
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    transform = by_key(run)["transform"]
    assert transform.attempt_number == 1 and transform.run_id != failed.run_id
    assert by_key(run)["ingest"].attempt_number == 0  # not rerun
    assert run.job_clusters[0].new_cluster.node_type_id == "r5d.4xlarge"
    history = w.jobs.get_run(run_id, include_history=True).repair_history
    assert [(h.type, h.id) for h in history] == [(jobs.RepairHistoryItemType.ORIGINAL, None),
                                                  (jobs.RepairHistoryItemType.REPAIR, repair_id)]
    assert [h.state.result_state for h in history] == [R.FAILED, R.SUCCESS]
    assert history[1].task_run_ids == [transform.run_id]
    # the failed attempt's output stays readable after the repair
    assert w.jobs.get_run_output(failed.run_id).error == "java.lang.OutOfMemoryError: Java heap space"
    assert not w.jobs.get_run(run_id).repair_history  # only with include_history, as the service


def test_repairs_must_name_the_latest_repair_and_history_keeps_every_one(sb, w):
    sb.load_scenario(SCENARIO)
    job_id = orders_job(w)
    run_id = w.jobs.run_now(job_id).run_id
    finish(sb, w, run_id)
    first = w.jobs.repair_run(run_id, rerun_tasks=["transform"]).response.repair_id  # same node: fails again
    assert finish(sb, w, run_id).state.result_state == R.FAILED
    with pytest.raises(errors.InvalidParameterValue, match=f"latest_repair_id={first}"):
        w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    second = w.jobs.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=first).response.repair_id
    assert finish(sb, w, run_id).state.result_state == R.FAILED
    with pytest.raises(errors.InvalidParameterValue, match=f"latest_repair_id={second}"):
        w.jobs.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=first)  # stale
    w.jobs.update(job_id, new_settings=jobs.JobSettings(job_clusters=cluster("r5d.4xlarge")))
    third = w.jobs.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=second).response.repair_id
    run = finish(sb, w, run_id)
    assert run.state.result_state == R.SUCCESS and by_key(run)["transform"].attempt_number == 3
    history = w.jobs.get_run(run_id, include_history=True).repair_history
    assert [h.id for h in history] == [None, first, second, third]
    assert [h.state.result_state for h in history] == [R.FAILED, R.FAILED, R.FAILED, R.SUCCESS]
    assert all(h.start_time and h.end_time >= h.start_time for h in history)
    assert [h.start_time for h in history] == sorted(h.start_time for h in history)


def test_finding_failed_runs_with_runs_list(sb, w):
    sb.load_scenario(SCENARIO)
    job_id = orders_job(w)
    other = w.jobs.create(name="other", tasks=[jobs.Task(task_key="main", existing_cluster_id="0101-120000-shared01",
                                                        notebook_task=jobs.NotebookTask(NB))]).job_id
    before = sb.now_ms()
    failed_id = w.jobs.run_now(job_id).run_id
    finish(sb, w, failed_id)
    w.jobs.run_now(other)
    sb.advance(600)
    window_end = sb.now_ms()
    sb.advance(60)
    later_id = w.jobs.run_now(job_id).run_id  # starts after the window; still running
    completed = list(w.jobs.list_runs(job_id=job_id, completed_only=True, start_time_from=before,
                                      start_time_to=window_end))
    assert [r.run_id for r in completed] == [failed_id]
    assert completed[0].state.result_state == R.FAILED and not completed[0].tasks
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True)] == [later_id]
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, start_time_from=window_end + 1)] == [later_id]
    assert len(list(w.jobs.list_runs(completed_only=True))) == 2  # both jobs without job_id
    # a run under repair is active again, and completed once the repair ends
    w.jobs.repair_run(failed_id, rerun_all_failed_tasks=True)
    assert failed_id in [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True)]
    assert failed_id not in [r.run_id for r in w.jobs.list_runs(job_id=job_id, completed_only=True)]
    finish(sb, w, failed_id)
    assert failed_id in [r.run_id for r in w.jobs.list_runs(job_id=job_id, completed_only=True)]
    expanded = next(r for r in w.jobs.list_runs(job_id=job_id, completed_only=True, expand_tasks=True)
                    if r.run_id == failed_id)
    assert by_key(expanded)["transform"].attempt_number == 1


def test_a_run_cancelled_before_it_starts(sb, w):
    run_id = w.jobs.run_now(orders_job(w)).run_id
    assert w.jobs.get_run(run_id).state.life_cycle_state == L.PENDING
    w.jobs.cancel_run(run_id)
    run = finish(sb, w, run_id)
    assert run.state.life_cycle_state == L.TERMINATED
    assert run.state.result_state == R.CANCELED and run.state.user_cancelled_or_timedout is True
    assert run.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED
    assert {t.task_key: t.state.result_state for t in run.tasks} == {"ingest": R.CANCELED, "transform": R.CANCELED}
    assert w.jobs.get_run_output(by_key(run)["ingest"].run_id).error == "Run cancelled."
    w.jobs.cancel_run(run_id)  # cancelling a finished run changes nothing
    assert finish(sb, w, run_id).state.result_state == R.CANCELED


def test_a_run_cancelled_after_a_failed_task(sb, w):
    """A user cancels while a repair is running: the run ends CANCELED, the history keeps the failure."""
    sb.load_scenario(SCENARIO)
    run_id = w.jobs.run_now(orders_job(w)).run_id
    finish(sb, w, run_id)
    w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    sb.advance(5)
    w.jobs.cancel_run(run_id)
    run = finish(sb, w, run_id)
    assert run.state.result_state == R.CANCELED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED
    history = w.jobs.get_run(run_id, include_history=True).repair_history
    assert [h.state.result_state for h in history] == [R.FAILED, R.CANCELED]


def test_a_scripted_failure_that_a_plain_repair_fixes(sb, w):
    sb.load_scenario({"rules": [{"job": "orders", "task": "ingest", "termination_code": "DRIVER_ERROR",
                                 "message": "The spark driver has stopped unexpectedly and is restarting.",
                                 "succeeds_when": {"after_repair": True}}]})
    run_id = w.jobs.run_now(orders_job(w)).run_id
    run = finish(sb, w, run_id)
    assert run.state.life_cycle_state == L.INTERNAL_ERROR and run.state.result_state == R.FAILED
    assert run.status.termination_details.type == jobs.TerminationTypeType.INTERNAL_ERROR
    assert by_key(run)["transform"].state.result_state == R.UPSTREAM_FAILED
    out = w.jobs.get_run_output(by_key(run)["ingest"].run_id)
    assert out.error == "The spark driver has stopped unexpectedly and is restarting."
    w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    run = finish(sb, w, run_id)
    assert run.state.result_state == R.SUCCESS
    assert [by_key(run)[k].attempt_number for k in ("ingest", "transform")] == [1, 1]
