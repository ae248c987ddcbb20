"""The `lead` command: submit a requirements file, and look at or steer what it became.

    lead submit FILE.md      break a requirements file into tasks (one transaction); prose
                             goes to the LLM lead (`lead.prose`); --dry-run records nothing
    lead status [REQ]        the board, or one requirement's tasks
    lead show TASK           a task's payload, plan, result, events and error
    lead retry TASK          FAILED -> PENDING (a fresh set of attempts)
    lead cancel REQ|TASK     PENDING -> CANCELLED (a requirement: all its PENDING tasks)

Every command takes `--json`, `--db URL` (or `$JOB_AGENT_DB`) and `--progress-dir DIR` (or
`$JOB_AGENT_PROGRESS_DIR`). Exit codes: 0 success, 1 user error, 2 internal error.
`submit` of a structured file and `status` never import litellm, chromadb or
sentence-transformers.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lead.cli_runner import DbOption, JsonOption, ProgressOption, UserError, open_engine, run_cli

app = typer.Typer(
    name="lead",
    help="The tech lead: turns a requirements file into tasks and shows where they stand.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(text)


def _age(ts: datetime) -> str:
    from state.columns import utcnow

    seconds = max(0, int((utcnow() - ts).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _render(session, progress_dir: Path | None, requirement_ids: list[int] | None) -> None:
    from state.progress import render_progress

    render_progress(session, progress_dir, requirement_ids)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="The requirements markdown file.", show_default=False)],
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Read and validate the file (and write jobs from its prose with the LLM), print the "
                          "generated YAML and the tasks it would create, and record nothing.")] = False,
) -> None:
    """Break a requirements file into tasks and record them (all or nothing).

    A requirement is its bundle and target (front matter `bundle`, default the file's name;
    `target`, default `dev`), wherever the file lives. Submitting an unchanged file again
    creates nothing; a changed file (or the same bundle and target from another path) becomes
    a new revision: the old revision's PENDING tasks are cancelled and its running ones stop
    at their next phase boundary.

    Prose: a file with no job YAML but a description of its jobs (or front matter
    `generate: true`) is given to the LLM lead (JOB_AGENT_LLM_MODEL or front matter `llm:`),
    grounded on the docs index when one is built; its jobs pass the same validation as
    hand-written YAML, and the generated YAML is shown (here with --dry-run, and on the
    progress page) so it can be pasted into the file. Without a model such a file is refused.
    """
    from lead.errors import RequirementsError
    from lead.requirements import NeedsModel, load_requirements

    generated = None
    engine = None
    try:
        doc = load_requirements(file)
    except NeedsModel as need:
        from lead.prose import ProseError, generate_jobs
        from llm.config import LlmConfigError, llm_settings

        try:
            settings = llm_settings(need.request.llm)
            # the database keeps the model's response cache and accounting (also for --dry-run);
            # without a model nothing is opened, so a refused file leaves nothing behind
            engine = open_engine(db) if settings is not None else None
            generated = generate_jobs(need.request, engine=engine, settings=settings)
        except (ProseError, LlmConfigError) as error:
            raise UserError(str(error)) from None
        doc = generated.doc
    except RequirementsError as error:
        raise UserError(str(error)) from None
    except OSError as error:
        raise UserError(f"{file}: cannot read: {error.strerror or error}") from None

    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from lead.identity import requirement_identity, task_specs_with_identity
    from lead.monitors_block import with_monitors
    from lead.remediation_block import with_remediation
    from state.engine import writer
    from state.models import format_id
    from state.submissions import record_submission
    from state.views import task_rows

    bundle, target, identity = requirement_identity(doc)
    specs = with_remediation(task_specs_with_identity(doc, bundle, target), doc.front_matter, doc.owner)
    specs = with_monitors(specs, doc.front_matter)
    if dry_run:
        _dry_run(as_json, file, doc, specs, generated)
        return
    engine = engine or open_engine(db)
    for attempt in range(3):
        # A writer session: SQLite takes the write lock at BEGIN (no read-to-write upgrade that
        # fails next to busy workers); PostgreSQL locks the requirement and its PENDING tasks.
        with Session(writer(engine)) as session:
            try:
                result = record_submission(
                    session,
                    source_path=str(file.resolve()),
                    title=doc.title,
                    content_sha256=doc.content_sha256,
                    front_matter=doc.front_matter,
                    owner=doc.owner,
                    specs=specs,
                    identity=identity,
                    bundle=bundle,
                    target=target,
                )
                session.commit()
            except IntegrityError:
                # Another submit created the same bundle/target at the same moment: read it again.
                session.rollback()
                if attempt == 2:
                    raise
                continue
            rows = task_rows(session, result.requirement_id, result.revision)
            _render(session, progress_dir, [result.requirement_id])
        break
    requirement = format_id("requirement", result.requirement_id)
    from lead.secret_warnings import secret_warnings
    from state.redaction import redact_text

    # generated jobs name "<file> (generated YAML)" and its lines in their payloads' source
    warnings = [redact_text(str(w)) for w in secret_warnings(doc.task_specs, None if generated else str(file))]
    for warning in warnings:
        typer.echo(f"lead: warning: {warning}", err=True)
    for item in doc.ignored:
        typer.echo(redact_text(f"lead: note: {file}:{item.line}: {item.field}: {item.reason}"), err=True)
    data = {
        "requirement": requirement,
        "outcome": result.outcome,
        "revision": result.revision,
        "tasks": [row.as_json() for row in rows],
        "cancelled": [format_id("task", t) for t in result.cancelled_ids],
        "ignored": [redact_text(str(item)) for item in doc.ignored],
        "warnings": warnings,
        "generated": _generated_json(generated),
    }
    if result.outcome == "unchanged":
        text = f"{requirement} is unchanged (revision {result.revision}, {len(rows)} tasks): nothing created."
    else:
        verb = "created" if result.outcome == "created" else f"revised to revision {result.revision}"
        table = _table(
            ["task", "type", "title", "depends on", "line"],
            [[r.id, r.type, r.title, ", ".join(r.depends_on) or "-", str(r.source_line or "")] for r in rows],
        )
        text = f"{requirement} {verb}: {len(rows)} tasks PENDING\n{table}"
        if result.cancelled_ids:
            text += "\ncancelled from the previous revision: " + ", ".join(data["cancelled"])
    if generated is not None:
        text = _generated_text(generated) + "\n\n" + text
    _emit(as_json, data, text)


def _generated_json(generated) -> dict | None:
    """The prose lead's output for `--json` (masked), or None for a structured file."""
    if generated is None:
        return None
    from state.redaction import redact

    return redact(generated.as_json())


def _generated_text(generated) -> str:
    """The generated YAML as a pasteable block, with the model and the documentation used."""
    from state.redaction import redact_text

    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", generated.yaml)), default=0))
    lines = [f"Jobs written by the LLM lead ({generated.model}) from the prose; paste this block into the file "
             "to make it structured:", "", f"{fence}yaml", redact_text(generated.yaml).rstrip("\n"), fence]
    if generated.citations:
        lines += ["", "Grounded on:"] + [f"  - {redact_text(c)}" for c in generated.citations]
    elif not generated.grounded:
        lines += ["", "Ungrounded: no docs index was available (build one with `uv run docs-index build`)."]
    return "\n".join(lines)


def _dry_run(as_json: bool, file: Path, doc, specs: list, generated) -> None:
    """`lead submit --dry-run`: what would be recorded, recording nothing."""
    from state.redaction import redact_text

    tasks = [{"key": s.key, "type": s.type, "title": redact_text(s.title), "depends_on": list(s.depends_on),
              "source_line": s.source_line, "source_field": s.source_field} for s in specs]
    data = {"dry_run": True, "file": str(file), "title": redact_text(doc.title), "generated": _generated_json(generated),
            "tasks": tasks}
    table = _table(["task", "type", "title", "depends on"],
                   [[t["key"], t["type"], t["title"], ", ".join(t["depends_on"]) or "-"] for t in tasks])
    text = f"dry run: {len(tasks)} tasks would be created for {redact_text(doc.title)} (nothing recorded)\n{table}"
    if generated is not None:
        text = _generated_text(generated) + "\n\n" + text
    _emit(as_json, data, text)


@app.command()
def status(
    requirement: Annotated[Optional[str], typer.Argument(help="A requirement id (REQ-0001); all when omitted.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show the board of requirements, or the tasks of one requirement."""
    from sqlmodel import Session

    from state.models import Requirement, parse_id
    from state.redaction import redact_text
    from state.views import requirement_summaries, task_rows

    engine = open_engine(db)
    with Session(engine) as session:
        if requirement is None:
            summaries = requirement_summaries(session)
            data = [s.as_json() for s in summaries]
            rows = [
                [s.id, s.title, s.status, str(s.revision)] + [str(s.counts[k]) for k in ("PENDING", "IN_PROGRESS", "COMPLETE", "FAILED", "CANCELLED")] + [_age(s.updated_at)]
                for s in summaries
            ]
            text = _table(["requirement", "title", "status", "rev", "pending", "running", "complete", "failed", "cancelled", "updated"], rows) if rows else "No requirements yet. Submit one with `lead submit FILE.md`."
            _emit(as_json, data, text)
            return
        number = _parse(parse_id, "requirement", requirement)
        req = session.get(Requirement, number)
        if req is None:
            raise UserError(f"no requirement {requirement}")
        rows = task_rows(session, number)
        title = redact_text(req.title)
        data = {"requirement": req.ref, "title": title, "status": req.status, "revision": req.revision, "tasks": [r.as_json() for r in rows]}
        table_rows = []
        for r in rows:
            state_text = r.status + (f" (blocked by {', '.join(r.blocked_by)})" if r.blocked_by else "")
            table_rows.append([r.id, r.type, r.title, state_text, r.phase or "-", f"{r.attempts}/{r.max_attempts}", _age(r.created_at)])
        text = f"{req.ref} {title}: {req.status} (revision {req.revision})\n" + _table(
            ["task", "type", "title", "status", "phase", "attempts", "age"], table_rows
        )
        _emit(as_json, data, text)


@app.command()
def show(
    task: Annotated[str, typer.Argument(help="A task id (T-0001).")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one task: payload, stored plan, result, error and its events."""
    from sqlmodel import Session

    from state.models import Task, parse_id
    from state.redaction import redact
    from state.views import recent_events, task_row

    engine = open_engine(db)
    number = _parse(parse_id, "task", task)
    with Session(engine) as session:
        row = task_row(session, number)
        if row is None:
            raise UserError(f"no task {task}")
        record = session.get(Task, number)
        events = recent_events(session, task_id=number, limit=200)
        data = row.as_json() | {
            "payload": redact(record.payload),
            "plan": redact(record.plan) if record.plan else None,
            "result": redact(record.result) if record.result else None,
            "source": {"path": record.source_path, "line": record.source_line, "field": record.source_field},
            "revision": record.revision,
            "deployment_key": record.deployment_key,
            "retry_generation": record.retry_generation,
            "schedule": record.schedule,
            "occurrence": record.occurrence if record.schedule else None,
            "scheduled_for": record.scheduled_for.isoformat() if record.scheduled_for else None,
            "not_before": record.not_before.isoformat() if record.not_before else None,
            "checkpoint": redact(record.checkpoint) if record.checkpoint else None,
            "events": [e.as_json() for e in reversed(events)],
        }
    lines = [f"{row.id} {row.type}: {row.title}", f"status {row.status}" + (f", phase {row.phase}" if row.phase else "") + f", attempts {row.attempts}/{row.max_attempts}"]
    if record.deployment_key:
        lines.append(f"deployment {record.deployment_key} (revision {record.revision})")
    if record.schedule:
        lines.append(f"recurring {json.dumps(record.schedule)}: occurrence {record.occurrence}, due {data['scheduled_for']}")
    if record.checkpoint:
        lines.append(f"waiting until {data['not_before']} to check again: {json.dumps(data['checkpoint'])}")
    if record.source_path:
        lines.append(f"source {record.source_path}:{record.source_line or '?'}" + (f" ({record.source_field})" if record.source_field else ""))
    if row.depends_on:
        lines.append("depends on " + ", ".join(row.depends_on) + (f" (blocked by {', '.join(row.blocked_by)})" if row.blocked_by else ""))
    if row.error:
        lines += ["", "error:", "  " + row.error.replace("\n", "\n  ")]
    for title, key in (("payload", "payload"), ("plan", "plan"), ("result", "result")):
        if data[key]:
            lines += ["", f"{title}:", _indent_json(data[key])]
    lines += ["", "events:"] + [
        f"  {e['at']}  {e['from_status'] or '-'} -> {e['to_status']}  {e['phase'] or ''}  {e['actor']}  {e['reason'] or ''}".rstrip()
        for e in data["events"]
    ]
    _emit(as_json, data, "\n".join(lines))


@app.command()
def retry(
    task: Annotated[str, typer.Argument(help="A FAILED task id (T-0001).")],
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
) -> None:
    """Send a FAILED task back to PENDING with a fresh set of attempts.

    Refused for a task of a superseded revision (submit the file again instead): only the
    newest revision's tasks may run.
    """
    from sqlmodel import Session

    from state.engine import writer
    from state.machine import Superseded, TaskStatus, TransitionError, transition
    from state.models import Task, format_id, parse_id

    engine = open_engine(db)
    number = _parse(parse_id, "task", task)
    with Session(writer(engine)) as session:
        record = session.get(Task, number)
        if record is None:
            raise UserError(f"no task {task}")
        try:
            transition(
                session, number, TaskStatus.FAILED, TaskStatus.PENDING, actor="lead retry", reason="retried by the user",
                values={"attempts": 0, "not_before": None, "error": None, "checkpoint": None,
                        "retry_generation": Task.retry_generation + 1},
            )
        except Superseded as error:
            raise UserError(f"{record.ref} belongs to revision {error.revision} of {format_id('requirement', record.requirement_id)}, "
                            f"superseded by revision {error.current}; only the newest revision's tasks can be retried "
                            f"(see `lead status {format_id('requirement', record.requirement_id)}`)") from None
        except TransitionError as error:
            raise UserError(str(error)) from None
        session.commit()
        _render(session, progress_dir, [record.requirement_id])
        ref = record.ref
    _emit(as_json, {"task": ref, "status": "PENDING"}, f"{ref} is PENDING again.")


@app.command()
def cancel(
    target: Annotated[str, typer.Argument(help="A requirement (REQ-0001) or a task (T-0001).")],
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
) -> None:
    """Cancel a task and the tasks that depend on it, or every open task of a requirement.

    PENDING tasks are cancelled at once (a recurring task's series stops). A running task is
    cancelled too: its worker stops at its next heartbeat or phase boundary (a call already
    sent to Databricks completes). Tasks depending on a cancelled task are cancelled with it,
    so the requirement can end.
    """
    from sqlalchemy import select
    from sqlmodel import Session

    from state.engine import writer
    from state.machine import TaskStatus, TransitionError, cancel_with_dependents
    from state.models import Requirement, Task, format_id, parse_id

    engine = open_engine(db)
    is_requirement = target.strip().upper().startswith("REQ")
    open_statuses = (TaskStatus.PENDING.value, TaskStatus.IN_PROGRESS.value)
    with Session(writer(engine)) as session:
        if is_requirement:
            number = _parse(parse_id, "requirement", target)
            req = session.execute(select(Requirement).where(Requirement.id == number).with_for_update()).scalar_one_or_none()
            if req is None:
                raise UserError(f"no requirement {target}")
            task_ids = list(session.execute(
                select(Task.id).where(Task.requirement_id == number, Task.status.in_(open_statuses)).order_by(Task.id)
            ).scalars())
            cancelled: list[int] = []
            for task_id in task_ids:
                if task_id in cancelled:
                    continue
                try:
                    with session.begin_nested():
                        cancelled += cancel_with_dependents(session, task_id, actor="lead cancel",
                                                            reason="cancelled by the user", running=True)
                except TransitionError:
                    continue  # it ended meanwhile
            requirement_id = number
        else:
            number = _parse(parse_id, "task", target)
            record = session.get(Task, number)
            if record is None:
                raise UserError(f"no task {target}")
            try:
                cancelled = cancel_with_dependents(session, number, actor="lead cancel", reason="cancelled by the user",
                                                   running=True)
            except TransitionError as error:
                raise UserError(str(error)) from None
            requirement_id = record.requirement_id
        session.commit()
        _render(session, progress_dir, [requirement_id])
    refs = [format_id("task", t) for t in cancelled]
    text = f"cancelled {len(refs)} task(s)" + (f": {', '.join(refs)}" if refs else "")
    _emit(as_json, {"cancelled": refs, "running": []}, text)


def _parse(parser, kind: str, text: str) -> int:
    try:
        return parser(kind, text)
    except ValueError as error:
        raise UserError(str(error)) from None


def _indent_json(value: Any) -> str:
    return "\n".join("  " + line for line in json.dumps(value, indent=2, default=str).splitlines())


from lead.cli_db import app as db_app  # noqa: E402  (the `lead db` group lives in its own module)

app.add_typer(db_app, name="db")
from lead.cli_webhook import app as webhook_app  # noqa: E402

app.add_typer(webhook_app, name="webhook")

from lead import cli_remediation  # noqa: E402  (failure remediation commands live in their own module)

app.command("watch")(cli_remediation.watch)
app.command("remediate")(cli_remediation.remediate)
app.command("feedback")(cli_remediation.feedback)
app.add_typer(cli_remediation.decisions_app, name="decisions")
from lead.cli_monitor import app as monitor_app  # noqa: E402

app.add_typer(monitor_app, name="monitor")

from lead.cli_triage import triage  # noqa: E402  (classify failed-run messages offline)

app.command("triage")(triage)
from lead.cli_ask import ask  # noqa: E402  (route monitoring questions)
app.command("ask")(ask)
from lead.cli_llm import app as llm_app  # noqa: E402  (the model's configuration and usage)

app.add_typer(llm_app, name="llm")
from lead import cli_mcp  # noqa: E402  (the MCP server and its audit log)
app.command("mcp")(cli_mcp.mcp)
app.command("audit")(cli_mcp.audit)
from lead import cli_run  # noqa: E402  (run control: lead run, lead runs status/cancel)

app.command("run")(cli_run.run)
app.add_typer(cli_run.runs_app, name="runs")
from lead.cli_export import export  # noqa: E402  (write a requirement as a Databricks Asset Bundle)
app.command("export")(export)


def main() -> None:
    """Console-script entry point: `lead`."""
    sys.exit(run_cli(app, "lead"))


if __name__ == "__main__":
    main()
