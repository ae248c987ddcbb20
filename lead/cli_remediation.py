"""`lead` commands for failure remediation: watching for failed runs, remediating one by hand,
and the decision log with people's feedback.

    lead watch --every 5m [--scope owned|all|tag:KEY=VALUE]   a recurring watch_runs task
    lead remediate RUN_ID                                     one run, by hand
    lead decisions [--json]                                   the decision log, newest first
    lead decisions export --format jsonl [--output FILE]      training examples (chat format)
    lead decisions stats [--json]                             accuracy against feedback
    lead feedback D-0001 --action X [--category Y] [--note]  correct a decision

Enqueueing commands put their tasks in a requirement without a file (`recurring/watch-<scope>`
or `ad_hoc/remediation`); a worker carries them out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lead.cli_runner import DbOption, JsonOption, UserError, open_engine

decisions_app = typer.Typer(
    name="decisions",
    help="The remediation decision log: list (default), export, stats.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _emit(as_json: bool, data, text: str) -> None:
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def _enqueue(db: str | None, *, kind: str, name: str, title: str, task, series: bool = False) -> tuple[str, str, bool]:
    """Enqueue `task` in the requirement `<kind>/<name>`; returns (requirement, task, created).

    With `series`, a live (PENDING or IN_PROGRESS) task of the same type already there means
    nothing is created; otherwise the task gets a fresh spec key (a series cancelled earlier
    keeps its own)."""
    from dataclasses import replace

    from sqlalchemy import func, select
    from sqlmodel import Session

    from state.engine import writer
    from state.models import Task, format_id
    from state.submissions import enqueue, ensure_requirement

    engine = open_engine(db)
    with Session(writer(engine)) as session:
        requirement_id = ensure_requirement(session, kind=kind, name=name, title=title)
        if series:
            live = session.execute(select(Task.id).where(
                Task.requirement_id == requirement_id, Task.type == task.type,
                Task.status.in_(("PENDING", "IN_PROGRESS")))).first()
            if live is not None:
                return format_id("requirement", requirement_id), format_id("task", live[0]), False
            earlier = session.execute(select(func.count(func.distinct(Task.spec_key))).where(
                Task.requirement_id == requirement_id, Task.type == task.type)).scalar_one()
            task = replace(task, key=f"{task.key}#{earlier + 1}")
        ids = enqueue(session, requirement_id, [task], actor="lead", reason=f"enqueued by `lead {name.split('-')[0]}`")
        session.commit()
    return format_id("requirement", requirement_id), (format_id("task", ids[0]) if ids else ""), bool(ids)


def watch(
    every: Annotated[str, typer.Option("--every", help="How often to look for failed runs (30s, 5m, 1h).")] = "5m",
    scope: Annotated[str, typer.Option("--scope", help="owned (jobs this pipeline deploys), all, or tag:KEY=VALUE.")] = "owned",
    escalate_to: Annotated[Optional[str], typer.Option("--escalate-to", help="E-mail address for escalations.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Look for failed runs on a schedule and remediate each (a recurring watch_runs task)."""
    from lead.remediation_block import check_remediation, check_scope, parse_duration
    from state.submissions import NewTask

    try:
        seconds = parse_duration(every)
        scope = check_scope(scope)
    except ValueError as error:
        raise UserError(str(error)) from None
    config = check_remediation({"escalate_to": escalate_to} if escalate_to else {})
    task = NewTask(key="watch_runs", type="watch_runs", title=f"Watch for failed runs ({scope}, every {every})",
                   payload={"scope": scope, "lookback_seconds": 2 * seconds + 300, "remediation": config},
                   schedule={"every_seconds": seconds})
    requirement, task_ref, created = _enqueue(db, kind="recurring", name=f"watch-{scope}", title=f"Watch {scope} runs",
                                              task=task, series=True)
    text = (f"{requirement}: watching {scope} runs every {every} ({task_ref})" if created
            else f"{requirement}: {task_ref} already watches {scope} runs; `lead cancel {requirement}` first to change it")
    _emit(as_json, {"requirement": requirement, "task": task_ref or None, "created": created, "every_seconds": seconds,
                    "scope": scope}, text)


def remediate(
    run_id: Annotated[int, typer.Argument(help="The failed run's id.")],
    escalate_to: Annotated[Optional[str], typer.Option("--escalate-to", help="E-mail address for escalations.")] = None,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Who to notify (default: the job's on-failure e-mails).")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Remediate one failed run (a remediate_run task; a worker diagnoses and acts)."""
    from lead.remediation_block import check_remediation
    from state.submissions import NewTask

    if run_id <= 0:
        raise UserError(f"{run_id} is not a run id")
    config = check_remediation({"escalate_to": escalate_to} if escalate_to else {})
    task = NewTask(key=f"remediate_run:{run_id}:manual", type="remediate_run", title=f"Remediate run {run_id} (by hand)",
                   payload={"run_id": run_id, "source": "manual", "repair_count": 0, "remediation": config, "owner": owner},
                   idempotency_key=f"remediate:manual:{run_id}")
    requirement, task_ref, created = _enqueue(db, kind="ad_hoc", name="remediation", title="Failure remediation", task=task)
    text = (f"{requirement}: {task_ref} will remediate run {run_id}" if created
            else f"run {run_id} was already enqueued for remediation by hand")
    _emit(as_json, {"requirement": requirement, "task": task_ref or None, "created": created, "run_id": run_id}, text)


@decisions_app.callback()
def decisions(
    ctx: typer.Context,
    as_json: JsonOption = False,
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many decisions, newest first.")] = 50,
) -> None:
    """List the decision log, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlmodel import Session

    from state.decisions import decision_as_json, list_decisions
    from state.redaction import redact

    engine = open_engine(db)
    with Session(engine) as session:
        rows = [redact(decision_as_json(row)) for row in list_decisions(session, limit)]
    lines = [f"{r['id']}  run {r['run_id']}  {r['job_name'] or r['job_id']}  {r['category']} -> {r['remediation']} "
             f"({r['confidence']:.2f}) {r['status']}{' ' + r['outcome'] if r['outcome'] else ''}" for r in rows]
    _emit(as_json, [{k: r[k] for k in ("id", "run_id", "job_id", "job_name", "category", "remediation", "confidence",
                                       "evidence", "status", "outcome")} | {"feedback": r["feedback"]} for r in rows],
          "\n".join(lines) or "No decisions yet.")


@decisions_app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl: chat fine-tuning examples, one per line.")] = "jsonl",
    output: Annotated[Optional[Path], typer.Option("--output", help="Write here instead of stdout.")] = None,
    db: DbOption = None,
) -> None:
    """Write the decisions as training examples (chat format); corrected labels win."""
    from sqlmodel import Session

    from state.decisions import list_decisions
    from state.redaction import redact_text

    if fmt != "jsonl":
        raise UserError(f"--format: only jsonl is supported, not {fmt!r}")
    engine = open_engine(db)
    with Session(engine) as session:
        rows = list_decisions(session, 100_000)
    system = ("Classify a failed Databricks job run: answer with JSON {\"category\": ..., \"remediation\": ...}.")
    lines = []
    for row in reversed(rows):
        label = {"category": row.feedback_category or row.category, "remediation": row.feedback_remediation or row.remediation}
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": redact_text(row.message)},
            {"role": "assistant", "content": json.dumps(label)},
        ]}))
    text = "\n".join(lines) + ("\n" if lines else "")
    if output is None:
        sys.stdout.write(text)
    else:
        from state.progress import write_atomic

        write_atomic(output, text)
        typer.echo(f"wrote {len(lines)} example(s) to {output}", err=True)


@decisions_app.command("stats")
def stats(as_json: JsonOption = False, db: DbOption = None) -> None:
    """Accuracy of the decisions against people's feedback, per category."""
    from collections import defaultdict

    from sqlmodel import Session

    from state.decisions import list_decisions

    engine = open_engine(db)
    with Session(engine) as session:
        rows = list_decisions(session, 100_000)
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"decisions": 0, "reviewed": 0, "remediation_right": 0, "category_right": 0})
    for row in rows:
        entry = per[row.category]
        entry["decisions"] += 1
        if row.feedback_remediation:
            entry["reviewed"] += 1
            entry["remediation_right"] += row.feedback_remediation == row.remediation
            entry["category_right"] += (row.feedback_category or row.category) == row.category
    data = {category: {**v, "remediation_accuracy": (v["remediation_right"] / v["reviewed"]) if v["reviewed"] else None,
                       "category_accuracy": (v["category_right"] / v["reviewed"]) if v["reviewed"] else None}
            for category, v in sorted(per.items())}
    lines = [f"{'category':22} decisions reviewed remediation-accuracy category-accuracy"]
    for category, v in data.items():
        fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append(f"{category:22} {v['decisions']:9} {v['reviewed']:8} {fmt(v['remediation_accuracy']):>20} "
                     f"{fmt(v['category_accuracy']):>17}")
    _emit(as_json, data, "\n".join(lines) if data else "No decisions yet.")


def feedback(
    decision: Annotated[str, typer.Argument(help="A decision id (D-0001).")],
    action: Annotated[str, typer.Option("--action", help="The right remediation: RETRY, RETRY_WITH_NEW_PARAMS, NOTIFY_OWNER, ESCALATE or IGNORE.")],
    category: Annotated[Optional[str], typer.Option("--category", help="The right category, if the decided one was wrong.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Why, for the record.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Record a correction of a decision; it joins the classifier's labelled examples at once."""
    from sqlmodel import Session

    from lead.remediation_block import CATEGORIES
    from state.decisions import parse_decision_id, record_feedback
    from state.engine import writer

    try:
        number = parse_decision_id(decision)
    except ValueError as error:
        raise UserError(str(error)) from None
    engine = open_engine(db)
    with Session(writer(engine)) as session:
        try:
            row = record_feedback(session, number, remediation=action.upper(), category=category, note=note,
                                  categories=CATEGORIES)
        except ValueError as error:
            raise UserError(str(error)) from None
        session.commit()
        ref, decided = row.ref, (row.category, row.remediation)
    _emit(as_json, {"decision": ref, "remediation": action.upper(), "category": category or decided[0], "note": note},
          f"{ref}: recorded {action.upper()}" + (f" / {category}" if category else "") + f" (decided {decided[1]} / {decided[0]})")
