"""Fixtures for the job task type tests: one in-process sandbox server for the session (a fast
clock, so a run's simulated minute passes in milliseconds), a fresh seeded workspace per test
(new token), payloads produced by the real `lead.requirements.load_requirements`, and
`TaskContext`s built the way the worker builds them.

`cite` is a recording function returning one citation per query (`docs › <query>`): the docs
index is not part of these tests, the queries the task types send are.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from sandbox import Sandbox, running_sandbox
from sandbox.store import new_token
from tasks.base import TaskContext

FRONT_MATTER = """\
---
title: Task type tests
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
---
"""

_task_ids = itertools.count(1)


@pytest.fixture(scope="session")
def sandbox_server():
    """The session's sandbox server; 20 000 simulated seconds per real second."""
    with running_sandbox(clock_speed=20_000) as sb:
        yield sb


@pytest.fixture()
def sb(sandbox_server) -> Sandbox:
    """A fresh seeded workspace of the session server (new token)."""
    return Sandbox(sandbox_server.url, new_token(), sandbox_server.store)


@pytest.fixture()
def w(sb):
    """An unmodified `databricks.sdk.WorkspaceClient` for `sb`."""
    return sb.workspace_client()


class Requirements:
    """Writes requirement texts under a temp dir and reads them with the real lead."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.text = ""
        self.path: Path | None = None

    def load(self, body: str, name: str = "req.md", front: str = FRONT_MATTER):
        """Write `front + dedent(body)` to `name` and return the `RequirementsDoc`."""
        from lead.requirements import load_requirements

        self.text = front + textwrap.dedent(body)
        self.path = self.tmp_path / name
        self.path.write_text(self.text)
        return load_requirements(self.path)

    def specs(self, body: str, name: str = "req.md", front: str = FRONT_MATTER) -> dict:
        """spec key -> TaskSpec of the document."""
        return {s.key: s for s in self.load(body, name, front).task_specs}

    def line_of(self, needle: str, nth: int = 1) -> int:
        """1-based line of the nth line of the last text containing `needle`."""
        seen = 0
        for i, line in enumerate(self.text.splitlines(), start=1):
            if needle in line:
                seen += 1
                if seen == nth:
                    return i
        raise AssertionError(f"{needle!r} not in the requirements text")


@pytest.fixture()
def reqs(tmp_path) -> Requirements:
    """A writer/reader of requirement texts."""
    return Requirements(tmp_path)


@pytest.fixture()
def cited() -> list[str]:
    """The citation queries sent by the code under test, in order."""
    return []


@pytest.fixture()
def state_engine(tmp_path):
    """A real state database (SQLite file) for the deployment records."""
    from state.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


@pytest.fixture()
def make_ctx(sb, cited, state_engine):
    """`make_ctx(spec, deps=None, requirement_ref="REQ-0001", settings=None, task_id=None,
    bundle="req", target="dev", records=True)` -> a `TaskContext` for a
    `lead.decompose.TaskSpec`, talking to `sb` over HTTP. A deploy_job payload gets its
    deployment key `<bundle>/<target>/<job_key>` (as `lead submit` adds it); the deployment
    records are the test's state database (`records=False`: none, like a fresh database)."""
    from worker.db_retry import DbRetry
    from worker.deployment_records import StateDeploymentRecords

    def cite(query: str) -> list[str]:
        cited.append(query)
        return [f"docs › {query}"]

    def build(spec, deps=None, requirement_ref="REQ-0001", settings=None, task_id=None, revision=1, attempt=1,
              heartbeat=None, bundle="req", target="dev", records=True):
        tid = task_id if task_id is not None else next(_task_ids)
        payload = dict(spec.payload)
        if spec.type == "deploy_job" and bundle is not None:
            payload.setdefault("deployment_key", f"{bundle}/{target}/{payload['job_key']}")
        return TaskContext(
            task_id=tid,
            task_ref=f"T-{tid:04d}",
            spec_key=spec.key,
            task_type=spec.type,
            payload=payload,
            deployments=StateDeploymentRecords(state_engine, DbRetry(10), tid) if records else None,
            requirement_ref=requirement_ref,
            requirement_revision=revision,
            attempt=attempt,
            dependency_results=dict(deps or {}),
            workspace_factory=sb.workspace_client,
            cite=cite,
            heartbeat=heartbeat or (lambda: None),
            settings=dict(settings or {"run_poll_initial_seconds": 0.01, "run_poll_max_seconds": 0.05}),
        )

    return build
