"""Sources: SDK introspection and directory scanning."""

from __future__ import annotations

import logging

import pytest

from docs_index.chunking import ChunkingConfig
from docs_index.sources import DirectorySource, SdkSource, SourceError, parse_source

CFG = ChunkingConfig()


@pytest.fixture(scope="module")
def jobs_chunks():
    return {c.path: c for c in SdkSource(modules=("jobs",)).scan(CFG).chunks}


@pytest.mark.parametrize(
    "path, words",
    [
        ("sdk:jobs.JobSettings.max_concurrent_runs", "maximum allowed number of concurrent runs"),
        ("sdk:jobs.Task.retry_on_timeout", "retry a job when it times out"),
    ],
)
def test_sdk_source_yields_field_docs(jobs_chunks, path, words):
    chunk = jobs_chunks[path]
    assert words in chunk.text
    assert chunk.source == "sdk"
    assert chunk.title == "databricks.sdk.service.jobs"
    assert chunk.heading_path == tuple(path.split(".")[1:])
    assert chunk.file == "sdk:jobs"


def test_sdk_source_yields_api_methods_and_enums(jobs_chunks):
    assert "sdk:jobs.JobsAPI.create" in jobs_chunks
    assert "sdk:jobs.JobsAPI.run_now" in jobs_chunks
    assert any(p.startswith("sdk:jobs.RunLifeCycleState") for p in jobs_chunks)


def test_sdk_chunk_ids_are_stable():
    a = [c.id for c in SdkSource(modules=("jobs.Task",)).scan(CFG).chunks]
    b = [c.id for c in SdkSource(modules=("jobs.Task",)).scan(CFG).chunks]
    assert a == b and len(a) == len(set(a)) > 10


def test_sdk_class_filter_and_bad_module():
    chunks = parse_source("sdk:jobs.Task").scan(CFG).chunks
    assert chunks and all(c.path.startswith("sdk:jobs.Task") for c in chunks)
    with pytest.raises(SourceError):
        parse_source("sdk:no_such_service").scan(CFG)


def test_directory_source_skips_binary_and_empty(docs_dir, caplog):
    with caplog.at_level(logging.WARNING):
        scan = DirectorySource(docs_dir).scan(CFG)
    assert scan.files == 4
    assert sorted(p for p, _ in scan.skipped) == ["empty.md", "image.md"]
    assert {c.path for c in scan.chunks} == {
        "jobs/retries.md", "clusters/autoscale.md", "secrets.rst", "warehouses.txt"}
    assert all(c.source == str(docs_dir.resolve()) for c in scan.chunks)
    assert "image.md" in caplog.text and "empty.md" in caplog.text


def test_missing_directory_is_a_source_error(tmp_path):
    with pytest.raises(SourceError):
        parse_source(str(tmp_path / "nope"))
