"""Runs: life-cycle, per-task runs, idempotency, listing, output, cancel, repair, retries.

The session's clock is frozen; ``sb.advance`` moves it. Default timings (``sandbox.runs``): run
accepted -> tasks may start after 3 s; a new job cluster takes 10 s to set up (2 s otherwise);
tasks execute 30 s (scenario default), clean up 1 s; the run is TERMINATING for 2 s after.
"""

from __future__ import annotations

import pytest
from databricks.sdk import errors
from databricks.sdk.service import jobs

NB = "/Shared/job-agent/notebooks/ingest"
SHARED = "0101-120000-shared01"
L = jobs.RunLifeCycleState


def single_task_job(w, name="single", **task_kwargs):
    task = dict(task_key="main", existing_cluster_id=SHARED, notebook_task=jobs.NotebookTask(NB))
    task.update(task_kwargs)
    return w.jobs.create(name=name, tasks=[jobs.Task(**task)]).job_id


def chain_job(w, name="chain"):
    return w.jobs.create(name=name, tasks=[
        jobs.Task(task_key="a", existing_cluster_id=SHARED, notebook_task=jobs.NotebookTask(NB)),
        jobs.Task(task_key="b", existing_cluster_id=SHARED, depends_on=[jobs.TaskDependency("a")],
                  notebook_task=jobs.NotebookTask(NB)),
    ]).job_id


def poll_states(sb, w, run_id, step=2, limit=200):
    """Life-cycle states seen by polling runs/get while advancing the clock ``step`` s at a time."""
    seen = []
    for _ in range(limit):
        run = w.jobs.get_run(run_id)
        if not seen or seen[-1] != run.state.life_cycle_state:
            seen.append(run.state.life_cycle_state)
        if run.state.life_cycle_state in (L.TERMINATED, L.INTERNAL_ERROR, L.SKIPPED):
            return seen, run
        sb.advance(step)
    raise AssertionError(f"run {run_id} did not finish; states {seen}")


def test_run_now_goes_through_the_life_cycle(sb, w):
    job_id = single_task_job(w)
    resp = w.api_client.do("POST", "/api/2.2/jobs/run-now", body={"job_id": job_id})
    assert resp["number_in_job"] == resp["run_id"]
    first = w.jobs.get_run(resp["run_id"])
    assert first.state.life_cycle_state == L.PENDING
    assert first.status.state == jobs.RunLifecycleStateV2State.PENDING
    assert first.end_time == 0 and first.state.result_state is None
    seen, run = poll_states(sb, w, resp["run_id"])
    assert seen == [L.PENDING, L.RUNNING, L.TERMINATING, L.TERMINATED]
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    assert run.status.termination_details.type == jobs.TerminationTypeType.SUCCESS
    assert run.job_id == job_id and run.run_type == jobs.RunType.JOB_RUN
    assert run.creator_user_name == "sandbox-user@example.com"
    assert run.run_page_url == f"{sb.url}/?o=1234567890123456#job/{job_id}/run/{run.run_id}"
    assert run.end_time > run.start_time and run.run_duration == run.end_time - run.start_time
    task = run.tasks[0]
    assert task.run_id != run.run_id and task.task_key == "main"
    assert task.state.result_state == jobs.RunResultState.SUCCESS
    assert task.cluster_instance.cluster_id == SHARED
    assert task.setup_duration == 2000 and task.execution_duration == 30000 and task.cleanup_duration == 1000


def test_tasks_have_their_own_run_ids_and_follow_dependencies(sb, w):
    run_id = w.jobs.run_now(chain_job(w)).run_id
    sb.advance(10)  # a is running, b waits for it
    run = w.jobs.get_run(run_id)
    states = {t.task_key: t.state.life_cycle_state for t in run.tasks}
    assert states == {"a": L.RUNNING, "b": L.BLOCKED}
    _, run = poll_states(sb, w, run_id)
    a, b = run.tasks
    assert len({run.run_id, a.run_id, b.run_id}) == 3
    assert b.start_time >= a.end_time
    # a task run id resolves with runs/get too
    assert w.jobs.get_run(b.run_id).tasks[0].task_key == "b"


def test_run_now_is_idempotent(sb, w):
    job_id = single_task_job(w)
    first = w.jobs.run_now(job_id, idempotency_token="task-42-attempt-1").run_id
    again = w.jobs.run_now(job_id, idempotency_token="task-42-attempt-1").run_id
    other = w.jobs.run_now(job_id, idempotency_token="task-42-attempt-2").run_id
    assert first == again != other
    assert sorted(r.run_id for r in w.jobs.list_runs(job_id=job_id)) == sorted({first, other})


def test_submit_is_idempotent_and_runs_once(sb, w):
    kwargs = dict(run_name="one-off", idempotency_token="submit-1", tasks=[
        jobs.SubmitTask(task_key="t", existing_cluster_id=SHARED, notebook_task=jobs.NotebookTask(NB))])
    a = w.jobs.submit(**kwargs).run_id
    b = w.jobs.submit(**kwargs).run_id
    assert a == b
    _, run = poll_states(sb, w, a)
    assert run.run_type == jobs.RunType.SUBMIT_RUN and run.run_name == "one-off"
    assert run.state.result_state == jobs.RunResultState.SUCCESS


def test_wait_helper_of_the_sdk_returns_the_finished_run(sb, w):
    job_id = single_task_job(w)
    waiter = w.jobs.run_now(job_id)
    sb.advance(3600)
    run = waiter.result()  # polls runs/get; already terminal at the first poll
    assert run.state.life_cycle_state == L.TERMINATED


def test_runs_list_filters_and_paginates(sb, w):
    job_a, job_b = single_task_job(w, "a"), single_task_job(w, "b")
    a_runs = []
    for _ in range(5):
        a_runs.append(w.jobs.run_now(job_a).run_id)
        sb.advance(100)  # each run finishes before the next starts (max_concurrent_runs 1)
    active = w.jobs.run_now(job_b).run_id
    listed = [r.run_id for r in w.jobs.list_runs(job_id=job_a, limit=2)]
    assert listed == list(reversed(a_runs))  # newest first, across 3 pages
    page = w.api_client.do("GET", "/api/2.2/jobs/runs/list", query={"job_id": job_a, "limit": 2})
    assert page["has_more"] is True and len(page["runs"]) == 2 and "tasks" not in page["runs"][0]
    assert [r.run_id for r in w.jobs.list_runs(active_only=True)] == [active]
    assert set(r.run_id for r in w.jobs.list_runs(completed_only=True)) == set(a_runs)
    starts = {r.run_id: r.start_time for r in w.jobs.list_runs(job_id=job_a)}
    window = [r.run_id for r in w.jobs.list_runs(job_id=job_a, start_time_from=starts[a_runs[1]],
                                                  start_time_to=starts[a_runs[3]])]
    assert window == [a_runs[3], a_runs[2], a_runs[1]]
    expanded = next(iter(w.jobs.list_runs(job_id=job_a, expand_tasks=True)))
    assert expanded.tasks[0].task_key == "main"
    with pytest.raises(errors.InvalidParameterValue, match="cannot both be true"):
        list(w.jobs.list_runs(active_only=True, completed_only=True))


def test_get_output_of_task_runs_and_refusal_for_job_runs(sb, w):
    run_id = w.jobs.run_now(single_task_job(w)).run_id
    _, run = poll_states(sb, w, run_id)
    out = w.jobs.get_run_output(run.tasks[0].run_id)
    assert out.notebook_output.result == "" and out.error is None
    assert out.metadata.run_id == run.tasks[0].run_id and out.metadata.tasks[0].task_key == "main"
    with pytest.raises(errors.InvalidParameterValue, match="multiple tasks is not supported"):
        w.jobs.get_run_output(run_id)
    with pytest.raises(errors.ResourceDoesNotExist):
        w.jobs.get_run(123)


def test_cancel_a_running_run(sb, w):
    run_id = w.jobs.run_now(chain_job(w)).run_id
    sb.advance(10)
    w.jobs.cancel_run(run_id)
    _, run = poll_states(sb, w, run_id)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.state.user_cancelled_or_timedout is True
    assert run.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED
    assert {t.task_key: t.state.result_state for t in run.tasks} == {
        "a": jobs.RunResultState.CANCELED, "b": jobs.RunResultState.CANCELED}
    # a cancelled run can be repaired: the cancelled tasks rerun
    w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    _, run = poll_states(sb, w, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert [t.attempt_number for t in run.tasks] == [1, 1]


def test_max_concurrent_runs_skips_without_queue_and_queues_with_it(sb, w):
    job_id = single_task_job(w)
    first = w.jobs.run_now(job_id).run_id
    skipped = w.jobs.get_run(w.jobs.run_now(job_id).run_id)
    assert skipped.state.life_cycle_state == L.SKIPPED
    assert skipped.status.termination_details.code == jobs.TerminationCodeCode.MAX_CONCURRENT_RUNS_EXCEEDED
    queued_id = w.jobs.run_now(job_id, queue=jobs.QueueSettings(enabled=True)).run_id
    queued = w.jobs.get_run(queued_id)
    assert queued.state.life_cycle_state == L.QUEUED
    assert queued.status.queue_details.code == jobs.QueueDetailsCodeCode.ACTIVE_RUNS_LIMIT_REACHED
    assert queued.state.queue_reason == "Queued due to reaching maximum concurrent runs of 1."
    _, first_run = poll_states(sb, w, first)
    _, queued_run = poll_states(sb, w, queued_id)
    assert queued_run.state.result_state == jobs.RunResultState.SUCCESS
    assert queued_run.tasks[0].start_time >= first_run.end_time


FAIL_B = {"rules": [{"job": "chain", "task": "b", "attempts": [1], "message": "ValueError: bad row",
                     "trace": "Traceback...\nValueError: bad row"}]}


def test_failure_rolls_up_and_repair_reruns_failed_tasks(sb, w):
    sb.load_scenario(FAIL_B)
    job_id = chain_job(w)
    run_id = w.jobs.run_now(job_id).run_id
    _, run = poll_states(sb, w, run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert run.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    assert run.status.termination_details.type == jobs.TerminationTypeType.CLIENT_ERROR
    assert run.state.state_message == "Task b failed with message: ValueError: bad row."
    a, b = run.tasks
    assert a.state.result_state == jobs.RunResultState.SUCCESS
    assert b.state.result_state == jobs.RunResultState.FAILED
    out = w.jobs.get_run_output(b.run_id)
    assert out.error == "ValueError: bad row" and out.error_trace.endswith("ValueError: bad row")
    with pytest.raises(errors.InvalidParameterValue, match="no repair with ID"):
        w.jobs.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=1)
    repair_id = w.jobs.repair_run(run_id, rerun_all_failed_tasks=True).response.repair_id
    seen, repaired = poll_states(sb, w, run_id)
    assert seen[0] in (L.PENDING, L.RUNNING) and seen[-1] == L.TERMINATED
    assert repaired.state.result_state == jobs.RunResultState.SUCCESS
    assert repaired.tasks[0].run_id == a.run_id  # untouched
    assert repaired.tasks[1].run_id != b.run_id and repaired.tasks[1].attempt_number == 1
    history = w.jobs.get_run(run_id, include_history=True).repair_history
    assert [h.type for h in history] == [jobs.RepairHistoryItemType.ORIGINAL, jobs.RepairHistoryItemType.REPAIR]
    assert history[1].id == repair_id and history[1].task_run_ids == [repaired.tasks[1].run_id]
    assert history[0].state.result_state == jobs.RunResultState.FAILED
    # a second repair must name the latest one
    with pytest.raises(errors.InvalidParameterValue, match="latest repair ID"):
        w.jobs.repair_run(run_id, rerun_tasks=["a"])
    w.jobs.repair_run(run_id, rerun_tasks=["a"], latest_repair_id=repair_id,
                      job_parameters={"unused": "x"})


def test_repair_refuses_active_runs_and_runs_without_failures(sb, w):
    run_id = w.jobs.run_now(chain_job(w)).run_id
    with pytest.raises(errors.InvalidParameterValue, match="still active"):
        w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    poll_states(sb, w, run_id)
    with pytest.raises(errors.InvalidParameterValue, match="no failed tasks"):
        w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)


def test_upstream_failure_skips_dependents(sb, w):
    sb.load_scenario({"rules": [{"job": "chain", "task": "a", "message": "boom"}]})
    _, run = poll_states(sb, w, w.jobs.run_now(chain_job(w)).run_id)
    a, b = run.tasks
    assert a.state.result_state == jobs.RunResultState.FAILED
    assert b.state.result_state == jobs.RunResultState.UPSTREAM_FAILED
    assert run.state.state_message.endswith("This caused all downstream tasks to get skipped.")


def test_task_retries_create_new_attempts(sb, w):
    sb.load_scenario({"rules": [{"job": "flaky", "attempts": [1, 2], "message": "Connection reset"}]})
    job_id = single_task_job(w, "flaky", max_retries=3)
    _, run = poll_states(sb, w, w.jobs.run_now(job_id).run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.tasks[0].attempt_number == 2


def test_platform_error_ends_in_internal_error(sb, w):
    sb.load_scenario({"rules": [{"job": "single", "termination_code": "DRIVER_ERROR",
                                 "message": "The Spark driver has stopped unexpectedly and is restarting."}]})
    _, run = poll_states(sb, w, w.jobs.run_now(single_task_job(w)).run_id)
    assert run.state.life_cycle_state == L.INTERNAL_ERROR
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.status.termination_details.type == jobs.TerminationTypeType.INTERNAL_ERROR


def test_missing_notebook_fails_at_run_time(sb, w):
    job_id = single_task_job(w, notebook_task=jobs.NotebookTask("/Users/sandbox-user@example.com/missing"))
    _, run = poll_states(sb, w, w.jobs.run_now(job_id).run_id)
    assert run.status.termination_details.code == jobs.TerminationCodeCode.RESOURCE_NOT_FOUND
    assert "Unable to access the notebook" in run.state.state_message


def test_job_parameters_are_resolved_on_the_run(sb, w):
    job_id = w.jobs.create(name="params", parameters=[jobs.JobParameterDefinition("catalog", "main"),
                                                      jobs.JobParameterDefinition("day", "")],
                           tasks=[jobs.Task(task_key="t", existing_cluster_id=SHARED,
                                            notebook_task=jobs.NotebookTask(NB))]).job_id
    run = w.jobs.get_run(w.jobs.run_now(job_id, job_parameters={"day": "2026-11-20"}).run_id)
    assert {(p.name, p.default, p.value) for p in run.job_parameters} == {
        ("catalog", "main", "main"), ("day", "", "2026-11-20")}
    # a repair may pass new parameter values
    sb.advance(300)
    w.jobs.repair_run(run.run_id, rerun_tasks=["t"], job_parameters={"day": "2026-11-21"})
    run = w.jobs.get_run(run.run_id)
    assert {(p.name, p.value) for p in run.job_parameters} == {("catalog", "main"), ("day", "2026-11-21")}


def test_run_now_of_unknown_job(w):
    with pytest.raises(errors.InvalidParameterValue, match="Job 4242 does not exist"):
        w.jobs.run_now(4242)


def test_task_timeout_ends_timedout(sb, w):
    sb.load_scenario({"rules": [], "defaults": {"duration_seconds": 600}})
    job_id = single_task_job(w, "slow", timeout_seconds=60)
    _, run = poll_states(sb, w, w.jobs.run_now(job_id).run_id, step=10)
    assert run.state.result_state == jobs.RunResultState.TIMEDOUT
    assert run.tasks[0].execution_duration == 60_000
    assert run.tasks[0].state.result_state == jobs.RunResultState.TIMEDOUT


def test_run_now_only_runs_the_named_tasks(sb, w):
    run = w.jobs.get_run(w.jobs.run_now(chain_job(w), only=["b"]).run_id)
    assert [t.task_key for t in run.tasks] == ["b"]
    with pytest.raises(errors.InvalidParameterValue, match="only"):
        w.jobs.run_now(chain_job(w, "chain2"), only=["ghost"])


def test_cancel_all_and_delete_run(sb, w):
    job_id = single_task_job(w)
    run_id = w.jobs.run_now(job_id).run_id
    with pytest.raises(errors.InvalidParameterValue, match="Run 999 does not exist"):
        w.jobs.cancel_run(999)
    with pytest.raises(errors.InvalidState):
        w.jobs.delete_run(run_id)  # still active
    w.jobs.cancel_all_runs(job_id=job_id)
    _, run = poll_states(sb, w, run_id)
    assert run.state.result_state == jobs.RunResultState.CANCELED
    w.jobs.delete_run(run_id)
    with pytest.raises(errors.ResourceDoesNotExist):
        w.jobs.get_run(run_id)
