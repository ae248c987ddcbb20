"""Citations: the short references a validation error or a plan change carries.

A :class:`Citation` is a path and a heading (plus the document title); ``str(citation)``
renders it on one line, e.g. ``sdk:jobs.JobSettings.max_concurrent_runs`` or
``terraform-provider-databricks/docs/resources/job.md § Argument Reference > max_concurrent_runs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from retriever.hits import DocHit


@dataclass(frozen=True)
class Citation:
    """A pointer to a documentation passage: ``path``, ``heading`` (``" > "``-joined heading
    path, may be empty), ``title`` of the document, and an excerpt (the passage's first line,
    at most 160 characters)."""

    path: str
    heading: str
    title: str = ""
    excerpt: str = ""

    def __str__(self) -> str:
        if not self.heading or self.path.startswith("sdk:"):
            return self.path
        return f"{self.path} § {self.heading}"


def citations_from_hits(hits: Iterable[DocHit], k: int) -> list[Citation]:
    """Up to ``k`` citations from ``hits`` in order, one per distinct (path, heading)."""
    out: list[Citation] = []
    seen: set[tuple[str, str]] = set()
    for h in hits:
        key = (h.path, h.heading)
        if key in seen:
            continue
        seen.add(key)
        first = next((ln.strip() for ln in h.text.splitlines() if ln.strip()), "")
        out.append(Citation(h.path, h.heading, h.title, first[:160]))
        if len(out) >= k:
            break
    return out
