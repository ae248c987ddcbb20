"""Shared helpers of the lead tests: the standard front matter, documents, line lookup."""

from __future__ import annotations

import textwrap

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
