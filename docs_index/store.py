"""The index build: scan sources, embed what changed, update Chroma and the BM25 index.

:func:`build_index` makes the index at ``index_dir`` mirror the named sources:

- a chunk whose id and content hash are already in the collection is not embedded again;
- a new or changed chunk is embedded and upserted;
- a chunk no longer produced (its file was removed or edited, or its source is no longer
  named) is deleted;
- the BM25 index and chunk table are rewritten from the full chunk set (cheap), and the
  manifest records the sources, model, chunking and counts.

Errors: :class:`~docs_index.sources.SourceError` for a bad source spec,
:class:`~docs_index.embedding.ModelError` for a missing or corrupt model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from docs_index.chunking import Chunk, ChunkingConfig
from docs_index.embedding import resolve_model
from docs_index.layout import MANIFEST_VERSION, IndexLayout
from docs_index.sources import SDK_SOURCE, parse_source

log = logging.getLogger(__name__)

DEFAULT_SOURCES = (SDK_SOURCE,)
DEFAULT_CHUNKING = ChunkingConfig(max_chars=800, overlap=100, pack=False)
"""Chunking used unless told otherwise: one chunk per section and per field entry, long
sections in windows of at most 800 characters, about what the model reads at
:data:`DEFAULT_MAX_SEQ_LENGTH` tokens (packing several fields into one chunk hid all but the
first from the embedding; see bench/retrieval.py)."""
DEFAULT_MAX_SEQ_LENGTH = 128
"""Tokens of each chunk the embedding model reads (chosen with bench/retrieval.py)."""
EMBED_BATCH = 64


@dataclass
class BuildSummary:
    """What a build did. Counts are chunks unless named otherwise; ``seconds`` is wall time.

    ``skipped`` counts unchanged chunks that were not embedded again; ``skipped_files`` lists
    ``(path, reason)`` of files left out; ``embedded_by_file`` counts embedded chunks per file.
    """

    files: int = 0
    chunks: int = 0
    embedded: int = 0
    skipped: int = 0
    removed: int = 0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    embedded_by_file: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    index_dir: str = ""

    def as_dict(self) -> dict:
        """A JSON-ready dict of the summary."""
        return asdict(self)


ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while chunks are embedded."""


def _existing_hashes(collection, page: int = 5000) -> dict[str, str]:
    out: dict[str, str] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        for cid, meta in zip(got["ids"], got["metadatas"]):
            out[cid] = (meta or {}).get("content_hash", "")
        if len(got["ids"]) < page:
            return out
        offset += page


def build_index(
    sources: Sequence[str] | None = None,
    index_dir: Path | str | None = None,
    *,
    model_path: str | Path | None = None,
    chunking: ChunkingConfig = DEFAULT_CHUNKING,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    progress: ProgressFn | None = None,
) -> BuildSummary:
    """Build or update the index at ``index_dir`` (default: ``.job-agent/docs-index``).

    ``sources``: source specs (``sdk``, ``sdk:jobs``, a directory); None reuses the sources of
    the previous build, or ``sdk`` on a first build. ``model_path``: a sentence-transformers
    directory (None: the packaged all-MiniLM-L6-v2). A changed model or ``max_seq_length``
    re-embeds everything. Returns a :class:`BuildSummary`.
    """
    t0 = time.perf_counter()
    layout = IndexLayout.at(index_dir)
    previous = layout.read_manifest() or {}
    specs = list(sources) if sources else list(previous.get("sources") or DEFAULT_SOURCES)
    parsed = [parse_source(s) for s in specs]  # raises SourceError before any work
    model = resolve_model(model_path)
    model_id = f"{model.model_id}/seq{max_seq_length}"

    summary = BuildSummary(index_dir=str(layout.root))
    chunks: dict[str, Chunk] = {}
    for src in parsed:
        scan = src.scan(chunking, model_id)
        summary.files += scan.files
        summary.skipped_files.extend(scan.skipped)
        for c in scan.chunks:
            if c.id in chunks:
                log.warning("duplicate chunk id %s (%s %s); keeping the first", c.id, c.path, c.heading)
                continue
            chunks[c.id] = c
    summary.chunks = len(chunks)

    from docs_index.chroma_ef import JobAgentEmbeddingFunction, open_collection

    layout.root.mkdir(parents=True, exist_ok=True)
    ef = JobAgentEmbeddingFunction(str(model.path) if model_path else None, max_seq_length)
    model_changed = previous.get("model_id") not in (None, model_id)
    if model_changed:
        log.info("model changed (%s -> %s): re-embedding everything", previous.get("model_id"), model_id)
    _client, collection = open_collection(str(layout.chroma_dir), ef, create=True, reset=model_changed)

    existing = _existing_hashes(collection)
    stale = [cid for cid in existing if cid not in chunks]
    for i in range(0, len(stale), 5000):
        collection.delete(ids=stale[i : i + 5000])
    summary.removed = len(stale)

    todo = [c for c in chunks.values() if existing.get(c.id) != c.content_hash]
    summary.embedded = len(todo)
    summary.skipped = summary.chunks - len(todo)
    todo.sort(key=lambda c: len(c.embed_text))  # similar lengths per batch: less padding
    embedder = ef.embedder() if todo else None
    if progress:
        progress(0, len(todo))
    for i in range(0, len(todo), EMBED_BATCH):
        batch = todo[i : i + EMBED_BATCH]
        vectors = embedder.embed([c.embed_text for c in batch])
        collection.upsert(
            ids=[c.id for c in batch],
            embeddings=vectors,
            documents=[c.text for c in batch],
            metadatas=[c.metadata() for c in batch],
        )
        for c in batch:
            summary.embedded_by_file[c.file] = summary.embedded_by_file.get(c.file, 0) + 1
        if progress:
            progress(min(i + EMBED_BATCH, len(todo)), len(todo))

    from docs_index.lexical import index_text, write_lexical_index

    ordered = list(chunks.values())
    write_lexical_index(
        layout.lexical_dir,
        [c.id for c in ordered],
        [c.text for c in ordered],
        [c.metadata() for c in ordered],
        [index_text(c.path, c.embed_text) for c in ordered],
    )
    summary.seconds = time.perf_counter() - t0
    layout.write_manifest(
        {
            "version": MANIFEST_VERSION,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "sources": specs,
            "model_path": str(model.path) if model_path else None,
            "model_id": model_id,
            "max_seq_length": max_seq_length,
            "chunking": asdict(chunking),
            "files": summary.files,
            "chunks": summary.chunks,
            "chunks_by_source": _count_by(ordered, lambda c: c.source),
            "last_build": {k: v for k, v in summary.as_dict().items() if k != "embedded_by_file"},
        }
    )
    return summary


def _count_by(chunks: list[Chunk], key: Callable[[Chunk], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in chunks:
        out[key(c)] = out.get(key(c), 0) + 1
    return out
