"""What a search returns: :class:`DocHit`, one retrieved passage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocHit:
    """One retrieved chunk.

    ``text``: the passage; ``source``: ``"sdk"`` or the absolute path of the indexed directory;
    ``path``: file path relative to that directory, or ``sdk:<module>.<Class>[.<member>]``;
    ``title``: the document's title; ``heading_path``: headings from the outermost down to the
    chunk (a tuple of strings, possibly empty); ``score``: higher is better, comparable only
    within one result list (cosine similarity for dense, BM25 score for bm25, fused reciprocal
    rank for hybrid).
    """

    text: str
    source: str
    path: str
    title: str
    heading_path: tuple[str, ...]
    score: float

    @property
    def heading(self) -> str:
        """The heading path as one string, ``" > "``-separated."""
        return " > ".join(self.heading_path)
