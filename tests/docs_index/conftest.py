"""Fixtures for the docs index tests: a small documentation directory and the model.

The embedding model is loaded once per session (``embedding_model``); every build in the
session reuses it through the process-wide cache in ``docs_index.embedding``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


DOCS = {
    "jobs/retries.md": """---
title: Task retries
---
Intro text about how a job task can be retried when it fails.

## Retry on timeout

Set `retry_on_timeout` to true so that a task that is killed by its timeout gets another
attempt instead of failing the run.

## Maximum retries

- **`max_retries`** (`Optional[int]`): how many times a failed task is retried. The value -1
  retries without limit.
- **`min_retry_interval_millis`** (`Optional[int`): the minimal wait between the start of the
  failed run and the retry run.
""",
    "clusters/autoscale.md": """# Cluster autoscaling

## Worker range

A cluster scales between `min_workers` and `max_workers` nodes depending on the load of
the Spark jobs running on it. Autoscaling removes idle workers after a few minutes.

```python
# a heading inside code is not a heading
# Not a heading
```
""",
    "secrets.rst": """Secret scopes
=============

Secret ACLs
-----------

Permissions on a secret scope:

- ``READ`` - allowed to read this secret scope.
- ``WRITE`` - allowed to read and write secrets in this scope.
- ``MANAGE`` - allowed to read, write and change the ACLs of this scope.
""",
    "warehouses.txt": """SQL warehouses stop by themselves after an idle period. Set auto_stop_mins
to the number of minutes of inactivity after which the warehouse shuts down; 0 disables
automatic stopping for classic warehouses.
""",
}

QUESTIONS = {
    "How do I make a SQL warehouse shut down automatically when nobody uses it?": "warehouses.txt",
    "Which permission lets a user write secrets in a secret scope?": "secrets.rst",
    "How does a cluster change its number of worker nodes with load?": "clusters/autoscale.md",
    "Can a task that hit its timeout be attempted again?": "jobs/retries.md",
}


def write_docs(root: Path) -> Path:
    """Write the fixture documents, one binary file and one empty file under ``root``."""
    for rel, text in DOCS.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (root / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (root / "empty.md").write_text("   \n", encoding="utf-8")
    (root / "ignored.html").write_text("<p>not indexed</p>", encoding="utf-8")
    return root


@pytest.fixture
def docs_texts() -> dict[str, str]:
    """The fixture documents' texts by relative path."""
    return dict(DOCS)


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A fresh copy of the fixture documentation directory."""
    return write_docs(tmp_path / "docs")


@pytest.fixture(scope="session")
def embedding_model():
    """The packaged model, sha256-checked and loaded once for the session."""
    from docs_index.embedding import load_model, resolve_model

    spec = resolve_model()
    load_model(spec)
    return spec


@pytest.fixture(autouse=True)
def _no_job_agent_home(monkeypatch, tmp_path):
    """Keep every test away from a real ``.job-agent`` directory."""
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
