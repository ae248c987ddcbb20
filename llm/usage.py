"""What the model calls cost: `llm_call` rows summed per day, model and purpose (`lead llm usage`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

USAGE_FIELDS = ("day", "model", "purpose", "calls", "prompt_tokens", "completion_tokens", "cost_usd")
"""The keys of one usage row, in order (the `lead llm usage --json` contract)."""


def usage_rows(engine, *, since: datetime | None = None) -> list[dict]:
    """One dict per (UTC day, model, purpose), newest day first, then model and purpose.

    `calls` counts requests that reached the provider (cache hits are free and not counted;
    failed and rejected calls are, as the provider may bill them); the token sums are what the
    provider reported; `cost_usd` is the sum of the known costs, rounded to 6 decimals, or None
    when litellm knew the price of none of them. `since` (tz-aware) limits the rows by call time.
    """
    from sqlmodel import Session, select

    from state.models import LlmCall

    query = select(LlmCall).where(LlmCall.cached == False)  # noqa: E712 - SQL comparison
    if since is not None:
        query = query.where(LlmCall.at >= since)
    groups: dict[tuple[str, str, str], dict] = defaultdict(
        lambda: {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": None})
    with Session(engine) as session:
        for call in session.exec(query):
            group = groups[(call.at.date().isoformat(), call.model, call.purpose)]
            group["calls"] += 1
            group["prompt_tokens"] += call.prompt_tokens
            group["completion_tokens"] += call.completion_tokens
            if call.cost_usd is not None:
                group["cost_usd"] = (group["cost_usd"] or 0.0) + call.cost_usd
    rows = []
    for (day, model, purpose), sums in groups.items():
        cost = None if sums["cost_usd"] is None else round(sums["cost_usd"], 6)
        rows.append({"day": day, "model": model, "purpose": purpose, "calls": sums["calls"],
                     "prompt_tokens": sums["prompt_tokens"], "completion_tokens": sums["completion_tokens"],
                     "cost_usd": cost})
    rows.sort(key=lambda r: (r["model"], r["purpose"]))
    rows.sort(key=lambda r: r["day"], reverse=True)
    return rows


def cache_hits(engine, *, since: datetime | None = None) -> int:
    """How many answers came from `llm_cache` (no provider call) since `since`."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from state.models import LlmCall

    query = select(func.count()).select_from(LlmCall).where(LlmCall.cached == True)  # noqa: E712
    if since is not None:
        query = query.where(LlmCall.at >= since)
    with Session(engine) as session:
        return int(session.exec(query).one())


def since_days(days: int, now: datetime) -> datetime:
    """The start of the UTC day `days - 1` days before `now` (days=1: today only)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start - timedelta(days=days - 1)
