"""The file-name signal: which files a query names, and how hybrid fusion lifts them."""

from __future__ import annotations

import pytest

from retriever import Retriever
from retriever.names import MAX_FILES_PER_NAME, FileNames, name_words, query_words


@pytest.mark.parametrize("path, words", [
    ("terraform-provider-databricks/docs/resources/cluster.md", ("cluster",)),
    ("cli-bundle-schema/resources.clusters.md", ("cluster",)),
    ("terraform-provider-databricks/docs/resources/sql_endpoint.md", ("sql", "endpoint")),
    ("delta-lake/docs/src/content/docs/delta-utility/index.mdx", ("index",)),
    ("sdk:jobs.JobSettings.max_concurrent_runs", ("max", "concurrent", "run")),
    ("docs/access.md", ("access",)),  # "ss" is not a plural
    ("README", ("readme",)),
])
def test_name_words(path, words):
    assert name_words(path) == words


def test_query_words_are_lower_cased_and_singular():
    assert query_words("Which Clusters run Photon?") == {"which", "cluster", "run", "photon"}


def test_named_needs_every_word_of_the_name():
    names = FileNames(["a/sql_endpoint.md", "a/cluster.md", "b/resources.clusters.md", "c/job.md"])
    assert names.named("Size of a SQL endpoint?") == {"a/sql_endpoint.md"}
    assert names.named("Which SQL warehouse sizes exist?") == frozenset()
    assert names.named("pick the engine for my clusters") == {"a/cluster.md", "b/resources.clusters.md"}


def test_a_name_shared_by_many_files_is_ignored():
    many = [f"d{i}/index.mdx" for i in range(MAX_FILES_PER_NAME + 1)]
    few = [f"e{i}/vacuum.mdx" for i in range(MAX_FILES_PER_NAME)]
    names = FileNames(many + few)
    assert names.named("what does the vacuum index keep") == set(few)


def test_hybrid_lifts_the_chunks_of_named_files_by_name_weight(built_index):
    from retriever.search import (BM25_WEIGHT, HYBRID_CANDIDATES, IDENT_WEIGHT, NAME_WEIGHT,
                                  RRF_K, fuse)

    assert NAME_WEIGHT > 0
    r = Retriever(built_index)
    q = "Which permission lets someone write to a secret scope, and does a warehouse care?"
    named = r.named_paths(q)
    assert named == {"secrets.rst", "warehouses.txt"}
    rankings = r.rankings(q, HYBRID_CANDIDATES)
    weights = [1.0, BM25_WEIGHT, IDENT_WEIGHT]
    plain = {(h.path, h.text): h.score for h in fuse(rankings, 1000, weights=weights)}
    lifted = {(h.path, h.text): h.score
              for h in fuse(rankings, 1000, weights=weights, named=named, name_weight=NAME_WEIGHT)}
    assert plain.keys() == lifted.keys()
    for key, score in lifted.items():
        extra = NAME_WEIGHT / (RRF_K + 1) if key[0] in named else 0.0
        assert score == pytest.approx(plain[key] + extra)
    top = r.search(q, k=len(lifted))
    assert [(h.path, h.text) for h in top] == sorted(lifted, key=lambda k: -lifted[k])
