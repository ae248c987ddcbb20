"""Which indexed files a query names: the file-name signal of hybrid search.

A reference page is often named after what it documents (Terraform's
``docs/resources/cluster.md``, the bundle schema's ``resources.clusters.md``, Delta's
``vacuum.mdx``). A question that says "cluster" is more likely answered by a page named
``cluster`` than by an equally worded field entry elsewhere. :class:`FileNames` finds the
files whose name the query states in full; :func:`retriever.search.fuse` lifts their chunks
(weight :data:`retriever.search.NAME_WEIGHT`, chosen by cross-validation in
bench/retrieval.py).

A file's name is the last dotted part of its base name without extension, split into words
at ``_``, ``-`` and ``.`` and crudely singularised (``resources.clusters.md`` -> ``cluster``,
``sql_endpoint.md`` -> ``sql endpoint``, ``sdk:jobs.JobSettings.max_concurrent_runs`` ->
``max concurrent run``). Names shared by more than :data:`MAX_FILES_PER_NAME` files
(``index``, ``SKILL``) say nothing about content and are ignored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

MAX_FILES_PER_NAME = 10
"""A name carried by more files than this (``index.mdx``, ``SKILL.md``) is not a signal."""

_WORD = re.compile(r"[a-z0-9]+")
_EXT = re.compile(r"\.(md|mdx|rst|txt|markdown)$", re.IGNORECASE)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def name_words(path: str) -> tuple[str, ...]:
    """The words of the file name of ``path`` (see the module docstring); ``()`` when none."""
    base = _EXT.sub("", path.rsplit("/", 1)[-1])
    last = base.rsplit(".", 1)[-1]
    return tuple(_singular(w) for w in _WORD.findall(last.lower()))


def query_words(query: str) -> set[str]:
    """The lower-cased, singularised words of ``query``."""
    return {_singular(w) for w in _WORD.findall(query.lower())}


class FileNames:
    """The file names of an index's paths, for :meth:`named`.

    ``paths``: every indexed path (duplicates allowed). Building is O(number of paths).
    """

    def __init__(self, paths: Iterable[str]):
        names = {p: name_words(p) for p in set(paths)}
        counts = Counter(names.values())
        self._names = {p: n for p, n in names.items()
                       if n and counts[n] <= MAX_FILES_PER_NAME}

    def named(self, query: str) -> frozenset[str]:
        """The paths whose every file-name word occurs in ``query`` (after singularising),
        e.g. ``"How do I pick the Photon engine for a cluster?"`` names
        ``terraform-provider-databricks/docs/resources/cluster.md``."""
        words = query_words(query)
        return frozenset(p for p, n in self._names.items() if all(w in words for w in n))
