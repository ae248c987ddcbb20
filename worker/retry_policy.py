"""The retry policy, in one place: which errors are worth another attempt, and when.

Transient (back to PENDING with an exponential, jittered `not_before`, while attempts
remain): the SDK's `TooManyRequests` (HTTP 429), `TemporarilyUnavailable` (503),
`DeadlineExceeded`, `InternalError`-free server hiccups (`DatabricksError` with a 5xx
status), request timeouts and connection errors, and a database that was briefly locked
or unreachable. Permanent (FAILED at once, the error kept): bad parameters, permission
denied, not found, validation failures, and anything we do not recognise.
"""

from __future__ import annotations

import random
from datetime import timedelta

TRANSIENT_SDK_ERRORS = ("TooManyRequests", "TemporarilyUnavailable", "DeadlineExceeded", "Aborted", "ResourceExhausted")
"""Class names in `databricks.sdk.errors` that mean "try again later"."""


def is_transient(error: BaseException) -> bool:
    """True when `error` is worth another attempt (see the module docstring)."""
    import requests
    from sqlalchemy.exc import OperationalError

    if isinstance(error, (TimeoutError, ConnectionError, requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return True
    if isinstance(error, OperationalError):
        return True
    for cls in type(error).__mro__:
        if cls.__module__.startswith("databricks.sdk") and cls.__name__ in TRANSIENT_SDK_ERRORS:
            return True
    status = getattr(getattr(error, "response", None), "status_code", None) or getattr(error, "status_code", None)
    if isinstance(status, int) and status >= 500 and type(error).__module__.startswith("databricks.sdk"):
        return True
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)


def backoff(attempt: int, *, base_seconds: float = 2.0, cap_seconds: float = 300.0, rng: random.Random | None = None) -> timedelta:
    """The delay before attempt `attempt + 1`: `base * 2**(attempt-1)`, capped, times a jitter in [0.5, 1.5).

    Args:
        attempt: the attempt that just failed (1-based).
    """
    rng = rng or random
    delay = min(cap_seconds, base_seconds * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=delay * (0.5 + rng.random()))
