"""`lead monitor`: the query catalogue, and running one query through the pipeline.

    lead monitor list [--domain D] [--json]
    lead monitor run TEMPLATE [--param NAME=VALUE ...] [--warehouse ID] [--wait S] [--json]

`run` checks the template and its parameters here (typed, bounded: exit 1 naming the
parameter), enqueues one `monitor_query` task (requirement `ad_hoc/monitoring`) and, with
`--wait`, waits for a worker to run it and prints its result: `{"template", "parameters",
"columns", "rows", "row_count", "report"}` with `--json`. When no worker picks the task up in
time it says so (exit 1) and the task stays queued.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Optional

import typer

from lead.cli_runner import DbOption, JsonOption, UserError, open_engine

app = typer.Typer(
    name="monitor",
    help="The monitoring query catalogue: list the templates, run one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`["top_n=5", "start_date=2026-11-01"]` -> `{"top_n": "5", ...}`.

    Raises:
        UserError: a pair without `=` or a name given twice.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--param {pair!r}: expected NAME=VALUE")
        if name.strip() in out:
            raise UserError(f"--param {name.strip()} is given twice")
        out[name.strip()] = value
    return out


def wait_for(engine, task_ids: list[int], seconds: float) -> dict[int, Any]:
    """Poll until every task is COMPLETE, FAILED or CANCELLED, or `seconds` pass; returns
    task id -> `state.models.Task` as last read."""
    from sqlalchemy import select
    from sqlmodel import Session

    from state.models import Task

    deadline = time.monotonic() + seconds
    interval = 0.05
    while True:
        with Session(engine) as session:
            tasks = {t.id: t for t in session.execute(select(Task).where(Task.id.in_(task_ids))).scalars()}
            for t in tasks.values():
                session.expunge(t)
        if all(t.status in ("COMPLETE", "FAILED", "CANCELLED") for t in tasks.values()) or time.monotonic() >= deadline:
            return tasks
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def not_done_message(tasks: dict[int, Any], seconds: float) -> str:
    """Why the wait ended without an answer: no worker claimed anything, or still running."""
    never_claimed = all(t.attempts == 0 and t.status == "PENDING" for t in tasks.values())
    if never_claimed:
        return (f"no worker picked the work up within {seconds:g} s: is a worker running? Start one with "
                "`uv run worker` (or `uv run worker --sandbox`); the tasks stay queued")
    return f"not finished within {seconds:g} s; see `lead status` (the tasks go on)"


@app.command("list")
def list_templates(
    domain: Annotated[Optional[str], typer.Option("--domain", help="Only this domain (cost, security, performance, reliability, quality, mlops).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the query templates with their parameters."""
    from tasks.monitoring.catalogue import DOMAINS, templates

    if domain is not None and domain not in DOMAINS:
        raise UserError(f"--domain: {domain!r} is not one of {', '.join(DOMAINS)}")
    rows = templates(domain)
    data = [{"name": t.name, "domain": t.domain, "answers": t.answers, "columns": list(t.columns),
             "parameters": [{"name": p.name, "type": p.type, "default": p.default, "required": p.required,
                             "description": p.description} for p in t.params]} for t in rows]
    lines = [f"{t.domain:12} {t.name:30} {t.answers}\n{'':43} params: "
             + (", ".join(f"{p.name}={p.default if p.default is not None else ''}" for p in t.params) or "none") for t in rows]
    typer.echo(json.dumps(data, indent=2) if as_json else ("\n".join(lines) or "No templates."))


@app.command("run")
def run(
    template: Annotated[str, typer.Argument(help="A template name (see `lead monitor list`).")],
    param: Annotated[list[str], typer.Option("--param", help="NAME=VALUE; repeat for several.")] = [],  # noqa: B006
    warehouse: Annotated[Optional[str], typer.Option("--warehouse", help="SQL warehouse id [default: the workspace's first running one].")] = None,
    wait: Annotated[float, typer.Option("--wait", min=0.0, help="Seconds to wait for a worker to run it (0: enqueue only).")] = 60.0,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Run one template through the pipeline and print its result."""
    from sqlmodel import Session

    from state.engine import writer
    from state.models import format_id
    from state.submissions import NewTask, enqueue, ensure_requirement
    from tasks.monitoring.catalogue import TemplateParamError, UnknownTemplate, bind, get

    given = parse_params(param)
    try:
        chosen = get(template)
        bind(chosen, given)
    except (UnknownTemplate, TemplateParamError) as error:
        raise UserError(str(error)) from None
    engine = open_engine(db)
    payload = {"template": chosen.name, "parameters": given} | ({"warehouse_id": warehouse} if warehouse else {})
    with Session(writer(engine)) as session:
        requirement_id = ensure_requirement(session, kind="ad_hoc", name="monitoring", title="Monitoring queries")
        (task_id,) = enqueue(session, requirement_id, [NewTask(key=f"monitor_query:{chosen.name}:{time.time_ns()}", type="monitor_query",
                                                              title=f"Run {chosen.name}", payload=payload)],
                             actor="lead monitor run", reason="run by hand")
        session.commit()
    ref = format_id("task", task_id)
    if wait <= 0:
        typer.echo(json.dumps({"task": ref}) if as_json else f"{ref} queued")
        return
    task = wait_for(engine, [task_id], wait)[task_id]
    if task.status == "FAILED":
        raise UserError(f"{ref} failed: {task.error}")
    if task.status != "COMPLETE":
        raise UserError(f"{ref}: {not_done_message({task_id: task}, wait)}")
    result = {k: task.result.get(k) for k in ("template", "parameters", "columns", "rows", "row_count", "report")}
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    from tasks.monitoring.report import markdown_table

    typer.echo(f"{ref} {chosen.name}: {result['row_count']} row(s); report {result['report']['markdown']}\n"
               + markdown_table(result["columns"], result["rows"], limit=20))
