"""Run-control task types: start a run of an existing job, read a run's state, cancel a run.

Work an engineer or an agent asks for from the command line (`lead run`, `lead runs status`,
`lead runs cancel`; `lead.run_control`), recorded as tasks so it shows in progress files and in
the task events. None of them calls the retriever (`ctx.cite`): they read and steer runs, they
never write settings, so the documentation index is never loaded for them.

- `start_run` (payload `{"job_id", "job_name", "job_ref", "params": {name: value}, "wait",
  "timeout_s"}`): validate reads the job (`jobs/get`) and checks every parameter against it
  (`run_parameters`); plan is one RUN action with this task's idempotency token
  (`tasks.run_job.idempotency_token`); apply reads the job again (a changed parameter
  definition makes the plan stale), calls `jobs/run-now` with that token and the
  parameters under the field the job takes (`job_parameters`, `notebook_params`, ...), reads
  the run once (`jobs/runs/get`) and returns. With `wait` it then follows the run like
  `run_job` (`CheckAgain`) until a terminal state or `timeout_s`.
- `run_status` (payload `{"run_id"}`): one QUERY action; apply reads the run (`jobs/runs/get`).
- `cancel_run` (payload `{"run_id", "wait", "timeout_s"}`): plan reads the run and plans an
  UPDATE of its state (or a NO_OP when it has already ended); apply calls `jobs/runs/cancel`
  (Jobs API: "The run is canceled asynchronously, so it may still be running when this request
  completes") and with `wait` checks again until the run is terminal.

Every result is `run_result(run)`: `{"run_id", "job_id", "run_name", "life_cycle_state",
"result_state", "state_message", "run_page_url", "start_time", "end_time"}` (epoch ms; fields
of `jobs.Run` and `jobs.RunState`), plus `idempotency_token` / `parameters` for `start_run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tasks.base import (
    Action,
    ActionKind,
    Change,
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
from tasks.run_job import TERMINAL_STATES, idempotency_token

PARAMETER_FIELDS = ("job_parameters", "notebook_params", "python_named_params", "sql_params")
"""The `jobs/run-now` fields that take `name -> value` parameters (Jobs API `RunNow`)."""

DEFAULT_WAIT_TIMEOUT_S = 600.0


class UnknownParameter(ValueError):
    """Parameters the job does not define. `names` are the unknown ones; `known` maps each
    parameter the job takes to the run-now fields it goes in (`job_parameters_of`)."""

    def __init__(self, names: list[str], known: dict[str, list[str]], job: str) -> None:
        self.names = names
        self.known = known
        listed = ", ".join(sorted(known)) if known else "none"
        super().__init__(f"job {job} has no parameter {', '.join(repr(n) for n in names)} (its parameters: {listed})")


def job_parameters_of(settings: dict[str, Any]) -> dict[str, list[str]]:
    """The parameters a job takes by name, as `name -> [run-now fields]`, from its settings
    (`jobs.JobSettings.as_dict()`).

    Job-level `parameters` (`JobParameterDefinition`) go in `job_parameters`, and then only
    they: the Jobs API refuses task-level parameters for a job that defines job parameters.
    Otherwise the task-level named parameters: `notebook_task.base_parameters` ->
    `notebook_params`, `python_wheel_task.named_parameters` -> `python_named_params`,
    `sql_task.parameters` -> `sql_params` (Jobs API `RunNow`); a name several kinds of task
    define goes in each of their fields. Positional parameters (`python_params`,
    `jar_params`, ...) have no names and are not offered.
    """
    defined = [p.get("name") for p in settings.get("parameters") or [] if p.get("name")]
    if defined:
        return {name: ["job_parameters"] for name in defined}
    known: dict[str, list[str]] = {}
    for task in settings.get("tasks") or []:
        for task_field, names, run_field in (
            ("notebook_task", "base_parameters", "notebook_params"),
            ("python_wheel_task", "named_parameters", "python_named_params"),
            ("sql_task", "parameters", "sql_params"),
        ):
            for name in ((task.get(task_field) or {}).get(names) or {}):
                fields = known.setdefault(name, [])
                if run_field not in fields:
                    fields.append(run_field)
    return known


def run_parameters(settings: dict[str, Any], params: dict[str, str], job: str) -> dict[str, dict[str, str]]:
    """`params` grouped by the `jobs/run-now` fields that carry them for this job:
    `{"job_parameters": {...}}` or `{"notebook_params": {...}, ...}`; empty for no params.

    Raises:
        UnknownParameter: names the job does not define (`job` names the job in the message).
    """
    known = job_parameters_of(settings)
    unknown = [name for name in params if name not in known]
    if unknown:
        raise UnknownParameter(unknown, known, job)
    grouped: dict[str, dict[str, str]] = {}
    for name, value in params.items():
        for run_field in known[name]:
            grouped.setdefault(run_field, {})[name] = str(value)
    return grouped


def run_result(run: Any) -> dict[str, Any]:
    """The JSON-ready summary of a `jobs.Run` (see the module docstring)."""
    state = run.state
    return {
        "run_id": run.run_id,
        "job_id": run.job_id,
        "run_name": run.run_name,
        "life_cycle_state": enum_value(state.life_cycle_state) if state else None,
        "result_state": enum_value(state.result_state) if state else None,
        "state_message": (state.state_message or None) if state else None,
        "run_page_url": run.run_page_url,
        "start_time": run.start_time or None,
        "end_time": run.end_time or None,
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def is_missing_error(error: Exception) -> bool:
    """True for the SDK error saying a job or run does not exist (`RESOURCE_DOES_NOT_EXIST`,
    or `INVALID_PARAMETER_VALUE` "... does not exist", as `jobs/get` and `runs/get` answer)."""
    from databricks.sdk import errors

    if isinstance(error, errors.NotFound):
        return True
    return isinstance(error, errors.InvalidParameterValue) and "does not exist" in str(error)


def read_run(ctx: TaskContext, run_id: int) -> Any | None:
    """`jobs/runs/get` of `run_id`, or None when the workspace has no such run."""
    from databricks.sdk import errors

    try:
        return ctx.workspace.jobs.get_run(run_id)
    except errors.DatabricksError as error:
        if is_missing_error(error):
            return None
        raise


def _poll_interval(polls: int, remaining: float) -> float:
    return max(0.0, min(0.2 * 1.5 ** polls, 5.0, remaining))


class StartRun:
    """Start one run of an existing job; see the module docstring."""

    name = "start_run"

    def __init__(self) -> None:
        self._validated: dict[str, Any] | None = None  # the settings validate read, for plan (same claim)

    def _settings(self, ctx: TaskContext) -> dict[str, Any]:
        from tasks.job_ownership import read_settings

        job_id = _int(ctx.payload.get("job_id"))
        if job_id is None:
            raise ValidationFailed([Problem("job_id", f"not a job id: {ctx.payload.get('job_id')!r}")])
        settings = read_settings(ctx.workspace, job_id)
        if settings is None:
            raise ValidationFailed([Problem("job_id", f"job {job_id} does not exist in this workspace")])
        return settings

    def _grouped(self, ctx: TaskContext, settings: dict[str, Any]) -> dict[str, dict[str, str]]:
        job = f"{settings.get('name') or ctx.payload.get('job_id')} ({ctx.payload.get('job_id')})"
        try:
            return run_parameters(settings, dict(ctx.payload.get("params") or {}), job)
        except UnknownParameter as error:
            raise ValidationFailed([Problem(f"params.{name}", str(error)) for name in error.names]) from None

    def validate(self, ctx: TaskContext) -> None:
        """The job exists (`jobs/get`) and defines every parameter given.

        Raises:
            ValidationFailed: no such job, or an unknown parameter (the message lists the job's).
        """
        settings = self._settings(ctx)
        self._grouped(ctx, settings)
        self._validated = settings

    def plan(self, ctx: TaskContext) -> Plan:
        """One RUN action: the job id, the parameters by run-now field, this task's token.
        Uses the settings validate just read in this claim (one `jobs/get` fewer), else reads them."""
        settings, self._validated = self._validated or self._settings(ctx), None
        grouped = self._grouped(ctx, settings)
        job_id = int(ctx.payload["job_id"])
        token = idempotency_token(ctx, job_id)
        changes = [Change(f"{run_field}.{name}", None, value) for run_field, values in grouped.items()
                   for name, value in values.items()]
        wait = " and wait for it to end" if ctx.payload.get("wait") else " (not waiting for it)"
        action = Action(ActionKind.RUN, f"job {job_id}", summary=f"run job {settings.get('name')!r} ({job_id}) once{wait}",
                        changes=changes, params={"job_id": job_id, "parameters": grouped})
        return Plan([action], fingerprint({"job_id": job_id, "parameters": job_parameters_of(settings)}), token)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """`jobs/run-now` with the plan's token (a repeated call returns the same run), then one
        `jobs/runs/get`; with `wait`, check again until the run ends.

        Raises:
            StalePlan: the job's parameter definitions changed since the plan.
            CheckAgain: (`wait`) the run has not ended; checkpoint `{"run_id", "started_at", "polls"}`.
            PermanentFailure: (`wait`) the run did not end within `timeout_s` (result kept).
        """
        action = plan.actions[0]
        job_id = int(action.params["job_id"])
        checkpoint = dict(ctx.checkpoint or {})
        run_id = checkpoint.get("run_id")
        if run_id is None:
            settings = self._settings(ctx)
            if fingerprint({"job_id": job_id, "parameters": job_parameters_of(settings)}) != plan.fingerprint:
                raise StalePlan(f"the parameters of job {job_id} changed since the plan")
            waiter = ctx.workspace.jobs.run_now(job_id=job_id, idempotency_token=plan.idempotency_token,
                                                **action.params.get("parameters", {}))
            run_id = int(waiter.response.run_id)
            checkpoint = {"run_id": run_id, "started_at": time.time(), "polls": 0}
            ctx.log(f"run {run_id} of job {job_id} started (idempotency token {plan.idempotency_token})")
        run = ctx.workspace.jobs.get_run(run_id)
        result = {**run_result(run), "job_id": job_id, "idempotency_token": plan.idempotency_token,
                  "parameters": action.params.get("parameters", {})}
        return _result_or_wait(
            ctx, result, checkpoint, "started_at",
            timed_out=lambda timeout: (f"run {run_id} of job {job_id} did not end within {timeout:g} s "
                                       f"(last state {result['life_cycle_state']}); see {result['run_page_url']}"),
            waiting=f"run {run_id} of job {job_id} is {result['life_cycle_state']}")


def _result_or_wait(ctx: TaskContext, result: dict[str, Any], checkpoint: dict[str, Any], since_key: str, *,
                    timed_out: Callable[[float], str], waiting: str) -> dict[str, Any]:
    """`result` when the task does not wait (`payload.wait` false) or the run has ended; else
    check again later (`CheckAgain`, the interval growing with `checkpoint["polls"]`).

    Raises:
        CheckAgain: still running; the checkpoint counts one more poll.
        PermanentFailure: `payload.timeout_s` (default `DEFAULT_WAIT_TIMEOUT_S`) seconds have
            passed since `checkpoint[since_key]`; message `timed_out(timeout)`, result marked
            `timed_out`.
    """
    if not ctx.payload.get("wait") or result["life_cycle_state"] in TERMINAL_STATES:
        return result
    timeout = float(ctx.payload.get("timeout_s") or DEFAULT_WAIT_TIMEOUT_S)
    waited = time.time() - float(checkpoint[since_key])
    if waited >= timeout:
        raise PermanentFailure(timed_out(timeout), result={**result, "timed_out": True})
    polls = int(checkpoint.get("polls") or 0)
    raise CheckAgain(_poll_interval(polls, timeout - waited), {**checkpoint, "polls": polls + 1}, reason=waiting)


class RunStatus:
    """Read one run's state; see the module docstring."""

    name = "run_status"

    def validate(self, ctx: TaskContext) -> None:
        """The payload's `run_id` is a positive integer and the run exists (`jobs/runs/get`).

        Raises:
            ValidationFailed: not a run id, or no such run.
        """
        run_id = _int(ctx.payload.get("run_id"))
        if run_id is None:
            raise ValidationFailed([Problem("run_id", f"not a run id: {ctx.payload.get('run_id')!r}")])
        if read_run(ctx, run_id) is None:
            raise ValidationFailed([Problem("run_id", f"run {run_id} does not exist in this workspace")])

    def plan(self, ctx: TaskContext) -> Plan:
        """One QUERY action (nothing changes)."""
        run_id = int(ctx.payload["run_id"])
        action = Action(ActionKind.QUERY, f"run {run_id}", summary=f"read the state of run {run_id} (jobs/runs/get)",
                        params={"run_id": run_id})
        return Plan([action], fingerprint({"run_id": run_id}), f"run_status:{ctx.task_ref}")

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """`jobs/runs/get`; returns `run_result`.

        Raises:
            PermanentFailure: the run vanished since validate.
        """
        run_id = int(plan.actions[0].params["run_id"])
        run = read_run(ctx, run_id)
        if run is None:
            raise PermanentFailure(f"run {run_id} does not exist in this workspace")
        return run_result(run)


class CancelRun:
    """Cancel one run and (with `wait`) see it end; see the module docstring."""

    name = "cancel_run"

    def validate(self, ctx: TaskContext) -> None:
        """As `RunStatus.validate`: a positive run id of a run that exists."""
        RunStatus().validate(ctx)

    def plan(self, ctx: TaskContext) -> Plan:
        """An UPDATE of the run's state to TERMINATED/CANCELED, or a NO_OP when it has ended."""
        run_id = int(ctx.payload["run_id"])
        run = read_run(ctx, run_id)
        if run is None:
            raise ValidationFailed([Problem("run_id", f"run {run_id} does not exist in this workspace")])
        current = run_result(run)
        if current["life_cycle_state"] in TERMINAL_STATES:
            action = Action(ActionKind.NO_OP, f"run {run_id}",
                            summary=f"run {run_id} has already ended {current['life_cycle_state']}/{current['result_state']}",
                            params={"run_id": run_id})
        else:
            action = Action(ActionKind.UPDATE, f"run {run_id}", summary=f"cancel run {run_id} (jobs/runs/cancel)",
                            changes=[Change("state.life_cycle_state", current["life_cycle_state"], "TERMINATED"),
                                     Change("state.result_state", current["result_state"], "CANCELED")],
                            params={"run_id": run_id})
        return Plan([action], fingerprint({"run_id": run_id}), f"cancel_run:{ctx.task_ref}")

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """`jobs/runs/cancel` (not for a NO_OP plan), then `jobs/runs/get`; with `wait`, check
        again until the run is terminal. Cancelling a run that ended meanwhile changes nothing
        (the service accepts it); the result then shows how it ended.

        Raises:
            CheckAgain: (`wait`) not terminal yet; checkpoint `{"cancelled_at", "polls"}`.
            PermanentFailure: the run vanished, or (`wait`) it did not end within `timeout_s`.
        """
        action = plan.actions[0]
        run_id = int(action.params["run_id"])
        checkpoint = dict(ctx.checkpoint or {})
        if not checkpoint:
            if action.kind is not ActionKind.NO_OP:
                ctx.workspace.jobs.cancel_run(run_id)
                ctx.log(f"run {run_id}: cancel requested")
            checkpoint = {"cancelled_at": time.time(), "polls": 0}
        run = read_run(ctx, run_id)
        if run is None:
            raise PermanentFailure(f"run {run_id} does not exist in this workspace")
        result = run_result(run)
        return _result_or_wait(
            ctx, result, checkpoint, "cancelled_at",
            timed_out=lambda timeout: (f"run {run_id} was still {result['life_cycle_state']} {timeout:g} s after the "
                                       f"cancel request; see {result['run_page_url']}"),
            waiting=f"run {run_id} is {result['life_cycle_state']} after the cancel request")
