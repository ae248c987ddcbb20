"""Keeping secrets out of what we show: progress files, `lead show`, logs.

A value is hidden when its key looks like a secret (token, password, secret, api key,
credentials, private key) or when it is a `{{secrets/scope/key}}` reference's resolved value.
Databricks secret references themselves (`{{secrets/scope/key}}`) are not secrets and stay.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(r"(token|passw(or)?d|secret|api[_-]?key|credential|private[_-]?key|client[_-]?secret)", re.IGNORECASE)
_SECRET_REFERENCE = re.compile(r"^\{\{secrets/[^}]+\}\}$")


_NOT_SECRET = frozenset({"idempotency_token", "page_token", "next_page_token", "prev_page_token", "token_type"})
"""Keys that match the pattern but hold no secret (API bookkeeping)."""


def is_secret_key(key: str) -> bool:
    """True when a mapping key names something secret (e.g. `DATABRICKS_TOKEN`, `smtp_password`);
    false for bookkeeping like `idempotency_token`."""
    return key.lower() not in _NOT_SECRET and bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """A deep copy of `value` (JSON-like: dicts, lists, scalars) with secret-named values replaced by `***`.

    Plan changes (`{"field": ..., "before": ..., "after": ...}`) of a secret-named field have
    their before and after values masked.
    """
    if isinstance(value, dict):
        if isinstance(value.get("field"), str) and is_secret_key(value["field"].rsplit(".", 1)[-1]):
            # A plan change of a secret-named field: {"field": "spark_env_vars.API_TOKEN", "before": ..., "after": ...}
            return {k: (REDACTED if k in ("before", "after") and v is not None else redact(v)) for k, v in value.items()}
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key) and isinstance(item, (str, int, float)) and not (
                isinstance(item, str) and _SECRET_REFERENCE.match(item)
            ):
                out[key] = REDACTED
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
