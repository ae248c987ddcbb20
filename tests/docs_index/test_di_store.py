"""The incremental build: unchanged chunks are not embedded again, removed files drop out."""

from __future__ import annotations

from docs_index.chunking import ChunkingConfig
from docs_index.layout import IndexLayout
from docs_index.lexical import LexicalIndex
from docs_index.sources import DirectorySource
from docs_index.store import DEFAULT_CHUNKING, build_index


def _file_chunks(docs_dir, rel):
    return [c for c in DirectorySource(docs_dir).scan(DEFAULT_CHUNKING).chunks if c.path == rel]


def test_rebuild_embeds_only_the_changed_file(docs_dir, tmp_path, embedding_model):
    index = tmp_path / "index"
    first = build_index([str(docs_dir)], index)
    assert first.files == 4
    assert first.embedded == first.chunks >= 4
    assert sorted(p for p, _ in first.skipped_files) == ["empty.md", "image.md"]

    again = build_index([str(docs_dir)], index)
    assert (again.embedded, again.skipped, again.removed) == (0, first.chunks, 0)

    target = docs_dir / "clusters" / "autoscale.md"
    target.write_text(target.read_text() + "\n## Scale down\n\nIdle workers are removed after "
                      "ten minutes without tasks.\n")
    changed = build_index([str(docs_dir)], index)
    n_file = len(_file_chunks(docs_dir, "clusters/autoscale.md"))
    assert changed.embedded_by_file == {"clusters/autoscale.md": changed.embedded}
    assert 1 <= changed.embedded <= n_file
    assert changed.skipped == changed.chunks - changed.embedded
    assert changed.chunks == first.chunks + (changed.chunks - first.chunks)


def test_removed_file_drops_its_chunks(docs_dir, tmp_path, embedding_model):
    index = tmp_path / "index"
    first = build_index([str(docs_dir)], index)
    n_secrets = len(_file_chunks(docs_dir, "secrets.rst"))
    (docs_dir / "secrets.rst").unlink()
    second = build_index([str(docs_dir)], index)
    assert second.removed == n_secrets > 0
    assert second.embedded == 0
    assert second.chunks == first.chunks - n_secrets
    lexical = LexicalIndex.load(IndexLayout.at(index).lexical_dir)
    assert "secrets.rst" not in {m["path"] for m in lexical.metadatas}

    from retriever import Retriever

    hits = Retriever(index).search("secret scope permissions WRITE MANAGE", k=10)
    assert hits and all(h.path != "secrets.rst" for h in hits)


def test_changed_chunking_or_sources_rebuild_consistently(docs_dir, tmp_path, embedding_model):
    index = tmp_path / "index"
    build_index([str(docs_dir)], index)
    manifest = IndexLayout.at(index).read_manifest()
    assert manifest["sources"] == [str(docs_dir)]
    assert manifest["model_id"].startswith("all-MiniLM-L6-v2@")
    # no sources named: the previous build's sources are reused
    again = build_index(None, index, chunking=ChunkingConfig(max_chars=300, overlap=40, pack=True))
    assert again.files == 4 and again.embedded > 0
    assert IndexLayout.at(index).read_manifest()["chunking"]["max_chars"] == 300


def test_changed_model_settings_re_embed_everything(docs_dir, tmp_path, embedding_model):
    index = tmp_path / "index"
    first = build_index([str(docs_dir)], index, max_seq_length=128)
    second = build_index([str(docs_dir)], index, max_seq_length=64)
    assert second.embedded == second.chunks == first.chunks and second.removed == 0
    assert IndexLayout.at(index).read_manifest()["model_id"].endswith("/seq64")

    from retriever import Retriever

    assert Retriever(index).search("secret scope permissions", k=1)[0].path == "secrets.rst"
