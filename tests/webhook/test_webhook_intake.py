"""The webhook intake over real HTTP (uvicorn on 127.0.0.1, httpx) with a SQLite file: a good
delivery records one remediate_run task in `ad_hoc/remediation` before it answers 202; a
repeat records nothing; bad credentials, bad bodies, other event types and oversized bodies
record nothing. The database is read after every request."""

from __future__ import annotations

import logging

import pytest
from webhook_helpers import HOST, PASSWORD, USER

from state.models import format_id

FAILURE = {"event_type": "jobs.on_failure", "workspace_id": "1234567890123456",
           "run": {"run_id": "9001"}, "job": {"job_id": "42", "name": "Nightly sales refresh"}}


def test_good_delivery_records_a_remediate_run_task(intake):
    r = intake.post(FAILURE)
    assert r.status_code == 202, r.text
    (task,) = intake.tasks()
    assert r.json() == {"task": format_id("task", task.id), "created": True}
    assert task.type == "remediate_run" and task.status == "PENDING"
    assert task.spec_key == "remediate_run:9001"
    assert task.idempotency_key == f"remediate:{HOST}:9001:0"
    assert task.title == "Remediate run 9001 of Nightly sales refresh"
    assert task.payload == {"run_id": 9001, "job_id": 42, "job_name": "Nightly sales refresh", "source": "webhook",
                            "workspace_id": "1234567890123456", "repair_count": 0, "workspace_host": HOST}
    (req,) = intake.requirements()
    assert (req.identity, req.kind, req.title, req.id) == ("ad_hoc/remediation", "ad_hoc", "Failure remediation",
                                                           task.requirement_id)


def test_repeated_delivery_is_a_no_op(intake):
    first = intake.post(FAILURE)
    again = intake.post(FAILURE)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"task": first.json()["task"], "created": False}
    assert len(intake.tasks()) == 1 and len(intake.requirements()) == 1
    # integer ids (not strings) name the same run: still one task
    same = dict(FAILURE, run={"run_id": 9001}, job={"job_id": 42, "name": "Nightly sales refresh"})
    assert intake.post(same).json()["created"] is False
    other = dict(FAILURE, run={"run_id": "9002"})
    r = intake.post(other)
    assert r.status_code == 202 and r.json()["created"] is True
    assert [t.spec_key for t in intake.tasks()] == ["remediate_run:9001", "remediate_run:9002"]
    assert len(intake.requirements()) == 1


def test_without_a_workspace_host_the_key_uses_the_workspace_id(intake_without_host):
    r = intake_without_host.post(FAILURE)
    assert r.status_code == 202
    (task,) = intake_without_host.tasks()
    assert task.idempotency_key == "remediate:1234567890123456:9001:0"
    assert "workspace_host" not in task.payload
    no_id = {k: v for k, v in FAILURE.items() if k != "workspace_id"}
    r = intake_without_host.post(no_id)
    assert r.status_code == 400 and "workspace_id is missing" in r.json()["error"]
    assert len(intake_without_host.tasks()) == 1


@pytest.mark.parametrize("auth", [None, (USER, "wrong"), ("someone", PASSWORD), (USER, PASSWORD + "x"), ("", "")])
def test_bad_credentials_are_401_and_record_nothing(intake, auth, caplog):
    caplog.set_level(logging.INFO, logger="job_agent")
    r = intake.post(FAILURE, auth=auth)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Basic realm="job-agent"')
    assert intake.tasks() == [] and intake.requirements() == []
    assert PASSWORD not in caplog.text and "outcome=unauthorized" in caplog.text


def test_malformed_authorization_headers_are_401(intake):
    for header in ("Bearer abc", "Basic", "Basic !!!notbase64", "Basic " + "dXNlcg=="):  # the last: no colon
        r = intake.client.post(intake.url, content=b"{}", headers={"Authorization": header})
        assert r.status_code == 401, header
    assert intake.tasks() == []


@pytest.mark.parametrize("body, message", [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "JSON object"),
    ({"run": {"run_id": 1}}, "event_type is missing"),
    ({**FAILURE, "run": {}}, "run.run_id must be an integer id"),
    ({**FAILURE, "run": {"run_id": "abc"}}, "run.run_id must be an integer id"),
    ({**FAILURE, "run": {"run_id": True}}, "run.run_id must be an integer id"),
    ({**FAILURE, "job": "42"}, "job must be an object"),
    ({**FAILURE, "job": {"name": "x"}}, "job.job_id must be an integer id"),
    ({**FAILURE, "workspace_id": "ws:1"}, "workspace_id must be an integer id"),
])
def test_bad_bodies_are_400_and_record_nothing(intake, body, message):
    r = intake.post(body)
    assert r.status_code == 400 and message in r.json()["error"]
    assert intake.tasks() == [] and intake.requirements() == []


@pytest.mark.parametrize("event_type", ["jobs.on_success", "jobs.on_start", "jobs.on_duration_warning_threshold_exceeded",
                                        "something.else"])
def test_other_event_types_are_400_logged_and_record_nothing(intake, event_type, caplog):
    caplog.set_level(logging.INFO, logger="job_agent")
    r = intake.post({**FAILURE, "event_type": event_type})
    assert r.status_code == 400 and "ignored event type" in r.json()["error"]
    assert intake.tasks() == [] and intake.requirements() == []
    assert f'outcome=ignored event_type="{event_type}"' in caplog.text


def test_oversized_body_is_413_and_records_nothing(intake):
    big = {**FAILURE, "padding": "x" * (64 * 1024)}
    r = intake.post(big)
    assert r.status_code == 413
    # a chunked body without a Content-Length is cut off as it streams in
    def chunks():
        yield b'{"event_type": "jobs.on_failure", "padding": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'
    r = intake.client.post(intake.url, content=chunks(), auth=(USER, PASSWORD))
    assert r.status_code == 413
    assert intake.tasks() == [] and intake.requirements() == []
    # just under the limit is accepted
    small = {**FAILURE, "padding": "x" * (60 * 1024)}
    assert intake.post(small).status_code == 202


def test_only_post_on_the_webhook_path_and_a_health_check(intake):
    assert intake.client.get(intake.url, auth=(USER, PASSWORD)).status_code == 405
    assert intake.client.get(intake.base + "/healthz").json() == {"ok": True}
    assert intake.client.post(intake.base + "/other", content=b"{}", auth=(USER, PASSWORD)).status_code == 404


def test_the_recorded_task_sits_in_the_remediation_requirement_beside_later_ones(intake):
    """A second requirement-less delivery reuses `ad_hoc/remediation`; the lead shows the tasks."""
    from lead.cli import app
    from lead.cli_runner import run_cli

    intake.post(FAILURE)
    intake.post(dict(FAILURE, run={"run_id": 9002}))
    import contextlib
    import io
    import json

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(app, "lead", ["status", "REQ-0001", "--json", "--db", str(intake.engine.url)])
    assert code == 0
    data = json.loads(out.getvalue())
    assert data["title"] == "Failure remediation"
    assert [t["type"] for t in data["tasks"]] == ["remediate_run", "remediate_run"]


def test_concurrent_duplicate_deliveries_record_one_task(intake):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: intake.post(FAILURE), range(8)))
    assert sorted(r.status_code for r in answers) == [200] * 7 + [202]
    assert len({r.json()["task"] for r in answers}) == 1
    assert len(intake.tasks()) == 1 and len(intake.requirements()) == 1
