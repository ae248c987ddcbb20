"""Fixtures for the retriever tests: one small index built once per session.

The index holds a few fixture documents and the SDK's ``jobs.JobSettings``, ``jobs.Task`` and
``jobs.JobEmailNotifications`` classes (field-level chunks), embedded with the real model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DOCS = {
    "jobs/concurrency.md": """# Job concurrency

## Concurrent runs

A job runs one run at a time unless its concurrency limit is raised. Runs above the limit
are skipped, or queued when queueing is enabled for the job.
""",
    "notifications.md": """# Notifications

## Email on failure

Add addresses to `on_failure` so that the owners get an email each time a run of the job
fails. `on_success` and `on_start` work the same way.
""",
    "warehouses.txt": """SQL warehouses stop by themselves after an idle period. Set auto_stop_mins
to the number of minutes of inactivity after which the warehouse shuts down.
""",
    "secrets.rst": """Secret scopes
=============

Secret ACLs
-----------

- ``READ`` - allowed to read this secret scope.
- ``WRITE`` - allowed to read and write secrets in this scope.
- ``MANAGE`` - allowed to read, write and change the ACLs of this scope.
""",
}

SDK_SPEC = "sdk:jobs.JobSettings,jobs.Task,jobs.JobEmailNotifications"


@pytest.fixture(scope="session")
def built_index(tmp_path_factory) -> Path:
    """Path of an index built from the fixture documents and some SDK job classes."""
    from docs_index.store import build_index

    root = tmp_path_factory.mktemp("retriever")
    docs = root / "docs"
    for rel, text in DOCS.items():
        p = docs / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    index = root / "index"
    summary = build_index([str(docs), SDK_SPEC], index)
    assert summary.files == len(DOCS) + 1 and summary.embedded == summary.chunks
    return index


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch, tmp_path):
    """Keep every test away from a real ``.job-agent`` directory."""
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
