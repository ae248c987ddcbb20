"""`lead ask [QUESTION] [--questions FILE|-] [--dry-run] [--json]`: route monitoring questions.

The router (:mod:`lead.ask.router`) picks the domains (cost, security, performance,
reliability, quality, mlops), a catalogue template per domain and its parameters. With
``--dry-run`` nothing is enqueued: one result per question is printed, with ``--json`` one
JSON line ``{"question", "intents", "templates": [{"name", "parameters"}], "confidence"}``
each.

A single question that nothing fits exits 1 with suggestions. With ``--questions`` every
line is answered (a question nothing fits has empty ``intents`` and ``templates``) and the
exit is 0. Without ``--dry-run`` the questions would be enqueued as monitor_query tasks
(:func:`enqueue`, not yet available).

Import cost: only the standard library and the router's keyword and example tables; never
torch or sentence-transformers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lead.cli_runner import JsonOption, UserError


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
    """Enqueue one monitor_query task per routed template (to be wired by the merger: the
    task type lands with the monitoring worker). Returns what was enqueued."""
    raise UserError("not yet: enqueueing lands with the monitor_query task type")


def _text(route: Any) -> str:
    if not route.intents:
        return f"? {route.question}\n  nothing fits; try: " + "; ".join(route.suggestions[:3])
    lines = [f"{route.question}", f"  intents: {', '.join(route.intents)}  (confidence {route.confidence:.2f})"]
    for t in route.templates:
        params = ", ".join(f"{k}={v}" for k, v in t["parameters"].items()) or "defaults"
        lines.append(f"  template: {t['name']}({params})")
    return "\n".join(lines)


def ask(
    question: Annotated[Optional[str], typer.Argument(help="The question (or use --questions).", show_default=False)] = None,
    questions: Annotated[Optional[str], typer.Option("--questions", help="A file of questions, one a line; '-' reads stdin.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Route and print; enqueue nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Route monitoring questions to domains, catalogue templates and parameters."""
    if (question is None) == (questions is None):
        raise UserError("give one QUESTION or --questions FILE ('-' for stdin), not both")
    items = [question.strip()] if question is not None else read_questions(questions or "-")
    if question is not None and not items[0]:
        raise UserError("the question is empty")

    from lead.ask.router import route

    routes = [route(q) for q in items]
    if not dry_run:
        enqueue(routes)
        return
    for r in routes:
        typer.echo(json.dumps(r.as_dict(), ensure_ascii=False) if as_json else _text(r))
    if question is not None and not routes[0].intents:
        if as_json:
            typer.echo(json.dumps({"suggestions": routes[0].suggestions}, ensure_ascii=False), err=True)
        raise UserError("nothing fits that question; try one of: " + " | ".join(routes[0].suggestions[:3]))
