"""The scripted out-of-memory scenario: the first run fails with a real OOM trace from
``../shared/data/failures.jsonl`` (fail-003) on ``RUN_EXECUTION_ERROR``; repairing on the same
node type fails again; after the job cluster moves to a node with >= 60 GB the repair succeeds."""

from __future__ import annotations

import pytest
from databricks.sdk.service import compute, jobs

from sandbox.scenarios import DEFAULT_FAILURES_FILE, parse_scenario

L = jobs.RunLifeCycleState

pytestmark = pytest.mark.skipif(not DEFAULT_FAILURES_FILE.exists(),
                                reason=f"shared failures file {DEFAULT_FAILURES_FILE} is absent")

SCENARIO = {
    "rules": [{
        "job": "nightly-orders",
        "task": "transform",
        "error": "fail-003",
        "termination_code": "RUN_EXECUTION_ERROR",
        "succeeds_when": {"min_memory_gb": 60},
    }]
}


def settings(node: str) -> jobs.JobSettings:
    return jobs.JobSettings(
        name="nightly-orders",
        job_clusters=[jobs.JobCluster("etl", compute.ClusterSpec(spark_version="15.4.x-scala2.12",
                                                                 node_type_id=node, num_workers=4))],
        tasks=[
            jobs.Task(task_key="ingest", job_cluster_key="etl",
                      notebook_task=jobs.NotebookTask("/Users/sandbox-user@example.com/etl/ingest_orders")),
            jobs.Task(task_key="transform", job_cluster_key="etl", depends_on=[jobs.TaskDependency("ingest")],
                      notebook_task=jobs.NotebookTask("/Users/sandbox-user@example.com/etl/transform_orders")),
        ],
    )


def poll(sb, w, run_id):
    seen, task_seen = [], []
    for _ in range(300):
        run = w.jobs.get_run(run_id)
        if not seen or seen[-1] != run.state.life_cycle_state:
            seen.append(run.state.life_cycle_state)
        t = {x.task_key: x for x in run.tasks}["transform"].state.life_cycle_state
        if not task_seen or task_seen[-1] != t:
            task_seen.append(t)
        if run.state.life_cycle_state in (L.TERMINATED, L.INTERNAL_ERROR):
            return seen, task_seen, run
        sb.advance(1)
    raise AssertionError(f"run did not finish: {seen}")


def test_oom_then_repair_with_a_bigger_node_succeeds(sb, w):
    sb.load_scenario(SCENARIO)
    job_id = w.jobs.create(**settings("i3.xlarge").as_shallow_dict()).job_id
    run_id = w.jobs.run_now(job_id, idempotency_token="nightly-orders-2026-11-21").run_id

    seen, task_seen, run = poll(sb, w, run_id)
    assert seen == [L.PENDING, L.RUNNING, L.TERMINATING, L.TERMINATED]
    assert task_seen == [L.BLOCKED, L.PENDING, L.RUNNING, L.TERMINATING, L.TERMINATED]
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    assert run.status.termination_details.type == jobs.TerminationTypeType.CLIENT_ERROR
    transform = {t.task_key: t for t in run.tasks}["transform"]
    out = w.jobs.get_run_output(transform.run_id)
    assert out.error == "java.lang.OutOfMemoryError: Java heap space"
    assert "ERROR JobManagerActor:606 - Got Throwable" in out.error_trace
    assert "Java heap space" in run.state.state_message

    # repairing on the same 30.5 GB node fails again
    first_repair = w.jobs.repair_run(run_id, rerun_tasks=["transform"]).response.repair_id
    seen, _, run = poll(sb, w, run_id)
    assert seen[-1] == L.TERMINATED and run.state.result_state == jobs.RunResultState.FAILED

    # move the job cluster to r5d.4xlarge (128 GB) and repair the failed task
    w.jobs.reset(job_id, settings("r5d.4xlarge"))
    w.jobs.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=first_repair)
    seen, task_seen, run = poll(sb, w, run_id)
    assert seen == [L.PENDING, L.RUNNING, L.TERMINATING, L.TERMINATED]
    assert task_seen == [L.PENDING, L.RUNNING, L.TERMINATING, L.TERMINATED]
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    transform = {t.task_key: t for t in run.tasks}["transform"]
    assert transform.attempt_number == 2
    assert run.job_clusters[0].new_cluster.node_type_id == "r5d.4xlarge"
    history = w.jobs.get_run(run_id, include_history=True).repair_history
    assert [h.state.result_state for h in history] == [jobs.RunResultState.FAILED] * 2 + [jobs.RunResultState.SUCCESS]


def test_scenario_resolves_failure_ids_and_rejects_unknown_ones():
    rule = parse_scenario(SCENARIO).rules[0]
    assert rule.outcome.message == "java.lang.OutOfMemoryError: Java heap space"
    assert rule.min_memory_gb == 60
    from sandbox.errors import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="fail-999"):
        parse_scenario({"rules": [{"job": "x", "error": "fail-999"}]})
    with pytest.raises(InvalidParameterValue, match="termination_code"):
        parse_scenario({"rules": [{"job": "x", "termination_code": "NOPE"}]})


def test_after_repair_condition(sb, w):
    sb.load_scenario({"rules": [{"job": "nightly-orders", "task": "ingest", "error": "fail-004",
                                 "termination_code": "DRIVER_ERROR", "succeeds_when": {"after_repair": True}}]})
    job_id = w.jobs.create(**settings("i3.xlarge").as_shallow_dict()).job_id
    run_id = w.jobs.run_now(job_id).run_id
    _, _, run = poll(sb, w, run_id)
    assert run.state.life_cycle_state == L.INTERNAL_ERROR
    w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    _, _, run = poll(sb, w, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
