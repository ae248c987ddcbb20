"""Fixtures for the sandbox tests: one in-process server for the session, a fresh token (so a
fresh seeded workspace) per test, and an unmodified WorkspaceClient talking to it over HTTP.

The clock is frozen (``clock_speed=0``): tests move time with ``sb.advance`` only, so run
life-cycles are deterministic and nothing depends on wall-clock timing.
"""

from __future__ import annotations

import pytest

from sandbox import Sandbox, running_sandbox
from sandbox.store import new_token


@pytest.fixture(scope="session")
def sandbox_server():
    """The session's sandbox server (frozen clock)."""
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
