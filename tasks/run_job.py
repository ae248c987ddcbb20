"""The `run_job` task type: trigger a run of a deployed job and follow it to a terminal state.

Payload (see `lead/__init__.py`): `{"job_key", "deploy_task": "deploy_job:KEY", "source"}`;
the job id comes from `ctx.dependency_results[deploy_task]["job_id"]`.

- validate: the deploy dependency's result carries an integer `job_id`.
- plan: one RUN action on that job. The idempotency token is
  `sha256("<requirement ref>:<revision>:<task ref>:<spec key>:<job id>")[:32]` (hex): the same
  for every attempt of this task (a crash and restart sends the same token, so the service
  returns the run it already started), different for another revision or task.
- apply: `jobs/run-now` with that token (Jobs API: "If a run with the provided token already
  exists, the request does not create a new run but returns the ID of the existing run"),
  then `jobs/runs/get`. While `state.life_cycle_state` is not terminal (`TERMINATED`,
  `SKIPPED`, `INTERNAL_ERROR`; `jobs.RunLifeCycleState`) it raises `CheckAgain` with the run
  id as checkpoint: the task waits as PENDING, holding no worker slot, and the next claim
  resumes apply with one `runs/get`. The interval grows from `run_poll_initial_seconds` by
  `run_poll_backoff` up to `run_poll_max_seconds`, so one worker follows hundreds of runs.

Settings read from `ctx.settings`: `run_poll_initial_seconds` (1), `run_poll_max_seconds`
(30), `run_poll_backoff` (1.5, the factor between intervals), `run_timeout_seconds` (3600).

Result: `{"job_id", "run_id", "run_page_url", "life_cycle_state", "result_state",
"state_message", "termination": {"code", "type", "message"}, "duration_ms", "idempotency_token",
"task_errors": [{"task_key", "run_id", "result_state", "error"}]}`. A result state other than
`SUCCESS` raises `PermanentFailure` carrying that result; so does the timeout (run id kept).
With the requirement's `remediation: {enabled: true}` (carried in the payload), a failed run
also enqueues its `remediate_run` follow-up.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from tasks.base import (
    Action,
    ActionKind,
    CheckAgain,
    PermanentFailure,
    Plan,
    Problem,
    StalePlan,
    TaskContext,
    ValidationFailed,
    enum_value,
    fingerprint,
)

TERMINAL_STATES = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
_FAILED_TASK_STATES = {"FAILED", "TIMEDOUT", "CANCELED", "MAXIMUM_CONCURRENT_RUNS_REACHED", "UPSTREAM_FAILED"}




def idempotency_token(ctx: TaskContext, job_id: int) -> str:
    """The `run-now` idempotency token of this task for `job_id` (32 hex chars; the service
    accepts up to 64 characters). An explicit retry (`ctx.retry_generation`) gets a new token,
    so it starts a new run instead of finding the failed one."""
    text = f"{ctx.requirement_ref}:{ctx.requirement_revision}:{ctx.task_ref}:{ctx.spec_key}:{job_id}"
    if ctx.retry_generation:
        text += f":retry{ctx.retry_generation}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class RunJob:
    """Run one deployed job once and wait for its outcome; see the module docstring."""

    name = "run_job"

    def _job_id(self, ctx: TaskContext) -> int | None:
        result = ctx.dependency_results.get(ctx.payload.get("deploy_task", "")) or {}
        job_id = result.get("job_id")
        return job_id if isinstance(job_id, int) and not isinstance(job_id, bool) else None

    def validate(self, ctx: TaskContext) -> None:
        """Raise `ValidationFailed` unless the deploy dependency's result has an int `job_id`."""
        if self._job_id(ctx) is None:
            deploy = ctx.payload.get("deploy_task")
            source = ctx.payload.get("source") or {}
            raise ValidationFailed([Problem(
                field="deploy_task",
                message=f"the result of {deploy!r} carries no job_id (dependency results: "
                        f"{', '.join(sorted(ctx.dependency_results)) or 'none'})",
                line=source.get("line"),
                source_path=source.get("path"),
                citations=list(ctx.cite("jobs run-now job_id"))[:3],
            )])

    def plan(self, ctx: TaskContext) -> Plan:
        """One RUN action on the deployed job, with this task's idempotency token."""
        self.validate(ctx)
        job_id = self._job_id(ctx)
        token = idempotency_token(ctx, job_id)
        action = Action(
            kind=ActionKind.RUN,
            target=f"job {job_id}",
            summary=f"run job {ctx.payload.get('job_key')} ({job_id}) once and wait for it to finish",
            citations=list(ctx.cite("jobs run-now idempotency_token"))[:3],
            params={"job_id": job_id},
        )
        return Plan([action], fingerprint({"job_id": job_id}), token)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Trigger (or re-attach to) the run, then check it once; see the module docstring.

        Raises:
            CheckAgain: the run has not ended; checkpoint `{"run_id", "started_at" (epoch s),
                "polls", "state"}`.
            StalePlan: the deployed job id differs from the planned one.
            PermanentFailure: the run ended other than SUCCESS, or did not end within
                `run_timeout_seconds` of being started (the result keeps the run id).
        """
        job_id = self._job_id(ctx)
        planned = int(plan.actions[0].params["job_id"])
        if job_id != planned or fingerprint({"job_id": job_id}) != plan.fingerprint:
            raise StalePlan(f"the deployed job is now {job_id}, the plan ran job {planned}")
        token = plan.idempotency_token
        checkpoint = dict(ctx.checkpoint or {})
        run_id = checkpoint.get("run_id")
        if run_id is None:
            waiter = ctx.workspace.jobs.run_now(job_id=job_id, idempotency_token=token)
            run_id = int(waiter.response.run_id)
            checkpoint = {"run_id": run_id, "started_at": time.time(), "polls": 0, "state": None}
            ctx.log(f"run {run_id} of job {job_id} started (idempotency token {token})")
        run = ctx.workspace.jobs.get_run(run_id)
        state = enum_value(run.state.life_cycle_state) if run.state else None
        if state != checkpoint.get("state"):
            ctx.log(f"run {run_id}: {state}")
        if state in TERMINAL_STATES:
            result = self._summary(ctx, run, job_id, token)
            if result["result_state"] == "SUCCESS":
                return result
            self._remediate(ctx, run, job_id)
            raise PermanentFailure(self._failure_message(result), result=result)
        settings = ctx.settings or {}
        timeout = float(settings.get("run_timeout_seconds", 3600.0))
        waited = time.time() - float(checkpoint.get("started_at") or time.time())
        if waited >= timeout:
            result = self._summary(ctx, run, job_id, token)
            result["timed_out"] = True
            raise PermanentFailure(
                f"run {run_id} of job {job_id} did not finish within {timeout:g} s "
                f"(last state {state}); see {run.run_page_url}", result=result)
        polls = int(checkpoint.get("polls") or 0)
        interval = min(
            float(settings.get("run_poll_initial_seconds", 1.0)) * float(settings.get("run_poll_backoff", 1.5)) ** polls,
            float(settings.get("run_poll_max_seconds", 30.0)),
            max(timeout - waited, 0.0),
        )
        raise CheckAgain(interval, {**checkpoint, "polls": polls + 1, "state": state},
                         reason=f"run {run_id} of job {job_id} is {state}")

    def _remediate(self, ctx: TaskContext, run: Any, job_id: int) -> None:
        """With the requirement's `remediation: {enabled: true}`, enqueue the failed run's
        `remediate_run` (recorded with this task's FAILED outcome)."""
        config = ctx.payload.get("remediation") or {}
        if not config.get("enabled"):
            return
        from tasks.remediate_run import remediate_follow_up

        host = (ctx.workspace.config.host or "").rstrip("/")
        ctx.follow_up(remediate_follow_up(host, int(run.run_id), 0, job_id=job_id, job_name=run.run_name, source="run_job",
                                          remediation=config, owner=ctx.payload.get("owner")))
        ctx.log(f"run {run.run_id} failed: remediation enqueued")

    def _task_errors(self, ctx: TaskContext, run: Any) -> list[dict[str, Any]]:
        """The failed task runs with their error (`jobs/runs/get-output`: `error`, `error_trace`)."""
        from databricks.sdk import errors

        out = []
        for task in run.tasks or []:
            state = enum_value(task.state.result_state) if task.state else None
            if state not in _FAILED_TASK_STATES:
                continue
            entry = {"task_key": task.task_key, "run_id": task.run_id, "result_state": state,
                     "error": task.state.state_message if task.state else None}
            if state not in ("UPSTREAM_FAILED",):
                try:
                    output = ctx.workspace.jobs.get_run_output(task.run_id)
                    entry["error"] = output.error or entry["error"]
                    if output.error_trace:
                        entry["error_trace"] = output.error_trace[-2000:]
                except errors.DatabricksError as exc:  # the output may be gone; keep what runs/get said
                    ctx.log(f"runs/get-output of task run {task.run_id} failed: {exc}")
            out.append(entry)
        return out

    def _summary(self, ctx: TaskContext, run: Any, job_id: int, token: str) -> dict[str, Any]:
        state = run.state
        details = run.status.termination_details if run.status else None
        life = enum_value(state.life_cycle_state) if state else None
        duration = run.run_duration or (run.end_time - run.start_time if run.end_time and run.start_time else None)
        result = {
            "job_id": job_id,
            "run_id": run.run_id,
            "run_page_url": run.run_page_url,
            "life_cycle_state": life,
            "result_state": enum_value(state.result_state) if state else None,
            "state_message": state.state_message if state else None,
            "termination": {
                "code": enum_value(details.code) if details else None,
                "type": enum_value(details.type) if details else None,
                "message": details.message if details else None,
            },
            "duration_ms": duration,
            "idempotency_token": token,
        }
        result["task_errors"] = self._task_errors(ctx, run) if life in TERMINAL_STATES and result["result_state"] != "SUCCESS" else []
        return result

    @staticmethod
    def _failure_message(result: dict[str, Any]) -> str:
        parts = [f"run {result['run_id']} of job {result['job_id']} ended {result['life_cycle_state']}/"
                 f"{result['result_state']}"]
        term = result["termination"]
        if term.get("code"):
            parts.append(f"termination {term['code']} ({term.get('type')}): {term.get('message') or ''}".rstrip(": "))
        if result.get("state_message") and result["state_message"] != term.get("message"):
            parts.append(result["state_message"])
        for err in result.get("task_errors") or []:
            parts.append(f"task {err['task_key']} {err['result_state']}: {err.get('error') or 'no error message'}")
        parts.append(f"see {result['run_page_url']}")
        return "; ".join(parts)
