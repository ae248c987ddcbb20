"""Riding out database outages: every state call of the worker goes through `DbRetry.call`.

A transient database error (SQLite "database is locked" past its busy timeout, a PostgreSQL
restart or lost connection: SQLAlchemy's `OperationalError`/`InterfaceError`, or a DBAPI
error that invalidated the connection) is logged and retried with capped, jittered
exponential backoff (tenacity). The engine's pool reconnects (`pool_pre_ping`). When the
database stays unreachable longer than `timeout_seconds`, `DatabaseUnavailable` is raised
and the worker exits non-zero. Every other error is raised at once.

Retrying a whole unit of work is safe: each opens its own session and transaction, and a
transaction cut off mid-way was rolled back by the database.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The state database stayed unreachable longer than the worker's `--db-timeout`."""


def is_transient_db_error(error: BaseException) -> bool:
    """True for errors that mean "the database is briefly unavailable" (see the module docstring)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class DbRetry:
    """Retries database calls across outages (see the module docstring).

    Args:
        timeout_seconds: how long the database may stay unreachable before giving up.
        on_error: called with (what, error, seconds until the next try) before each wait.
        max_wait_seconds: the cap of the backoff between tries.
    """

    def __init__(
        self,
        timeout_seconds: float = 300.0,
        on_error: Callable[[str, BaseException, float], None] | None = None,
        max_wait_seconds: float = 5.0,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.on_error = on_error or (lambda what, error, wait: None)
        self.max_wait_seconds = max_wait_seconds
        self.failed = threading.Event()

    def call(self, what: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(*args, **kwargs)`, retried while the database is briefly unavailable.

        Raises:
            DatabaseUnavailable: still failing after `timeout_seconds` (the last error chained).
            Anything else `fn` raises.
        """

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.on_error(what, error, state.upcoming_sleep)

        retrying = Retrying(
            retry=retry_if_exception(is_transient_db_error),
            wait=wait_random_exponential(multiplier=0.2, max=self.max_wait_seconds),
            stop=stop_after_delay(self.timeout_seconds),
            before_sleep=before_sleep,
            sleep=time.sleep,
            reraise=True,
        )
        try:
            return retrying(fn, *args, **kwargs)
        except Exception as error:
            if is_transient_db_error(error):
                self.failed.set()
                raise DatabaseUnavailable(
                    f"the state database stayed unreachable for more than {self.timeout_seconds:g} s during {what}: "
                    f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                ) from error
            raise
