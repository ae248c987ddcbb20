"""Chunking and BM25 on the shared Databricks docs (skipped when ../shared/data is absent).

No embedding here: the full-corpus build and the dense/hybrid figures live in
bench/retrieval.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docs_index.lexical import LexicalIndex, index_text, write_lexical_index
from docs_index.sources import DirectorySource
from docs_index.store import DEFAULT_CHUNKING

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
DOCS = DATA / "databricks-docs"

pytestmark = pytest.mark.skipif(
    not (DOCS / "databricks-sdk-py-dataclasses" / "jobs.md").is_file(),
    reason=f"shared data not found at {DATA} (tests that read ../shared/data are skipped)",
)

SUBSET = [
    "databricks-sdk-py-dataclasses/jobs.md",
    "terraform-provider-databricks/docs/resources/job.md",
    "terraform-provider-databricks/docs/resources/cluster.md",
    "terraform-provider-databricks/docs/resources/sql_endpoint.md",
    "cli-bundle-schema/resources.jobs.md",
    "databricks-sdk-py/docs/workspace/workspace/secrets.rst",
]


@pytest.fixture(scope="module")
def subset_chunks(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared") / "docs"
    for rel in SUBSET:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DOCS / rel, root / rel)
    return DirectorySource(root).scan(DEFAULT_CHUNKING).chunks


def test_real_field_reference_keeps_field_headings(subset_chunks):
    jobs = [c for c in subset_chunks if c.path == "databricks-sdk-py-dataclasses/jobs.md"]
    settings = [c for c in jobs if c.heading_path and c.heading_path[0] == "Data class `JobSettings`"]
    assert any("`max_concurrent_runs`" in c.text for c in settings)
    task = [c for c in jobs if c.heading_path and c.heading_path[0] == "Data class `Task`"]
    assert any("`retry_on_timeout`" in c.text for c in task)
    assert all(len(c.text) <= DEFAULT_CHUNKING.max_chars for c in subset_chunks)


def test_bm25_answers_real_questions_from_the_qa_set(subset_chunks, tmp_path):
    questions = [json.loads(line) for line in (DATA / "retrieval_qa.jsonl").read_text().splitlines()]
    in_subset = [q for q in questions if set(q["relevant_paths"]) <= set(SUBSET)]
    assert len(in_subset) >= 5
    write_lexical_index(tmp_path / "lex", [c.id for c in subset_chunks], [c.text for c in subset_chunks],
                        [c.metadata() for c in subset_chunks],
                        [index_text(c.path, c.embed_text) for c in subset_chunks])
    lex = LexicalIndex.load(tmp_path / "lex")
    found = 0
    for q in in_subset:
        paths: list[str] = []
        for row, _ in lex.search(q["question"], 50):
            if lex.metadatas[row]["path"] not in paths:
                paths.append(lex.metadatas[row]["path"])
        found += bool(set(paths[:3]) & set(q["relevant_paths"]))
    assert found / len(in_subset) >= 0.7, (found, len(in_subset))
