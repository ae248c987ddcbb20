"""Helpers for the lead tests: write a real requirements file, find a line by its text."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FRONT_MATTER = """\
---
title: Test requirements
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
variables:
  catalog: main
---
"""


def line_no(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the `nth` line of `text` containing `needle` (independent of lead)."""
    seen = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(f"{needle!r} not in text")


def md(body: str, front: str = FRONT_MATTER) -> str:
    """A requirements document: `front` (the standard front matter unless given) followed by
    the dedented `body`."""
    return front + textwrap.dedent(body)


@pytest.fixture
def write(tmp_path: Path):
    """`write(text, name="req.md") -> Path`: write `text` as is under tmp_path."""

    def _write(text: str, name: str = "req.md") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        return path

    return _write
