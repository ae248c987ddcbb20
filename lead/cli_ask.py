"""`lead ask [QUESTION] [--questions FILE|-] [--dry-run] [--json]`: route monitoring questions.

The router (:mod:`lead.ask.router`) picks the domains (cost, security, performance,
reliability, quality, mlops), a catalogue template per domain and its parameters. With
``--dry-run`` nothing is enqueued: one result per question is printed, with ``--json`` one
JSON line ``{"question", "intents", "templates": [{"name", "parameters"}], "confidence"}``
each (plus ``"routed_by": "llm"`` when the model routed it). Waiting for the answer, ``--json``
prints ``{"question", "intents", "confidence", "requirement", "answer", "path"}`` (plus
``"routed_by"`` likewise, and ``"summary": {"status", "text", "reason"}`` when a model is
configured: ``kept``, or ``dropped`` with the numbers it invented).

A single question that nothing fits exits 1 with suggestions. With ``--questions`` every
line is answered (a question nothing fits has empty ``intents`` and ``templates``) and the
exit is 0. Without ``--dry-run`` the questions would be enqueued as monitor_query tasks
(:func:`enqueue`, not yet available).

A question the router is unsure about (confidence under ``lead.ask.llm_route.LLM_BELOW``, or
nothing fits) goes to the model when one is configured (``JOB_AGENT_LLM_MODEL``); its templates
and parameters are validated by the catalogue's binding, and the router's answer stands when
they fail. Without a model this says once, on stderr, that the LLM is off.

Import cost: only the standard library and the router's keyword and example tables; never
torch or sentence-transformers; litellm only when a question goes to the model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lead.cli_runner import DbOption, JsonOption, UserError


def read_questions(source: str) -> list[str]:
    """Non-blank lines of `source` (``-`` is stdin), stripped."""
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"{source}: cannot read: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise UserError(f"{source}: not UTF-8 text: {error}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def enqueue(routes: list[Any], *, db: str | None = None) -> list[dict[str, Any]]:
    """Enqueue each routed question: one monitor_query task per template plus an answer task
    depending on them (`lead.ask_tasks.enqueue_question`). Returns `[{"requirement",
    "queries", "answer"}]`.

    Raises:
        UserError: a question nothing fits, or a template or parameter the catalogue refuses.
    """
    from lead.ask_tasks import enqueue_question
    from lead.cli_runner import open_engine
    from tasks.monitoring.catalogue import TemplateParamError, UnknownTemplate

    engine = open_engine(db)
    out = []
    for r in routes:
        if not r.intents:
            raise UserError(f"nothing fits {r.question!r}; try one of: " + " | ".join(r.suggestions[:3]))
        try:
            out.append(enqueue_question(engine, r.question, list(r.intents), list(r.templates)))
        except (UnknownTemplate, TemplateParamError) as error:
            raise UserError(f"{r.question!r}: {error}") from None
    return out


def _text(route: Any) -> str:
    if not route.intents:
        return f"? {route.question}\n  nothing fits; try: " + "; ".join(route.suggestions[:3])
    by = ", routed by the model" if route.routed_by == "llm" else ""
    lines = [f"{route.question}", f"  intents: {', '.join(route.intents)}  (confidence {route.confidence:.2f}{by})"]
    for t in route.templates:
        params = ", ".join(f"{k}={v}" for k, v in t["parameters"].items()) or "defaults"
        lines.append(f"  template: {t['name']}({params})")
    return "\n".join(lines)


def ask(
    question: Annotated[Optional[str], typer.Argument(help="The question (or use --questions).", show_default=False)] = None,
    questions: Annotated[Optional[str], typer.Option("--questions", help="A file of questions, one a line; '-' reads stdin.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Route and print; enqueue nothing.")] = False,
    wait: Annotated[float, typer.Option("--wait", min=0.0, help="Seconds to wait for the workers and print the answer (0: enqueue only).")] = 60.0,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Answer monitoring questions: route each to domains, catalogue templates and parameters,
    run the queries through the workers and print the answer (`--dry-run`: route only)."""
    if (question is None) == (questions is None):
        raise UserError("give one QUESTION or --questions FILE ('-' for stdin), not both")
    items = [question.strip()] if question is not None else read_questions(questions or "-")
    if question is not None and not items[0]:
        raise UserError("the question is empty")

    from lead.ask.router import route

    routes = _with_model([route(q) for q in items], db, account=not dry_run)
    if not dry_run:
        _answer(routes, wait=wait, as_json=as_json, db=db)
        return
    for r in routes:
        typer.echo(json.dumps(r.as_dict(), ensure_ascii=False) if as_json else _text(r))
    if question is not None and not routes[0].intents:
        if as_json:
            typer.echo(json.dumps({"suggestions": routes[0].suggestions}, ensure_ascii=False), err=True)
        raise UserError("nothing fits that question; try one of: " + " | ".join(routes[0].suggestions[:3]))


def _with_model(routes: list[Any], db: str | None, *, account: bool) -> list[Any]:
    """Routes the router is unsure about, re-routed by the model when one is configured
    (`lead.ask.llm_route`); the gateway (and the "LLM is off" note) only when one is unsure.
    With `account` the calls are accounted (and cached) in the state database `db`; a dry run
    touches no database."""
    from lead.ask.llm_route import needs_model, reroute

    if not any(needs_model(r) for r in routes):
        return routes
    from llm.config import LlmConfigError
    from llm.gateway import get_gateway

    engine = None
    if account:
        from lead.cli_runner import open_engine

        engine = open_engine(db)
    try:
        gateway = get_gateway(engine)
    except LlmConfigError as error:
        raise UserError(str(error)) from None
    return [reroute(r, gateway)[0] for r in routes]


def _answer(routes: list[Any], *, wait: float, as_json: bool, db: str | None) -> None:
    """Enqueue, wait for the answers, print them (JSON: one object per question)."""
    from lead.cli_monitor import not_done_message, wait_for
    from lead.cli_runner import open_engine
    from state.models import format_id

    enqueued = enqueue(routes, db=db)
    engine = open_engine(db)
    if wait <= 0:
        for r, e in zip(routes, enqueued):
            data = {"question": r.question, "requirement": e["requirement"], "answer_task": format_id("task", e["answer"])}
            typer.echo(json.dumps(data) if as_json else f"{e['requirement']}: {r.question} (answer in {data['answer_task']})")
        return
    ids = [i for e in enqueued for i in (*e["queries"], e["answer"])]
    tasks = wait_for(engine, ids, wait)
    for r, e in zip(routes, enqueued):
        answer = tasks[e["answer"]]
        if answer.status != "COMPLETE":
            failed = [t for i, t in tasks.items() if i in e["queries"] and t.status == "FAILED"]
            why = (f"{format_id('task', failed[0].id)} failed: {failed[0].error}" if failed
                   else not_done_message({i: tasks[i] for i in (*e["queries"], e["answer"])}, wait))
            raise UserError(f"{e['requirement']}: no answer to {r.question!r}: {why}")
        result = answer.result or {}
        if as_json:
            data = {"question": r.question, "intents": list(r.intents), "confidence": r.confidence,
                    "requirement": e["requirement"], "answer": result.get("answer"), "path": result.get("path")}
            if r.routed_by != "router":
                data["routed_by"] = r.routed_by
            if (result.get("summary") or {}).get("status", "off") != "off":
                data["summary"] = result["summary"]  # {"status": kept|dropped|unavailable, "text", "reason"}
            typer.echo(json.dumps(data, ensure_ascii=False))
        else:
            typer.echo(result.get("answer") or "")
