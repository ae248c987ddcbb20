"""The embedding function registered with Chroma for the docs collection.

Chroma's default embedding function downloads an ONNX model and fails offline, so the
collection is created with this one, registered under :data:`EF_NAME`: it embeds with the
same sentence-transformers model as the build (see :mod:`docs_index.embedding`). This module
imports chromadb at import time; import it only inside functions that open the index.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from docs_index.embedding import Embedder, resolve_model

EF_NAME = "job_agent_sentence_transformer"


@register_embedding_function
class JobAgentEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over a local sentence-transformers model.

    ``model_path``: a model directory, or None for the packaged all-MiniLM-L6-v2;
    ``max_seq_length``: tokens per text the model reads (longer texts are truncated).
    """

    def __init__(self, model_path: str | None = None, max_seq_length: int = 256):
        self.model_path = model_path
        self.max_seq_length = int(max_seq_length)
        self._embedder: Embedder | None = None

    def embedder(self) -> Embedder:
        """The :class:`Embedder` (model loaded and sha256-checked on first use)."""
        if self._embedder is None:
            self._embedder = Embedder(resolve_model(self.model_path))
        model = self._embedder.model
        if model.max_seq_length != self.max_seq_length:
            model.max_seq_length = self.max_seq_length
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in self.embedder().embed(list(input))]

    @staticmethod
    def name() -> str:
        """The name Chroma records with the collection and looks the class up by."""
        return EF_NAME

    def default_space(self) -> str:
        """Vectors are unit length: cosine distance."""
        return "cosine"

    def supported_spaces(self) -> list[str]:
        """Only cosine is supported."""
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        """The JSON config Chroma persists: model path (None = packaged) and max_seq_length."""
        return {"model_path": self.model_path, "max_seq_length": self.max_seq_length}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "JobAgentEmbeddingFunction":
        """Rebuild from :meth:`get_config` output (the model itself loads lazily)."""
        return JobAgentEmbeddingFunction(config.get("model_path"), config.get("max_seq_length", 256))


def open_collection(chroma_dir: str, ef: JobAgentEmbeddingFunction, create: bool, reset: bool = False):
    """The docs collection in the persistent client at ``chroma_dir``.

    ``reset=True`` first drops the collection (a new model: every vector must be redone).
    ``create=True`` creates it (cosine space) if missing; ``create=False`` raises
    ``chromadb.errors.NotFoundError`` (a ``ValueError`` subclass in older releases) when absent.
    Returns ``(client, collection)``.
    """
    import chromadb
    from chromadb.config import Settings

    from docs_index.layout import COLLECTION

    client = chromadb.PersistentClient(
        path=chroma_dir, settings=Settings(anonymized_telemetry=False)
    )
    if reset:
        try:
            client.delete_collection(COLLECTION)
        except Exception:  # not there: nothing to drop
            pass
    if create:
        col = client.get_or_create_collection(
            COLLECTION, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
        )
    else:
        col = client.get_collection(COLLECTION, embedding_function=ef)
    return client, col
