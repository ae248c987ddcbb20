"""Re-ordering the head of a fused ranking so that one source or one fact does not fill it.

The same Databricks field is documented in several corpora (the bundle schema, the SDK
dataclass docs, the SDK ``.rst`` pages, the Terraform provider), often with the same first
sentence. :func:`diversify` looks only at the first ``window`` distinct paths of a ranking:

- ``cap``: at most ``cap`` distinct paths of one source family (:func:`source_family`) among
  them; a hit over the cap waits;
- ``dedupe="fact"``: a hit stating the same fact as one already taken (:func:`fact_key`: same
  field name and same first sentence) waits, so one fact takes one slot;
- ``dedupe="field"``: a hit documenting the same field name as one already taken from the same
  source family (:func:`field_key`: ``runtime_engine`` under both
  ``resources.clusters`` and ``resources.jobs`` of the bundle schema) waits.

Waiting hits follow the window in their original order, then the rest of the ranking,
unchanged. Nothing here knows any question. :meth:`retriever.Retriever.search` does not use
it: bench/retrieval.py measures it (settings chosen by cross-validation) and, on the
benchmark of 2026-12-01, it raised recall@5 on the 101 shared questions but lowered it on all
151, so it stays a measured option.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from retriever.hits import DocHit


def source_family(path: str) -> str:
    """The corpus a hit's ``path`` belongs to: ``"sdk"`` for ``sdk:<module>.<Class>`` paths,
    otherwise the first path component (``"terraform-provider-databricks"``,
    ``"cli-bundle-schema"``, ``"databricks-sdk-py-dataclasses"``, ...; ``""`` for a file at
    the top of its directory)."""
    if path.startswith("sdk:"):
        return "sdk"
    head, sep, _ = path.partition("/")
    return head if sep else ""


_MARKUP = re.compile(r"[`*_\\]")
_FIELD_ITEM = re.compile(r"^\s*[-*]\s*\W*([A-Za-z0-9_.<>\[\]]+)\W*(?:\([^)]*\))?\s*[:\-–]\s*")
_TYPE_LINE = re.compile(r"^\s*type:\s*\S.*$", re.IGNORECASE | re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _field_name(hit: DocHit) -> str:
    if not hit.heading_path:
        return ""
    last = _MARKUP.sub("", hit.heading_path[-1]).strip().rstrip("()[]")
    return re.split(r"[.\s]", last)[-1].lower() if last else ""


def fact_key(hit: DocHit) -> str | None:
    """A key equal for chunks that state the same fact: the last heading's name
    (``runtime_engine`` of ``resources.clusters.<name>.runtime_engine`` or of
    ``Data class `ClusterSpec` > runtime_engine``) and the chunk's first sentence, lower-cased,
    markup, ``Type:`` lines and a leading ``- **name** (type):`` removed. None when the hit
    has no heading or no text (such hits are never merged)."""
    name = _field_name(hit)
    text = _TYPE_LINE.sub("", hit.text).strip()
    text = _FIELD_ITEM.sub("", text, count=1)
    first = _SENTENCE_END.split(_MARKUP.sub("", text), maxsplit=1)[0]
    words = _NON_WORD.sub(" ", first.lower()).strip()
    if not name or not words:
        return None
    return f"{name}|{words[:160]}"


def field_key(hit: DocHit) -> tuple[str, str] | None:
    """``(source family, field name)`` of a hit: equal for the copies of one field inside one
    corpus; None when the hit has no heading."""
    name = _field_name(hit)
    return (source_family(hit.path), name) if name else None


DEDUPE_KEYS = {"fact": fact_key, "field": field_key}
"""What ``diversify(dedupe=...)`` may be given."""


def diversify(hits: Sequence[DocHit], window: int = 5, cap: int | None = None,
              dedupe: str | None = None) -> list[DocHit]:
    """``hits`` re-ordered so that among the first ``window`` distinct paths at most ``cap``
    come from one :func:`source_family` (None: no cap) and, with ``dedupe`` (``"fact"`` or
    ``"field"``, see :data:`DEDUPE_KEYS`), no two taken hits share that key. Hits that had to wait follow the window in their original order, then
    the remaining hits unchanged; the result holds exactly the hits given. ``window``: a count
    of distinct paths (hits of a path already taken ride along without using a slot).
    Raises ``ValueError`` for ``window < 1``, ``cap < 1`` or an unknown ``dedupe``."""
    if window < 1:
        raise ValueError("window must be at least 1")
    if cap is not None and cap < 1:
        raise ValueError("cap must be at least 1 (or None for no cap)")
    if dedupe is not None and dedupe not in DEDUPE_KEYS:
        raise ValueError(f"unknown dedupe {dedupe!r}; expected one of {sorted(DEDUPE_KEYS)} or None")
    if cap is None and dedupe is None:
        return list(hits)
    key_of = DEDUPE_KEYS[dedupe] if dedupe is not None else None
    taken: list[DocHit] = []
    waiting: list[DocHit] = []
    paths: set[str] = set()
    families: Counter[str] = Counter()
    facts: set = set()
    rest_from = len(hits)
    for i, h in enumerate(hits):
        new_path = h.path not in paths
        if new_path and len(paths) >= window:
            rest_from = i
            break
        key = key_of(h) if key_of is not None else None
        if key is not None and key in facts:
            waiting.append(h)
            continue
        family = source_family(h.path)
        if new_path and cap is not None and families[family] >= cap:
            waiting.append(h)
            continue
        taken.append(h)
        if key is not None:
            facts.add(key)
        if new_path:
            paths.add(h.path)
            families[family] += 1
    return taken + waiting + list(hits[rest_from:])
