"""Structured log lines: one logfmt line per phase transition, on stderr.

`ts=2026-11-21T09:30:00Z worker=host:4242/0 task=T-0001 type=deploy_job event=phase phase=plan ...`
Values with spaces are quoted. Secrets never reach these lines: callers pass ids, states
and messages, never payloads, and every value goes through `state.redaction.redact_text`
(a credential inside an error message or a note is masked).
"""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from typing import Any, TextIO

from state.redaction import redact_text

_lock = threading.Lock()


def _quote(value: Any) -> str:
    text = redact_text(str(value))
    if text == "" or any(ch in text for ch in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def format_line(fields: dict[str, Any]) -> str:
    """`key=value` pairs in order, None values left out, `ts` first."""
    ts = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = [f"ts={ts}"] + [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
    return " ".join(parts)


def emit(stream: TextIO | None = None, **fields: Any) -> None:
    """Write one structured line (thread-safe)."""
    line = format_line(fields)
    with _lock:
        print(line, file=stream or sys.stderr, flush=True)
