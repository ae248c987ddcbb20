"""Search over the Databricks documentation index (the read side; ``docs_index`` builds it).

Contract (other packages code against these names)::

    from retriever import Retriever, DocHit, Citation, IndexNotBuiltError

    r = Retriever(index_dir: Path | None = None)   # default .job-agent/docs-index under the
                                                   # cwd, or $JOB_AGENT_HOME/docs-index
    r.available() -> bool                          # index built and loadable; never raises
    r.search(query: str, k: int = 5, where: dict | None = None) -> list[DocHit]
    r.cite(query: str, k: int = 3) -> list[Citation]   # [] (warned once) when no index
    r.rankings(query: str, n: int, where=None) -> [dense, bm25, identifier]  # before fusion
    r.named_paths(query: str) -> frozenset[str]    # files the query names (hybrid lifts them)

``DocHit`` is a frozen dataclass: ``text``, ``source``, ``path``, ``title``, ``heading_path``
(tuple of str), ``score`` (higher is better). ``Citation`` is a frozen dataclass: ``path``,
``heading``, ``title``, ``excerpt``; ``str(c)`` is a one-line reference such as
``sdk:jobs.JobSettings.max_concurrent_runs`` or ``…/resources/job.md § Argument Reference >
max_concurrent_runs``. ``search`` raises :class:`IndexNotBuiltError` when there is no index.

Importing this package is cheap: chromadb, sentence_transformers and torch are imported only
when a search runs (the model loads once per process).
"""

from retriever.citations import Citation
from retriever.hits import DocHit
from retriever.search import DEFAULT_MODE, MODES, IndexNotBuiltError, Retriever

__all__ = ["Citation", "DocHit", "DEFAULT_MODE", "IndexNotBuiltError", "MODES", "Retriever"]
