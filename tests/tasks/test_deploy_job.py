"""deploy_job against the sandbox: CREATE, NO_OP, UPDATE with a field diff, stale plans,
lost create responses, `${resources.jobs.X.id}` and current-user resolution."""

from __future__ import annotations

import pytest

from tasks.base import ActionKind, Plan, StalePlan, ValidationFailed
from tasks.deploy_job import DeployJob
from tasks.job_ownership import OWNER_TAG

JOB = """\
    # Jobs

    ```yaml
    resources:
      jobs:
        etl:
          name: Nightly ETL
          max_concurrent_runs: {mcr}
          schedule:
            quartz_cron_expression: "0 30 2 * * ?"
            timezone_id: Europe/Amsterdam
          job_clusters:
            - job_cluster_key: main
              new_cluster:
                spark_version: 15.4.x-scala2.12
                node_type_id: i3.xlarge
                num_workers: 2
          tasks:
            - task_key: ingest
              job_cluster_key: main
              notebook_task:
                notebook_path: ${{workspace.root_path}}/notebooks/ingest
            - task_key: transform
              depends_on:
                - task_key: ingest
              job_cluster_key: main
              notebook_task:
                notebook_path: ${{workspace.root_path}}/notebooks/{second}
    ```
    """


def etl_spec(reqs, mcr=1, second="transform"):
    return reqs.specs(JOB.format(mcr=mcr, second=second))["deploy_job:etl"]


def owned_jobs(w, key="req/dev/etl"):
    return [j for j in w.jobs.list() if (j.settings.tags or {}).get(OWNER_TAG) == key]


def deploy(ctx):
    """validate -> plan -> (stored and reloaded, as the worker does) -> apply."""
    task = DeployJob()
    task.validate(ctx)
    plan = task.plan(ctx)
    stored = Plan.from_dict(plan.as_dict())
    return plan, task.apply(ctx, stored)


def test_create_then_no_op(reqs, make_ctx, w, sb):
    spec = etl_spec(reqs)
    plan, result = deploy(make_ctx(spec))
    assert [a.kind for a in plan.actions] == [ActionKind.CREATE]
    assert result["action"] == "CREATE"
    assert result["job_url"] == f"{sb.url}/jobs/{result['job_id']}"
    job = w.jobs.get(result["job_id"])
    assert job.settings.name == "Nightly ETL"
    assert job.settings.tags[OWNER_TAG] == "req/dev/etl"
    assert [t.task_key for t in job.settings.tasks] == ["ingest", "transform"]

    again, result2 = deploy(make_ctx(spec))
    assert again.is_no_op and again.actions[0].changes == []
    assert result2 == {**result, "action": "NO_OP"}
    assert len(owned_jobs(w)) == 1


def test_update_carries_the_exact_field_diff(reqs, make_ctx, w, cited):
    _, first = deploy(make_ctx(etl_spec(reqs)))
    cited.clear()
    plan, result = deploy(make_ctx(etl_spec(reqs, mcr=3, second="publish")))
    (action,) = plan.actions
    assert action.kind is ActionKind.UPDATE and action.target == f"job {first['job_id']}"
    changes = {c.field: (c.before, c.after) for c in action.changes}
    assert changes == {
        "max_concurrent_runs": (1, 3),
        "tasks[transform].notebook_task.notebook_path": (
            "/Workspace/Shared/job-agent/notebooks/transform", "/Workspace/Shared/job-agent/notebooks/publish"),
    }
    by_field = {c.field: c.citations for c in action.changes}
    assert by_field["max_concurrent_runs"] == ["docs › JobSettings.max_concurrent_runs"]
    assert by_field["tasks[transform].notebook_task.notebook_path"] == ["docs › jobs Task notebook_task notebook_path"]
    assert result == {**first, "action": "UPDATE"}
    job = w.jobs.get(first["job_id"])
    assert job.settings.max_concurrent_runs == 3
    assert job.settings.tasks[1].notebook_task.notebook_path.endswith("/notebooks/publish")
    assert len(owned_jobs(w)) == 1


def test_a_removed_field_is_a_change_to_none(reqs, make_ctx):
    deploy(make_ctx(etl_spec(reqs, mcr=4)))
    body = JOB.format(mcr=1, second="transform").replace("          max_concurrent_runs: 1\n", "")
    plan = DeployJob().plan(make_ctx(reqs.specs(body)["deploy_job:etl"]))
    # the service default (1) is not sent back: absent now means the server's 1, a change from 4
    assert [(c.field, c.before, c.after) for c in plan.actions[0].changes] == [("max_concurrent_runs", 4, None)]


def test_renamed_job_is_found_by_its_tag(reqs, make_ctx, w):
    _, first = deploy(make_ctx(etl_spec(reqs)))
    renamed = JOB.format(mcr=1, second="transform").replace("name: Nightly ETL", "name: Nightly ETL v2")
    plan, result = deploy(make_ctx(reqs.specs(renamed)["deploy_job:etl"]))
    assert [(c.field, c.before, c.after) for c in plan.actions[0].changes] == [("name", "Nightly ETL", "Nightly ETL v2")]
    assert result["job_id"] == first["job_id"]


def test_other_target_gets_its_own_job_and_another_database_finds_the_same(reqs, make_ctx, w):
    _, a = deploy(make_ctx(etl_spec(reqs)))
    _, b = deploy(make_ctx(etl_spec(reqs), target="prod"))
    assert a["job_id"] != b["job_id"] and b["action"] == "CREATE"
    # another state database (nothing recorded) and another requirement number: the same deployment
    _, again = deploy(make_ctx(etl_spec(reqs), requirement_ref="REQ-0042", records=False))
    assert (again["job_id"], again["action"]) == (a["job_id"], "NO_OP")


def test_plans_read_one_job_by_its_recorded_id(reqs, make_ctx, w, sb):
    deploy(make_ctx(etl_spec(reqs)))
    sb.add_fault("/api/2.2/jobs/list", "503", count=None)  # any workspace listing would now fail
    plan, result = deploy(make_ctx(etl_spec(reqs, mcr=2)))
    assert [a.kind for a in plan.actions] == [ActionKind.UPDATE] and result["action"] == "UPDATE"
    assert sb.faults()[0]["seen"] == 0


def test_stale_plan_when_the_job_changes_between_plan_and_apply(reqs, make_ctx, w):
    from databricks.sdk.service import jobs

    _, first = deploy(make_ctx(etl_spec(reqs)))
    ctx = make_ctx(etl_spec(reqs, mcr=2))
    task = DeployJob()
    plan = task.plan(ctx)
    assert plan.actions[0].kind is ActionKind.UPDATE
    w.jobs.update(first["job_id"], new_settings=jobs.JobSettings(description="edited by hand"))
    with pytest.raises(StalePlan):
        task.apply(ctx, plan)
    assert w.jobs.get(first["job_id"]).settings.max_concurrent_runs == 1  # nothing applied
    replanned = task.plan(ctx)
    fields = {c.field for c in replanned.actions[0].changes}
    assert fields == {"max_concurrent_runs", "description"}
    assert task.apply(ctx, replanned)["action"] == "UPDATE"


def test_stale_no_op_plan_when_the_job_was_deleted(reqs, make_ctx, w):
    _, first = deploy(make_ctx(etl_spec(reqs)))
    ctx = make_ctx(etl_spec(reqs))
    plan = DeployJob().plan(ctx)
    assert plan.is_no_op
    w.jobs.delete(first["job_id"])
    with pytest.raises(StalePlan):
        DeployJob().apply(ctx, plan)


def test_stale_create_when_another_job_with_the_tag_appeared(reqs, make_ctx, w):
    ctx = make_ctx(etl_spec(reqs))
    plan = DeployJob().plan(ctx)
    assert plan.actions[0].kind is ActionKind.CREATE
    deploy(make_ctx(etl_spec(reqs, mcr=5)))  # someone else deployed other settings meanwhile
    with pytest.raises(StalePlan):
        DeployJob().apply(ctx, plan)
    assert len(owned_jobs(w)) == 1


def test_lost_create_response_leaves_exactly_one_job(reqs, make_ctx, w, sb):
    sb.add_fault("/api/2.2/jobs/create", "lose_response", count=1)
    plan, result = deploy(make_ctx(etl_spec(reqs)))
    assert plan.actions[0].kind is ActionKind.CREATE
    assert sb.faults()[0]["fired"] == 1
    jobs_now = owned_jobs(w)
    assert [j.job_id for j in jobs_now] == [result["job_id"]]


def test_apply_again_after_a_lost_create_adopts_the_job(reqs, make_ctx, w, sb):
    """The worker died after the create: the same stored CREATE plan, applied again, adopts."""
    ctx = make_ctx(etl_spec(reqs))
    plan = DeployJob().plan(ctx)
    first = DeployJob().apply(ctx, plan)
    second = DeployJob().apply(make_ctx(etl_spec(reqs)), Plan.from_dict(plan.as_dict()))
    assert second == first
    assert len(owned_jobs(w)) == 1


def test_job_references_resolve_from_dependency_results(reqs, make_ctx, w):
    specs = reqs.specs("""\
        ```yaml
        resources:
          jobs:
            leaf:
              name: leaf
              tasks:
                - task_key: leaf
                  notebook_task:
                    notebook_path: /Workspace/Shared/job-agent/notebooks/ingest
            primary:
              name: primary
              description: "runs leaf ${resources.jobs.leaf.id}"
              parameters:
                - name: who
                  default: ${workspace.current_user.userName}
                - name: short
                  default: ${workspace.current_user.short_name}
              tasks:
                - task_key: run_leaf
                  run_job_task:
                    job_id: ${resources.jobs.leaf.id}
        ```
        """)
    assert specs["deploy_job:primary"].depends_on == ("deploy_job:leaf",)
    _, leaf = deploy(make_ctx(specs["deploy_job:leaf"]))
    ctx = make_ctx(specs["deploy_job:primary"], deps={"deploy_job:leaf": leaf})
    plan, primary = deploy(ctx)
    assert plan.actions[0].params["settings"]["tasks"][0]["run_job_task"]["job_id"] == leaf["job_id"]
    settings = w.jobs.get(primary["job_id"]).settings
    assert settings.tasks[0].run_job_task.job_id == leaf["job_id"]
    assert settings.description == f"runs leaf {leaf['job_id']}"
    assert {p.name: p.default for p in settings.parameters} == {
        "who": "sandbox-user@example.com", "short": "sandbox_user"}
    assert DeployJob().plan(make_ctx(specs["deploy_job:primary"], deps={"deploy_job:leaf": leaf})).is_no_op


def test_unresolvable_job_reference_fails_validation_with_its_line(reqs, make_ctx):
    specs = reqs.specs("""\
        ```yaml
        resources:
          jobs:
            leaf:
              name: leaf
              tasks:
                - task_key: leaf
                  notebook_task:
                    notebook_path: /Workspace/Shared/job-agent/notebooks/ingest
            primary:
              name: primary
              tasks:
                - task_key: run_leaf
                  run_job_task:
                    job_id: ${resources.jobs.leaf.id}
        ```
        """)
    ctx = make_ctx(specs["deploy_job:primary"], deps={"deploy_job:leaf": {"job_url": "x"}})
    with pytest.raises(ValidationFailed) as err:
        DeployJob().validate(ctx)
    assert [p.field for p in err.value.problems] == ["tasks[0].run_job_task.job_id"], err.value.problems
    problem = err.value.problems[0]
    assert problem.line == reqs.line_of("job_id: ${resources.jobs.leaf.id}")
    assert "deploy_job:leaf" in problem.message
    with pytest.raises(ValidationFailed):
        DeployJob().plan(ctx)


def test_example_nightly_sales_deploys_and_is_then_a_no_op(make_ctx, w):
    from pathlib import Path

    from lead.requirements import load_requirements

    root = Path(__file__).resolve().parents[2]
    doc = load_requirements(root / "examples" / "nightly-sales.md")
    results = {}
    for spec in doc.task_specs:
        if spec.type == "deploy_job":
            _, results[spec.key] = deploy(make_ctx(spec))
    assert {r["action"] for r in results.values()} == {"CREATE"}
    for spec in doc.task_specs:
        if spec.type == "deploy_job":
            assert DeployJob().plan(make_ctx(spec)).is_no_op, spec.key
    nightly = w.jobs.get(results["deploy_job:sales_nightly"]["job_id"]).settings
    assert nightly.schedule.quartz_cron_expression == "0 30 2 * * ?"
    assert {p.name: p.default for p in nightly.parameters}["requested_by"] == "sandbox-user@example.com"


def test_create_answered_500_after_it_was_applied_is_adopted_on_the_next_apply(reqs, make_ctx, w, sb):
    """The create happened but the answer was a 500 (not retried by the SDK): the task fails
    this attempt; the worker's retry applies the same stored plan, which adopts the job."""
    from databricks.sdk.errors import DatabricksError

    sb.add_fault("/api/2.2/jobs/create", "lose_response", count=1, mode="500")
    ctx = make_ctx(etl_spec(reqs))
    stored = Plan.from_dict(DeployJob().plan(ctx).as_dict())
    with pytest.raises(DatabricksError):
        DeployJob().apply(ctx, stored)
    (created,) = owned_jobs(w)
    result = DeployJob().apply(make_ctx(etl_spec(reqs), attempt=2), stored)
    assert result["job_id"] == created.job_id and result["action"] == "CREATE"
    assert len(owned_jobs(w)) == 1
