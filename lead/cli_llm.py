"""`lead llm`: the model the pipeline talks to, and what its calls cost.

    lead llm usage [--days N] [--json]   calls, tokens and cost per day, model and purpose
    lead llm status [--json]             which model is configured (or that the LLM is off)

Neither command calls a model or imports litellm. Exit codes as `lead`: 0, 1 user error, 2 internal.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lead.cli_runner import DbOption, JsonOption, UserError, open_engine

app = typer.Typer(
    name="llm",
    help="The LLM: which model is configured, and the calls, tokens and cost recorded per day.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def usage(
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="Only the last N UTC days (today is 1).")] = 30,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Model calls per day, model and purpose: calls, prompt and completion tokens, cost in USD.

    Cache hits are not calls (they cost nothing); `--json` prints a list of
    {"day", "model", "purpose", "calls", "prompt_tokens", "completion_tokens", "cost_usd"}
    (cost_usd null when the model's price is unknown to litellm).
    """
    from sqlmodel import Session

    from llm.usage import cache_hits, since_days, usage_rows
    from state.clock import db_now

    engine = open_engine(db)
    with Session(engine) as session:
        since = since_days(days, db_now(session))
    rows = usage_rows(engine, since=since)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no model calls in the last {days} day(s)")
        return
    headers = ["DAY", "MODEL", "PURPOSE", "CALLS", "PROMPT TOKENS", "COMPLETION TOKENS", "COST USD"]
    table = [[r["day"], r["model"], r["purpose"], str(r["calls"]), str(r["prompt_tokens"]),
              str(r["completion_tokens"]), "?" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    for row in [headers, *table]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    known = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    typer.echo(f"total: {sum(r['calls'] for r in rows)} call(s), ${sum(known):.4f}; "
               f"{cache_hits(engine, since=since)} answer(s) from the cache")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Which model is configured (JOB_AGENT_LLM_MODEL, JOB_AGENT_LLM_API_BASE), or that the LLM is off."""
    from llm.config import LlmConfigError, llm_settings

    try:
        settings = llm_settings()
    except LlmConfigError as error:
        raise UserError(str(error)) from None
    data = None if settings is None else {"model": settings.model, "api_base": settings.api_base,
                                          "timeout_s": settings.timeout_s, "max_retries": settings.max_retries}
    if as_json:
        typer.echo(json.dumps({"enabled": settings is not None, "settings": data}, indent=2))
    elif settings is None:
        typer.echo("LLM is off: set JOB_AGENT_LLM_MODEL (a litellm model string) to use one")
    else:
        typer.echo(f"model {settings.model}" + (f" at {settings.api_base}" if settings.api_base else ""))
