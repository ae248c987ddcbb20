"""Build the documentation index that the retriever reads.

Modules, one concern each:

- ``layout``: where an index lives on disk and the names of its parts.
- ``chunking``: structure-following chunkers for markdown, reStructuredText and plain text.
- ``sources``: the chunk sources: the installed ``databricks-sdk`` (by introspection) and
  directories of ``.md``/``.mdx``/``.rst``/``.txt`` files.
- ``embedding``: loading the sentence-transformers model (sha256-checked, offline only).
- ``lexical``: the BM25 tokenizer and the on-disk BM25 index (bm25s).
- ``store``: the Chroma collection and the incremental build.
- ``cli``: the ``docs-index`` command.

Importing this package is cheap: chromadb, sentence_transformers, torch and databricks.sdk
are imported only inside the functions that need them.
"""
