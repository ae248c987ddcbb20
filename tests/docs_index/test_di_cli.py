"""The docs-index command: build, search, stats and exit codes."""

from __future__ import annotations

import json

import pytest

from docs_index.cli import main


def run(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_build_search_stats(docs_dir, tmp_path, capsys, embedding_model):
    index = str(tmp_path / "idx")
    code, out, err = run(capsys, "build", "--source", str(docs_dir), "--index-dir", index)
    assert code == 0, err
    assert "files 4" in out and "embedded" in out and "seconds" in out
    assert "skipped image.md: binary file" in err

    code, out, _ = run(capsys, "search", "Which permission lets a user write secrets?",
                       "-k", "2", "--json", "--index-dir", index)
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 2 and hits[0]["path"] == "secrets.rst"
    assert set(hits[0]) == {"text", "source", "path", "title", "heading_path", "score"}

    code, out, _ = run(capsys, "stats", "--index-dir", index)
    assert code == 0 and "chunks" in out and "ok" in out

    code, out, _ = run(capsys, "build", "--index-dir", index)  # sources reused, nothing new
    assert code == 0 and "embedded 0" in out


def test_user_errors_exit_1(tmp_path, capsys):
    code, _, err = run(capsys, "build", "--source", str(tmp_path / "missing"),
                       "--index-dir", str(tmp_path / "i"))
    assert code == 1 and "not found" in err
    code, _, err = run(capsys, "search", "anything", "--index-dir", str(tmp_path / "none"))
    assert code == 1 and "docs-index build" in err
    code, _, err = run(capsys, "stats", "--index-dir", str(tmp_path / "none"))
    assert code == 1
    code, _, _ = run(capsys, "no-such-command")
    assert code == 1
