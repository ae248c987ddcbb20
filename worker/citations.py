"""Documentation citations for task types, when a docs index has been built.

`Citer` answers `cite(query) -> ["path › heading", ...]` (at most 3) through
`retriever.Retriever`. With no index it answers `[]` and logs once that citations are off
and how to turn them on. The retriever (and so sentence-transformers) loads on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Citer:
    """Callable `cite(query) -> list[str]`; shared by a worker's threads.

    Args:
        log: where the one "citations are off" notice goes.
        enabled: False turns citations off without looking for an index.
        index_dir: the docs index (default: the retriever's, `.job-agent/docs-index`).
    """

    def __init__(self, log: Callable[[str], None], enabled: bool = True, index_dir=None) -> None:
        self._log = log
        self._index_dir = index_dir
        self._enabled = enabled
        self._retriever = None
        self._checked = False
        self._lock = threading.Lock()
        self._cache: dict[str, list[str]] = {}

    def _get(self):
        with self._lock:
            if not self._checked:
                self._checked = True
                if self._enabled:
                    try:
                        from retriever import Retriever

                        candidate = Retriever(self._index_dir)
                        if candidate.available():
                            self._retriever = candidate
                        else:
                            self._log("citations are off: no docs index found (build one with `uv run docs-index build`)")
                    except Exception as error:  # noqa: BLE001 - citations are optional
                        self._log(f"citations are off: the docs index could not be opened ({type(error).__name__}: {error})")
            return self._retriever

    def __call__(self, query: str) -> list[str]:
        retriever = self._get()
        if retriever is None:
            return []
        if query in self._cache:
            return self._cache[query]
        try:
            found = [str(c) for c in retriever.cite(query, k=3)]
        except Exception as error:  # noqa: BLE001
            self._log(f"citation lookup failed: {type(error).__name__}: {error}")
            found = []
        with self._lock:
            self._cache[query] = found
        return found
