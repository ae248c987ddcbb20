"""The audit log of MCP tool calls (table `audit_entry`, `state.models.AuditEntry`): writing one
entry per call and reading them back, newest first.

Secrets never reach the table: arguments are stored through `state.redaction.redact` and the
error message through `redact_text`, so `lead audit` can show them as they are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from state.models import AuditEntry

STATUSES = ("ok", "error", "refused")

AUDIT_JSON_FIELDS = ("tool", "arguments", "status", "at", "client")
"""The keys of one `lead audit --json` entry (an interface other tools rely on)."""
"""`ok`: the tool ran; `error`: a typed error went back to the client (nothing changed);
`refused`: a write tool called on a read-only server."""


def record_call(
    session: Session,
    *,
    tool: str,
    arguments: Any,
    status: str,
    error: str | None = None,
    client: str | None = None,
    duration_ms: int = 0,
) -> int:
    """Add one audit entry (the caller commits); returns its id.

    Args:
        tool: the tool name the client asked for (also an unknown one).
        arguments: the call's arguments as received (any JSON value; masked here).
        status: one of `STATUSES`.
        error: the message sent back to the client, if any (masked here).
        client: the client's name from its `initialize` request (`clientInfo.name`), if given.
        duration_ms: wall time of the call in milliseconds.

    Raises:
        ValueError: `status` is not one of `STATUSES`.
    """
    from state.redaction import redact, redact_text

    if status not in STATUSES:
        raise ValueError(f"audit status {status!r} is not one of {', '.join(STATUSES)}")
    masked = redact(arguments if isinstance(arguments, dict) else {"arguments": arguments})
    entry = AuditEntry(
        tool=tool,
        arguments=masked,
        status=status,
        error=redact_text(error) if error else None,
        client=client,
        duration_ms=max(0, int(duration_ms)),
    )
    session.add(entry)
    session.flush()
    return entry.id


def list_entries(session: Session, *, limit: int = 50, tool: str | None = None) -> list[AuditEntry]:
    """The newest `limit` entries (of `tool` only, when given), newest first (by id)."""
    query = select(AuditEntry)
    if tool is not None:
        query = query.where(AuditEntry.tool == tool)
    return list(session.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).scalars())


def entry_as_json(entry: AuditEntry) -> dict[str, Any]:
    """`{"tool", "arguments", "status", "at", "client", "error", "duration_ms"}` of one entry
    (`at`: ISO 8601 UTC). The first five keys are the interface of `lead audit --json`."""
    return {
        "tool": entry.tool,
        "arguments": entry.arguments,
        "status": entry.status,
        "at": entry.at.isoformat(),
        "client": entry.client,
        "error": entry.error,
        "duration_ms": entry.duration_ms,
    }
