"""Structure-following chunking: heading paths, field entries, windows, stable ids."""

from __future__ import annotations

from docs_index.chunking import (
    ChunkingConfig,
    chunk_document,
    parse_markdown,
    parse_rst,
    split_field_entries,
    split_text,
    usage_last,
)
from docs_index.store import DEFAULT_CHUNKING


CFG = ChunkingConfig(max_chars=400, overlap=60)


def test_markdown_sections_follow_headings_and_skip_code(docs_texts):
    title, sections = parse_markdown(docs_texts["clusters/autoscale.md"], "fallback")
    assert title == "Cluster autoscaling"
    assert [s.heading_path for s in sections] == [("Worker range",)]
    assert "# Not a heading" in sections[0].body


def test_front_matter_title_and_nested_headings():
    md = "---\ntitle: T\n---\n# A\nx\n## B\ny\n### C\nz\n## D\nw\n"
    title, sections = parse_markdown(md, "f")
    assert title == "T"
    assert [s.heading_path for s in sections] == [("A",), ("A", "B"), ("A", "B", "C"), ("A", "D")]


def test_field_entries_become_their_own_chunks(docs_texts):
    chunks = chunk_document(docs_texts["jobs/retries.md"], source="s", rel_path="jobs/retries.md", config=CFG)
    headings = [c.heading_path for c in chunks]
    assert ("Maximum retries", "max_retries") in headings
    assert ("Maximum retries", "min_retry_interval_millis") in headings
    entry = next(c for c in chunks if c.heading_path[-1:] == ("max_retries",))
    assert "retries without limit" in entry.text  # the continuation line stays with its entry
    assert all(c.title == "Task retries" for c in chunks)


def test_single_bullet_is_prose_not_a_field_list():
    prose, entries = split_field_entries("text\n- `only_one` thing\nmore")
    assert entries == [] and "only_one" in prose


def test_rst_titles_and_directives():
    rst = (
        "Jobs\n====\n\nIntro.\n\n.. py:class:: JobsExt\n\n    Class doc.\n\n"
        "    .. py:method:: cancel_run(run_id: int)\n\n        Cancels a run.\n\nNext\n----\nBody.\n"
    )
    title, sections = parse_rst(rst, "f")
    assert title == "Jobs"
    paths = [s.heading_path for s in sections]
    assert ("JobsExt", "cancel_run") in paths and ("Next",) in paths
    body = dict((s.heading_path, s.body) for s in sections)
    assert "Cancels a run." in body[("JobsExt", "cancel_run")]


def test_split_text_windows_are_bounded_and_overlap():
    text = " ".join(f"word{i}" for i in range(400))
    windows = split_text(text, 300, 50)
    assert len(windows) > 1
    assert all(len(w) <= 300 for w in windows)
    for a, b in zip(windows, windows[1:]):
        assert b.split()[0] in a  # each window starts inside the previous one
    assert windows[0].split()[0] == "word0" and windows[-1].split()[-1] == "word399"


def test_ids_are_stable_and_only_edited_section_changes_hash(docs_texts):
    text = docs_texts["jobs/retries.md"]
    a = chunk_document(text, source="s", rel_path="r.md", config=CFG)
    b = chunk_document(text, source="s", rel_path="r.md", config=CFG)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    edited = text.replace("another\nattempt", "a second\nattempt")
    c = chunk_document(edited, source="s", rel_path="r.md", config=CFG)
    assert [x.id for x in c] == [x.id for x in a]
    changed = [x.heading_path for x, y in zip(a, c) if x.content_hash != y.content_hash]
    assert changed == [("Retry on timeout",)]


def test_packing_merges_small_units_and_keeps_their_headings():
    md = "# T\n" + "".join(f"## field_{i}\nType: string\n\nDoc of field {i}.\n\n" for i in range(10))
    packed = chunk_document(md, source="s", rel_path="p.md",
                            config=ChunkingConfig(max_chars=200, overlap=20, pack=True))
    single = chunk_document(md, source="s", rel_path="p.md", config=ChunkingConfig(max_chars=200, overlap=20))
    assert len(single) == 10 and 1 < len(packed) < 10
    joined = "\n".join(c.text for c in packed)
    assert all(f"field_{i}" in joined or ("field_%d" % i,) in [c.heading_path for c in packed] for i in range(10))
    assert all(len(c.text) <= 200 for c in packed)


RST_METHOD = """``w.clusters``: Clusters
========================

.. py:class:: ClustersExt

    .. py:method:: pin(cluster_id: str)

        Usage:

        .. code-block::

            from databricks.sdk import WorkspaceClient
            w = WorkspaceClient()
            w.clusters.pin(cluster_id=cid)

        Pinning a cluster ensures that the cluster will always be returned by the ListClusters API.

        :param cluster_id: str

    .. py:method:: get(cluster_id: str)

        Returns the cluster. A request such as

        .. code-block::

            GET /api/2.1/clusters/get

        answers with its details.
"""


def test_rst_usage_examples_move_after_the_description():
    _title, sections = parse_rst(RST_METHOD, "f")
    pin = next(s for s in sections if s.heading_path[-1:] == ("pin",))
    assert pin.body.startswith("Pinning a cluster ensures")
    assert pin.body.index(":param cluster_id") < pin.body.index("Usage:") < pin.body.index("w.clusters.pin(")
    # a code block that is not a Usage example stays where the prose refers to it
    get = next(s for s in sections if s.heading_path[-1:] == ("get",))
    assert get.body.index("such as") < get.body.index("GET /api") < get.body.index("answers with")


def test_usage_last_keeps_every_line():
    lines = RST_METHOD.split("\n")
    moved = usage_last(lines)
    assert sorted(ln for ln in moved if ln.strip()) == sorted(ln for ln in lines if ln.strip())


DATACLASS_MD = """# `databricks.sdk.service.jobs` data classes and enums

## Data class `JobSettings`

Settings of a job.

- **`max_concurrent_runs`** (`Optional[int]`): An optional maximum allowed number of concurrent runs of the job. This value cannot exceed 1000.
- **`timeout_seconds`** (`Optional[int]`): An optional timeout applied to each run of this job. A value of ``0`` means no timeout.
- **`queue`** (`Optional[QueueSettings]`): The queue settings of the job.
"""


def test_default_chunking_gives_each_field_entry_its_own_chunk():
    chunks = chunk_document(DATACLASS_MD, source="s", rel_path="jobs.md", config=DEFAULT_CHUNKING)
    by_field = {c.heading_path[-1]: c for c in chunks if len(c.heading_path) == 2}
    assert set(by_field) == {"max_concurrent_runs", "timeout_seconds", "queue"}
    runs = by_field["max_concurrent_runs"]
    assert "cannot exceed 1000" in runs.text and "timeout" not in runs.text
    # the embedded text starts with where the field lives, then the field itself
    assert runs.embed_text.startswith(
        "`databricks.sdk.service.jobs` data classes and enums > Data class `JobSettings` > max_concurrent_runs\n")
    assert all(len(c.text) <= DEFAULT_CHUNKING.max_chars for c in chunks)
