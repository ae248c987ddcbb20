"""The packaged model: sha256 check, offline loading, unit vectors."""

from __future__ import annotations

import math

import pytest

from docs_index.embedding import (
    DEFAULT_WEIGHTS_SHA256,
    Embedder,
    ModelError,
    resolve_model,
    verify_sha256,
)


def test_packaged_model_weights_match_pinned_sha256(embedding_model):
    assert embedding_model.sha256 == DEFAULT_WEIGHTS_SHA256
    assert embedding_model.model_id.startswith("all-MiniLM-L6-v2@53aa5117")


def test_a_tampered_weights_file_is_refused(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not the weights")
    with pytest.raises(ModelError, match="sha256"):
        verify_sha256(bad, DEFAULT_WEIGHTS_SHA256)


def test_model_dir_without_weights_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no weights"):
        resolve_model(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        resolve_model(tmp_path / "missing")


def test_embeddings_are_unit_vectors_and_similar_texts_are_closer(embedding_model):
    e = Embedder(embedding_model)
    a, b, c = e.embed(["retry the task on timeout", "try the task again when it times out",
                       "grant read permission on a secret scope"])
    assert len(a) == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert dot(a, b) > dot(a, c)
