"""The core of a long-lived service, end to end: deployment identity, superseded revisions,
cancelling with dependents, stale plans that keep going stale, drift (duplicate jobs)."""

from __future__ import annotations

import threading

from e2e_helpers import notebook_job, requirement
from sqlalchemy import select
from sqlmodel import Session

from state.engine import writer
from state.machine import TaskStatus
from state.models import Requirement, Task, TaskEvent
from state.outcomes import record_outcome
from state.queue import claim_next
from tasks.job_ownership import OWNER_TAG

ETL = notebook_job("etl", "Nightly ETL")


def _tagged(w, key: str) -> list:
    return sorted((j for j in w.jobs.list() if (j.settings.tags or {}).get(OWNER_TAG) == key), key=lambda j: j.job_id)


def _tasks(engine) -> dict[str, Task]:
    with Session(engine) as session:
        return {f"{t.spec_key}@{t.revision}": t for t in session.execute(select(Task).order_by(Task.id)).scalars()}


def _phases_entered(engine, task_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.phase for e in session.execute(select(TaskEvent).where(TaskEvent.task_id == task_id)).scalars()
                if e.from_status == e.to_status == "IN_PROGRESS"]


def _other(e2e, name: str):
    root = e2e.root / name
    root.mkdir()
    return type(e2e)(root, f"sqlite:///{root / 'state.db'}", e2e.sb)


# -- (1) a superseded revision never applies ---------------------------------------------------
def test_old_revision_sent_back_by_a_transient_error_is_cancelled_and_never_applies(e2e):
    path = e2e.write("req.md", requirement(notebook_job("etl", extra="      max_concurrent_runs: 1\n")))
    assert e2e.lead("submit", str(path))[0] == 0
    engine = e2e.engine()
    old = claim_next(engine, "old-worker", 30)  # revision 1's deploy is running somewhere
    e2e.write("req.md", requirement(notebook_job("etl", extra="      max_concurrent_runs: 2\n")))
    assert e2e.lead("submit", str(path))[0] == 0  # revision 2; the running task is not PENDING, so not cancelled yet
    with Session(writer(engine)) as session:  # the old worker meets a transient error: "back to PENDING"
        recorded = record_outcome(session, old.task_id, TaskStatus.PENDING, lease_owner=old.lease_owner,
                                  reason="transient error", not_before_in=0)
        session.commit()
    assert recorded is TaskStatus.CANCELLED
    outcomes = e2e.run_worker()
    assert outcomes == {"COMPLETE": 1}
    tasks = _tasks(engine)
    assert tasks["deploy_job:etl@1"].status == "CANCELLED"
    assert "apply" not in _phases_entered(engine, old.task_id)
    (job,) = _tagged(e2e.sb.workspace_client(), "req/dev/etl")
    assert job.settings.max_concurrent_runs == 2


def test_old_revision_running_learns_it_at_the_next_phase_and_stops(e2e):
    path = e2e.write("req.md", requirement(ETL))
    e2e.lead("submit", str(path))
    engine = e2e.engine()
    old = claim_next(engine, "w-old", 30)
    e2e.write("req.md", requirement(notebook_job("etl", "Nightly ETL v2")))
    e2e.lead("submit", str(path))
    from worker.citations import Citer
    from worker.pipeline import TaskRunner, WorkerSettings

    runner = TaskRunner(engine, WorkerSettings(worker_id="w-old"), e2e.sb.workspace_client,
                        Citer(lambda m: None, enabled=False), threading.Event())
    assert runner.run(old) == "CANCELLED"
    with Session(engine) as session:
        reason = session.execute(select(TaskEvent.reason).where(TaskEvent.task_id == old.task_id,
                                                                TaskEvent.to_status == "CANCELLED")).scalar_one()
    assert reason.startswith("superseded by revision 2")
    assert list(e2e.sb.workspace_client().jobs.list()) == []  # revision 1 created nothing


def test_retry_of_a_superseded_task_is_refused_naming_the_newer_revision(e2e):
    path = e2e.write("req.md", requirement(ETL))
    e2e.lead("submit", str(path))
    engine = e2e.engine()
    old = claim_next(engine, "w", 30)
    with Session(writer(engine)) as session:
        record_outcome(session, old.task_id, TaskStatus.FAILED, lease_owner="w", reason="failed", values={"error": "x"})
        session.commit()
    e2e.write("req.md", requirement(notebook_job("etl", "Renamed")))
    e2e.lead("submit", str(path))
    code, _, err = e2e.lead("retry", "T-0001")
    assert code == 1
    assert "superseded by revision 2" in err and "T-0001" in err
    assert _tasks(engine)["deploy_job:etl@1"].status == "FAILED"


# -- (2) a deployment is <bundle>/<target>/<job_key> everywhere --------------------------------
def test_two_databases_and_two_clone_paths_deploy_one_job_and_two_targets_two(e2e):
    w = e2e.sb.workspace_client()
    foreign = w.jobs.create(name="Nightly ETL", tags={"team": "someone-else"}).job_id
    text = requirement(ETL, extra="bundle: sales\n")
    results = []
    for clone in ("clone-a", "clone-b"):  # two checkouts, two state databases, one workspace
        env = _other(e2e, clone)
        path = env.write("req.md", text)
        code, out, err = env.lead("submit", str(path), "--json")
        assert code == 0, err
        assert env.run_worker() == {"COMPLETE": 1}
        with Session(env.engine()) as session:
            results.append(session.execute(select(Task.result)).scalar_one())
    assert [r["action"] for r in results] == ["CREATE", "NO_OP"]
    (job,) = _tagged(w, "sales/dev/etl")
    assert results[0]["job_id"] == results[1]["job_id"] == job.job_id
    assert w.jobs.get(foreign).settings.tags == {"team": "someone-else"}  # never touched

    prod = _other(e2e, "clone-prod")
    path = prod.write("req.md", requirement(ETL, extra="bundle: sales\ntarget: prod\n"))
    assert prod.lead("submit", str(path))[0] == 0
    assert prod.run_worker() == {"COMPLETE": 1}
    assert len(_tagged(w, "sales/prod/etl")) == 1 and len(_tagged(w, "sales/dev/etl")) == 1
    assert len(list(w.jobs.list(name="Nightly ETL"))) == 3


def test_the_same_bundle_from_another_path_is_a_new_revision_of_the_same_requirement(e2e):
    text = requirement(ETL, extra="bundle: sales\n")
    first = e2e.write("req.md", text)
    (e2e.root / "moved").mkdir()
    second = e2e.write("moved/req.md", text)
    assert e2e.lead("submit", str(first))[0] == 0
    code, out, _ = e2e.lead("submit", str(second), "--json")
    assert code == 0
    import json

    data = json.loads(out)
    assert (data["requirement"], data["outcome"], data["revision"]) == ("REQ-0001", "revised", 2)
    with Session(e2e.engine()) as session:
        (req,) = session.execute(select(Requirement)).scalars().all()
    assert (req.identity, req.source_path) == ("sales/dev", str(second.resolve()))


def test_a_job_deployed_by_the_previous_release_is_adopted_once(e2e):
    w = e2e.sb.workspace_client()
    path = e2e.write("req.md", requirement(ETL))
    e2e.lead("submit", str(path))
    old = w.jobs.create(name="Nightly ETL", tags={OWNER_TAG: "REQ-0001:etl"}, max_concurrent_runs=5).job_id
    assert e2e.run_worker() == {"COMPLETE": 1}
    with Session(e2e.engine()) as session:
        task = session.execute(select(Task)).scalar_one()
    assert task.result["job_id"] == old and task.result["action"] == "UPDATE"
    assert "adopts job" in task.plan["actions"][0]["summary"]
    assert w.jobs.get(old).settings.tags[OWNER_TAG] == "req/dev/etl"


# -- (4) drift: more than one job carrying a key ----------------------------------------------
def test_duplicate_jobs_of_one_deployment_become_delete_actions(e2e):
    w = e2e.sb.workspace_client()
    text = requirement(ETL, extra="bundle: sales\n")
    first = _other(e2e, "first")
    first.lead("submit", str(first.write("req.md", text)))
    first.run_worker()
    (kept,) = _tagged(w, "sales/dev/etl")
    settings = w.jobs.get(kept.job_id).settings
    # an overlapping deploy (a lease lost in a database outage) left a second job with the key
    duplicate = w.jobs.create(**{name: getattr(settings, name) for name in settings.as_dict()}).job_id
    assert len(_tagged(w, "sales/dev/etl")) == 2

    second = _other(e2e, "second")  # a state database that never recorded either job
    second.lead("submit", str(second.write("req.md", text)))
    assert second.run_worker() == {"COMPLETE": 1}
    with Session(second.engine()) as session:
        task = session.execute(select(Task)).scalar_one()
    kinds = [(a["kind"], a["target"]) for a in task.plan["actions"]]
    assert kinds == [("NO_OP", f"job {kept.job_id}"), ("DELETE", f"job {duplicate}")]
    assert task.result["deleted_job_ids"] == [duplicate]
    assert [j.job_id for j in _tagged(w, "sales/dev/etl")] == [kept.job_id]


def test_a_recorded_extra_job_is_planned_as_delete(e2e):
    from state.deployments import record_deployment

    w = e2e.sb.workspace_client()
    path = e2e.write("req.md", requirement(ETL))
    e2e.lead("submit", str(path))
    e2e.run_worker()
    (kept,) = _tagged(w, "req/dev/etl")
    settings = w.jobs.get(kept.job_id).settings
    extra = w.jobs.create(**{name: getattr(settings, name) for name in settings.as_dict()}).job_id
    engine = e2e.engine()
    with Session(writer(engine)) as session:  # an overlapping create recorded its job too
        record_deployment(session, e2e.sb.url.rstrip("/"), "req/dev/etl", job_id=kept.job_id, extra_job_ids=[extra])
        session.commit()
    e2e.write("req.md", requirement(notebook_job("etl", "Nightly ETL", extra="      max_concurrent_runs: 3\n")))
    e2e.lead("submit", str(path))
    assert e2e.run_worker() == {"COMPLETE": 1}
    task = _tasks(engine)["deploy_job:etl@2"]
    assert [a["kind"] for a in task.plan["actions"]] == ["UPDATE", "DELETE"]
    assert [j.job_id for j in _tagged(w, "req/dev/etl")] == [kept.job_id]


# -- (6) a plan that keeps going stale ends FAILED ---------------------------------------------
def test_a_job_edited_by_hand_before_every_apply_fails_after_max_attempts(e2e):
    from databricks.sdk.service import jobs

    path = e2e.write("req.md", requirement(ETL))
    e2e.lead("submit", str(path))
    e2e.run_worker()
    (job,) = _tagged(e2e.sb.workspace_client(), "req/dev/etl")
    e2e.write("req.md", requirement(notebook_job("etl", "Nightly ETL", extra="      max_concurrent_runs: 4\n")))
    e2e.lead("submit", str(path))
    edits = []

    def cite_and_edit(query: str) -> list[str]:
        # Called while planning (after the job was read): someone edits the job by hand each time.
        edits.append(query)
        e2e.sb.workspace_client().jobs.update(job.job_id, new_settings=jobs.JobSettings(description=f"hand edit {len(edits)}"))
        return []

    done: dict = {}
    thread = threading.Thread(target=lambda: done.setdefault("outcomes", e2e.run_worker(cite=cite_and_edit)), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the stale plan kept cycling"
    assert done["outcomes"] == {"PENDING": 2, "FAILED": 1}  # two stale plans sent back, the third attempt fails
    task = _tasks(e2e.engine())["deploy_job:etl@2"]
    assert task.status == "FAILED" and task.attempts == task.max_attempts == 3
    assert "plan went stale 3 time(s)" in task.error


# -- (7) cancelling a task cancels its dependents ----------------------------------------------
def test_cancelling_a_task_with_dependents_ends_the_requirement_cancelled(e2e):
    body = ETL + notebook_job("report", extra="      description: after ${resources.jobs.etl.id}\n")
    path = e2e.write("req.md", requirement(body, extra="run_after_deploy: [report]\n"))
    assert e2e.lead("submit", str(path))[0] == 0
    code, out, _ = e2e.lead("cancel", "T-0001", "--json")
    assert code == 0
    import json

    assert json.loads(out)["cancelled"] == ["T-0001", "T-0002", "T-0003"]
    engine = e2e.engine()
    with Session(engine) as session:
        req = session.execute(select(Requirement)).scalar_one()
        reasons = dict(session.execute(select(TaskEvent.task_id, TaskEvent.reason).where(TaskEvent.to_status == "CANCELLED")).all())
    assert req.status == "CANCELLED"
    assert reasons == {1: "cancelled by the user", 2: "cancelled because T-0001 was cancelled",
                       3: "cancelled because T-0002 was cancelled"}
    assert e2e.run_worker() == {}
