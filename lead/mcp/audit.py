"""One audited tool call: look the tool up, refuse a write tool on a read-only server, check the
arguments against the tool's JSON schema, run it, and record the call in the audit table
(`state.audit`) whatever happened.

Transport-free (the server hands it a name, the arguments and the client's name), so it runs
the same under stdio and streamable HTTP. Calls are serialised by a lock: the tools capture
the `lead` commands' stdout, which is process-wide.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from lead.mcp.tools import TOOLS_BY_NAME, ToolEnv, ToolError

_CALLS = threading.Lock()


@dataclass(frozen=True)
class CallOutcome:
    """What one call gave: `status` `ok` (with `result`, any JSON value), `error` or `refused`
    (with `error`, the readable message for the client, secrets masked)."""

    status: str
    result: Any = None
    error: str | None = None


def schema_problem(schema: dict[str, Any], arguments: Any) -> str | None:
    """The first problem of `arguments` against `schema` (JSON Schema 2020-12) as one readable
    line naming the argument, or None when they fit."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and not where:
        allowed = ", ".join(sorted(schema.get("properties", {}))) or "none"
        return f"{error.message} (arguments this tool takes: {allowed})"
    return f"argument '{where}': {error.message}" if where else error.message


def run_call(env: ToolEnv, name: str, arguments: Any, *, allow_writes: bool, client: str | None) -> CallOutcome:
    """Run tool `name` with `arguments` and audit it (one `audit_entry` row, always).

    The result is masked (`state.redaction.redact`) like everything `lead` shows.

    Never raises for a tool's failure: an unknown tool, a schema mismatch or a `ToolError` is
    `error`; a write tool without `allow_writes` is `refused`; any other exception is an
    `error` "internal error: ..." (its traceback goes to stderr, masked).
    """
    from state.redaction import redact_text

    with _CALLS:
        started = time.monotonic()
        outcome = _dispatch(env, name, arguments if arguments is not None else {}, allow_writes=allow_writes)
        if outcome.error:
            outcome = CallOutcome(outcome.status, outcome.result, redact_text(outcome.error))
        _record(env, name, arguments, outcome, client, int((time.monotonic() - started) * 1000))
        return outcome


def _dispatch(env: ToolEnv, name: str, arguments: Any, *, allow_writes: bool) -> CallOutcome:
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return CallOutcome("error", error=f"no tool {name!r}; the tools are: {', '.join(TOOLS_BY_NAME)}")
    if tool.write and not allow_writes:
        return CallOutcome("refused", error=f"{name} is a write tool; start the server with --allow-writes")
    problem = schema_problem(tool.schema, arguments)
    if problem is not None:
        return CallOutcome("error", error=f"{name}: {problem}")
    try:
        from state.redaction import redact

        return CallOutcome("ok", result=redact(tool.handler(env, dict(arguments))))
    except ToolError as error:
        return CallOutcome("error", error=f"{name}: {error}")
    except Exception as error:  # noqa: BLE001 - the client gets a tool error, never a dropped connection
        if type(error).__module__.startswith("databricks.sdk"):
            return CallOutcome("error", error=f"{name}: Databricks: {type(error).__name__}: {error}")
        from lead.cli_runner import UserError
        from state.redaction import redact_text

        if isinstance(error, UserError):  # e.g. the state database cannot be opened
            return CallOutcome("error", error=f"{name}: {error}")
        print(redact_text(traceback.format_exc()), file=sys.stderr, end="")
        return CallOutcome("error", error=f"{name}: internal error: {type(error).__name__}: {error}")


def _record(env: ToolEnv, name: str, arguments: Any, outcome: CallOutcome, client: str | None, duration_ms: int) -> None:
    from sqlmodel import Session

    from state.audit import record_call
    from state.engine import writer

    with Session(writer(env.engine())) as session:
        record_call(session, tool=name, arguments=arguments if arguments is not None else {}, status=outcome.status,
                    error=outcome.error, client=client, duration_ms=duration_ms)
        session.commit()
