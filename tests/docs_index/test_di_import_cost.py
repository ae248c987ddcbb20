"""Importing retriever and docs_index must not pull in the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("chromadb", "sentence_transformers", "torch", "transformers", "bm25s", "databricks")


def imported_modules(code: str) -> set[str]:
    """Top-level names of the modules ``python -X importtime -c code`` imports."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True, check=True)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_import_retriever_and_docs_index_is_cheap():
    names = imported_modules("import retriever, docs_index")
    assert "retriever" in names and "docs_index" in names  # the probe does see our imports
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_cli_module_and_retriever_construction_are_cheap(tmp_path):
    code = f"import docs_index.cli; from retriever import Retriever; Retriever({str(tmp_path)!r}).available()"
    names = imported_modules(code)
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
