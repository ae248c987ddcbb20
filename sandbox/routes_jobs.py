"""Jobs API 2.2 routes: ``/api/2.2/jobs/*`` and ``/api/2.2/jobs/runs/*``.

Bodies are parsed and emitted through the SDK's dataclasses (``jobs.JobSettings``,
``jobs.SubmitTask``, ``jobs.QueueSettings``, ``jobs.Job``, ``jobs.Run``, ``jobs.RunOutput``...;
this SDK version has no request dataclasses, so request fields are read as ``JobsAPI`` sends
them), so shapes match ``databricks/sdk/service/jobs.py`` exactly. Errors: unknown job or run ->
400 ``INVALID_PARAMETER_VALUE`` "Job <id> does not exist." / "Run <id> does not exist.", as the
service answers (the SDK's ``errors/overrides.py`` turns those into ``ResourceDoesNotExist`` for
``jobs/get`` and ``jobs/runs/get``); invalid settings or parameters -> 400 ``INVALID_PARAMETER_VALUE``.
"""

from __future__ import annotations

import base64

from databricks.sdk.service import jobs
from starlette.requests import Request
from starlette.routing import Route

from sandbox import runs as runlife
from sandbox import seed
from sandbox.errors import InvalidParameterValue, MalformedRequest
from sandbox.handler_io import json_body, ok, q_bool, q_int, q_str, require, token_of
from sandbox.job_validation import validate_settings

_TOP_DEFAULTS = {"max_concurrent_runs": 1, "timeout_seconds": 0, "format": "MULTI_TASK",
                 "email_notifications": {}, "webhook_notifications": {}}


def _normalise_settings(raw: dict) -> dict:
    """Round-trip settings through ``jobs.JobSettings`` and fill the service's defaults.

    Raises ``MalformedRequest`` when the body does not fit the dataclasses (wrong types).
    """
    try:
        settings = jobs.JobSettings.from_dict(raw).as_dict()
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        raise MalformedRequest(f"Invalid job settings: {e}") from None
    for k, v in _TOP_DEFAULTS.items():
        settings.setdefault(k, v)
    settings.setdefault("name", "Untitled")
    for t in settings.get("tasks") or []:
        t.setdefault("run_if", "ALL_SUCCESS")
        t.setdefault("timeout_seconds", 0)
        t.setdefault("email_notifications", {})
    return settings


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _page(items: list, offset: int, limit: int, key: str, render) -> dict:
    """One page of a list response the way the Jobs API shapes it: `key` (left out when
    empty), `has_more`, and `next_page_token` / `prev_page_token` where there are more."""
    out: dict = {"has_more": offset + limit < len(items)}
    page = [render(item) for item in items[offset: offset + limit]]
    if page:
        out[key] = page
    if out["has_more"]:
        out["next_page_token"] = _page_token(offset + limit)
    if offset > 0:
        out["prev_page_token"] = _page_token(max(0, offset - limit))
    return out


def _page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, n = raw.partition(":")
        if kind != "offset":
            raise ValueError(raw)
        return int(n)
    except ValueError:
        raise InvalidParameterValue(f"Invalid page token: {token}") from None


def _job_or_error(ws: dict, job_id) -> dict:
    job = ws["jobs"].get(str(job_id))
    if job is None:
        raise InvalidParameterValue(f"Job {job_id} does not exist.")
    return job


def _job_dict(job: dict, *, full: bool = True) -> dict:
    settings = dict(job["settings"])
    if not full:
        settings.pop("tasks", None)
        settings.pop("job_clusters", None)
    d = {"job_id": job["job_id"], "created_time": job["created_time"], "creator_user_name": job["creator_user_name"],
         "run_as_user_name": seed.USER_NAME, "settings": settings, "has_more": False}
    if not full:
        del d["run_as_user_name"]
    return jobs.Job.from_dict(d).as_dict()


def _store(request: Request):
    return request.app.state.store


async def create(request: Request):
    """``POST /api/2.2/jobs/create`` -> ``{"job_id"}`` (settings via ``jobs.JobSettings`` -> ``jobs.CreateResponse``)."""
    body = await json_body(request)
    body.pop("access_control_list", None)
    settings = _normalise_settings(body)
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        validate_settings(ws, settings)
        job_id = ws["next_job_id"]
        ws["next_job_id"] += 1
        ws["jobs"][str(job_id)] = {"job_id": job_id, "created_time": store.now_ms(ws),
                                   "creator_user_name": seed.USER_NAME, "settings": settings}
    return ok(jobs.CreateResponse(job_id=job_id).as_dict())


async def get(request: Request):
    """``GET /api/2.2/jobs/get?job_id=`` -> ``jobs.Job``."""
    job_id = q_int(request, "job_id")
    if job_id is None:
        raise InvalidParameterValue("Missing required field: job_id")
    with _store(request).transaction(token_of(request)) as ws:
        return ok(_job_dict(_job_or_error(ws, job_id)))


async def list_jobs(request: Request):
    """``GET /api/2.2/jobs/list`` -> ``jobs.ListJobsResponse``; newest job first.

    ``name`` is an exact case-insensitive filter; ``limit`` 1..100 (default 20); ``expand_tasks``
    adds ``settings.tasks`` and ``job_clusters``; ``page_token`` / ``offset`` page through.
    """
    limit = q_int(request, "limit", 20)
    if limit is None or not (1 <= limit <= 100):
        raise InvalidParameterValue(f"Invalid limit {limit}: must be greater than 0 and less than or equal to 100")
    name = q_str(request, "name")
    expand = q_bool(request, "expand_tasks")
    offset = _page_offset(q_str(request, "page_token")) if q_str(request, "page_token") else (q_int(request, "offset", 0) or 0)
    with _store(request).transaction(token_of(request)) as ws:
        all_jobs = sorted(ws["jobs"].values(), key=lambda j: (j["created_time"], j["job_id"]), reverse=True)
        if name is not None:
            all_jobs = [j for j in all_jobs if (j["settings"].get("name") or "").lower() == name.lower()]
        out = _page(all_jobs, offset, limit, "jobs", lambda j: _job_dict(j, full=expand))
    return ok(out)


async def reset(request: Request):
    """``POST /api/2.2/jobs/reset`` ``{job_id, new_settings}``: replace all settings -> ``{}``."""
    body = await json_body(request)
    job_id = require(body, "job_id", int)
    new = _normalise_settings(require(body, "new_settings", dict))
    with _store(request).transaction(token_of(request), write=True) as ws:
        job = _job_or_error(ws, job_id)
        validate_settings(ws, new)
        job["settings"] = new
    return ok({})


def _merge_by_key(old: list[dict], new: list[dict], key: str) -> list[dict]:
    out = {o[key]: o for o in old}
    for n in new:
        out[n[key]] = n
    return list(out.values())


async def update(request: Request):
    """``POST /api/2.2/jobs/update`` ``{job_id, new_settings, fields_to_remove}`` -> ``{}``.

    Top-level fields of ``new_settings`` replace the old ones, except ``tasks`` and
    ``job_clusters`` which are merged by ``task_key`` / ``job_cluster_key`` (Jobs API docs).
    ``fields_to_remove`` names top-level fields or ``tasks/<key>`` / ``job_clusters/<key>``.
    """
    body = await json_body(request)
    job_id = require(body, "job_id", int)
    try:
        partial = jobs.JobSettings.from_dict(body.get("new_settings") or {}).as_dict()
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        raise MalformedRequest(f"Invalid new_settings: {e}") from None
    remove = body.get("fields_to_remove") or []
    with _store(request).transaction(token_of(request), write=True) as ws:
        job = _job_or_error(ws, job_id)
        merged = dict(job["settings"])
        for k, v in partial.items():
            if k == "tasks":
                merged["tasks"] = _merge_by_key(merged.get("tasks") or [], v, "task_key")
            elif k == "job_clusters":
                merged["job_clusters"] = _merge_by_key(merged.get("job_clusters") or [], v, "job_cluster_key")
            else:
                merged[k] = v
        for f in remove:
            if f.startswith("tasks/"):
                merged["tasks"] = [t for t in merged.get("tasks") or [] if t["task_key"] != f[6:]]
            elif f.startswith("job_clusters/"):
                merged["job_clusters"] = [c for c in merged.get("job_clusters") or [] if c["job_cluster_key"] != f[13:]]
            else:
                merged.pop(f, None)
        merged = _normalise_settings(merged)
        validate_settings(ws, merged)
        job["settings"] = merged
    return ok({})


async def delete(request: Request):
    """``POST /api/2.2/jobs/delete`` ``{job_id}`` -> ``{}``; 400 if unknown."""
    body = await json_body(request)
    job_id = require(body, "job_id", int)
    with _store(request).transaction(token_of(request), write=True) as ws:
        _job_or_error(ws, job_id)
        del ws["jobs"][str(job_id)]
    return ok({})


_PARAM_FIELDS = ("notebook_params", "python_params", "jar_params", "python_named_params", "sql_params",
                 "spark_submit_params", "dbt_commands", "pipeline_params")


async def run_now(request: Request):
    """``POST /api/2.2/jobs/run-now`` -> ``{"run_id", "number_in_job"}`` (``jobs.RunNowResponse``).

    The same ``idempotency_token`` returns the run it first created, without starting another.
    """
    body = await json_body(request)
    job_id = require(body, "job_id", int)
    idem = body.get("idempotency_token")
    only = body.get("only")
    job_parameters = body.get("job_parameters")
    if job_parameters is not None and not isinstance(job_parameters, dict):
        raise InvalidParameterValue("job_parameters must be a map of parameter name to value.")
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        if idem and idem in ws["idempotency"]:
            rid = ws["idempotency"][idem]
            return ok(jobs.RunNowResponse(run_id=rid, number_in_job=rid).as_dict())
        job = _job_or_error(ws, job_id)
        settings = job["settings"]
        if only:
            known = {t["task_key"] for t in settings.get("tasks") or []}
            unknown = [k for k in only if k not in known]
            if unknown:
                raise InvalidParameterValue(f"Task keys {unknown} given in 'only' do not exist in job {job_id}.")
        if body.get("queue") is not None:
            settings = {**settings, "queue": jobs.QueueSettings.from_dict(body["queue"]).as_dict()}
        overriding = {k: body[k] for k in _PARAM_FIELDS if k in body}
        run = runlife.create_run(ws, now=store.now_ms(ws), run_type="JOB_RUN", settings=settings,
                                 job_id=job_id, job_parameters=job_parameters, overriding=overriding,
                                 idempotency_token=idem, only=only)
        rid = run["run_id"]
    return ok(jobs.RunNowResponse(run_id=rid, number_in_job=rid).as_dict())


async def submit(request: Request):
    """``POST /api/2.2/jobs/runs/submit`` -> ``{"run_id"}`` (tasks via ``jobs.SubmitTask`` -> ``jobs.SubmitRunResponse``)."""
    body = await json_body(request)
    idem = body.pop("idempotency_token", None)
    body.pop("access_control_list", None)
    settings = dict(body)
    try:
        settings["tasks"] = [jobs.SubmitTask.from_dict(t).as_dict() for t in body.get("tasks") or []]
        if body.get("environments"):
            settings["environments"] = [jobs.JobEnvironment.from_dict(e).as_dict() for e in body["environments"]]
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        raise MalformedRequest(f"Invalid runs/submit request: {e}") from None
    settings["name"] = body.get("run_name") or "Untitled"
    for t in settings["tasks"]:
        t.setdefault("run_if", "ALL_SUCCESS")
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        if idem and idem in ws["idempotency"]:
            return ok(jobs.SubmitRunResponse(run_id=ws["idempotency"][idem]).as_dict())
        if not settings["tasks"]:
            raise InvalidParameterValue("At least one task must be specified in runs/submit.")
        validate_settings(ws, settings, submit=True)
        run = runlife.create_run(ws, now=store.now_ms(ws), run_type="SUBMIT_RUN", settings=settings, job_id=None,
                                 idempotency_token=idem)
        rid = run["run_id"]
    return ok(jobs.SubmitRunResponse(run_id=rid).as_dict())


def _run_or_error(ws: dict, run_id) -> tuple[dict, int | None]:
    found = runlife.find_run(ws, run_id)
    if found is None:
        raise InvalidParameterValue(f"Run {run_id} does not exist.")
    return found


async def get_run(request: Request):
    """``GET /api/2.2/jobs/runs/get?run_id=`` -> ``jobs.Run`` (a task run id gives that task run)."""
    run_id = q_int(request, "run_id")
    if run_id is None:
        raise InvalidParameterValue("Missing required field: run_id")
    store = _store(request)
    with store.transaction(token_of(request)) as ws:
        run, task_run_id = _run_or_error(ws, run_id)
        now = store.now_ms(ws)
        if task_run_id is not None:
            d = runlife.task_run_dict(run, task_run_id, now, store.host)
        else:
            d = runlife.run_dict(run, now, store.host, include_history=q_bool(request, "include_history"))
    return ok(jobs.Run.from_dict(d).as_dict())


async def list_runs(request: Request):
    """``GET /api/2.2/jobs/runs/list`` -> ``jobs.ListRunsResponse``, newest first.

    Filters: ``job_id``, ``active_only`` / ``completed_only`` (not both), ``start_time_from`` /
    ``start_time_to`` (epoch ms, inclusive), ``run_type``; ``limit`` 1..25 (0 means 25; default
    20); ``page_token`` / ``offset``; ``expand_tasks`` includes ``tasks``.
    """
    active_only = q_bool(request, "active_only")
    completed_only = q_bool(request, "completed_only")
    if active_only and completed_only:
        raise InvalidParameterValue("active_only and completed_only cannot both be true.")
    limit = q_int(request, "limit", 20)
    if limit == 0:
        limit = 25
    if limit is None or not (1 <= limit <= 25):
        raise InvalidParameterValue(f"Invalid limit {limit}: must be greater than 0 and less than or equal to 25")
    job_id = q_int(request, "job_id")
    t_from, t_to = q_int(request, "start_time_from"), q_int(request, "start_time_to")
    run_type = q_str(request, "run_type")
    expand = q_bool(request, "expand_tasks")
    offset = _page_offset(q_str(request, "page_token")) if q_str(request, "page_token") else (q_int(request, "offset", 0) or 0)
    store = _store(request)
    with store.transaction(token_of(request)) as ws:
        if job_id is not None and str(job_id) not in ws["jobs"]:
            raise InvalidParameterValue(f"Job {job_id} does not exist.")
        now = store.now_ms(ws)
        selected = []
        for run in sorted(ws["runs"].values(), key=lambda r: (r["created_ms"], r["run_id"]), reverse=True):
            if job_id is not None and run.get("job_id") != job_id:
                continue
            if run_type and run["run_type"] != run_type:
                continue
            if t_from is not None and run["created_ms"] < t_from:
                continue
            if t_to is not None and run["created_ms"] > t_to:
                continue
            terminal = runlife.is_terminal(run, now)
            if (active_only and terminal) or (completed_only and not terminal):
                continue
            selected.append(run)
        out = _page(selected, offset, limit, "runs", lambda r: runlife.run_dict(r, now, store.host, include_tasks=expand))
    return ok(jobs.ListRunsResponse.from_dict(out).as_dict())


async def get_output(request: Request):
    """``GET /api/2.2/jobs/runs/get-output?run_id=`` -> ``jobs.RunOutput`` of a TASK run.

    A job run id answers 400 ``INVALID_PARAMETER_VALUE`` like the service ("Retrieving the output
    of runs with multiple tasks is not supported...").
    """
    run_id = q_int(request, "run_id")
    if run_id is None:
        raise InvalidParameterValue("Missing required field: run_id")
    store = _store(request)
    with store.transaction(token_of(request)) as ws:
        run, task_run_id = _run_or_error(ws, run_id)
        if task_run_id is None:
            raise InvalidParameterValue(
                "Retrieving the output of runs with multiple tasks is not supported. Please retrieve the output "
                "of each individual task run instead.")
        d = runlife.run_output(run, task_run_id, store.now_ms(ws), store.host)
    return ok(jobs.RunOutput.from_dict(d).as_dict())


async def cancel(request: Request):
    """``POST /api/2.2/jobs/runs/cancel`` ``{run_id}`` -> ``{}``; cancelling a finished run is a no-op."""
    body = await json_body(request)
    run_id = require(body, "run_id", int)
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        run, _task = _run_or_error(ws, run_id)
        runlife.cancel_run(run, store.now_ms(ws))
    return ok({})


async def cancel_all(request: Request):
    """``POST /api/2.2/jobs/runs/cancel-all`` ``{job_id}`` -> ``{}``."""
    body = await json_body(request)
    job_id = require(body, "job_id", int)
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        _job_or_error(ws, job_id)
        now = store.now_ms(ws)
        for run in runlife.active_runs(ws, job_id, now):
            runlife.cancel_run(run, now)
    return ok({})


async def delete_run(request: Request):
    """``POST /api/2.2/jobs/runs/delete`` ``{run_id}`` -> ``{}``; only finished runs."""
    body = await json_body(request)
    run_id = require(body, "run_id", int)
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        run, task = _run_or_error(ws, run_id)
        if task is not None:
            raise InvalidParameterValue("Task runs cannot be deleted; delete the job run instead.")
        runlife.require_terminal_for_delete(run, store.now_ms(ws))
        for rid in run["attempts"]:
            ws["task_runs"].pop(rid, None)
        del ws["runs"][str(run_id)]
    return ok({})


async def repair(request: Request):
    """``POST /api/2.2/jobs/runs/repair`` -> ``{"repair_id"}`` -> ``jobs.RepairRunResponse``.

    Reruns ``rerun_tasks`` or all failed tasks (``rerun_all_failed_tasks``) with the job's current
    settings; ``latest_repair_id`` must name the latest repair when the run was repaired before.
    """
    body = await json_body(request)
    run_id = require(body, "run_id", int)
    params = {k: body[k] for k in _PARAM_FIELDS + ("job_parameters",) if k in body}
    rerun_tasks = body.get("rerun_tasks")
    if rerun_tasks is not None and not (isinstance(rerun_tasks, list) and all(isinstance(k, str) for k in rerun_tasks)):
        raise InvalidParameterValue("rerun_tasks must be a list of task keys.")
    latest = body.get("latest_repair_id")
    store = _store(request)
    with store.transaction(token_of(request), write=True) as ws:
        run, task = _run_or_error(ws, run_id)
        if task is not None:
            raise InvalidParameterValue(f"Run {run_id} is a task run; repair the job run {run['run_id']}.")
        job = ws["jobs"].get(str(run.get("job_id"))) if run.get("job_id") is not None else None
        repair_id = runlife.repair_run(
            ws, run, store.now_ms(ws), job_settings=job["settings"] if job else None,
            rerun_tasks=rerun_tasks, rerun_all_failed=bool(body.get("rerun_all_failed_tasks")),
            rerun_dependents=bool(body.get("rerun_dependent_tasks")),
            latest_repair_id=int(latest) if latest is not None else None, params=params)
    return ok(jobs.RepairRunResponse(repair_id=repair_id).as_dict())


ROUTES = [
    Route("/api/2.2/jobs/create", create, methods=["POST"]),
    Route("/api/2.2/jobs/get", get, methods=["GET"]),
    Route("/api/2.2/jobs/list", list_jobs, methods=["GET"]),
    Route("/api/2.2/jobs/reset", reset, methods=["POST"]),
    Route("/api/2.2/jobs/update", update, methods=["POST"]),
    Route("/api/2.2/jobs/delete", delete, methods=["POST"]),
    Route("/api/2.2/jobs/run-now", run_now, methods=["POST"]),
    Route("/api/2.2/jobs/runs/submit", submit, methods=["POST"]),
    Route("/api/2.2/jobs/runs/get", get_run, methods=["GET"]),
    Route("/api/2.2/jobs/runs/list", list_runs, methods=["GET"]),
    Route("/api/2.2/jobs/runs/get-output", get_output, methods=["GET"]),
    Route("/api/2.2/jobs/runs/cancel", cancel, methods=["POST"]),
    Route("/api/2.2/jobs/runs/cancel-all", cancel_all, methods=["POST"]),
    Route("/api/2.2/jobs/runs/delete", delete_run, methods=["POST"]),
    Route("/api/2.2/jobs/runs/repair", repair, methods=["POST"]),
]
