"""The JobSettings field tree comes from a cache file, so `lead submit` does not import the SDK.

Each check runs the real reader in a fresh interpreter (this test process may have imported
the SDK already) with ``JOB_AGENT_HOME`` pointing at a temporary directory, so the cache
file is ours alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lead import sdk_fields

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "nightly-sales.md"
SDK_MODULE = "databricks.sdk.service.jobs"

PROBE = """
import json, sys
from pathlib import Path
from lead.errors import RequirementsError
from lead.requirements import load_requirements
doc = load_requirements(Path(sys.argv[1]))
try:
    load_requirements(Path(sys.argv[2]))
    error = None
except RequirementsError as exc:
    error = str(exc)
print(json.dumps({"sdk_imported": %r in sys.modules, "specs": [s.key for s in doc.task_specs], "error": error}))
""" % SDK_MODULE


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private JOB_AGENT_HOME (so the cache file is under it), here and in subprocesses."""
    home = tmp_path / "home"
    monkeypatch.setenv("JOB_AGENT_HOME", str(home))
    return home


@pytest.fixture
def bad_job(tmp_path) -> Path:
    """A file with a misspelled nested field: the check must still find it from the cache."""
    path = tmp_path / "bad.md"
    path.write_text(
        "---\nworkspace_root: /Workspace/x\n---\n```yaml\njobs:\n  j:\n    tasks:\n"
        "      - task_key: a\n        notebook_task: {notebook_pathh: /x}\n```\n"
    )
    return path


def probe(bad_job: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLE), str(bad_job)],
        capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), check=True,
    )
    return json.loads(out.stdout)


def test_first_read_builds_the_cache_and_later_reads_do_not_import_the_sdk(home, bad_job):
    path = sdk_fields.cache_path()
    assert path.parent == home / "cache"
    assert not path.exists()
    cold = probe(bad_job)
    assert cold["sdk_imported"] is True
    assert path.exists()
    warm = probe(bad_job)
    assert warm["sdk_imported"] is False
    assert warm["specs"] == cold["specs"] and warm["specs"]
    assert warm["error"] == cold["error"]
    assert "unknown job field 'notebook_pathh' (NotebookTask has no such field; did you mean 'notebook_path'?)" in warm["error"]


def test_cache_holds_what_the_sdk_gives(home):
    derived = sdk_fields.derive()
    assert sdk_fields.write_cache(derived, sdk_fields.cache_path())
    cached = sdk_fields.parse(json.loads(sdk_fields.cache_path().read_text()), sdk_fields.sdk_version())
    assert cached == derived
    tasks = cached.classes[cached.by_name["JobSettings"]].fields["tasks"]
    assert tasks == "list:class:" + cached.by_name["Task"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "\xff\xfe garbage",
        json.dumps({"format": 1, "sdk_version": "0.0.0", "by_name": {}, "classes": {}}),
        "REPLACE_WITH_DANGLING_SHAPE",
        json.dumps([1, 2, 3]),
    ],
    ids=["truncated", "empty", "binary", "other-version", "dangling-class", "not-a-mapping"],
)
def test_a_corrupt_cache_is_rebuilt(home, bad_job, content):
    path = sdk_fields.cache_path()
    if content == "REPLACE_WITH_DANGLING_SHAPE":
        tree = sdk_fields.derive().to_json()
        root = tree["by_name"]["JobSettings"]
        tree["classes"][root]["fields"]["tasks"] = "list:class:no.such.Class"
        content = json.dumps(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content)
    result = probe(bad_job)
    assert result["sdk_imported"] is True  # rebuilt from the SDK
    assert "notebook_pathh" in result["error"]
    rebuilt = sdk_fields.parse(json.loads(path.read_text()), sdk_fields.sdk_version())
    assert rebuilt == sdk_fields.derive()
    assert probe(bad_job)["sdk_imported"] is False  # and used from then on
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_an_unwritable_cache_dir_still_reads_the_file(tmp_path, monkeypatch, bad_job):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir would be")
    monkeypatch.setenv("JOB_AGENT_HOME", str(blocker))
    result = probe(bad_job)
    assert result["specs"] and "notebook_pathh" in result["error"]


def test_lead_submit_imports_no_sdk_with_a_warm_cache(home, tmp_path, bad_job):
    probe(bad_job)  # warms the cache
    cmd = [sys.executable, "-X", "importtime", "-m", "lead.cli", "submit", str(EXAMPLE),
           "--db", f"sqlite:///{tmp_path / 'state.db'}", "--progress-dir", str(tmp_path / "progress")]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")]
    assert "lead.requirements" in imported
    assert not [m for m in imported if m.startswith("databricks")]
