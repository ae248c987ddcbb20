"""Plain helpers for the state tests (importable by name; conftest puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    """A minimal task spec (the lead's TaskSpec has the same attributes)."""

    key: str
    type: str = "deploy_job"
    title: str = "a job"
    payload: dict = field(default_factory=dict)
    depends_on: tuple = ()
    source_line: int = 1
    source_field: str = "resources.jobs.x"
