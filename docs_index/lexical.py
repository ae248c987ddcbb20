"""The lexical side of the index: a BM25 tokenizer and the on-disk BM25 index (bm25s).

The tokenizer lower-cases, keeps identifiers whole *and* split into their parts
(``max_concurrent_runs`` -> ``max_concurrent_runs``, ``max``, ``concurrent``, ``run``;
``JobSettings`` -> ``jobsettings``, ``job``, ``setting``), drops English stop words and strips
a plural ``s``, so a field name, its words, and a question in prose all meet.

The indexed text of a chunk is its path's words, title, heading path and body
(:func:`index_text`); BM25 parameters are :data:`K1` and :data:`B` (chosen with
bench/retrieval.py).

On disk (``<index>/lexical/``): the bm25s index files plus ``chunks.json``, the chunk table
(ids, texts, metadata) a BM25 hit is answered from. bm25s and numpy are imported lazily.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from has have how i if in into is it
    its me my no not of on or so such that the their then there these this those to was what
    when where which who why will with would you your yes we our get set use using via per
    than also any all""".split()
)

_WORD = re.compile(r"[A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def _stem(tok: str) -> str:
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
        return tok[:-1]
    return tok


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (see the module docstring); order kept, repeats kept."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = [p for p in word.split("_") if p]
        sub: list[str] = []
        for p in parts:
            sub.extend(_CAMEL.findall(p) if not p.islower() and not p.isupper() else [p])
        whole = word.lower().strip("_")
        if len(sub) > 1 and whole:
            out.append(whole)
        for t in sub:
            t = t.lower()
            if len(t) > 1 and t not in STOPWORDS:
                out.append(_stem(t))
    return out


CHUNKS_FILE = "chunks.json"
K1 = 1.5
B = 0.5


def index_text(path: str, embed_text: str) -> str:
    """What BM25 indexes for a chunk: the words of its path, then its embedded text
    (title, heading path, body)."""
    return re.sub(r"[/._:-]+", " ", path) + "\n" + embed_text


def write_lexical_index(
    directory: Path,
    ids: Sequence[str],
    texts: Sequence[str],
    metadatas: Sequence[dict[str, Any]],
    index_texts: Sequence[str],
) -> None:
    """Build a BM25 index over ``index_texts`` and write it with the chunk table to
    ``directory`` (replaced atomically: written beside it, then renamed)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index build at DEBUG
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if ids:
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index([tokenize(t) or ["\x00empty"] for t in index_texts], show_progress=False)
        bm25.save(str(tmp))
    (tmp / CHUNKS_FILE).write_text(
        json.dumps({"ids": list(ids), "texts": list(texts), "metadatas": list(metadatas)}),
        encoding="utf-8",
    )
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)


class LexicalIndex:
    """A loaded BM25 index and its chunk table.

    ``ids``, ``texts``, ``metadatas`` are aligned lists; :meth:`search` returns
    ``[(row, score), ...]`` best first. Raises ``FileNotFoundError`` from :meth:`load` when
    the directory holds no index.
    """

    def __init__(self, ids: list[str], texts: list[str], metadatas: list[dict], bm25: Any):
        self.ids = ids
        self.texts = texts
        self.metadatas = metadatas
        self.bm25 = bm25

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        """Load the index written by :func:`write_lexical_index`."""
        table = json.loads((directory / CHUNKS_FILE).read_text(encoding="utf-8"))
        bm25 = None
        if table["ids"]:
            import bm25s

            bm25 = bm25s.BM25.load(str(directory))
        return cls(table["ids"], table["texts"], table["metadatas"], bm25)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int, mask: Sequence[bool] | None = None) -> list[tuple[int, float]]:
        """Top ``n`` rows for ``query`` by BM25 score (rows with score 0 left out);
        ``mask`` (one bool per row) restricts the candidates."""
        tokens = tokenize(query)
        if not tokens or self.bm25 is None or n <= 0:
            return []
        import numpy as np

        weight_mask = None
        if mask is not None:
            weight_mask = np.asarray(mask, dtype=np.float32)
            if not weight_mask.any():
                return []
        n = min(n, len(self.ids))
        docs, scores = self.bm25.retrieve(
            [tokens], k=n, show_progress=False, n_threads=0, weight_mask=weight_mask
        )
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
