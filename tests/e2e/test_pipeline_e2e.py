"""lead submit -> worker -> sandbox: deploys in dependency order, updates, no-ops, validation failures."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from e2e_helpers import claims_never_overlap, notebook_job, requirement
from state.models import Task, TaskEvent

CHAIN = requirement(
    notebook_job("ingest")
    + """\
    refresh:
      name: refresh
      tasks:
        - task_key: run_ingest
          run_job_task:
            job_id: ${resources.jobs.ingest.id}
    publish:
      name: publish
      tasks:
        - task_key: run_refresh
          run_job_task:
            job_id: ${resources.jobs.refresh.id}
""",
    extra="run_after_deploy: [publish]\n",
)


def _tasks(engine) -> dict[str, Task]:
    with Session(engine) as session:
        return {t.spec_key: t for t in session.execute(select(Task).order_by(Task.id)).scalars()}


def _jobs_by_name(sb) -> dict[str, object]:
    w = sb.workspace_client()
    return {j.settings.name: w.jobs.get(j.job_id) for j in w.jobs.list()}


def test_multi_job_requirement_deploys_in_dependency_order_and_runs(e2e):
    e2e.write("req.md", CHAIN)
    code, out, err = e2e.lead("submit", str(e2e.root / "req.md"))
    assert code == 0, err
    outcomes = e2e.run_worker()
    assert outcomes == {"COMPLETE": 4}
    engine = e2e.engine()
    tasks = _tasks(engine)
    assert {k: t.status for k, t in tasks.items()} == {
        "deploy_job:ingest": "COMPLETE",
        "deploy_job:refresh": "COMPLETE",
        "deploy_job:publish": "COMPLETE",
        "run_job:publish": "COMPLETE",
    }
    jobs = _jobs_by_name(e2e.sb)
    assert sorted(jobs) == ["ingest", "publish", "refresh"]
    ingest_id = tasks["deploy_job:ingest"].result["job_id"]
    refresh_id = tasks["deploy_job:refresh"].result["job_id"]
    assert jobs["refresh"].settings.tasks[0].run_job_task.job_id == ingest_id
    assert jobs["publish"].settings.tasks[0].run_job_task.job_id == refresh_id
    # dependency order, from the event log: each deploy completed before its dependent was claimed
    with Session(engine) as session:
        events = session.execute(select(TaskEvent).order_by(TaskEvent.id)).scalars().all()
    completed_at = {e.task_id: e.id for e in events if e.to_status == "COMPLETE"}
    claimed_at = {e.task_id: e.id for e in events if e.to_status == "IN_PROGRESS" and e.from_status == "PENDING"}
    ids = {k: t.id for k, t in tasks.items()}
    assert completed_at[ids["deploy_job:ingest"]] < claimed_at[ids["deploy_job:refresh"]]
    assert completed_at[ids["deploy_job:refresh"]] < claimed_at[ids["deploy_job:publish"]]
    assert completed_at[ids["deploy_job:publish"]] < claimed_at[ids["run_job:publish"]]
    claims = claims_never_overlap(engine)
    # deploys are claimed once; the run is claimed again each time it is checked (it holds no slot meanwhile)
    assert {k: claims[t.id] for k, t in tasks.items() if k.startswith("deploy_job")} == {
        k: 1 for k in tasks if k.startswith("deploy_job")}
    assert claims[tasks["run_job:publish"].id] >= 1
    run = tasks["run_job:publish"].result
    assert run["result_state"] == "SUCCESS" and run["run_id"]
    page = next(e2e.progress.glob("REQ-0001-*.md")).read_text()
    assert f"/jobs/{ingest_id}" in page and "status: COMPLETE" in page
    assert "run page" in page


BROKEN = requirement(
    notebook_job("ingest", notebook="no_such_notebook")
    + notebook_job("report", node_type="x9.mega", extra="""\
      schedule:
        quartz_cron_expression: "0 99 2 * * ?"
        timezone_id: Europe/Amsterdam
""")
    + """\
    wrapper:
      name: wrapper
      tasks:
        - task_key: run_ingest
          run_job_task:
            job_id: ${resources.jobs.ingest.id}
""",
    title="Broken jobs",
)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_validation_failures_name_field_and_line_and_block_dependents(e2e):
    path = e2e.write("req.md", BROKEN)
    assert e2e.lead("submit", str(path))[0] == 0
    outcomes = e2e.run_worker()
    assert outcomes == {"FAILED": 2}
    tasks = _tasks(e2e.engine())
    ingest, report, wrapper = tasks["deploy_job:ingest"], tasks["deploy_job:report"], tasks["deploy_job:wrapper"]
    assert ingest.status == report.status == "FAILED"
    assert f"req.md:{_line_of(BROKEN, 'no_such_notebook')}: tasks[0].notebook_task.notebook_path" in ingest.error
    assert f"req.md:{_line_of(BROKEN, 'x9.mega')}: job_clusters[0].new_cluster.node_type_id" in report.error
    assert f"req.md:{_line_of(BROKEN, '0 99 2')}: schedule.quartz_cron_expression" in report.error
    assert wrapper.status == "PENDING" and wrapper.attempts == 0
    assert e2e.sb.workspace_client().jobs.list().__iter__().__next__ is not None
    assert list(e2e.sb.workspace_client().jobs.list()) == []  # validation changed nothing
    code, out, _ = e2e.lead("status", "REQ-0001")
    assert f"PENDING (blocked by {ingest.ref})" in out
    page = next(e2e.progress.glob("REQ-0001-*.md")).read_text()
    assert f"PENDING (blocked by {ingest.ref})" in page


TWO = requirement(notebook_job("ingest") + notebook_job("report", notebook="publish"), title="Two jobs")


def test_changed_file_gives_update_plans_with_the_diff_and_unchanged_jobs_no_op(e2e):
    path = e2e.write("req.md", TWO)
    assert e2e.lead("submit", str(path))[0] == 0
    assert e2e.run_worker() == {"COMPLETE": 2}
    first = _tasks(e2e.engine())
    ids_before = {k: t.result["job_id"] for k, t in first.items()}

    path.write_text(TWO.replace("node_type_id: i3.xlarge", "node_type_id: r5d.xlarge", 1))
    code, out, err = e2e.lead("submit", str(path), "--json")
    assert code == 0, err
    assert e2e.run_worker() == {"COMPLETE": 2}
    with Session(e2e.engine()) as session:
        second = {t.spec_key: t for t in session.execute(select(Task).where(Task.revision == 2)).scalars()}
    ingest_plan = second["deploy_job:ingest"].plan
    (action,) = ingest_plan["actions"]
    assert action["kind"] == "UPDATE" and action["target"] == f"job {ids_before['deploy_job:ingest']}"
    assert [(c["field"], c["before"], c["after"]) for c in action["changes"]] == [
        ("job_clusters[main].new_cluster.node_type_id", "i3.xlarge", "r5d.xlarge")
    ]
    report_plan = second["deploy_job:report"].plan
    assert [a["kind"] for a in report_plan["actions"]] == ["NO_OP"]
    assert {k: t.result["job_id"] for k, t in second.items()} == ids_before
    w = e2e.sb.workspace_client()
    assert len(list(w.jobs.list())) == 2
    assert w.jobs.get(ids_before["deploy_job:ingest"]).settings.job_clusters[0].new_cluster.node_type_id == "r5d.xlarge"
    page = next(e2e.progress.glob("REQ-0001-*.md")).read_text()
    assert "- job_clusters[main].new_cluster.node_type_id: i3.xlarge\n+ job_clusters[main].new_cluster.node_type_id: r5d.xlarge" in page


def test_failed_run_keeps_the_error_and_an_explicit_retry_starts_a_new_run(e2e):
    text = requirement(notebook_job("nightly"), title="Flaky", extra="run_after_deploy: [nightly]\n")
    path = e2e.write("req.md", text)
    assert e2e.lead("submit", str(path))[0] == 0
    e2e.sb.load_scenario(
        {"rules": [{"job": "nightly", "task": "step", "attempts": [1], "message": "java.lang.OutOfMemoryError: Java heap space"}]}
    )
    assert e2e.run_worker() == {"COMPLETE": 1, "FAILED": 1}
    run_task = _tasks(e2e.engine())["run_job:nightly"]
    assert run_task.status == "FAILED" and "OutOfMemoryError" in run_task.error
    first_run = run_task.result["run_id"]

    code, _, err = e2e.lead("retry", run_task.ref)
    assert code == 0, err
    assert e2e.run_worker() == {"COMPLETE": 1}
    again = _tasks(e2e.engine())["run_job:nightly"]
    assert again.status == "COMPLETE" and again.result["run_id"] != first_run
    job_id = again.result["job_id"]
    assert len(list(e2e.sb.workspace_client().jobs.list_runs(job_id=job_id))) == 2
