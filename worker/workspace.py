"""The Databricks workspace a worker talks to: a real one through the SDK's unified auth, or the sandbox.

Real workspaces: `WorkspaceClient(profile=...)` when `--profile` is given, else the SDK's own
resolution (`DATABRICKS_HOST`/`DATABRICKS_TOKEN`, `~/.databrickscfg` DEFAULT profile, OAuth,
...; see the SDK's "unified authentication" docs). `--sandbox` starts the local workspace
emulator in-process (`sandbox.running_sandbox`) with its state in a file, so runs of the
worker one after another see the same jobs; nothing reaches Databricks then.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class WorkspaceProvider:
    """One `WorkspaceClient` per worker process, created on first use (thread-safe)."""

    def __init__(self, factory: Callable[..., Any], description: str) -> None:
        self._factory = factory
        self._client = None
        self._lock = threading.Lock()
        self.description = description

    def __call__(self):
        """The shared client."""
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def check(self, *, retry_timeout_seconds: int = 20) -> str:
        """Ask the workspace who we are (`GET /api/2.0/preview/scim/v2/Me`) before claiming work.

        Uses a separate client whose SDK retries give up after `retry_timeout_seconds` (the
        shared client keeps the SDK's default patience, which suits 429 storms, not a wrong
        host). Returns the user name.

        Raises:
            Exception: whatever the SDK raises (bad host, bad credentials, unreachable).
        """
        return self._factory(retry_timeout_seconds=retry_timeout_seconds).current_user.me().user_name


@contextlib.contextmanager
def open_workspace(
    *, sandbox: bool, sandbox_state: Path | None = None, sandbox_clock_speed: float = 60.0, profile: str | None = None,
    sandbox_scenario: Path | None = None,
) -> Iterator[WorkspaceProvider]:
    """Yield the workspace provider for this worker run (and stop the sandbox afterwards).

    Raises:
        databricks.sdk.errors.DatabricksError / ValueError: (on first use) no usable auth.
    """
    if sandbox:
        from sandbox import running_sandbox

        if sandbox_state is not None:
            sandbox_state.parent.mkdir(parents=True, exist_ok=True)
        with running_sandbox(state_file=sandbox_state, clock_speed=sandbox_clock_speed, scenario=sandbox_scenario) as sb:
            yield WorkspaceProvider(
                lambda **_: sb.workspace_client(), f"SANDBOX at {sb.url} (local emulator; nothing reaches Databricks)"
            )
        return

    def _real(**overrides):
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        return WorkspaceClient(config=Config(profile=profile, **overrides))

    yield WorkspaceProvider(_real, f"Databricks profile {profile}" if profile else "Databricks (SDK unified auth)")

