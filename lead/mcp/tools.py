"""The MCP tools of `lead mcp`: their names, JSON schemas, whether they write, and what each
calls in the pipeline.

Every tool is a thin adapter: the `lead` commands' own functions do the work (a command run
with `--json` semantics, its JSON output parsed), or `state`/`lead.run_control`/the SDK for
what has no command. A `ToolError` is a mistake the client can fix (unknown id, invalid
requirements with their located problems, a refused template parameter); the server returns
it as a tool error (`isError`) and nothing has changed.

Write tools (refused unless `lead mcp --allow-writes`): `submit_requirements`,
`start_job_run`, `cancel_run`, `run_monitor`, `remediate_run`. `ask` records its question's
tasks for the workers but is a read tool (it only runs the monitoring catalogue's queries).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

MAX_WAIT_SECONDS = 120.0
"""The longest a tool waits for a worker (`ask`, `run_monitor`); the server serves one call at a time."""

MAX_LIST = 500
DEFAULT_LIST = 50
DEFAULT_TEXT_NAME = "mcp-requirements.md"


class ToolError(Exception):
    """A mistake the client can fix: returned as an MCP tool error (`isError: true`), audited
    `error`; nothing was changed."""


@dataclass
class ToolEnv:
    """What the tools share within one server: the database URL, progress and submission
    directories, and the workspace (opened on first use by `workspace()`).

    `open_workspace` is a zero-argument callable returning a `worker.workspace.WorkspaceProvider`;
    the server passes one that enters `worker.workspace.open_workspace` once.
    """

    db: str | None
    progress_dir: Path | None
    submissions_dir: Path
    open_workspace: Callable[[], Any]
    _engine: Any = field(default=None, repr=False)

    def engine(self):
        """The state database engine (`lead.cli_runner.open_engine`), created once."""
        if self._engine is None:
            from lead.cli_runner import open_engine

            self._engine = open_engine(self.db)
        return self._engine

    def workspace(self):
        """The `WorkspaceProvider` (calling it gives the SDK's `WorkspaceClient`)."""
        return self.open_workspace()


@dataclass(frozen=True)
class Tool:
    """One MCP tool: `handler(env, arguments) -> JSON value` runs after the arguments passed `schema`."""

    name: str
    description: str
    schema: dict[str, Any]
    handler: Callable[[ToolEnv, dict[str, Any]], Any]
    write: bool = False


def _command_json(command: Callable[..., None], **kwargs: Any) -> Any:
    """Run a `lead` command function as `--json` would, and return its printed JSON.

    Its stdout is captured (the caller serialises calls: the capture is process-wide).

    Raises:
        ToolError: the command's `UserError` (already one readable line).
    """
    from lead.cli_runner import UserError
    from state.redaction import redact_text

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            command(as_json=True, **kwargs)
    except UserError as error:
        raise ToolError(redact_text(str(error))) from None
    text = out.getvalue().strip()
    return json.loads(text) if text else None


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LIST, "default": DEFAULT_LIST,
          "description": f"How many to return (default {DEFAULT_LIST}, at most {MAX_LIST})."}
_RUN_ID = {"type": "integer", "minimum": 1, "description": "A Databricks run id (`run_id`)."}
_WAIT = {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 0,
         "description": f"Seconds to wait for a worker to finish (0: return at once; at most {MAX_WAIT_SECONDS:g})."}


# -- requirements ---------------------------------------------------------------------------

def submit_requirements(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead submit --json`: from `path`, or from `text` saved as `<submissions_dir>/<name>`
    (checked in a scratch directory first, so invalid text leaves no file behind)."""
    from lead.cli import submit

    text, path, name = args.get("text"), args.get("path"), args.get("name")
    if (text is None) == (path is None):
        raise ToolError("give exactly one of 'text' (the requirements markdown) or 'path' (a file the server can read)")
    if path is not None:
        if name is not None:
            raise ToolError("'name' goes with 'text' only (a file submitted by 'path' keeps its own name)")
        return _command_json(submit, file=Path(path), db=env.db, progress_dir=env.progress_dir)
    return _submit_text(env, text, name or DEFAULT_TEXT_NAME)


def _submit_text(env: ToolEnv, text: str, name: str) -> Any:
    from lead.cli import submit
    from lead.errors import RequirementsError
    from lead.requirements import load_requirements
    from state.progress import write_atomic
    from state.redaction import redact_text

    final = env.submissions_dir / name
    env.submissions_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=env.submissions_dir, prefix=".check-") as scratch:
        probe = Path(scratch) / name
        probe.write_text(text, encoding="utf-8")
        try:
            load_requirements(probe)
        except RequirementsError as error:
            raise ToolError(redact_text(str(error).replace(str(probe), name))) from None
    previous = final.read_bytes() if final.exists() else None
    write_atomic(final, text)
    try:
        return _command_json(submit, file=final, db=env.db, progress_dir=env.progress_dir)
    except BaseException:
        if previous is None:
            final.unlink(missing_ok=True)
        else:
            write_atomic(final, previous)
        raise


def requirement_status(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead status --json [REQ]`."""
    from lead.cli import status

    return _command_json(status, requirement=args.get("requirement"), db=env.db)


def task_show(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead show --json TASK`."""
    from lead.cli import show

    return _command_json(show, task=args["task"], db=env.db)


# -- monitoring -----------------------------------------------------------------------------

def ask(env: ToolEnv, args: dict[str, Any]) -> Any:
    """Route a monitoring question (`lead.ask.router.route`), record its tasks
    (`lead.cli_ask.enqueue`) and, with `wait_seconds`, wait for the workers' answer.

    Returns `{"question", "intents", "confidence", "templates", "requirement", "answer_task",
    "query_tasks", "status", "answer", "path"}` (`answer`/`path` null until the answer task is
    COMPLETE; then `note` says why not, when it can).
    """
    from lead.ask.router import route
    from lead.cli_ask import enqueue
    from lead.cli_monitor import not_done_message, wait_for
    from lead.cli_runner import UserError
    from state.models import format_id

    question = args["question"].strip()
    if not question:
        raise ToolError("the question is empty")
    routed = route(question)
    if not routed.intents:
        raise ToolError("nothing fits that question; try one of: " + " | ".join(routed.suggestions[:3]))
    try:
        (recorded,) = enqueue([routed], db=env.db)
    except UserError as error:
        raise ToolError(str(error)) from None
    data = routed.as_dict() | {
        "requirement": recorded["requirement"],
        "answer_task": format_id("task", recorded["answer"]),
        "query_tasks": [format_id("task", i) for i in recorded["queries"]],
        "status": "PENDING", "answer": None, "path": None,
    }
    wait = float(args.get("wait_seconds", 0))
    if wait > 0:
        ids = [*recorded["queries"], recorded["answer"]]
        tasks = wait_for(env.engine(), ids, wait)
        answer = tasks[recorded["answer"]]
        data["status"] = answer.status
        if answer.status == "COMPLETE":
            data["answer"], data["path"] = (answer.result or {}).get("answer"), (answer.result or {}).get("path")
        else:
            failed = [t for i, t in tasks.items() if i in recorded["queries"] and t.status == "FAILED"]
            data["note"] = (f"{format_id('task', failed[0].id)} failed: {failed[0].error}" if failed
                            else not_done_message(tasks, wait))
    return data


def list_monitors(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead monitor list --json [--domain D]`."""
    from lead.cli_monitor import list_templates

    return _command_json(list_templates, domain=args.get("domain"))


def run_monitor(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead monitor run --json TEMPLATE --param ... [--warehouse] --wait S`: `{"task"}` when
    not waiting, else the query's result."""
    from lead.cli_monitor import run

    params = [f"{k}={v}" for k, v in (args.get("parameters") or {}).items()]
    return _command_json(run, template=args["template"], param=params, warehouse=args.get("warehouse_id"),
                         wait=float(args.get("wait_seconds", 0)), db=env.db)


# -- remediation ----------------------------------------------------------------------------

def remediate_run(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead remediate --json RUN_ID [--escalate-to] [--owner]`."""
    from lead.cli_remediation import remediate

    return _command_json(remediate, run_id=args["run_id"], escalate_to=args.get("escalate_to"),
                         owner=args.get("owner"), db=env.db)


def list_decisions(env: ToolEnv, args: dict[str, Any]) -> Any:
    """The decision log, newest first, in the shape of `lead decisions --json`."""
    from sqlmodel import Session

    from state.decisions import decision_as_json
    from state.decisions import list_decisions as newest
    from state.redaction import redact

    with Session(env.engine()) as session:
        rows = [redact(decision_as_json(row)) for row in newest(session, int(args.get("limit", DEFAULT_LIST)))]
    keys = ("id", "run_id", "job_id", "job_name", "category", "remediation", "confidence", "evidence", "status", "outcome")
    return [{k: r[k] for k in keys} | {"feedback": r["feedback"]} for r in rows]


# -- runs (lead.run_control) ------------------------------------------------------------------

def _run_call(call: Callable[[], Any]) -> Any:
    """`call()`'s `RunInfo` as a dict; run-control errors become `ToolError`s."""
    from lead import run_control

    try:
        return call().as_dict()
    except run_control.RunControlError as error:
        raise ToolError(str(error)) from None
    except run_control.RunControlTaskFailed as error:
        run_id = error.result.get("run_id")
        raise ToolError(f"{error} ({error.task_ref} of {error.requirement_ref} is {error.status}"
                        + (f"; run {run_id}" if run_id else "") + (f": {error.error}" if error.error else "") + ")") from None


def start_job_run(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead.run_control.start_run(..., wait=False)`: the run's `RunInfo` as soon as it is started."""
    from lead import run_control as rc

    params = {k: str(v) for k, v in (args.get("params") or {}).items()} or None
    return _run_call(lambda: rc.start_run(env.engine(), env.workspace(), args["job"], params, wait=False,
                                          progress_dir=env.progress_dir))


def get_run_status(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead.run_control.run_status`: the run's `RunInfo`."""
    from lead import run_control as rc

    return _run_call(lambda: rc.run_status(env.engine(), env.workspace(), args["run_id"], progress_dir=env.progress_dir))


def cancel_run(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`lead.run_control.cancel_run`: asks Databricks to cancel; waits for the run to end when `wait`."""
    from lead import run_control as rc

    return _run_call(lambda: rc.cancel_run(env.engine(), env.workspace(), args["run_id"], progress_dir=env.progress_dir,
                                           wait=bool(args.get("wait", False))))


# -- workspace listings (SDK) -----------------------------------------------------------------

def _enum(value: Any) -> Any:
    return getattr(value, "value", value)


def list_jobs(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`w.jobs.list` (Jobs API 2.2 `GET /jobs/list`), at most `limit`: `[{"job_id", "name",
    "creator", "created_time" (epoch ms), "tags"}]`."""
    from state.redaction import redact

    limit = int(args.get("limit", DEFAULT_LIST))
    w = env.workspace()()
    jobs = w.jobs.list(name=args.get("name"), limit=min(limit, 100))
    return [redact({"job_id": j.job_id, "name": j.settings.name if j.settings else None, "creator": j.creator_user_name,
                    "created_time": j.created_time, "tags": (j.settings.tags if j.settings else None) or {}})
            for j in islice(jobs, limit)]


def list_clusters(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`w.clusters.list` (`GET /api/2.1/clusters/list`), at most `limit`: `[{"cluster_id",
    "cluster_name", "state", "spark_version", "node_type_id", "num_workers", "cluster_source"}]`."""
    limit = int(args.get("limit", DEFAULT_LIST))
    w = env.workspace()()
    return [{"cluster_id": c.cluster_id, "cluster_name": c.cluster_name, "state": _enum(c.state),
             "spark_version": c.spark_version, "node_type_id": c.node_type_id, "num_workers": c.num_workers,
             "cluster_source": _enum(c.cluster_source)} for c in islice(w.clusters.list(), limit)]


def list_warehouses(env: ToolEnv, args: dict[str, Any]) -> Any:
    """`w.warehouses.list` (`GET /api/2.0/sql/warehouses`), at most `limit`: `[{"id", "name",
    "state", "cluster_size", "warehouse_type"}]`."""
    limit = int(args.get("limit", DEFAULT_LIST))
    w = env.workspace()()
    return [{"id": h.id, "name": h.name, "state": _enum(h.state), "cluster_size": h.cluster_size,
             "warehouse_type": _enum(h.warehouse_type)} for h in islice(w.warehouses.list(), limit)]


TOOLS: tuple[Tool, ...] = (
    Tool("submit_requirements",
         "Submit a requirements markdown file (like `lead submit`): break it into tasks, all or nothing. Give "
         "`text` (saved as `name` in the server's submissions directory; its bundle defaults to that name's stem) "
         "or `path`. Returns {requirement, outcome, revision, tasks, cancelled, ignored, warnings}; invalid "
         "requirements come back as a tool error listing each problem with its line.",
         _schema({"text": {"type": "string", "minLength": 1, "maxLength": 2_000_000, "description": "The requirements markdown."},
                  "path": {"type": "string", "minLength": 1, "description": "A requirements file the server can read."},
                  "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.md$",
                           "description": f"File name for `text` (default {DEFAULT_TEXT_NAME})."}}),
         submit_requirements, write=True),
    Tool("requirement_status",
         "The board of requirements, or one requirement's tasks (like `lead status --json`).",
         _schema({"requirement": {"type": "string", "minLength": 1, "description": "REQ-0001 (or 1); all when omitted."}}),
         requirement_status),
    Tool("task_show",
         "One task: payload, plan, result, error and events (like `lead show --json`), secrets masked.",
         _schema({"task": {"type": "string", "minLength": 1, "description": "T-0001 (or 1)."}}, ("task",)),
         task_show),
    Tool("ask",
         "Answer a monitoring question (cost, security, performance, reliability, quality, mlops): routes it to "
         "catalogue templates and records the queries and an answer task for the workers. With wait_seconds it "
         "waits that long for the answer; otherwise (or when no worker answers in time) status is PENDING and "
         "task_show on answer_task gives it later.",
         _schema({"question": {"type": "string", "minLength": 1, "maxLength": 2000}, "wait_seconds": _WAIT}, ("question",)),
         ask),
    Tool("list_monitors",
         "The monitoring query templates with their parameters (like `lead monitor list --json`).",
         _schema({"domain": {"type": "string", "enum": ["cost", "security", "performance", "reliability", "quality", "mlops"]}}),
         list_monitors),
    Tool("run_monitor",
         "Run one monitoring template through the pipeline (like `lead monitor run --json`): {task} at once, or "
         "the result {template, parameters, columns, rows, row_count, report} when a worker finishes within wait_seconds.",
         _schema({"template": {"type": "string", "minLength": 1},
                  "parameters": {"type": "object", "additionalProperties": {"type": ["string", "number", "integer"]}},
                  "warehouse_id": {"type": "string", "minLength": 1}, "wait_seconds": _WAIT}, ("template",)),
         run_monitor, write=True),
    Tool("remediate_run",
         "Enqueue the remediation of one failed run (like `lead remediate --json`); a worker diagnoses and acts.",
         _schema({"run_id": _RUN_ID, "escalate_to": {"type": "string", "minLength": 3},
                  "owner": {"type": "string", "minLength": 1}}, ("run_id",)),
         remediate_run, write=True),
    Tool("list_decisions",
         "The remediation decision log, newest first (like `lead decisions --json`).",
         _schema({"limit": _LIMIT}), list_decisions),
    Tool("start_job_run",
         "Start a run of a job (`run-now`) and return its run id at once, without waiting for it to end.",
         _schema({"job": {"type": "string", "minLength": 1, "description": "A job id, job name or deployment key."},
                  "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "integer"]},
                             "description": "Job parameters (`job_parameters`)."}}, ("job",)),
         start_job_run, write=True),
    Tool("get_run_status",
         "A run's life_cycle_state, result_state, state_message and run_page_url.",
         _schema({"run_id": _RUN_ID}, ("run_id",)), get_run_status),
    Tool("cancel_run",
         "Cancel a run (`runs/cancel`); with wait, return once it has ended.",
         _schema({"run_id": _RUN_ID, "wait": {"type": "boolean", "default": False}}, ("run_id",)),
         cancel_run, write=True),
    Tool("list_jobs", "Jobs in the workspace: job_id, name, creator, created_time, tags.",
         _schema({"limit": _LIMIT, "name": {"type": "string", "minLength": 1, "description": "Exact job name (case-insensitive)."}}),
         list_jobs),
    Tool("list_clusters", "Clusters in the workspace: cluster_id, cluster_name, state, spark_version, node_type_id, num_workers.",
         _schema({"limit": _LIMIT}), list_clusters),
    Tool("list_warehouses", "SQL warehouses in the workspace: id, name, state, cluster_size, warehouse_type.",
         _schema({"limit": _LIMIT}), list_warehouses),
)
"""Every tool, in the order `tools/list` gives them."""

TOOLS_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}
WRITE_TOOLS = frozenset(t.name for t in TOOLS if t.write)
