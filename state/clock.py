"""The one clock that leases, `not_before` and schedules are measured against: the database's.

Workers on several hosts share one database; each host's own clock may be off by seconds or
minutes, and a host whose clock runs ahead would think live leases expired. So every time
written into a lease, a `not_before` or a schedule, and every time compared with them, comes
from the database server (PostgreSQL `clock_timestamp()`: the time of the statement, not of
the transaction's start). SQLite lives on one host, so its clock is that host's.

Take the time *inside* the transaction that uses it, after the write lock is held (on SQLite a
`writer` session takes it at its first statement), so that waiting for the lock never
shortens a lease.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlmodel import Session

from state.columns import utcnow


def db_now(session: Session) -> datetime:
    """The current time on the database's clock, timezone-aware UTC.

    On SQLite this also begins the session's transaction (taking the write lock for a
    `state.engine.writer` session), so the time is read after any wait for the lock.

    Raises:
        sqlalchemy.exc.OperationalError: the database is unreachable.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        value = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    session.execute(text("SELECT 1"))
    return utcnow()
