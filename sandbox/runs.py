"""Job run life-cycle: scheduling task attempts, deriving states from the clock, cancel and repair.

A run is stored as *segments* (the original run, then one per repair) of *task attempts*. Each
attempt's timeline (start, setup, execution, cleanup in simulated ms) and outcome are decided when
the attempt is scheduled (scenario rules are evaluated then, with the task's compute and whether it
is a repair); the state seen by ``runs/get`` is derived from the sandbox clock at read time, so it
moves ``QUEUED/PENDING -> RUNNING -> TERMINATING -> TERMINATED`` (or ``INTERNAL_ERROR``) as time
passes. Shapes follow ``jobs.Run``, ``jobs.RunTask``, ``jobs.RunState``, ``jobs.RunStatus`` and
``jobs.RepairHistoryItem`` of the SDK (REST: ``GET /api/2.2/jobs/runs/get``).
"""

from __future__ import annotations

from sandbox import seed
from sandbox.errors import InvalidParameterValue, InvalidState
from sandbox.scenarios import Scenario, parse_scenario

PENDING_MS = 3_000  # run accepted -> first task may start
SETUP_NEW_CLUSTER_MS = 10_000
SETUP_OTHER_MS = 2_000
CLEANUP_MS = 1_000
TERMINATING_MS = 2_000  # last task ended -> run terminal

_NEEDS_CLUSTER = ("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task")


def _scenario(ws: dict) -> Scenario:
    return parse_scenario(ws["scenario"]) if ws.get("scenario") else Scenario()


def task_compute(ws: dict, settings: dict, task: dict) -> dict:
    """The compute a task runs on: ``{"kind": "new"|"existing"|"serverless", "node_type_id", "cluster_id"}``."""
    if task.get("existing_cluster_id"):
        cl = ws["clusters"].get(task["existing_cluster_id"], {})
        return {"kind": "existing", "node_type_id": cl.get("node_type_id"), "cluster_id": task["existing_cluster_id"]}
    spec = task.get("new_cluster")
    if spec is None and task.get("job_cluster_key"):
        for jc in settings.get("job_clusters") or []:
            if jc.get("job_cluster_key") == task["job_cluster_key"]:
                spec = jc.get("new_cluster")
    if spec is not None:
        return {"kind": "new", "node_type_id": spec.get("node_type_id"), "cluster_id": None}
    return {"kind": "serverless", "node_type_id": None, "cluster_id": None}


def _missing_workspace_file(ws: dict, task: dict) -> str | None:
    """The absolute workspace path a task needs that does not exist (checked at run time, like the service)."""
    nb = task.get("notebook_task")
    candidates = []
    if nb and nb.get("source", "WORKSPACE") != "GIT":
        candidates.append(nb.get("notebook_path", ""))
    py = task.get("spark_python_task")
    if py and py.get("source", "WORKSPACE") != "GIT":
        candidates.append(py.get("python_file", ""))
    for path in candidates:
        if path.startswith("/") and not path.startswith("/Volumes/") and not path.startswith("/dbfs"):
            canonical = path[len("/Workspace"):] if path.startswith("/Workspace/") else path
            canonical = canonical.rstrip("/")
            if canonical not in ws["objects"] and canonical.rsplit(".", 1)[0] not in ws["objects"]:
                return path
    return None


def _topo_order(tasks: list[dict]) -> list[dict]:
    by_key = {t["task_key"]: t for t in tasks}
    done: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        for dep in by_key[key].get("depends_on") or []:
            if dep["task_key"] in by_key:
                visit(dep["task_key"])
        done.append(key)

    for t in tasks:
        visit(t["task_key"])
    return [by_key[k] for k in done]


def _run_if_ok(run_if: str, dep_results: list[str]) -> bool:
    if not dep_results:
        return True
    ok = [r in ("SUCCESS", "SUCCESS_WITH_FAILURES") for r in dep_results]
    failed = [r in ("FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "CANCELED", "UPSTREAM_CANCELED") for r in dep_results]
    return {
        "ALL_SUCCESS": all(ok),
        "ALL_DONE": True,
        "NONE_FAILED": not any(failed),
        "AT_LEAST_ONE_SUCCESS": any(ok),
        "ALL_FAILED": all(failed),
        "AT_LEAST_ONE_FAILED": any(failed),
    }.get(run_if, all(ok))


def _new_run_id(ws: dict) -> int:
    rid = ws["next_run_id"]
    ws["next_run_id"] += 1
    return rid


def _schedule(ws: dict, run: dict, tasks: list[dict], start_ms: int, segment: int, is_repair: bool) -> list[int]:
    """Create attempts for ``tasks`` starting at ``start_ms``; returns the new task run ids."""
    scenario = _scenario(ws)
    settings = run["settings"]
    job_name = run.get("run_name")
    ends: dict[str, int] = {}
    results: dict[str, str] = {}
    # tasks not rerun in this segment keep their latest outcome
    for key, ids in run["task_attempts"].items():
        last = run["attempts"][str(ids[-1])]
        ends[key] = _attempt_end(last)
        results[key] = last["result_state"]
    new_ids: list[int] = []
    keys_here = {t["task_key"] for t in tasks}
    for task in _topo_order(tasks):
        key = task["task_key"]
        deps = [d["task_key"] for d in task.get("depends_on") or []]
        ready = max([start_ms + PENDING_MS] + [ends.get(d, start_ms) for d in deps])
        dep_results = [results.get(d, "SUCCESS") for d in deps]
        compute = task_compute(ws, settings, task)
        attempt_no = len(run["task_attempts"].get(key, []))
        base = {
            "task_key": key,
            "task": task,
            "segment": segment,
            "compute": compute,
            "depends_on": deps,
            "blocked": any(d in keys_here for d in deps),  # waits on a task of this segment
        }
        if not _run_if_ok(task.get("run_if", "ALL_SUCCESS"), dep_results):
            upstream_canceled = any(r in ("CANCELED", "UPSTREAM_CANCELED") for r in dep_results)
            upstream_failed = any(r in ("FAILED", "TIMEDOUT", "UPSTREAM_FAILED") for r in dep_results)
            rid = _new_run_id(ws)
            att = {
                **base, "run_id": rid, "attempt_number": attempt_no, "start_ms": ready,
                "setup_ms": 0, "exec_ms": 0, "cleanup_ms": 0,
                "result_state": "UPSTREAM_CANCELED" if upstream_canceled else ("UPSTREAM_FAILED" if upstream_failed else "EXCLUDED"),
                "life_cycle_state": "SKIPPED", "termination_code": "SKIPPED", "termination_type": "SUCCESS" if not upstream_failed else "CLIENT_ERROR",
                "message": "Upstream task(s) failed." if upstream_failed else "The task's run_if condition was not met.",
                "trace": None,
            }
            _add_attempt(ws, run, att)
            new_ids.append(rid)
            ends[key], results[key] = ready, att["result_state"]
            continue
        max_retries = task.get("max_retries", 0) or 0
        retry_interval = task.get("min_retry_interval_millis", 0) or 0
        t = ready
        retries_done = 0
        while True:
            counter_key = f"{job_name}::{key}"
            ws["executions"][counter_key] = ws["executions"].get(counter_key, 0) + 1
            execution = ws["executions"][counter_key]
            memory_mb = seed.node_memory_mb(compute["node_type_id"])
            missing = _missing_workspace_file(ws, task)
            outcome = None
            if missing:
                outcome = {
                    "result_state": "FAILED", "termination_code": "RESOURCE_NOT_FOUND", "termination_type": "CLIENT_ERROR",
                    "life_cycle_state": "TERMINATED",
                    "message": f'Unable to access the notebook "{missing}" in the workspace. Either it does not exist, '
                               f"or the identity used to run this job, {seed.USER_NAME}, lacks the required permissions.",
                    "trace": None, "duration_seconds": 1.0,
                }
            else:
                o = scenario.decide(job_name, key, execution, memory_mb / 1024 if memory_mb else None, is_repair)
                outcome = o.as_dict() if o else None
            rid = _new_run_id(ws)
            setup = SETUP_NEW_CLUSTER_MS if compute["kind"] == "new" else SETUP_OTHER_MS
            if outcome is None:
                exec_ms = int(scenario.default_duration_seconds * 1000)
                att = {**base, "run_id": rid, "attempt_number": attempt_no, "start_ms": t, "setup_ms": setup,
                       "exec_ms": exec_ms, "cleanup_ms": CLEANUP_MS, "result_state": "SUCCESS",
                       "life_cycle_state": "TERMINATED", "termination_code": "SUCCESS", "termination_type": "SUCCESS",
                       "message": "", "trace": None}
            else:
                att = {**base, "run_id": rid, "attempt_number": attempt_no, "start_ms": t, "setup_ms": setup,
                       "exec_ms": int(outcome["duration_seconds"] * 1000), "cleanup_ms": CLEANUP_MS,
                       "result_state": outcome["result_state"], "life_cycle_state": outcome["life_cycle_state"],
                       "termination_code": outcome["termination_code"], "termination_type": outcome["termination_type"],
                       "message": outcome["message"], "trace": outcome["trace"]}
            timeout_s = task.get("timeout_seconds") or 0
            if timeout_s > 0 and att["exec_ms"] > timeout_s * 1000:
                att.update(exec_ms=timeout_s * 1000, result_state="TIMEDOUT", life_cycle_state="TERMINATED",
                           termination_code="RUN_EXECUTION_ERROR", termination_type="CLIENT_ERROR",
                           message=f"Task {key} timed out after {timeout_s} seconds.", trace=None)
            att["is_repair"] = is_repair
            _add_attempt(ws, run, att)
            new_ids.append(rid)
            t = _attempt_end(att)
            attempt_no += 1
            retryable = att["result_state"] == "FAILED" or (att["result_state"] == "TIMEDOUT"
                                                           and task.get("retry_on_timeout"))
            if not retryable or not (max_retries == -1 or retries_done < max_retries):
                break
            retries_done += 1
            t += retry_interval
        ends[key], results[key] = _attempt_end(att), att["result_state"]
    return new_ids


def _add_attempt(ws: dict, run: dict, att: dict) -> None:
    run["attempts"][str(att["run_id"])] = att
    run["task_attempts"].setdefault(att["task_key"], []).append(att["run_id"])
    ws["task_runs"][str(att["run_id"])] = run["run_id"]


def _attempt_end(att: dict) -> int:
    if att.get("cancel_ms") is not None:
        return att["cancel_end_ms"]
    return att["start_ms"] + att["setup_ms"] + att["exec_ms"] + att["cleanup_ms"]


def active_runs(ws: dict, job_id: int, now: int) -> list[dict]:
    """Runs of ``job_id`` not yet terminal at ``now``."""
    return [r for r in ws["runs"].values() if r.get("job_id") == job_id and not _is_terminal(r, now)]


def create_run(ws: dict, *, now: int, run_type: str, settings: dict, job_id: int | None,
               job_parameters: dict | None = None, overriding: dict | None = None,
               idempotency_token: str | None = None, only: list[str] | None = None,
               trigger: str = "ONE_TIME") -> dict:
    """Start a run of ``settings`` (a ``jobs.JobSettings``/``SubmitRun`` dict) at ``now``; returns the record.

    Honours ``max_concurrent_runs`` (default 1): with ``queue.enabled`` the run is QUEUED until the
    active runs end, otherwise it is SKIPPED (``MAX_CONCURRENT_RUNS_EXCEEDED``), like the service.
    ``only`` restricts the run to those task keys (``run-now``'s ``only``).
    """
    run_id = _new_run_id(ws)
    params = []
    for p in settings.get("parameters") or []:
        value = (job_parameters or {}).get(p["name"], p.get("default"))
        params.append({"name": p["name"], "default": p.get("default"), "value": value})
    run = {
        "run_id": run_id,
        "job_id": job_id,
        "run_type": run_type,
        "run_name": settings.get("name") or settings.get("run_name") or "Untitled",
        "created_ms": now,
        "settings": settings,
        "job_parameters": params,
        "overriding_parameters": overriding or {},
        "idempotency_token": idempotency_token,
        "trigger": trigger,
        "segments": [],
        "attempts": {},
        "task_attempts": {},
        "cancel_ms": None,
        "skipped": None,
    }
    tasks = settings.get("tasks") or []
    if only:
        tasks = [t for t in tasks if t["task_key"] in only]
    queue_until = now
    if job_id is not None:
        limit = settings.get("max_concurrent_runs", 1) or 1
        active = active_runs(ws, job_id, now)
        if len(active) >= limit:
            if (settings.get("queue") or {}).get("enabled"):
                queue_until = max(_terminal_ms(r) for r in active)
            else:
                run["skipped"] = "MAX_CONCURRENT_RUNS_EXCEEDED"
    run["segments"].append({"type": "ORIGINAL", "id": None, "start_ms": now, "queue_until_ms": queue_until,
                            "task_run_ids": []})
    ws["runs"][str(run_id)] = run
    if idempotency_token:
        ws["idempotency"][idempotency_token] = run_id
    if run["skipped"] is None:
        run["segments"][0]["task_run_ids"] = _schedule(ws, run, tasks, queue_until, 0, is_repair=False)
    return run


# -- deriving state at a time -------------------------------------------------------------------

def _visible(run: dict, key: str, now: int) -> list[dict]:
    """Attempts of ``key`` that exist by ``now`` (a retry appears once its predecessor ended)."""
    out = []
    for rid in run["task_attempts"].get(key, []):
        att = run["attempts"][str(rid)]
        if out:
            prev = out[-1]
            if prev["segment"] == att["segment"] and (_attempt_end(prev) > now or prev.get("cancel_ms") is not None):
                break
        out.append(att)
    return out


def _segment_finals(run: dict, seg_index: int) -> list[dict]:
    """The last attempt of each task key scheduled in segment ``seg_index`` (after cancellation)."""
    finals = {}
    for rid in run["segments"][seg_index]["task_run_ids"]:
        att = run["attempts"][str(rid)]
        key = att["task_key"]
        if key in finals and finals[key].get("cancel_ms") is not None:
            continue
        finals[key] = att
    return list(finals.values())


def _segment_end(run: dict, seg_index: int) -> int:
    seg = run["segments"][seg_index]
    finals = _segment_finals(run, seg_index)
    if not finals:
        return seg["queue_until_ms"]
    return max(_attempt_end(a) for a in finals)


def _terminal_ms(run: dict) -> int:
    if run.get("skipped"):
        return run["created_ms"]
    return _segment_end(run, len(run["segments"]) - 1) + TERMINATING_MS


def _is_terminal(run: dict, now: int) -> bool:
    return now >= _terminal_ms(run)


def _attempt_life(att: dict, now: int) -> str:
    start = att["start_ms"]
    if att["life_cycle_state"] == "SKIPPED":
        return "BLOCKED" if now < start else "SKIPPED"
    if att.get("cancel_ms") is not None and now >= att["cancel_ms"]:
        return "TERMINATING" if now < att["cancel_end_ms"] else "TERMINATED"
    if now < start:
        return "BLOCKED" if att.get("blocked", bool(att["depends_on"])) else "PENDING"
    if now < start + att["setup_ms"]:
        return "PENDING"
    if now < start + att["setup_ms"] + att["exec_ms"]:
        return "RUNNING"
    if now < _attempt_end(att):
        return "TERMINATING"
    return att["life_cycle_state"]


_V2 = {"BLOCKED": "BLOCKED", "PENDING": "PENDING", "QUEUED": "QUEUED", "RUNNING": "RUNNING",
       "TERMINATING": "TERMINATING", "TERMINATED": "TERMINATED", "INTERNAL_ERROR": "TERMINATED",
       "SKIPPED": "TERMINATED", "WAITING_FOR_RETRY": "WAITING"}


def _state_pair(life: str, result: str | None, message: str, code: str | None, ttype: str | None,
                cancelled: bool = False, queue_msg: str | None = None) -> tuple[dict, dict]:
    """(``jobs.RunState`` dict, ``jobs.RunStatus`` dict) for a life cycle and optional result."""
    state = {"life_cycle_state": life, "state_message": message, "user_cancelled_or_timedout": cancelled}
    if result is not None:
        state["result_state"] = result
    status: dict = {"state": _V2[life]}
    if status["state"] == "TERMINATED" and code:
        status["termination_details"] = {"code": code, "type": ttype, "message": message}
    if life == "QUEUED":
        state["queue_reason"] = queue_msg or ""
        status["queue_details"] = {"code": "ACTIVE_RUNS_LIMIT_REACHED", "message": queue_msg or ""}
    return state, status


def _attempt_dict(run: dict, att: dict, now: int, host: str) -> dict:
    life = _attempt_life(att, now)
    terminal = life in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")
    cancelled = att.get("cancel_ms") is not None and now >= att["cancel_ms"]
    if cancelled and terminal:
        result, code, ttype, msg = "CANCELED", "USER_CANCELED", "SUCCESS", "Run cancelled."
    elif terminal:
        result, code, ttype, msg = att["result_state"], att["termination_code"], att["termination_type"], att["message"]
    else:
        result, code, ttype, msg = None, None, None, ("Waiting for cluster" if life == "PENDING" else "")
    state, status = _state_pair(life, result, msg, code, ttype, cancelled=cancelled)
    task = att["task"]
    d = {
        "run_id": att["run_id"],
        "task_key": att["task_key"],
        "attempt_number": att["attempt_number"],
        "state": state,
        "status": status,
        "start_time": att["start_ms"] if now >= att["start_ms"] else 0,
        "end_time": _attempt_end(att) if terminal else 0,
        "setup_duration": att["setup_ms"] if terminal else 0,
        "execution_duration": (att["exec_ms"] if not att.get("cancel_ms") else max(0, att["cancel_ms"] - att["start_ms"] - att["setup_ms"])) if terminal else 0,
        "cleanup_duration": att["cleanup_ms"] if terminal else 0,
        "run_page_url": f"{host}/?o={seed.WORKSPACE_ID}#job/{run.get('job_id') or 0}/run/{att['run_id']}",
        "run_if": task.get("run_if", "ALL_SUCCESS"),
    }
    if terminal:
        d["run_duration"] = d["end_time"] - att["start_ms"]
    if att["depends_on"]:
        d["depends_on"] = [{"task_key": k} for k in att["depends_on"]]
    for f in ("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task",
              "sql_task", "run_job_task", "pipeline_task", "condition_task", "dbt_task", "for_each_task",
              "new_cluster", "existing_cluster_id", "job_cluster_key", "environment_key", "libraries",
              "description", "timeout_seconds", "disabled"):
        if f in task:
            d[f] = task[f]
    compute = att["compute"]
    if compute["kind"] != "serverless" and now >= att["start_ms"] + att["setup_ms"]:
        d["cluster_instance"] = {
            "cluster_id": compute["cluster_id"] or f"{run['run_id'] % 10000:04d}-000000-job{att['run_id'] % 100000:05d}",
            "spark_context_id": str(8_000_000_000_000_000 + att["run_id"]),
        }
    return d


def _rollup(run: dict, finals: list[dict], now: int) -> tuple[str, str, str, str, bool]:
    """(result_state, code, type, message, internal) of a finished set of final task attempts."""
    if any(a["result_state"] == "CANCELED" for a in finals):
        return "CANCELED", "USER_CANCELED", "SUCCESS", "Run cancelled.", False
    ordered = sorted(finals, key=lambda a: (a["start_ms"], a["run_id"]))
    failed = [a for a in ordered if a["result_state"] in ("FAILED", "TIMEDOUT")]
    if not failed:
        return "SUCCESS", "SUCCESS", "SUCCESS", "", False
    first = failed[0]
    all_keys = {a["task_key"] for a in finals}
    has_dependents = any(first["task_key"] in a["depends_on"] for a in finals)
    msg = f"Task {first['task_key']} failed with message: {first['message']}."
    if has_dependents:
        msg += " This caused all downstream tasks to get skipped."
    # leaves: tasks nobody depends on
    leaves = [a for a in finals if not any(a["task_key"] in b["depends_on"] for b in finals)]
    if len(all_keys) > 1 and leaves and all(a["result_state"] == "SUCCESS" for a in leaves):
        return "SUCCESS_WITH_FAILURES", "SUCCESS_WITH_FAILURES", "SUCCESS", msg, False
    internal = any(a["life_cycle_state"] == "INTERNAL_ERROR" for a in failed)
    result = "TIMEDOUT" if first["result_state"] == "TIMEDOUT" else "FAILED"
    return result, first["termination_code"], first["termination_type"], msg, internal


def _segment_state(run: dict, seg_index: int, now: int, finals: list[dict]) -> tuple[dict, dict, int]:
    """(state, status, end_time or 0) of segment ``seg_index`` at ``now``, rolled up from ``finals``."""
    seg = run["segments"][seg_index]
    if run.get("skipped"):
        msg = "Skipped due to max concurrent runs"
        state, status = _state_pair("SKIPPED", None, msg, "MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR")
        return state, status, run["created_ms"]
    seg_end = _segment_end(run, seg_index)
    seg_atts = [run["attempts"][str(r)] for r in seg["task_run_ids"]]
    if now < seg["queue_until_ms"]:
        msg = f"Queued due to reaching maximum concurrent runs of {run['settings'].get('max_concurrent_runs') or 1}."
        s = _state_pair("QUEUED", None, msg, None, None, queue_msg=msg)
        return s[0], s[1], 0
    first_running = min((a["start_ms"] + a["setup_ms"] for a in seg_atts if a["life_cycle_state"] != "SKIPPED"),
                        default=seg_end)
    if now < first_running and now < seg_end:
        s = _state_pair("PENDING", None, "Waiting for cluster", None, None)
        return s[0], s[1], 0
    if now < seg_end:
        cancelled = run.get("cancel_ms") is not None and now >= run["cancel_ms"]
        s = _state_pair("TERMINATING" if cancelled else "RUNNING", None, "", None, None)
        return s[0], s[1], 0
    if now < seg_end + TERMINATING_MS:
        s = _state_pair("TERMINATING", None, "", None, None)
        return s[0], s[1], 0
    result, code, ttype, msg, internal = _rollup(run, finals, now)
    life = "INTERNAL_ERROR" if internal else "TERMINATED"
    cancelled = result == "CANCELED"
    state, status = _state_pair(life, result, msg, code, ttype, cancelled=cancelled)
    return state, status, seg_end + TERMINATING_MS


def run_dict(run: dict, now: int, host: str, *, include_tasks: bool = True, include_history: bool = False) -> dict:
    """The ``jobs.Run`` dict of a run at ``now`` (``runs/get``; ``runs/list`` passes ``include_tasks``)."""
    last_seg = len(run["segments"]) - 1
    latest = []
    for key in run["task_attempts"]:
        vis = _visible(run, key, now)
        if vis:
            latest.append(vis[-1])
    finals = [run["attempts"][str(run["task_attempts"][k][-1])] for k in run["task_attempts"]]
    # only the current segment can still be active; finals of earlier tasks are already terminal
    finals = [a if a["segment"] < last_seg else next(
        (f for f in _segment_finals(run, last_seg) if f["task_key"] == a["task_key"]), a) for a in finals]
    state, status, end = _segment_state(run, last_seg, now, finals)
    d = {
        "job_id": run.get("job_id"),
        "run_id": run["run_id"],
        "number_in_job": run["run_id"],
        "original_attempt_run_id": run["run_id"],
        "creator_user_name": seed.USER_NAME,
        "run_name": run["run_name"],
        "run_type": run["run_type"],
        "trigger": run["trigger"],
        "format": "MULTI_TASK",
        "attempt_number": 0,
        "state": state,
        "status": status,
        "start_time": run["created_ms"],
        "end_time": end,
        "setup_duration": 0,
        "execution_duration": 0,
        "cleanup_duration": 0,
        "run_page_url": f"{host}/?o={seed.WORKSPACE_ID}#job/{run.get('job_id') or 0}/run/{run['run_id']}",
    }
    first_seg = run["segments"][0]
    if first_seg["queue_until_ms"] > run["created_ms"]:
        d["queue_duration"] = min(now, first_seg["queue_until_ms"]) - run["created_ms"]
    if end:
        d["run_duration"] = end - run["created_ms"]
    if d["job_id"] is None:
        del d["job_id"]
    if run["job_parameters"]:
        d["job_parameters"] = run["job_parameters"]
    if run["overriding_parameters"]:
        d["overriding_parameters"] = run["overriding_parameters"]
    if run["settings"].get("job_clusters"):
        d["job_clusters"] = run["settings"]["job_clusters"]
    if include_tasks:
        order = {t["task_key"]: i for i, t in enumerate(run["settings"].get("tasks") or [])}
        d["tasks"] = [_attempt_dict(run, a, now, host)
                      for a in sorted(latest, key=lambda a: (order.get(a["task_key"], 1 << 30), a["task_key"]))]
    if len(run["segments"]) > 1 or include_history:
        if include_history:
            d["repair_history"] = [
                _history_item(run, i, now) for i in range(len(run["segments"]))
            ]
    return d


def _history_item(run: dict, i: int, now: int) -> dict:
    seg = run["segments"][i]
    finals = _segment_finals(run, i)
    state, status, end = _segment_state(run, i, now, finals) if i == len(run["segments"]) - 1 else \
        (*_closed_segment_state(run, i, now, finals),)
    item = {"type": seg["type"], "start_time": seg["start_ms"], "end_time": end, "state": state, "status": status,
            "task_run_ids": list(seg["task_run_ids"])}
    if seg["id"] is not None:
        item["id"] = seg["id"]
    return item


def _closed_segment_state(run: dict, i: int, now: int, finals: list[dict]) -> tuple[dict, dict, int]:
    result, code, ttype, msg, internal = _rollup({**run, "cancel_ms": None}, finals, now)
    state, status = _state_pair("INTERNAL_ERROR" if internal else "TERMINATED", result, msg, code, ttype)
    return state, status, _segment_end(run, i) + TERMINATING_MS


def task_run_dict(run: dict, task_run_id: int, now: int, host: str) -> dict:
    """A task run as a ``jobs.Run`` dict (the ``metadata`` of ``runs/get-output``; ``runs/get`` of a task run id)."""
    att = run["attempts"][str(task_run_id)]
    t = _attempt_dict(run, att, now, host)
    d = {
        "job_id": run.get("job_id"),
        "run_id": task_run_id,
        "number_in_job": task_run_id,
        "parent_run_id": run["run_id"],
        "original_attempt_run_id": run["task_attempts"][att["task_key"]][0],
        "creator_user_name": seed.USER_NAME,
        "run_name": att["task_key"],
        "run_type": run["run_type"] if run["run_type"] != "JOB_RUN" else "JOB_RUN",
        "format": "MULTI_TASK",
        "tasks": [t],
    }
    for f in ("attempt_number", "state", "status", "start_time", "end_time", "setup_duration",
              "execution_duration", "cleanup_duration", "run_page_url", "task_key", "cluster_instance",
              "run_duration"):
        if f in t:
            d[f] = t[f]
    if d["job_id"] is None:
        del d["job_id"]
    return d


def run_output(run: dict, task_run_id: int, now: int, host: str) -> dict:
    """``jobs.RunOutput`` dict of one task run: ``metadata``, and ``notebook_output`` or ``error``/``error_trace``."""
    att = run["attempts"][str(task_run_id)]
    out = {"metadata": task_run_dict(run, task_run_id, now, host)}
    life = out["metadata"]["state"]["life_cycle_state"]
    if life not in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
        return out
    if att.get("cancel_ms") is not None:
        out["error"] = "Run cancelled."
    elif att["result_state"] == "SUCCESS":
        if "notebook_task" in att["task"]:
            out["notebook_output"] = {"result": "", "truncated": False}
        else:
            out["logs"] = ""
            out["logs_truncated"] = False
    elif att["life_cycle_state"] != "SKIPPED":
        out["error"] = att["message"]
        if att.get("trace"):
            out["error_trace"] = att["trace"]
    return out


# -- mutations -----------------------------------------------------------------------------------

def cancel_run(run: dict, now: int) -> None:
    """Cancel ``run`` at ``now`` (``runs/cancel``): running attempts stop, later ones never start.

    A terminal run is left unchanged (the service accepts the call and does nothing).
    """
    if _is_terminal(run, now) or run.get("skipped"):
        return
    run["cancel_ms"] = now
    seg = run["segments"][-1]
    for rid in seg["task_run_ids"]:
        att = run["attempts"][str(rid)]
        if _attempt_end(att) <= now:
            continue
        att["cancel_ms"] = now
        att.update(result_state="CANCELED", life_cycle_state="TERMINATED", termination_code="USER_CANCELED",
                   termination_type="SUCCESS", message="Run cancelled.", trace=None)
        if now < att["start_ms"]:
            att["cancel_ms"] = att["start_ms"] = now
            att["setup_ms"] = att["exec_ms"] = 0
            att["cancel_end_ms"] = now
        else:
            att["cancel_end_ms"] = now + CLEANUP_MS


def repair_run(ws: dict, run: dict, now: int, *, job_settings: dict | None, rerun_tasks: list[str] | None,
               rerun_all_failed: bool, rerun_dependents: bool, latest_repair_id: int | None,
               params: dict) -> int:
    """Repair ``run`` at ``now`` (``runs/repair``); returns the new ``repair_id``.

    Reruns the named tasks, or every task whose latest attempt did not succeed, using the job's
    CURRENT settings (as the service does), plus their dependents if ``rerun_dependents``.
    Raises ``InvalidParameterValue`` for a run still active, a stale ``latest_repair_id``, nothing
    to rerun or an unknown task key.
    """
    if not _is_terminal(run, now):
        raise InvalidParameterValue(f"Run {run['run_id']} is still active; only terminated runs can be repaired.")
    if run.get("skipped"):
        raise InvalidParameterValue(f"Run {run['run_id']} was skipped and cannot be repaired.")
    last_repair = next((s["id"] for s in reversed(run["segments"]) if s["id"] is not None), None)
    if last_repair is not None and latest_repair_id != last_repair:
        raise InvalidParameterValue(
            f"The latest repair ID {latest_repair_id} does not match the latest repair ID {last_repair} of run "
            f"{run['run_id']}. Please provide latest_repair_id={last_repair}.")
    if last_repair is None and latest_repair_id is not None:
        raise InvalidParameterValue(f"Run {run['run_id']} has no repair with ID {latest_repair_id}.")
    settings = job_settings if job_settings is not None else run["settings"]
    defs = {t["task_key"]: t for t in settings.get("tasks") or []}
    latest = {k: run["attempts"][str(ids[-1])] for k, ids in run["task_attempts"].items()}
    if rerun_tasks and rerun_all_failed:
        raise InvalidParameterValue("Only one of rerun_tasks or rerun_all_failed_tasks can be specified.")
    if rerun_tasks:
        unknown = [k for k in rerun_tasks if k not in defs]
        if unknown:
            raise InvalidParameterValue(f"Task keys {unknown} do not exist in job {run.get('job_id')}.")
        keys = list(rerun_tasks)
    elif rerun_all_failed:
        keys = [k for k, a in latest.items() if a["result_state"] not in ("SUCCESS", "SUCCESS_WITH_FAILURES")
                or a.get("cancel_ms") is not None]
        if not keys:
            raise InvalidParameterValue(f"Run {run['run_id']} has no failed tasks to repair.")
        keys = [k for k in keys if k in defs]
    else:
        raise InvalidParameterValue("Either rerun_tasks or rerun_all_failed_tasks must be specified.")
    if rerun_dependents:
        changed = True
        while changed:
            changed = False
            for k, t in defs.items():
                if k not in keys and any(d["task_key"] in keys for d in t.get("depends_on") or []):
                    keys.append(k)
                    changed = True
    repair_id = _new_run_id(ws)
    run["settings"] = {**run["settings"], "tasks": list(defs.values()),
                       "job_clusters": settings.get("job_clusters") or run["settings"].get("job_clusters") or []}
    if not run["settings"]["job_clusters"]:
        del run["settings"]["job_clusters"]
    if params.get("job_parameters"):
        for p in run["job_parameters"]:
            if p["name"] in params["job_parameters"]:
                p["value"] = params["job_parameters"][p["name"]]
    run["overriding_parameters"] = {**run["overriding_parameters"], **{k: v for k, v in params.items() if k != "job_parameters"}}
    run["cancel_ms"] = None
    seg_index = len(run["segments"])
    run["segments"].append({"type": "REPAIR", "id": repair_id, "start_ms": now, "queue_until_ms": now,
                            "task_run_ids": []})
    run["segments"][seg_index]["task_run_ids"] = _schedule(ws, run, [defs[k] for k in keys], now, seg_index, is_repair=True)
    return repair_id


def find_run(ws: dict, run_id: int) -> tuple[dict, int | None] | None:
    """(parent run record, task run id or None) for a job run id or a task run id; None if unknown."""
    run = ws["runs"].get(str(run_id))
    if run is not None:
        return run, None
    parent = ws["task_runs"].get(str(run_id))
    if parent is not None:
        return ws["runs"][str(parent)], run_id
    return None


def require_terminal_for_delete(run: dict, now: int) -> None:
    """Raise ``InvalidState`` if ``run`` is active (``runs/delete`` accepts only finished runs)."""
    if not _is_terminal(run, now):
        raise InvalidState(f"Run {run['run_id']} is active and cannot be deleted.")


def is_terminal(run: dict, now: int) -> bool:
    """True once the run reached TERMINATED, SKIPPED or INTERNAL_ERROR at ``now``."""
    return _is_terminal(run, now)
