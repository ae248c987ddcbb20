"""Webhook intake: Databricks job-failure notifications become `remediate_run` tasks.

A Databricks *generic webhook* notification destination (workspace settings -> Notifications
-> "Webhook", with a user name and password) POSTs a small JSON body for each job event the
job subscribes to in `webhook_notifications` (source: the Databricks documentation "Add
notifications on a job", user-defined webhook payload):

    {"event_type": "jobs.on_failure", "workspace_id": "1234567890",
     "run": {"run_id": "9001"}, "job": {"job_id": "42", "name": "Nightly sales"}}

`make_app(engine, username=..., password=...)` is a Starlette app serving

| request | answer |
|---|---|
| `POST /webhook`, good credentials, a `jobs.on_failure` body, new run | `202 {"task": "T-0001", "created": true}` after the task is committed |
| the same delivery again (Databricks retries, or a second destination) | `200 {"task": "T-0001", "created": false}`; nothing recorded |
| missing or wrong HTTP basic credentials | `401` with `WWW-Authenticate: Basic realm="job-agent"`; the body is not read |
| a body over `max_body_bytes` (64 KiB) | `413` |
| not JSON, not an object, ids missing or not integers | `400 {"error": ...}` |
| another `event_type` (`jobs.on_start`, `jobs.on_success`, ...) | `400 {"error": "ignored event type ..."}`, logged |
| the state database unreachable or locked | `503` with `Retry-After: 5` |
| `GET /healthz` | `200 {"ok": true}` (no credentials, no database) |

Only 2xx means "recorded": 4xx and 503 record nothing. The credentials are compared in
constant time (`hmac.compare_digest` over both the user name and the password); neither the
`Authorization` header nor the body is ever logged.

Recording (one transaction on a `state.engine.writer` session): the requirement
`ad_hoc/remediation` ("Failure remediation", created on first use by
`state.submissions.ensure_requirement`), then `state.submissions.enqueue` of one task
`remediate_run:<run_id>` of type `remediate_run` with payload
`{"run_id", "job_id", "job_name", "source": "webhook", "workspace_id", "repair_count": 0}`
(plus `workspace_host` when known) and idempotency key
`remediate:<workspace>:<run_id>:<repair count>` (`remediation_key`), where `<workspace>` is
the configured workspace host (`https://adb-1.2.azuredatabricks.net`, no trailing slash) or,
without one, the body's `workspace_id`. The webhook body carries no repair count, so the
webhook always uses 0: a run that fails again after a repair is not recorded again by the
webhook (the `remediate_run` task that repaired it follows its own repair). The key is the
one `watch_runs` and `run_job` use for the same failure when they run with the same host,
so a failure reported by both the webhook and the watcher is remediated once.

Logging: logger `job_agent.webhook`, one logfmt line per delivery
(`event=webhook outcome=created task=T-0001 run_id=9001 job_id=42`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger("job_agent.webhook")

FAILURE_EVENT = "jobs.on_failure"
KNOWN_EVENTS = frozenset({
    "jobs.on_start", "jobs.on_success", "jobs.on_failure", "jobs.on_duration_warning_threshold_exceeded",
    "jobs.on_streaming_backlog_exceeded",
})
"""Job event types a destination can deliver; only `FAILURE_EVENT` is recorded."""

MAX_BODY_BYTES = 64 * 1024
REQUIREMENT_NAME = "remediation"
REQUIREMENT_TITLE = "Failure remediation"
REALM = "job-agent"
WEBHOOK_PATH = "/webhook"


class BadDelivery(ValueError):
    """A body that is not a job notification we can record (answered 400)."""


def remediation_key(workspace: str, run_id: int, repair_count: int = 0) -> str:
    """`remediate:<workspace>:<run_id>:<repair_count>`: the idempotency key of the remediation
    of one failure (`tasks.remediate_run.remediation_key`, so the webhook, `watch_runs` and a
    failed `run_job` agree on it)."""
    from tasks.remediate_run import remediation_key as key

    return key(workspace, run_id, repair_count)


def _as_id(value: Any, where: str) -> int:
    """A positive integer id from an int or a string of digits (the payload sends strings)."""
    if isinstance(value, bool):
        raise BadDelivery(f"{where} must be an integer id, not {value!r}")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    raise BadDelivery(f"{where} must be an integer id, not {json.dumps(value)[:40]}")


def parse_delivery(body: bytes) -> dict[str, Any]:
    """The fields of a job notification body: `event_type`, and for `jobs.on_failure` also
    `run_id`, `job_id` (ints), `job_name` (None when absent) and `workspace_id` (a string of
    digits, None when absent).

    Raises:
        BadDelivery: not UTF-8 JSON, not an object, no `event_type`, or (for
            `jobs.on_failure`) a missing or non-integer `run.run_id` / `job.job_id`, or a
            `workspace_id` that is not an integer id.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadDelivery(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadDelivery("the body must be a JSON object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise BadDelivery("event_type is missing")
    out: dict[str, Any] = {"event_type": event_type}
    if event_type != FAILURE_EVENT:
        return out
    run, job = data.get("run"), data.get("job")
    if not isinstance(run, dict):
        raise BadDelivery("run must be an object with run_id")
    if not isinstance(job, dict):
        raise BadDelivery("job must be an object with job_id")
    out["run_id"] = _as_id(run.get("run_id"), "run.run_id")
    out["job_id"] = _as_id(job.get("job_id"), "job.job_id")
    name = job.get("name")
    out["job_name"] = name if isinstance(name, str) and name else None
    workspace_id = data.get("workspace_id")
    out["workspace_id"] = None if workspace_id in (None, "") else str(_as_id(workspace_id, "workspace_id"))
    return out


def record_failure(engine: Engine, delivery: dict[str, Any], *, workspace_host: str | None = None) -> tuple[int, bool]:
    """Record the `remediate_run` task of a `jobs.on_failure` delivery; returns (task id, created).

    One transaction on `state.engine.writer(engine)`: `ensure_requirement(kind="ad_hoc",
    name="remediation")` then `enqueue`; an existing idempotency key creates nothing and the
    existing task's id is returned. Concurrent first deliveries (PostgreSQL) are retried.

    Raises:
        BadDelivery: neither a workspace host nor a `workspace_id` to build the key from.
        sqlalchemy.exc.OperationalError: the database is unreachable or stayed locked.
    """
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from state.engine import writer
    from state.models import Task
    from state.redaction import redact_text
    from state.submissions import NewTask, enqueue, ensure_requirement

    host = (workspace_host or "").strip().rstrip("/") or None
    workspace = host or delivery.get("workspace_id")
    if not workspace:
        raise BadDelivery("workspace_id is missing (and no workspace host is configured)")
    run_id, job_id, name = delivery["run_id"], delivery["job_id"], delivery.get("job_name")
    key = remediation_key(workspace, run_id, 0)
    payload: dict[str, Any] = {"run_id": run_id, "job_id": job_id, "job_name": name, "source": "webhook",
                               "workspace_id": delivery.get("workspace_id"), "repair_count": 0}
    if host:
        payload["workspace_host"] = host
    task = NewTask(key=f"remediate_run:{run_id}", type="remediate_run",
                   title=redact_text(f"Remediate run {run_id} of {name or f'job {job_id}'}"),
                   payload=payload, idempotency_key=key)
    for attempt in range(3):
        with Session(writer(engine)) as session:
            try:
                requirement_id = ensure_requirement(session, kind="ad_hoc", name=REQUIREMENT_NAME, title=REQUIREMENT_TITLE)
                created = enqueue(session, requirement_id, [task], actor="webhook",
                                  reason=f"{FAILURE_EVENT} webhook for run {run_id} of job {job_id}")
                session.commit()
            except IntegrityError:
                session.rollback()  # the requirement was created at the same moment: read it again
                if attempt == 2:
                    raise
                continue
            if created:
                return created[0], True
            existing = session.execute(select(Task.id).where(Task.idempotency_key == key)).scalar_one()
            return existing, False
    raise AssertionError("unreachable")


def _credentials_ok(header: str | None, username: bytes, password: bytes) -> bool:
    """True when `header` is `Basic base64(user:password)` with these credentials (constant time)."""
    if not header:
        return False
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, secret = decoded.partition(b":")
    user_ok = hmac.compare_digest(user, username)
    password_ok = hmac.compare_digest(secret, password)
    return bool(sep) and user_ok and password_ok


def make_app(engine: Engine, *, username: str, password: str, workspace_host: str | None = None,
             max_body_bytes: int = MAX_BODY_BYTES):
    """The Starlette app of the intake (see the module docstring for requests and answers).

    Args:
        engine: the state database (`state.engine.make_engine`).
        username, password: the HTTP basic credentials the Databricks destination sends.
        workspace_host: the workspace URL, used in idempotency keys (see `record_failure`).
        max_body_bytes: larger bodies are refused with 413 before they are parsed.

    Raises:
        ValueError: an empty user name or password.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if not username or not password:
        raise ValueError("the webhook needs a user name and a password")
    user_bytes, password_bytes = username.encode(), password.encode()

    def error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    async def read_limited(request: Request) -> bytes | None:
        """The body, or None when it exceeds `max_body_bytes` (read no further)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def intake(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "-"
        if not _credentials_ok(request.headers.get("authorization"), user_bytes, password_bytes):
            log.warning("event=webhook outcome=unauthorized client=%s", client)
            return error(401, "authentication required", **{"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})
        try:
            body = await read_limited(request)
        except ClientDisconnect:
            return error(400, "the client disconnected before the body was read")
        if body is None:
            log.warning("event=webhook outcome=too_large client=%s limit=%d", client, max_body_bytes)
            return error(413, f"the body is larger than {max_body_bytes} bytes")
        try:
            delivery = parse_delivery(body)
        except BadDelivery as bad:
            log.warning("event=webhook outcome=bad_body client=%s error=%s", client, json.dumps(str(bad)))
            return error(400, str(bad))
        if delivery["event_type"] != FAILURE_EVENT:
            event = delivery["event_type"][:80]
            known = "" if event in KNOWN_EVENTS else " (unknown)"
            log.info("event=webhook outcome=ignored event_type=%s%s client=%s", json.dumps(event), known, client)
            return error(400, f"ignored event type {event!r}: only {FAILURE_EVENT} is recorded")
        from sqlalchemy.exc import OperationalError

        from state.models import format_id

        try:
            task_id, created = await run_in_threadpool(record_failure, engine, delivery, workspace_host=workspace_host)
        except BadDelivery as bad:
            log.warning("event=webhook outcome=bad_body client=%s error=%s", client, json.dumps(str(bad)))
            return error(400, str(bad))
        except OperationalError as db_error:
            log.warning("event=webhook outcome=db_error run_id=%s error=%s", delivery["run_id"],
                        json.dumps(type(db_error.orig).__name__ if db_error.orig else "OperationalError"))
            return error(503, "the state database is unavailable; deliver again later", **{"Retry-After": "5"})
        ref = format_id("task", task_id)
        log.info("event=webhook outcome=%s task=%s run_id=%d job_id=%d", "created" if created else "duplicate", ref,
                 delivery["run_id"], delivery["job_id"])
        return JSONResponse({"task": ref, "created": created}, status_code=202 if created else 200)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[
        Route(WEBHOOK_PATH, intake, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
