"""Run control end to end: `lead run` / `lead runs status` / `lead runs cancel` against the
sandbox over HTTP with the unmodified SDK, each a pipeline task recorded in SQLite."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlmodel import Session

from state.models import Requirement, Task, TaskEvent


def _task(env, ref: str) -> Task:
    with Session(env.engine()) as session:
        return session.get(Task, int(ref.split("-")[1]))


def _events(env, ref: str) -> list[tuple[str, str, str | None]]:
    with Session(env.engine()) as session:
        rows = session.execute(select(TaskEvent).where(TaskEvent.task_id == int(ref.split("-")[1]))
                               .order_by(TaskEvent.id)).scalars()
        return [(e.from_status or "", e.to_status, e.phase) for e in rows]


def _task_count(env) -> int:
    with Session(env.engine()) as session:
        return len(session.execute(select(Task.id)).all())


def test_run_no_wait_status_and_cancel_through_the_cli(deployed):
    started = deployed.lead("run", "rcbundle/dev/ingest", "--param", "run_date=2026-02-03", "--no-wait", "--json",
                            *deployed.sandbox_args())
    assert started.code == 0, started.err
    info = started.json()
    run_id = info["run_id"]
    assert info["job_id"] == deployed.job_ids["rc-ingest"]
    assert info["job_name"] == "rc-ingest"
    assert info["life_cycle_state"] in ("PENDING", "RUNNING")
    assert info["result_state"] is None
    w = deployed.sb.workspace_client()
    run = w.jobs.get_run(run_id)
    assert run.job_id == deployed.job_ids["rc-ingest"]
    assert {p.name: p.value for p in run.job_parameters or []}["run_date"] == "2026-02-03"

    start_task = _task(deployed, info["task_ref"])
    assert (start_task.type, start_task.status) == ("start_run", "COMPLETE")
    assert start_task.result["run_id"] == run_id
    assert start_task.plan["actions"][0]["kind"] == "RUN"
    phases = [phase for frm, to, phase in _events(deployed, info["task_ref"]) if frm == to == "IN_PROGRESS"]
    assert phases == ["validate", "plan", "apply"]

    status = deployed.lead("runs", "status", str(run_id), "--json", *deployed.sandbox_args())
    assert status.code == 0, status.err
    assert status.json()["life_cycle_state"] in ("PENDING", "RUNNING")
    assert status.json()["task_ref"] != info["task_ref"]
    assert _task(deployed, status.json()["task_ref"]).type == "run_status"

    cancelled = deployed.lead("runs", "cancel", str(run_id), "--json", *deployed.sandbox_args())
    assert cancelled.code == 0, cancelled.err
    assert (cancelled.json()["life_cycle_state"], cancelled.json()["result_state"]) == ("TERMINATED", "CANCELED")
    state = w.jobs.get_run(run_id).state
    assert (state.life_cycle_state.value, state.result_state.value) == ("TERMINATED", "CANCELED")
    cancel_task = _task(deployed, cancelled.json()["task_ref"])
    assert (cancel_task.type, cancel_task.status) == ("cancel_run", "COMPLETE")
    assert cancel_task.plan["actions"][0]["kind"] == "UPDATE"

    # all three tasks are in the ad_hoc requirement, and its progress page shows them
    with Session(deployed.engine()) as session:
        requirement = session.execute(select(Requirement).where(Requirement.identity == "ad_hoc/run-control")).scalar_one()
    assert requirement.ref == info["requirement_ref"] == status.json()["requirement_ref"]
    page = next(deployed.progress.glob(f"{requirement.ref}*.md")).read_text()
    for ref in (info["task_ref"], status.json()["task_ref"], cancelled.json()["task_ref"]):
        assert ref in page
    assert f"cancel run {run_id}" in page

    again = deployed.lead("runs", "cancel", str(run_id), "--json", *deployed.sandbox_args())
    assert again.code == 0, again.err
    assert again.json()["result_state"] == "CANCELED"
    assert _task(deployed, again.json()["task_ref"]).plan["actions"][0]["kind"] == "NO_OP"

    # and every command is in the audit, under the MCP tool doing the same work
    audit = deployed.lead("audit", "--json")
    assert audit.code == 0, audit.err
    calls = [(entry["tool"], entry["status"], entry["client"]) for entry in audit.json()]
    assert calls == [("cancel_run", "ok", "lead-cli"), ("cancel_run", "ok", "lead-cli"),
                     ("get_run_status", "ok", "lead-cli"), ("start_job_run", "ok", "lead-cli")]
    assert audit.json()[-1]["arguments"]["wait"] is False and audit.json()[0]["arguments"]["run_id"] == run_id


def test_text_output_names_the_run_state_and_task(deployed):
    started = deployed.lead("run", str(deployed.job_ids["rc-report"]), "--no-wait", *deployed.sandbox_args())
    assert started.code == 0, started.err
    first = started.out.splitlines()[0]
    assert first.startswith("run ") and f"of job rc-report ({deployed.job_ids['rc-report']}) started:" in first
    assert "T-" in started.out and "REQ-" in started.out
    run_id = int(first.split()[1])
    deployed.sb.workspace_client().jobs.cancel_run(run_id)


def test_a_notebook_job_takes_its_base_parameters_as_notebook_params(deployed):
    result = deployed.lead("run", "rc-widgets", "--param", "mode=delta", "--no-wait", "--json", *deployed.sandbox_args())
    assert result.code == 0, result.err
    run = deployed.sb.workspace_client().jobs.get_run(result.json()["run_id"])
    assert run.overriding_parameters.notebook_params == {"mode": "delta"}
    assert not run.job_parameters
    refused = deployed.lead("run", "rc-widgets", "--param", "date=1", "--no-wait", *deployed.sandbox_args())
    assert refused.code == 1 and "(its parameters: mode)" in refused.err
    deployed.sb.workspace_client().jobs.cancel_run(result.json()["run_id"])


def test_by_job_id_by_name_and_by_short_key(deployed):
    from lead.run_control import start_run

    engine, provider = deployed.engine(), deployed.provider()
    by_id = start_run(engine, provider, str(deployed.job_ids["rc-report"]), progress_dir=deployed.progress)
    by_name = start_run(engine, provider, "rc-report", progress_dir=deployed.progress)
    by_key = start_run(engine, provider, "report", progress_dir=deployed.progress)
    assert by_id.job_id == by_name.job_id == by_key.job_id == deployed.job_ids["rc-report"]
    assert len({by_id.run_id, by_name.run_id, by_key.run_id}) == 3
    assert len({by_id.task_ref, by_name.task_ref, by_key.task_ref}) == 3
    w = deployed.sb.workspace_client()
    for info in (by_id, by_name, by_key):
        w.jobs.cancel_run(info.run_id)


def test_user_mistakes_exit_1_and_record_nothing(deployed):
    w = deployed.sb.workspace_client()
    from databricks.sdk.service import jobs

    twins = [w.jobs.create(name="rc-twin", tasks=[jobs.Task(task_key="t", existing_cluster_id="0101-120000-shared01",
                                                             notebook_task=jobs.NotebookTask(notebook_path="/Shared/job-agent/notebooks/ingest"))]).job_id
             for _ in range(2)]
    before = _task_count(deployed)
    cases = {
        ("run", "no-such-job"): "no job key, id or name 'no-such-job'",
        ("run", "987654"): "job 987654 does not exist",
        ("run", "rc-twin"): f"jobs {min(twins)}, {max(twins)} have it",
        ("run", "ingest", "--param", "nope=1"): "has no parameter 'nope' (its parameters: region, run_date)",
        ("run", "ingest", "--param", "novalue"): "expected NAME=VALUE",
        ("run", "rc-report", "--param", "x=1"): "(its parameters: none)",
        ("runs", "status", "99999"): "run 99999 does not exist",
        ("runs", "cancel", "99999"): "run 99999 does not exist",
    }
    for args, message in cases.items():
        result = deployed.lead(*args, "--no-wait" if args[0] == "run" else "--json", *deployed.sandbox_args())
        assert result.code == 1, (args, result.out, result.err)
        assert message in result.err, (args, result.err)
        assert "Traceback" not in result.err
    assert _task_count(deployed) == before


def test_missing_sandbox_state_file_is_a_user_error(deployed, tmp_path):
    result = deployed.lead("run", "ingest", "--no-wait", "--sandbox", "--sandbox-state", str(tmp_path / "nope.json"))
    assert result.code == 1
    assert "no such file" in result.err


def test_wait_follows_the_run_to_its_end(deployed):
    from lead.run_control import start_run

    engine, provider = deployed.engine(), deployed.provider()
    timer = threading.Timer(0.5, lambda: deployed.sb.advance(2 * 3600))
    timer.start()
    try:
        info = start_run(engine, provider, "ingest", {"region": "us"}, wait=True, progress_dir=deployed.progress,
                         timeout_s=60)
    finally:
        timer.cancel()
    assert (info.life_cycle_state, info.result_state) == ("TERMINATED", "SUCCESS")
    assert info.end_time and info.start_time and info.end_time > info.start_time
    events = _events(deployed, info.task_ref)
    assert ("IN_PROGRESS", "PENDING", "apply") in events  # it waited as PENDING (CheckAgain), holding no slot


def test_a_run_that_outlasts_the_wait_fails_the_task_and_keeps_the_run_id(deployed):
    from lead.run_control import RunControlTaskFailed, start_run

    with pytest.raises(RunControlTaskFailed) as caught:
        start_run(deployed.engine(), deployed.provider(), "ingest", wait=True, timeout_s=1, progress_dir=deployed.progress)
    failure = caught.value
    assert failure.status == "FAILED" and "did not end within 1 s" in str(failure)
    assert failure.task_ref in str(failure)
    run_id = failure.result["run_id"]
    task = _task(deployed, failure.task_ref)
    assert (task.type, task.status, task.result["run_id"]) == ("start_run", "FAILED", run_id)
    result = deployed.lead("runs", "cancel", str(run_id), "--json", *deployed.sandbox_args())
    assert result.code == 0 and result.json()["result_state"] == "CANCELED", result.err


def test_a_lost_run_now_answer_starts_one_run_not_two(deployed):
    """run-now is applied but its answer is lost: the retry sends the same idempotency token,
    so the service returns the run it started."""
    from lead.run_control import start_run

    w = deployed.sb.workspace_client()
    job_id = deployed.job_ids["rc-report"]
    before = {r.run_id for r in w.jobs.list_runs(job_id=job_id)}
    deployed.sb.add_fault("/api/2.2/jobs/run-now", "lose_response", count=1)
    try:
        info = start_run(deployed.engine(), deployed.provider(), "rc-report", progress_dir=deployed.progress)
        assert [f["fired"] for f in deployed.sb.faults()] == [1]
    finally:
        deployed.sb.clear_faults()
    new = {r.run_id for r in w.jobs.list_runs(job_id=job_id)} - before
    assert new == {info.run_id}
    w.jobs.cancel_run(info.run_id)


def test_a_worker_runs_these_task_types_too_and_never_asks_for_citations(deployed):
    """A task the lead left (or an agent enqueued) is carried out by an ordinary worker; none of
    the three types consults the documentation retriever."""
    from lead.run_control import _record

    job_id = deployed.job_ids["rc-report"]
    _, start_ref, _ = _record(deployed.engine(), type_="start_run", key="start_run:worker-test", title="start",
                              payload={"job_id": job_id, "params": {}, "wait": False})
    asked: list[str] = []
    # the previous test cancelled a run of this job a moment ago: it stays TERMINATING for its
    # cleanup, and the job allows one active run, so let simulated time pass (else SKIPPED)
    deployed.sb.advance(10)
    assert deployed.run_worker(cite=lambda query: asked.append(query) or []) == {"COMPLETE": 1}
    run_id = _task(deployed, start_ref).result["run_id"]
    assert _task(deployed, start_ref).result["life_cycle_state"] != "SKIPPED"
    _, status_ref, _ = _record(deployed.engine(), type_="run_status", key="run_status:worker-test", title="status",
                               payload={"run_id": run_id})
    _, cancel_ref, _ = _record(deployed.engine(), type_="cancel_run", key="cancel_run:worker-test", title="cancel",
                               payload={"run_id": run_id, "wait": True, "timeout_s": 30})
    assert deployed.run_worker(cite=lambda query: asked.append(query) or []) == {"COMPLETE": 2}
    assert _task(deployed, status_ref).result["run_id"] == run_id
    assert _task(deployed, cancel_ref).result["result_state"] == "CANCELED"
    assert asked == []


def test_lead_run_loads_no_retriever_model_or_llm_modules(deployed):
    """`lead run --no-wait` in its own process: nothing of chromadb, torch, litellm, the
    retriever or sentence-transformers is imported."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import json, sys\n"
        "from lead.cli import app\n"
        "from lead.cli_runner import run_cli\n"
        "code = run_cli(app, 'lead', sys.argv[1:])\n"
        "heavy = ('chromadb', 'torch', 'litellm', 'retriever', 'sentence_transformers', 'docs_index', 'llm')\n"
        "print(json.dumps({'code': code, 'loaded': sorted(m for m in sys.modules if m.split('.')[0] in heavy)}), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
    proc = subprocess.run([sys.executable, "-c", script, "run", "ingest", "--no-wait", "--json", "--db", deployed.db_url,
                           "--progress-dir", str(deployed.progress), *deployed.sandbox_args()],
                          cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, proc.stderr[-2000:]
    deployed.sb.workspace_client().jobs.cancel_run(json.loads(proc.stdout)["run_id"])


def test_a_short_key_naming_two_deployments_is_ambiguous(deployed):
    from sqlmodel import Session

    from state.deployments import record_deployment
    from state.engine import writer

    with Session(writer(deployed.engine())) as session:
        record_deployment(session, deployed.sb.url, "otherbundle/dev/ingest", job_id=deployed.job_ids["rc-report"])
        session.commit()
    try:
        result = deployed.lead("run", "ingest", "--no-wait", *deployed.sandbox_args())
        assert result.code == 1
        assert "'ingest' is ambiguous: it names the deployments otherbundle/dev/ingest, rcbundle/dev/ingest" in result.err
        whole = deployed.lead("run", "rcbundle/dev/ingest", "--no-wait", "--json", *deployed.sandbox_args())
        assert whole.code == 0, whole.err
        assert whole.json()["job_id"] == deployed.job_ids["rc-ingest"]
        # the other record names a job that does not carry that key: refused, not run
        other = deployed.lead("run", "otherbundle/dev/ingest", "--no-wait", *deployed.sandbox_args())
        assert other.code == 1 and "has no job in this workspace any more" in other.err
        deployed.sb.workspace_client().jobs.cancel_run(whole.json()["run_id"])
    finally:
        from sqlalchemy import delete

        from state.models import Deployment

        with Session(writer(deployed.engine())) as session:
            session.execute(delete(Deployment).where(Deployment.key == "otherbundle/dev/ingest"))
            session.commit()


def test_no_usable_workspace_is_a_user_error(deployed, tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))
    result = deployed.lead("run", "ingest", "--no-wait")
    assert result.code == 1, result.err
    assert "cannot use the workspace (Databricks (SDK unified auth))" in result.err
    assert "Traceback" not in result.err
    assert deployed.lead("runs", "status", "1", "--profile", "nope", "--sandbox").code == 1
