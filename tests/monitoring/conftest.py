"""Fixtures for the monitoring tests: one in-process sandbox for the session (frozen clock), a fresh
seeded workspace (new token) per test, an unmodified WorkspaceClient over HTTP, and a running
SQL warehouse found through ``w.warehouses.list()``."""

from __future__ import annotations

import datetime as dt

import pytest

from sandbox import Sandbox, running_sandbox
from sandbox.store import new_token


@pytest.fixture(scope="session")
def sandbox_server():
    """The session's sandbox server (frozen clock: time moves only with ``sb.advance``)."""
    with running_sandbox(clock_speed=0) as sb:
        yield sb


@pytest.fixture()
def sb(sandbox_server) -> Sandbox:
    """A handle on a fresh workspace of the session server (new token)."""
    return Sandbox(sandbox_server.url, new_token(), sandbox_server.store)


@pytest.fixture()
def w(sb):
    """``databricks.sdk.WorkspaceClient`` for ``sb``."""
    return sb.workspace_client()


@pytest.fixture()
def warehouse_id(w) -> str:
    """The id of a RUNNING SQL warehouse of the workspace."""
    from databricks.sdk.service import sql

    running = [x.id for x in w.warehouses.list() if x.state == sql.State.RUNNING]
    assert running, "the sandbox has no running warehouse"
    return running[0]


@pytest.fixture()
def today(sb) -> dt.date:
    """The workspace's simulated today (UTC), the anchor of the seeded history."""
    return dt.datetime.fromtimestamp(sb.now_ms() / 1000, dt.timezone.utc).date()
