"""Run control from the lead: start a run of a job, read a run's state, cancel a run.

Each call records one task (`start_run`, `run_status` or `cancel_run`, see `tasks.run_control`)
in the ad_hoc requirement `ad_hoc/run-control`, then runs that task here, in this process,
through the worker's own validate -> plan -> apply pipeline (`worker.pipeline.TaskRunner`): it
gets its events, its stored plan, its outcome and its progress page like any task. The lead
claims exactly that task (`state.queue.claim_task`); if a worker claimed it first, the lead waits for the
worker's outcome instead.

What the user typed is checked before anything is recorded (read-only calls): an unknown job,
an ambiguous name, an unknown parameter or an unknown run raise `RunControlError` and change
nothing. A task that then fails (the service refused the run, the run did not end in time)
raises `RunControlTaskFailed`, naming the task.

No SDK import at module top: `lead run --no-wait` must start fast.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

REQUIREMENT_NAME = "run-control"
"""The ad_hoc requirement (`ad_hoc/run-control`) holding every run-control task."""

LEAD_LEASE_TTL_S = 60.0
DEFAULT_WAIT_TIMEOUT_S = 3600.0
PROGRESS_MIN_INTERVAL_S = 0.05  # the progress writer sleeps this long when it closes: keep `--no-wait` quick
_TERMINAL_TASK = ("COMPLETE", "FAILED", "CANCELLED")


class RunControlError(Exception):
    """A mistake in what was asked, found before anything was recorded: an unknown job key,
    id or name, an ambiguous name, a parameter the job does not define, an unknown run."""


class RunControlTaskFailed(Exception):
    """The recorded task did not complete. `task_ref` / `requirement_ref` name it, `status`
    is its final status (`FAILED`, `CANCELLED`, or `PENDING` when the lead stopped waiting),
    `error` its error text and `result` its result (may hold the run id)."""

    def __init__(self, message: str, *, task_ref: str, requirement_ref: str, status: str, error: str | None,
                 result: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.task_ref = task_ref
        self.requirement_ref = requirement_ref
        self.status = status
        self.error = error
        self.result = result or {}


@dataclass(frozen=True)
class RunInfo:
    """One run as the run-control calls report it.

    Fields from `jobs/runs/get` (`jobs.Run`, `jobs.RunState`): `run_id`, `job_id` (0 for a
    one-time run made by `runs/submit`, which has no job),
    `life_cycle_state` (`PENDING`, `RUNNING`, `TERMINATING`, `TERMINATED`, `SKIPPED`,
    `INTERNAL_ERROR`, ...), `result_state` (`SUCCESS`, `FAILED`, `CANCELED`, ... or None while
    running), `state_message`, `run_page_url`, `start_time` / `end_time` (epoch ms, None when
    not set). `job_name`: the job's name (or the run's name). `task_ref` (`T-0007`) and
    `requirement_ref` (`REQ-0003`): the pipeline task that did the work and its requirement.
    """

    run_id: int
    job_id: int
    job_name: str | None
    life_cycle_state: str | None
    result_state: str | None
    state_message: str | None
    run_page_url: str | None
    start_time: int | None
    end_time: int | None
    task_ref: str
    requirement_ref: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the `--json` shape of `lead run`, `lead runs status` and `lead runs cancel`."""
        return asdict(self)


# -- resolving what the user typed --------------------------------------------------------------

def _host(client: Any) -> str:
    return (client.config.host or "").rstrip("/")


def _job_settings(client: Any, job_id: int) -> dict[str, Any] | None:
    from tasks.job_ownership import read_settings

    return read_settings(client, job_id)


def _resolve_key(engine: Engine, client: Any, job: str) -> tuple[int, dict[str, Any]] | None:
    """A deployment this database knows: `<bundle>/<target>/<job_key>`, or `job_key` when it
    names one deployment. Its recorded job must still carry the key as its `job_agent_key` tag.
    Records of another host are tried too (a `--sandbox` workspace gets a new port each time)."""
    from state.models import Deployment
    from tasks.job_ownership import OWNER_TAG

    with Session(engine) as session:
        rows = session.execute(
            select(Deployment.key, Deployment.workspace, Deployment.job_id)
            .where((Deployment.key == job) | Deployment.key.like(f"%/{job}"))
        ).all()
    rows = [r for r in rows if r.key == job or r.key.split("/")[-1] == job]
    keys = sorted({r.key for r in rows})
    if not keys:
        return None
    if len(keys) > 1:
        raise RunControlError(f"job key {job!r} is ambiguous: it names the deployments {', '.join(keys)}; "
                              f"give the whole key")
    key = keys[0]
    host = _host(client)
    candidates = sorted((r for r in rows if r.job_id is not None), key=lambda r: r.workspace != host)
    for row in candidates:
        settings = _job_settings(client, row.job_id)
        if settings is not None and (settings.get("tags") or {}).get(OWNER_TAG) == key:
            return row.job_id, settings
    raise RunControlError(f"deployment {key} has no job in this workspace any more (recorded job "
                          f"{', '.join(str(r.job_id) for r in candidates) or 'none'}); deploy it again")


def resolve_job(engine: Engine, client: Any, job: str) -> tuple[int, dict[str, Any]]:
    """`(job id, job settings as a dict)` for what the user typed as JOB: a deployment key this
    database knows (see `_resolve_key`), else an integer job id (`jobs/get`), else an exact job
    name (`jobs/list?name=`, exact and case-insensitive on the service).

    Raises:
        RunControlError: no such job; a name or short key naming several (their ids listed).
    """
    job = job.strip()
    if not job:
        raise RunControlError("JOB is empty: give a job key, a job id or a job name")
    found = _resolve_key(engine, client, job)
    if found is not None:
        return found
    if job.isdigit():
        settings = _job_settings(client, int(job))
        if settings is None:
            raise RunControlError(f"job {job} does not exist in this workspace")
        return int(job), settings
    matches = [j for j in client.jobs.list(name=job, limit=100) if j.job_id is not None]
    exact = [j for j in matches if j.settings is not None and j.settings.name == job] or matches
    if not exact:
        raise RunControlError(f"no job key, id or name {job!r}: no deployment of this database has that key and "
                              f"no job of this workspace has that name")
    if len(exact) > 1:
        ids = ", ".join(str(j.job_id) for j in sorted(exact, key=lambda j: j.job_id))
        raise RunControlError(f"job name {job!r} is ambiguous: jobs {ids} have it; give the job id")
    job_id = int(exact[0].job_id)
    settings = _job_settings(client, job_id)
    if settings is None:
        raise RunControlError(f"job {job_id} ({job!r}) disappeared while it was looked up")
    return job_id, settings


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`["k=v", ...]` -> `{"k": "v"}` (the value may contain `=`; a repeated name keeps the last).

    Raises:
        RunControlError: an item without `=` or with an empty name.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise RunControlError(f"--param {pair!r}: expected NAME=VALUE")
        out[name.strip()] = value
    return out


def _check_run(client: Any, run_id: int) -> Any:
    from tasks.run_control import is_missing_error

    from databricks.sdk import errors

    if run_id <= 0:
        raise RunControlError(f"{run_id} is not a run id")
    try:
        return client.jobs.get_run(run_id)
    except errors.DatabricksError as error:
        if is_missing_error(error):
            raise RunControlError(f"run {run_id} does not exist in this workspace") from None
        raise


# -- recording and running one task ---------------------------------------------------------------

def _record(engine: Engine, *, type_: str, key: str, title: str, payload: dict[str, Any]) -> tuple[int, str, str]:
    """Record one task in `ad_hoc/run-control`; returns (task id, task ref, requirement ref)."""
    from state.engine import writer
    from state.models import format_id
    from state.submissions import NewTask, enqueue, ensure_requirement

    with Session(writer(engine)) as session:
        requirement_id = ensure_requirement(session, kind="ad_hoc", name=REQUIREMENT_NAME,
                                            title="Run control (lead run, lead runs)")
        ids = enqueue(session, requirement_id, [NewTask(key=key, type=type_, title=title, payload=payload)],
                      actor="lead", reason=f"enqueued by `lead {'run' if type_ == 'start_run' else 'runs'}`")
        session.commit()
    return ids[0], format_id("task", ids[0]), format_id("requirement", requirement_id)


def _task_row(engine: Engine, task_id: int) -> dict[str, Any]:
    from state.models import Task

    with Session(engine) as session:
        task = session.get(Task, task_id)
        return {"status": task.status, "result": dict(task.result or {}), "error": task.error,
                "not_before": task.not_before}


def execute_task(engine: Engine, workspace: Any, task_id: int, *, progress_dir: Path | None = None,
                 deadline_s: float = DEFAULT_WAIT_TIMEOUT_S) -> dict[str, Any]:
    """Run task `task_id` here through `worker.pipeline.TaskRunner` until it ends, checking it
    again whenever it waits (`CheckAgain`) or backs off; if a worker holds it, wait for the
    worker's outcome. Gives up waiting after `deadline_s` seconds (the task stays queued for a
    worker). Returns `{"status", "result", "error", "not_before"}` of the task at the end.
    No citations: `cite` answers nothing, so the retriever never loads.
    """
    from state.columns import utcnow
    from worker.pipeline import TaskRunner, WorkerSettings

    owner = f"lead:{socket.gethostname()}:{os.getpid()}"
    settings = WorkerSettings(worker_id=owner, lease_ttl=LEAD_LEASE_TTL_S, progress_dir=progress_dir,
                              progress_min_interval=PROGRESS_MIN_INTERVAL_S)
    runner = TaskRunner(engine, settings, workspace, lambda query: [], threading.Event())
    give_up = time.monotonic() + deadline_s
    try:
        while True:
            from state.queue import claim_task

            claim = claim_task(engine, task_id, owner, LEAD_LEASE_TTL_S)
            if claim is not None:
                runner.run(claim)
            row = _task_row(engine, task_id)
            if row["status"] in _TERMINAL_TASK or time.monotonic() >= give_up:
                return row
            wait = 0.2
            if row["status"] == "PENDING" and row["not_before"] is not None:
                wait = (row["not_before"] - utcnow()).total_seconds()
            time.sleep(min(max(wait, 0.01), 5.0, max(give_up - time.monotonic(), 0.0)))
    finally:
        runner.close()


def _run_task(engine: Engine, workspace: Any, *, type_: str, key: str, title: str, payload: dict[str, Any],
              progress_dir: Path | None, deadline_s: float) -> tuple[dict[str, Any], str, str]:
    task_id, task_ref, requirement_ref = _record(engine, type_=type_, key=key, title=title, payload=payload)
    row = execute_task(engine, workspace, task_id, progress_dir=progress_dir, deadline_s=deadline_s)
    if row["status"] != "COMPLETE":
        from state.redaction import redact_text

        still = row["status"] in ("PENDING", "IN_PROGRESS")
        what = (f"is still {row['status']} (the lead stopped waiting; a worker will finish it)" if still
                else f"ended {row['status']}")
        error = redact_text(row["error"] or "")
        raise RunControlTaskFailed(f"{task_ref} ({type_}) {what}" + (f": {error}" if error else ""),
                                   task_ref=task_ref, requirement_ref=requirement_ref, status=row["status"],
                                   error=row["error"], result=row["result"])
    return row["result"], task_ref, requirement_ref


def _info(result: dict[str, Any], task_ref: str, requirement_ref: str, job_name: str | None = None) -> RunInfo:
    return RunInfo(
        run_id=int(result["run_id"]), job_id=int(result["job_id"]) if result.get("job_id") is not None else 0,
        job_name=job_name or result.get("run_name"), life_cycle_state=result.get("life_cycle_state"),
        result_state=result.get("result_state"), state_message=result.get("state_message"),
        run_page_url=result.get("run_page_url"), start_time=result.get("start_time"), end_time=result.get("end_time"),
        task_ref=task_ref, requirement_ref=requirement_ref,
    )


# -- the three calls ------------------------------------------------------------------------------

def start_run(engine: Engine, workspace: Any, job: str, params: dict[str, str] | None = None, *, wait: bool = False,
              progress_dir: Path | None = None, timeout_s: float | None = None) -> RunInfo:
    """Start one run of `job` (a deployment key, a job id or an exact job name; `resolve_job`)
    with `params` (`name -> value`; sent as `job_parameters`, `notebook_params`, ... as the job
    takes them: `tasks.run_control.run_parameters`), through a `start_run` task.

    `workspace` is a `worker.workspace.WorkspaceProvider` (or any callable returning a
    `WorkspaceClient`). Without `wait` it returns as soon as `jobs/run-now` answered (one
    `jobs/runs/get` for the state, no polling); with `wait` it follows the run until it ends or
    `timeout_s` seconds (default 3600) pass.

    Raises:
        RunControlError: unknown job, ambiguous name or key, unknown parameter (nothing recorded).
        RunControlTaskFailed: the task failed (e.g. the service refused the run, the run did not
            end within `timeout_s`).
    """
    from tasks.run_control import UnknownParameter, run_parameters

    client = workspace()
    params = {str(k): str(v) for k, v in (params or {}).items()}
    job_id, settings = resolve_job(engine, client, job)
    name = settings.get("name")
    try:
        run_parameters(settings, params, f"{name or job} ({job_id})")
    except UnknownParameter as error:
        raise RunControlError(str(error)) from None
    timeout = float(timeout_s or DEFAULT_WAIT_TIMEOUT_S)
    payload = {"job_id": job_id, "job_name": name, "job_ref": job, "params": params, "wait": wait, "timeout_s": timeout}
    result, task_ref, requirement_ref = _run_task(
        engine, workspace, type_="start_run", key=f"start_run:{job_id}:{uuid.uuid4().hex[:8]}",
        title=f"Start a run of job {name or job_id} ({job_id})" + (" and wait" if wait else ""), payload=payload,
        progress_dir=progress_dir, deadline_s=timeout + 60.0 if wait else 120.0)
    return _info(result, task_ref, requirement_ref, name)


def run_status(engine: Engine, workspace: Any, run_id: int, *, progress_dir: Path | None = None) -> RunInfo:
    """The state of run `run_id` (`jobs/runs/get`), through a `run_status` task.

    Raises:
        RunControlError: no such run (nothing recorded).
        RunControlTaskFailed: the task failed.
    """
    _check_run(workspace(), run_id)
    result, task_ref, requirement_ref = _run_task(
        engine, workspace, type_="run_status", key=f"run_status:{run_id}:{uuid.uuid4().hex[:8]}",
        title=f"Status of run {run_id}", payload={"run_id": run_id}, progress_dir=progress_dir, deadline_s=120.0)
    return _info(result, task_ref, requirement_ref)


def cancel_run(engine: Engine, workspace: Any, run_id: int, *, progress_dir: Path | None = None, wait: bool = True,
               timeout_s: float | None = None) -> RunInfo:
    """Cancel run `run_id` (`jobs/runs/cancel`) through a `cancel_run` task; with `wait`, return
    once the run is terminal (`TERMINATED`, result `CANCELED` unless it ended before the
    cancel), giving up after `timeout_s` seconds (default 600). A run that has already ended
    is left as it is (the task's plan is a NO_OP) and reported.

    Raises:
        RunControlError: no such run (nothing recorded).
        RunControlTaskFailed: the task failed (e.g. the run did not end within `timeout_s`).
    """
    _check_run(workspace(), run_id)
    timeout = float(timeout_s or 600.0)
    result, task_ref, requirement_ref = _run_task(
        engine, workspace, type_="cancel_run", key=f"cancel_run:{run_id}:{uuid.uuid4().hex[:8]}",
        title=f"Cancel run {run_id}", payload={"run_id": run_id, "wait": wait, "timeout_s": timeout},
        progress_dir=progress_dir, deadline_s=timeout + 60.0 if wait else 120.0)
    return _info(result, task_ref, requirement_ref)
