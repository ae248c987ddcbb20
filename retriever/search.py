"""The read side: :class:`Retriever` answers questions from a built docs index.

Three ways to rank, all over the same chunks:

- ``dense``: cosine similarity of all-MiniLM-L6-v2 embeddings (Chroma HNSW query);
- ``bm25``: BM25 over the lexical index (bm25s) with an identifier-aware tokenizer;
- ``hybrid`` (the default, see :data:`DEFAULT_MODE`): reciprocal rank fusion of the two,
  ``score = sum(weight / (RRF_K + rank))`` over each list's top ``HYBRID_CANDIDATES`` (BM25
  weighs ``BM25_WEIGHT``, dense 1), plus a third ranking (weight ``IDENT_WEIGHT``)
  when the query names identifiers (``JobSettings.max_concurrent_runs``,
  ``retry_on_timeout``): the chunks whose heading ends with that name, those whose heading or
  path also holds the qualifier (``JobSettings``) first. :meth:`Retriever.rankings` returns
  the three rankings before fusion. Then the chunks of files whose name the query states in
  full (:mod:`retriever.names`: "cluster" names ``resources/cluster.md``) gain
  ``NAME_WEIGHT / (RRF_K + 1)``, as if ranked first by a fourth ranking of that weight
  (:meth:`Retriever.named_paths`).

``RRF_K``, ``BM25_WEIGHT``, ``HYBRID_CANDIDATES`` and ``NAME_WEIGHT`` are chosen by bench/retrieval.py from a
coarse grid on all its questions; the benchmark reports their cross-validated recall (chosen
on training folds, scored on held-out ones).

The model and the index are loaded lazily, the model once per process (shared by every
Retriever). chromadb, sentence_transformers, torch and bm25s are imported only when a search
or :meth:`Retriever.available` needs them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from docs_index.layout import IndexLayout
from retriever.citations import Citation, citations_from_hits
from retriever.filters import matches, to_chroma, validate_where
from retriever.hits import DocHit
from retriever.names import FileNames

log = logging.getLogger(__name__)

MODES = ("dense", "bm25", "hybrid")
DEFAULT_MODE = "hybrid"
"""The mode :meth:`Retriever.search` uses unless told otherwise (chosen with bench/retrieval.py)."""
RRF_K = 10
"""The rank offset of reciprocal rank fusion."""
BM25_WEIGHT = 2.0
"""Weight of the BM25 ranking in the fusion (dense and identifier rankings weigh 1)."""
HYBRID_CANDIDATES = 50
"""How many results of each ranking the fusion considers."""
IDENT_WEIGHT = 1.0
"""Weight of the identifier ranking (chunks whose heading ends with a name the query holds)."""
NAME_WEIGHT = 1.0
"""Weight of the file-name signal: chunks of files the query names (:mod:`retriever.names`)
score as if ranked first by a ranking of this weight (0 turns it off)."""

BUILD_HINT = "build it with `uv run docs-index build` (add `--source DIR` for a documentation directory)"

_warned_unavailable: set[str] = set()


class IndexNotBuiltError(RuntimeError):
    """The index directory holds no usable index (never built, or unreadable)."""


def _query_threads() -> None:
    """One torch thread for query embedding unless ``JOB_AGENT_TORCH_THREADS`` says otherwise:
    a single short query is faster and steadier on one thread than contending for several."""
    import torch

    torch.set_num_threads(int(os.environ.get("JOB_AGENT_TORCH_THREADS", "1")))


class Retriever:
    """Search over the docs index at ``index_dir``.

    ``index_dir``: the index directory; None means ``.job-agent/docs-index`` under the current
    directory, or ``$JOB_AGENT_HOME/docs-index`` when ``JOB_AGENT_HOME`` (the ``.job-agent``
    directory) is set. ``mode``: ``"dense"``, ``"bm25"`` or ``"hybrid"`` (default
    :data:`DEFAULT_MODE`). Thread-safe; loading happens on first use.
    """

    def __init__(self, index_dir: Path | None = None, *, mode: str | None = None):
        self.layout = IndexLayout.at(index_dir)
        self.mode = mode or DEFAULT_MODE
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {MODES}")
        self._lock = threading.RLock()
        self._collection: Any = None
        self._ef: Any = None
        self._lexical: Any = None
        self._available: bool | None = None
        self._masks: dict[str, list[bool]] = {}
        self._row_of: dict[str, int] | None = None
        self._by_name: dict[str, list[int]] | None = None
        self._file_names: FileNames | None = None
        self._threads_set = False

    @property
    def index_dir(self) -> Path:
        """The index directory this retriever reads."""
        return self.layout.root

    # ------------------------------------------------------------ loading

    def _load(self) -> None:
        with self._lock:
            if self._lexical is not None:
                return
            manifest = self.layout.read_manifest()
            if manifest is None or not self.layout.lexical_dir.is_dir():
                raise IndexNotBuiltError(f"no docs index at {self.layout.root}; {BUILD_HINT}")
            try:
                from docs_index.chroma_ef import JobAgentEmbeddingFunction, open_collection
                from docs_index.lexical import LexicalIndex

                ef = JobAgentEmbeddingFunction(
                    manifest.get("model_path"), int(manifest.get("max_seq_length", 256))
                )
                _client, collection = open_collection(str(self.layout.chroma_dir), ef, create=False)
                lexical = LexicalIndex.load(self.layout.lexical_dir)
            except Exception as e:
                raise IndexNotBuiltError(
                    f"the docs index at {self.layout.root} cannot be loaded ({e}); {BUILD_HINT}"
                ) from e
            self._ef, self._collection, self._lexical = ef, collection, lexical

    def available(self) -> bool:
        """True when the index is built and loads (the index, not the model, is loaded here).
        Never raises; the answer is remembered for this Retriever."""
        if self._available is None:
            try:
                self._load()
                self._available = len(self._lexical) > 0
            except IndexNotBuiltError:
                self._available = False
        return self._available

    def chunk_count(self) -> int:
        """Number of chunks in the index (0 when there is none); loads the index."""
        return len(self._lexical) if self.available() else 0

    def warm_up(self) -> None:
        """Load the index and the model and run one query, so later searches are fast.
        Raises :class:`IndexNotBuiltError` when there is no index."""
        self._load()
        self._embed("warm up")

    def _embed(self, query: str) -> list[float]:
        embedder = self._ef.embedder()
        if not self._threads_set:
            _query_threads()
            self._threads_set = True
        return embedder.embed_query(query)

    # ------------------------------------------------------------ searching

    def search(
        self, query: str, k: int = 5, where: dict | None = None, *, mode: str | None = None
    ) -> list[DocHit]:
        """The ``k`` best chunks for ``query``, best first.

        ``where``: a Chroma metadata filter over ``source``, ``path``, ``title``, ``heading``,
        ``file`` (e.g. ``{"source": "sdk"}``); see :mod:`retriever.filters`. ``mode``
        overrides the retriever's mode for this call. Raises :class:`IndexNotBuiltError` when
        there is no index, ``ValueError`` for an empty query, ``k < 1``, a bad mode or filter.
        """
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if k < 1:
            raise ValueError("k must be at least 1")
        if where is not None:
            validate_where(where)
        self._load()
        if mode == "dense":
            return self._dense(query, k, where)
        if mode == "bm25":
            return self._bm25(query, k, where)
        return fuse(self.rankings(query, max(k, HYBRID_CANDIDATES), where), k,
                    weights=[1.0, BM25_WEIGHT, IDENT_WEIGHT],
                    named=self.named_paths(query), name_weight=NAME_WEIGHT)

    def named_paths(self, query: str) -> frozenset[str]:
        """The indexed paths whose file name ``query`` states in full (see
        :mod:`retriever.names`): what hybrid search lifts by :data:`NAME_WEIGHT`. Loads the
        index; raises :class:`IndexNotBuiltError` when there is none."""
        self._load()
        with self._lock:
            if self._file_names is None:
                self._file_names = FileNames(m.get("path", "") for m in self._lexical.metadatas)
        return self._file_names.named(query)

    def rankings(self, query: str, n: int, where: dict | None = None) -> list[list[DocHit]]:
        """The three rankings hybrid search fuses, each at most ``n`` hits, best first:
        ``[dense, bm25, identifier]`` (the identifier ranking is empty unless the query names
        a field such as ``max_concurrent_runs``). For benchmarks that fuse with other
        settings; raises like :meth:`search`."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if where is not None:
            validate_where(where)
        self._load()
        return [self._dense(query, n, where), self._bm25(query, n, where),
                self._exact(query, n, where)]

    def _dense(self, query: str, n: int, where: dict | None) -> list[DocHit]:
        total = len(self._lexical)
        if total == 0:
            return []
        res = self._collection.query(
            query_embeddings=[self._embed(query)],
            n_results=min(n, total),
            where=to_chroma(where) if where else None,
            include=["distances"],  # texts come from the in-memory chunk table: faster
        )
        lex, rows = self._lexical, self._rows()
        hits = []
        for cid, dist in zip(res["ids"][0], res["distances"][0]):
            row = rows.get(cid)
            if row is not None:
                hits.append(_hit(lex.texts[row], lex.metadatas[row], 1.0 - float(dist)))
        return hits

    def _rows(self) -> dict[str, int]:
        rows = self._row_of
        if rows is None:
            rows = self._row_of = {cid: i for i, cid in enumerate(self._lexical.ids)}
        return rows

    def _mask(self, where: dict) -> list[bool]:
        key = json.dumps(where, sort_keys=True)
        mask = self._masks.get(key)
        if mask is None:
            mask = [matches(where, m) for m in self._lexical.metadatas]
            self._masks[key] = mask
        return mask

    def _bm25(self, query: str, n: int, where: dict | None) -> list[DocHit]:
        lex = self._lexical
        rows = lex.search(query, n, self._mask(where) if where else None)
        return [_hit(lex.texts[r], lex.metadatas[r], s) for r, s in rows]

    def _names(self) -> dict[str, list[int]]:
        """Rows by the lower-cased last name of their heading (``max_concurrent_runs``)."""
        names = self._by_name
        if names is None:
            names = {}
            for row, meta in enumerate(self._lexical.metadatas):
                last = _last_name(meta.get("heading_path") or "[]")
                if last:
                    names.setdefault(last, []).append(row)
            self._by_name = names
        return names

    def _exact(self, query: str, n: int, where: dict | None) -> list[DocHit]:
        lex = self._lexical
        mask = self._mask(where) if where else None
        scored: dict[int, int] = {}
        for ident in _IDENT.findall(query):
            if not ("_" in ident or "." in ident or _CAMEL_INNER.search(ident)):
                continue
            parts = ident.split(".")
            qualifiers = [q.lower() for q in parts[:-1]]
            for row in self._names().get(parts[-1].lower(), ()):
                if mask is not None and not mask[row]:
                    continue
                meta = lex.metadatas[row]
                where_text = f"{meta.get('heading', '')} {meta.get('path', '')}".lower()
                score = 1 + sum(q in where_text for q in qualifiers)
                scored[row] = max(scored.get(row, 0), score)
        best = sorted(scored, key=lambda r: (-scored[r], r))[:n]
        return [_hit(lex.texts[r], lex.metadatas[r], float(scored[r])) for r in best]

    # ------------------------------------------------------------ citations

    def cite(self, query: str, k: int = 3) -> list[Citation]:
        """Up to ``k`` citations (distinct path and heading) for ``query``: a field name such as
        ``JobSettings.max_concurrent_runs``, a validation message or a question.

        With no index it returns ``[]`` and logs once per index directory that citations are
        off and how to build the index; it never raises for a missing index.
        """
        if not self.available():
            key = str(self.layout.root)
            if key not in _warned_unavailable:
                _warned_unavailable.add(key)
                log.warning("citations are off: no docs index at %s; %s", key, BUILD_HINT)
            return []
        return citations_from_hits(self.search(query, k=max(k * 4, 10)), k)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CAMEL_INNER = re.compile(r"[a-z][A-Z]")


def _last_name(heading_path_json: str) -> str:
    try:
        path = json.loads(heading_path_json)
    except ValueError:
        return ""
    if not path:
        return ""
    last = path[-1].strip().strip("`").rstrip("()[]")
    return last.rsplit(".", 1)[-1].lower()


def _hit(text: str, meta: dict, score: float) -> DocHit:
    try:
        heading_path = tuple(json.loads(meta.get("heading_path") or "[]"))
    except ValueError:
        heading_path = tuple(h for h in (meta.get("heading") or "").split(" > ") if h)
    return DocHit(
        text=text,
        source=meta.get("source", ""),
        path=meta.get("path", ""),
        title=meta.get("title", ""),
        heading_path=heading_path,
        score=score,
    )


def fuse(
    rankings: list[list[DocHit]], k: int, rrf_k: int = RRF_K, weights: list[float] | None = None,
    *, named: frozenset[str] | set[str] = frozenset(), name_weight: float = 0.0,
) -> list[DocHit]:
    """Weighted reciprocal rank fusion of ranked hit lists: the top ``k`` by
    ``sum(weight / (rrf_k + rank))`` (rank from 1; weights default to 1), each hit rescored
    with its fused score. Hits are the same chunk when path, heading path and text are equal.
    Each fused hit whose path is in ``named`` gains ``name_weight / (rrf_k + 1)`` (only hits
    already in some ranking; see :meth:`Retriever.named_paths`)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[tuple, float] = {}
    first: dict[tuple, DocHit] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, h in enumerate(ranking, start=1):
            key = (h.path, h.heading_path, h.text)
            scores[key] = scores.get(key, 0.0) + weight / (rrf_k + rank)
            first.setdefault(key, h)
    if named and name_weight:
        lift = name_weight / (rrf_k + 1)
        for key in scores:
            if key[0] in named:
                scores[key] += lift
    best = sorted(scores, key=lambda key: -scores[key])[:k]
    return [
        DocHit(first[key].text, first[key].source, first[key].path, first[key].title,
               first[key].heading_path, scores[key])
        for key in best
    ]
