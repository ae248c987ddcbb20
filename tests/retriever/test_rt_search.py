"""Retriever.search: ranking, filters, errors, index location, model loaded once."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from retriever import DocHit, IndexNotBuiltError, Retriever

QUESTIONS = [
    ("How do I make a SQL warehouse shut down automatically when nobody uses it?", "warehouses.txt"),
    ("Which permission lets a user write secrets in a secret scope?", "secrets.rst"),
    ("Send an email to the owners whenever a job run fails", "notifications.md"),
]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
@pytest.mark.parametrize("question, path", QUESTIONS)
def test_known_question_finds_the_right_file_first(built_index, mode, question, path):
    hits = Retriever(built_index, mode=mode).search(question, k=3)
    assert hits[0].path == path


def test_hits_are_frozen_doc_hits_best_first(built_index):
    hits = Retriever(built_index).search("maximum number of concurrent runs of a job", k=4)
    assert len(hits) == 4
    assert all(isinstance(h, DocHit) for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    h = hits[0]
    assert {f.name for f in dataclasses.fields(DocHit)} == {
        "text", "source", "path", "title", "heading_path", "score"}
    assert isinstance(h.heading_path, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.score = 1.0  # type: ignore[misc]


def test_sdk_hits_carry_source_path_title_and_heading(built_index):
    hits = Retriever(built_index).search("JobSettings.max_concurrent_runs", k=3)
    top = hits[0]
    assert top.path == "sdk:jobs.JobSettings.max_concurrent_runs"
    assert (top.source, top.title) == ("sdk", "databricks.sdk.service.jobs")
    assert top.heading_path == ("JobSettings", "max_concurrent_runs")
    assert "concurrent runs" in top.text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_where_filters_every_mode(built_index, mode):
    r = Retriever(built_index, mode=mode)
    sdk_only = r.search("how many concurrent runs can a job have", k=5, where={"source": "sdk"})
    assert sdk_only and all(h.source == "sdk" for h in sdk_only)
    one_file = r.search("concurrent runs", k=5, where={"path": {"$in": ["jobs/concurrency.md"]}})
    assert one_file and {h.path for h in one_file} == {"jobs/concurrency.md"}
    both = r.search("concurrent runs", k=5, where={"source": "sdk", "title": {"$ne": "x"},
                                                   "$or": [{"path": {"$in": ["sdk:jobs.Task.retry_on_timeout"]}},
                                                           {"path": "sdk:jobs.Task.max_retries"}]})
    assert both and {h.path for h in both} <= {"sdk:jobs.Task.retry_on_timeout", "sdk:jobs.Task.max_retries"}


def test_bad_arguments_raise_value_error(built_index):
    r = Retriever(built_index)
    for kwargs in ({"query": "  "}, {"query": "x", "k": 0}, {"query": "x", "where": {"path": {"$regex": "x"}}}):
        with pytest.raises(ValueError):
            r.search(**kwargs)
    with pytest.raises(ValueError):
        Retriever(built_index, mode="fuzzy")


def test_no_index_search_raises_and_cite_warns_once(tmp_path, caplog):
    r = Retriever(tmp_path / "nothing-here")
    assert r.available() is False
    with pytest.raises(IndexNotBuiltError, match="docs-index build"):
        r.search("anything")
    with caplog.at_level(logging.WARNING, logger="retriever.search"):
        assert r.cite("JobSettings.max_concurrent_runs") == []
        assert Retriever(tmp_path / "nothing-here").cite("Task.retry_on_timeout") == []
    warnings = [rec for rec in caplog.records if "citations are off" in rec.getMessage()]
    assert len(warnings) == 1 and "docs-index build" in warnings[0].getMessage()


def test_default_index_dir_follows_job_agent_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / "home"))
    assert Retriever().index_dir == tmp_path / "home" / "docs-index"
    monkeypatch.delenv("JOB_AGENT_HOME")
    monkeypatch.chdir(tmp_path)
    assert Retriever().index_dir == Path.cwd() / ".job-agent" / "docs-index"


def test_model_is_loaded_once_per_process(built_index):
    a, b = Retriever(built_index), Retriever(built_index)
    a.search("warehouse auto stop", k=1)
    b.search("warehouse auto stop", k=1, mode="dense")
    assert a._ef.embedder().model is b._ef.embedder().model


def test_half_built_index_is_not_available(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "manifest.json").write_text('{"version": 1, "sources": ["sdk"]}')
    r = Retriever(index)
    assert r.available() is False and r.chunk_count() == 0
    with pytest.raises(IndexNotBuiltError):
        r.search("anything")


def test_rankings_are_what_hybrid_fuses(built_index):
    from retriever.search import BM25_WEIGHT, HYBRID_CANDIDATES, IDENT_WEIGHT, NAME_WEIGHT, fuse

    r = Retriever(built_index)
    q = "What does JobSettings.max_concurrent_runs limit?"
    dense, bm25, ident = r.rankings(q, HYBRID_CANDIDATES)
    assert dense and bm25 and ident
    assert [h.path for h in dense] == [h.path for h in r.search(q, k=len(dense), mode="dense")]
    assert [h.path for h in bm25] == [h.path for h in r.search(q, k=len(bm25), mode="bm25")]
    # the identifier ranking holds the chunks whose heading ends with the named field,
    # the qualified one (JobSettings) first
    assert ident[0].heading_path[-1] == "max_concurrent_runs" and "JobSettings" in ident[0].path
    fused = fuse([dense, bm25, ident], 5, weights=[1.0, BM25_WEIGHT, IDENT_WEIGHT],
                 named=r.named_paths(q), name_weight=NAME_WEIGHT)
    assert [(h.path, h.text) for h in fused] == [(h.path, h.text) for h in r.search(q, k=5)]
    assert r.rankings("plain words only", 3)[2] == []
    with pytest.raises(ValueError):
        r.rankings("  ", 3)
