"""run_job against the sandbox: success, failures with the run's error, idempotency across
repeated applies and restarts, timeout, and checking a running run again later (no slot held)."""

from __future__ import annotations

import time

import pytest

from tasks.base import ActionKind, CheckAgain, PermanentFailure, Plan, ValidationFailed
from tasks.deploy_job import DeployJob
from tasks.run_job import RunJob, idempotency_token

BODY = """\
    ---
    title: Run tests
    owner: me@example.com
    workspace_root: /Workspace/Shared/job-agent
    run_after_deploy:
      - etl
    ---

    ```yaml
    resources:
      jobs:
        etl:
          name: Run test ETL
          tasks:
            - task_key: ingest
              existing_cluster_id: 0101-120000-shared01
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/ingest
            - task_key: transform
              depends_on:
                - task_key: ingest
              existing_cluster_id: 0101-120000-shared01
              notebook_task:
                notebook_path: ${workspace.root_path}/notebooks/transform
    ```
    """


@pytest.fixture()
def deployed(reqs, make_ctx):
    """(run_job spec, the deploy dependency results) after deploying the job."""
    import textwrap

    specs = reqs.specs(textwrap.dedent(BODY), front="")
    deploy_spec = specs["deploy_job:etl"]
    ctx = make_ctx(deploy_spec)
    result = DeployJob().apply(ctx, DeployJob().plan(ctx))
    run_spec = specs["run_job:etl"]
    assert run_spec.depends_on == ("deploy_job:etl",)
    return run_spec, {"deploy_job:etl": result}


def apply_until_done(task, ctx, plan, *, max_checks: int = 10_000):
    """Apply, and while it says "check again", do what the worker does: keep the checkpoint,
    wait (shortened here: the sandbox clock runs fast) and apply again."""
    for _ in range(max_checks):
        try:
            return task.apply(ctx, plan)
        except CheckAgain as wait:
            ctx.checkpoint = wait.checkpoint
            time.sleep(min(wait.after_seconds, 0.01))
    raise AssertionError("the run never ended")


def run(ctx):
    task = RunJob()
    task.validate(ctx)
    plan = task.plan(ctx)
    return plan, apply_until_done(task, ctx, Plan.from_dict(plan.as_dict()))


def test_run_succeeds_and_records_the_run(deployed, make_ctx, w, sb):
    spec, deps = deployed
    plan, result = run(make_ctx(spec, deps=deps))
    job_id = deps["deploy_job:etl"]["job_id"]
    assert [(a.kind, a.target) for a in plan.actions] == [(ActionKind.RUN, f"job {job_id}")]
    assert result["result_state"] == "SUCCESS" and result["life_cycle_state"] == "TERMINATED"
    assert result["job_id"] == job_id
    remote = w.jobs.get_run(result["run_id"])
    assert remote.job_id == job_id
    assert result["run_page_url"] == remote.run_page_url
    assert result["termination"] == {"code": "SUCCESS", "type": "SUCCESS", "message": remote.status.termination_details.message}
    assert result["duration_ms"] == remote.run_duration and result["duration_ms"] > 0
    assert result["task_errors"] == []
    assert result["idempotency_token"] == plan.idempotency_token


def test_applying_twice_starts_one_run(deployed, make_ctx, w):
    spec, deps = deployed
    ctx = make_ctx(spec, deps=deps, task_id=4242)
    plan, first = run(ctx)
    restarted = make_ctx(spec, deps=deps, task_id=4242, attempt=2)  # the same task, claimed again
    replanned = RunJob().plan(restarted)
    assert replanned.idempotency_token == plan.idempotency_token
    second = apply_until_done(RunJob(), restarted, replanned)
    assert second["run_id"] == first["run_id"]
    runs = list(w.jobs.list_runs(job_id=deps["deploy_job:etl"]["job_id"]))
    assert [r.run_id for r in runs] == [first["run_id"]]


def test_tokens_differ_between_tasks_and_revisions(deployed, make_ctx):
    spec, deps = deployed
    a = make_ctx(spec, deps=deps, task_id=1)
    assert idempotency_token(a, 7) == idempotency_token(make_ctx(spec, deps=deps, task_id=1, attempt=3), 7)
    assert idempotency_token(a, 7) != idempotency_token(make_ctx(spec, deps=deps, task_id=2), 7)
    assert idempotency_token(a, 7) != idempotency_token(make_ctx(spec, deps=deps, task_id=1, revision=2), 7)
    assert idempotency_token(a, 7) != idempotency_token(a, 8)
    assert len(idempotency_token(a, 7)) <= 64


def test_failed_run_raises_with_the_tasks_error(deployed, make_ctx, sb):
    sb.load_scenario({"rules": [{"job": "Run test ETL", "task": "transform",
                                 "message": "java.lang.OutOfMemoryError: Java heap space"}]})
    spec, deps = deployed
    with pytest.raises(PermanentFailure) as err:
        run(make_ctx(spec, deps=deps))
    result = err.value.result
    assert result["result_state"] == "FAILED" and result["life_cycle_state"] == "TERMINATED"
    assert result["termination"]["code"] == "RUN_EXECUTION_ERROR"
    assert result["termination"]["type"] == "CLIENT_ERROR"
    (failed,) = result["task_errors"]
    assert failed["task_key"] == "transform" and failed["result_state"] == "FAILED"
    assert "java.lang.OutOfMemoryError: Java heap space" in failed["error"]
    message = str(err.value)
    assert "java.lang.OutOfMemoryError: Java heap space" in message
    assert "task transform FAILED" in message and str(result["run_id"]) in message
    assert result["run_page_url"] in message


def test_platform_failure_reports_internal_error(deployed, make_ctx, sb):
    sb.load_scenario({"rules": [{"job": "Run test ETL", "task": "ingest", "termination_code": "DRIVER_ERROR",
                                 "message": "Driver is unresponsive"}]})
    spec, deps = deployed
    with pytest.raises(PermanentFailure) as err:
        run(make_ctx(spec, deps=deps))
    result = err.value.result
    assert result["life_cycle_state"] == "INTERNAL_ERROR"
    assert result["termination"]["code"] == "DRIVER_ERROR"
    assert "Driver is unresponsive" in str(err.value)


def test_timeout_keeps_the_run_id(deployed, make_ctx, sb, w):
    sb.load_scenario({"defaults": {"duration_seconds": 10**9}})  # the run never ends
    spec, deps = deployed
    ctx = make_ctx(spec, deps=deps, settings={"run_timeout_seconds": 0})
    with pytest.raises(PermanentFailure) as err:
        run(ctx)
    result = err.value.result
    assert result["timed_out"] is True
    assert "did not finish within 0 s" in str(err.value)
    assert result["life_cycle_state"] not in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
    assert w.jobs.get_run(result["run_id"]).job_id == deps["deploy_job:etl"]["job_id"]


def test_a_running_run_is_checked_again_later_holding_no_slot(deployed, make_ctx, sb, w):
    sb.load_scenario({"defaults": {"duration_seconds": 10**9}})
    spec, deps = deployed
    ctx = make_ctx(spec, deps=deps, settings={"run_poll_initial_seconds": 1, "run_poll_backoff": 2,
                                             "run_poll_max_seconds": 5})
    plan = RunJob().plan(ctx)
    intervals, run_ids = [], set()
    for _ in range(5):
        with pytest.raises(CheckAgain) as wait:
            RunJob().apply(ctx, plan)
        intervals.append(wait.value.after_seconds)
        run_ids.add(wait.value.checkpoint["run_id"])
        ctx.checkpoint = wait.value.checkpoint
    assert intervals == [1, 2, 4, 5, 5]
    assert len(run_ids) == 1
    assert [r.run_id for r in w.jobs.list_runs(job_id=deps["deploy_job:etl"]["job_id"])] == list(run_ids)
    assert "is RUNNING" in str(wait.value) or "is PENDING" in str(wait.value)


def test_validate_needs_the_deployed_job_id(deployed, make_ctx, reqs):
    spec, _ = deployed
    with pytest.raises(ValidationFailed) as err:
        RunJob().validate(make_ctx(spec, deps={"deploy_job:etl": {"action": "CREATE"}}))
    (problem,) = err.value.problems
    assert problem.field == "deploy_task" and "deploy_job:etl" in problem.message
    assert problem.line == spec.payload["source"]["line"]


def test_orchestrated_example_deploys_in_order_and_runs(make_ctx, w):
    """examples/orchestrated-jobs.md: leaves first, `primary` gets their ids, its run runs both.

    The example's project files are in the sandbox seed (what a bundle sync would upload)."""
    from pathlib import Path

    from lead.requirements import load_requirements

    doc = load_requirements(Path(__file__).resolve().parents[2] / "examples" / "orchestrated-jobs.md")
    results: dict[str, dict] = {}
    for spec in doc.task_specs:  # topological order, dependencies first
        deps = {key: results[key] for key in spec.depends_on}
        ctx = make_ctx(spec, deps=deps)
        task = DeployJob() if spec.type == "deploy_job" else RunJob()
        task.validate(ctx)
        results[spec.key] = apply_until_done(task, ctx, task.plan(ctx))
    primary = w.jobs.get(results["deploy_job:primary"]["job_id"]).settings
    assert [t.run_job_task.job_id for t in primary.tasks] == [
        results["deploy_job:leaf1"]["job_id"], results["deploy_job:leaf2"]["job_id"]]
    assert results["run_job:primary"]["result_state"] == "SUCCESS"
    assert results["run_job:primary"]["job_id"] == results["deploy_job:primary"]["job_id"]
