"""Failure remediation end to end: a failed run of a requirement with `remediation: enabled`
is diagnosed and acted on against the sandbox, with a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import json
import socket

import pytest
from e2e_helpers import notebook_job, requirement
from sqlalchemy import select
from sqlmodel import Session

from state.models import Decision, Task

OWNER = "data-eng@example.com"
ONCALL = "oncall@example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch, tmp_path):
    from aiosmtpd.controller import Controller

    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("JOB_AGENT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("JOB_AGENT_SMTP_PORT", str(port))
    monkeypatch.setenv("JOB_AGENT_SMTP_STARTTLS", "false")
    monkeypatch.setenv("JOB_AGENT_MAIL_FROM", "job-agent@example.com")
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
    yield handler
    controller.stop()


def _remediated(e2e, scenario: dict, *, remediation: str = "{enabled: true, escalate_to: oncall@example.com}",
                node: str = "i3.xlarge", worker_runs: int = 1):
    e2e.sb.load_scenario(scenario)
    text = requirement(notebook_job("etl", "Nightly ETL", node_type=node),
                       extra=f"run_after_deploy: [etl]\nremediation: {remediation}\n")
    path = e2e.write("req.md", text)
    code, _, err = e2e.lead("submit", str(path))
    assert code == 0, err
    outcomes = [e2e.run_worker() for _ in range(worker_runs)]
    with Session(e2e.engine()) as session:
        decisions = list(session.execute(select(Decision).order_by(Decision.id)).scalars())
        tasks = {t.spec_key: t for t in session.execute(select(Task).order_by(Task.id)).scalars()}
    return outcomes, decisions, tasks


def test_out_of_memory_gets_a_bigger_node_and_the_repair_succeeds(e2e, inbox):
    scenario = {"rules": [{"job": "Nightly ETL", "task": "step", "message": "java.lang.OutOfMemoryError: Java heap space",
                           "trace": "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3236)",
                           "succeeds_when": {"min_memory_gb": 60}}]}
    outcomes, decisions, tasks = _remediated(e2e, scenario)
    (decision,) = decisions
    assert (decision.category, decision.remediation, decision.status, decision.outcome) == (
        "resource", "RETRY_WITH_NEW_PARAMS", "APPLIED", "SUCCESS")
    assert {"field": "job_clusters[main].new_cluster.node_type_id", "before": "i3.xlarge", "after": "i3.2xlarge"} in decision.detail["changes"]
    job = e2e.sb.workspace_client().jobs.get(decision.job_id)
    assert job.settings.job_clusters[0].new_cluster.node_type_id == "i3.2xlarge"
    run = e2e.sb.workspace_client().jobs.get_run(decision.run_id, include_history=True)
    assert run.state.result_state.value == "SUCCESS"
    assert [h.type.value for h in run.repair_history] == ["ORIGINAL", "REPAIR"]
    remediation = next(t for key, t in tasks.items() if key.startswith("follow_up:remediate:"))
    assert remediation.status == "COMPLETE" and remediation.result["outcome"] == "SUCCESS"
    assert tasks["run_job:etl"].status == "FAILED"  # the run failed; its remediation repaired it
    assert inbox.messages == []
    page = (e2e.progress / "remediation.md").read_text()
    assert decision.ref in page and "RETRY_WITH_NEW_PARAMS" in page


def test_a_reset_connection_is_retried_and_the_repair_succeeds(e2e, inbox):
    scenario = {"rules": [{"job": "Nightly ETL", "task": "step", "attempts": [1],
                           "message": "java.net.SocketException: Connection reset",
                           "trace": "java.net.SocketException: Connection reset\n\tat java.net.SocketInputStream.read"}]}
    _, (decision,), _ = _remediated(e2e, scenario)
    assert (decision.remediation, decision.outcome) == ("RETRY", "SUCCESS")
    assert decision.category == "network"


def test_a_permission_error_e_mails_the_owner_with_the_link_and_the_masked_error(e2e, inbox):
    scenario = {"rules": [{"job": "Nightly ETL", "task": "step",
                           "message": "PERMISSION_DENIED: User does not have SELECT on Table 'main.sales.orders'. "
                                      "jdbc:postgresql://db:5432/app;password=hunter2secret"}]}
    _, (decision,), _ = _remediated(e2e, scenario)
    assert (decision.category, decision.remediation, decision.status) == ("permission", "NOTIFY_OWNER", "APPLIED")
    (message,) = inbox.messages
    assert inbox.recipients == [[OWNER]]
    body = message.get_payload(decode=True).decode() if not message.is_multipart() else message.get_payload(0).get_payload(decode=True).decode()
    assert "Nightly ETL" in message["Subject"]
    run = e2e.sb.workspace_client().jobs.get_run(decision.run_id)
    assert run.run_page_url in body
    assert "PERMISSION_DENIED" in body and "hunter2secret" not in body
    assert "hunter2secret" not in json.dumps(decision.detail) and "hunter2secret" not in decision.message


def test_a_spent_budget_escalates_by_e_mail(e2e, inbox):
    scenario = {"rules": [{"job": "Nightly ETL", "task": "step", "message": "java.lang.OutOfMemoryError: Java heap space"}]}
    _, (decision,), _ = _remediated(e2e, scenario, remediation="{enabled: true, escalate_to: oncall@example.com, budget: {per_run: 0}}")
    assert decision.remediation == "ESCALATE" and "budget" in decision.reason
    assert inbox.recipients == [[ONCALL]]


def test_a_run_cancelled_by_a_user_is_ignored(e2e, inbox):
    from databricks.sdk.service import jobs

    e2e.sb.load_scenario({"rules": [], "defaults": {"duration_seconds": 36000}})
    w = e2e.sb.workspace_client()
    job_id = w.jobs.create(name="Long job", tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(
        notebook_path="/Workspace/Shared/job-agent/notebooks/ingest"), new_cluster=_cluster())]).job_id
    run_id = w.jobs.run_now(job_id=job_id).response.run_id
    w.jobs.cancel_run(run_id).result()
    code, _, err = e2e.lead("remediate", str(run_id))
    assert code == 0, err
    assert e2e.run_worker() == {"COMPLETE": 1}
    with Session(e2e.engine()) as session:
        (decision,) = session.execute(select(Decision)).scalars().all()
    assert decision.remediation == "IGNORE" and "cancelled by a user" in decision.reason
    assert inbox.messages == []
    code, out, _ = e2e.lead("decisions", "--json")
    (listed,) = json.loads(out)
    assert (listed["run_id"], listed["remediation"], listed["outcome"]) == (run_id, "IGNORE", None)


def _cluster():
    from databricks.sdk.service import compute

    return compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)


def test_sigkill_during_the_repair_leaves_exactly_one_repair(e2e, inbox):
    import signal
    import time

    e2e.sb.load_scenario({"rules": [{"job": "Nightly ETL", "task": "step", "attempts": [1],
                                     "message": "java.net.SocketException: Connection reset"}]})
    path = e2e.write("req.md", requirement(notebook_job("etl", "Nightly ETL"),
                                           extra="run_after_deploy: [etl]\nremediation: {enabled: true}\n"))
    assert e2e.lead("submit", str(path))[0] == 0
    e2e.sb.add_fault("/api/2.2/jobs/runs/repair", "latency", count=1, latency_ms=3000)  # the repair call hangs
    proc = e2e.spawn_worker("--until-idle", "--poll-interval", "0.05", "--lease-ttl", "3", log_name="killed.log")
    engine = e2e.engine()
    try:
        deadline = time.monotonic() + 120
        while not any(rule["seen"] for rule in e2e.sb.faults()):
            assert time.monotonic() < deadline and proc.poll() is None, (e2e.root / "killed.log").read_text()[-3000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # in the middle of runs/repair
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(3.5)  # the repair is applied by the service anyway; the dead worker's lease runs out
    assert e2e.run_worker(settings={"run_poll_initial_seconds": 0.05}) .get("COMPLETE", 0) >= 1
    with Session(engine) as session:
        (decision,) = session.execute(select(Decision)).scalars().all()
    run = e2e.sb.workspace_client().jobs.get_run(decision.run_id, include_history=True)
    assert [h.type.value for h in run.repair_history] == ["ORIGINAL", "REPAIR"]
    assert (decision.remediation, decision.status, decision.outcome) == ("RETRY", "APPLIED", "SUCCESS")


def test_lead_watch_finds_a_failed_run_of_any_job_and_remediates_it(e2e, inbox):
    from databricks.sdk.service import jobs

    e2e.sb.load_scenario({"rules": [{"job": "Hand-made job", "message": "java.lang.OutOfMemoryError: Java heap space",
                                     "succeeds_when": {"min_memory_gb": 60}}]})
    w = e2e.sb.workspace_client()
    job_id = w.jobs.create(name="Hand-made job", tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(
        notebook_path="/Workspace/Shared/job-agent/notebooks/ingest"), new_cluster=_cluster())]).job_id
    run = w.jobs.run_now(job_id=job_id).result()
    assert run.state.result_state.value == "FAILED"
    code, out, err = e2e.lead("watch", "--every", "1h", "--scope", "all", "--json")
    assert code == 0, err
    assert json.loads(out)["created"] is True
    assert e2e.lead("watch", "--every", "1h", "--scope", "all")[0] == 0  # a second watch of the same scope adds nothing
    e2e.run_worker()
    with Session(e2e.engine()) as session:
        (decision,) = session.execute(select(Decision)).scalars().all()
        watch = session.execute(select(Task).where(Task.type == "watch_runs").order_by(Task.id)).scalars().all()
    assert (decision.run_id, decision.remediation, decision.outcome) == (run.run_id, "RETRY_WITH_NEW_PARAMS", "SUCCESS")
    assert w.jobs.get(job_id).settings.tasks[0].new_cluster.node_type_id == "i3.2xlarge"
    assert [t.status for t in watch] == ["COMPLETE", "PENDING"]  # the next look is due in an hour
    assert watch[0].result["enqueued"] == [run.run_id]


def test_the_example_shows_a_failed_run_a_decision_a_repair_and_an_e_mail(e2e, monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.delenv("JOB_AGENT_SMTP_HOST", raising=False)
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
    repo = Path(__file__).resolve().parents[2]
    import yaml

    e2e.sb.load_scenario(yaml.safe_load((repo / "examples" / "remediation-scenario.yaml").read_text()))
    code, _, err = e2e.lead("submit", str(repo / "examples" / "remediation.md"))
    assert code == 0, err
    e2e.run_worker()
    with Session(e2e.engine()) as session:
        decisions = {d.job_name: d for d in session.execute(select(Decision)).scalars()}
    assert (decisions["Nightly orders"].remediation, decisions["Nightly orders"].outcome) == ("RETRY_WITH_NEW_PARAMS", "SUCCESS")
    export = decisions["Orders export"]
    assert export.remediation == "NOTIFY_OWNER" and export.detail["email"]["delivered"] == "file"
    mail = Path(export.detail["email"]["path"]).read_text()
    assert "Orders export" in mail and "PERMISSION_DENIED" in mail
