"""`lead export`: both examples export to bundles the schema accepts, and the round trip
(export, then submit the exported jobs under the same bundle and target) plans NO_OP for
every job against the sandbox workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from bundle_schema import check_bundle
from bundle_helpers import REPO
from sqlalchemy import select
from sqlmodel import Session

from state.models import Task

EXAMPLES = {
    "nightly-sales.md": ("nightly_sales", ["sales_backfill", "sales_nightly"]),
    "orchestrated-jobs.md": ("job_agent_examples", ["example_job", "leaf1", "leaf2", "primary", "sample_job", "serverless_job"]),
}


def roundtrip_requirements(bundle_dir: Path) -> str:
    """A requirements file holding the exported bundle: front matter with the bundle's name,
    default target and workspace root; `databricks.yml` and each resource file as yaml blocks."""
    main_text = (bundle_dir / "databricks.yml").read_text()
    main = yaml.safe_load(main_text)
    target = next(iter(main["targets"]))
    front = (f"---\ntitle: Round trip\nbundle: {main['bundle']['name']}\ntarget: {target}\n"
             f"workspace_root: {main['workspace']['root_path']}\n---\n\n# Round trip\n\n")
    blocks = [main_text] + [p.read_text() for p in sorted((bundle_dir / "resources").glob("*.job.yml"))]
    return front + "".join(f"```yaml\n{text}```\n\n" for text in blocks)


def deploy_tasks(e2e, revision: int) -> list[Task]:
    with Session(e2e.engine()) as session:
        return list(session.execute(
            select(Task).where(Task.type == "deploy_job", Task.revision == revision).order_by(Task.id)
        ).scalars())


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_export_passes_the_schema_and_round_trips_to_no_op(e2e, schema, example):
    bundle, jobs = EXAMPLES[example]
    code, out, err = e2e.lead("submit", str(REPO / "examples" / example))
    assert code == 0, err
    assert e2e.run_worker().get("FAILED", 0) == 0
    first = deploy_tasks(e2e, 1)
    assert first and all(t.status == "COMPLETE" for t in first)

    out_dir = e2e.root / "bundle"
    code, out, err = e2e.lead("export", "REQ-0001", "--bundle", str(out_dir), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["bundle"], data["target"], sorted(data["jobs"])) == (bundle, "dev", jobs)
    assert sorted(data["files"]) == ["databricks.yml"] + [f"resources/{j}.job.yml" for j in jobs]
    assert check_bundle(out_dir, schema) == []
    main = yaml.safe_load((out_dir / "databricks.yml").read_text())
    assert main["bundle"] == {"name": bundle}
    assert main["workspace"]["root_path"] == "/Workspace/Shared/job-agent"
    assert main["targets"] == {"dev": {"default": True}}
    assert main["include"] == ["resources/*.job.yml"]
    texts = {j: (out_dir / "resources" / f"{j}.job.yml").read_text() for j in jobs}
    assert all("job_agent_key" not in t for t in texts.values())
    for j, text in texts.items():
        assert list(yaml.safe_load(text)["resources"]["jobs"]) == [j]

    # Round trip: the exported jobs, submitted as the same bundle/target, change nothing.
    path = e2e.write("roundtrip.md", roundtrip_requirements(out_dir))
    code, out, err = e2e.lead("submit", str(path), "--json")
    assert code == 0, err
    assert (json.loads(out)["requirement"], json.loads(out)["revision"]) == ("REQ-0001", 2)
    assert e2e.run_worker().get("FAILED", 0) == 0
    second = deploy_tasks(e2e, 2)
    assert sorted(t.payload["job_key"] for t in second) == jobs
    for task in second:
        assert task.status == "COMPLETE", (task.payload["job_key"], task.error)
        assert [a["kind"] for a in task.plan["actions"]] == ["NO_OP"], (task.payload["job_key"], task.plan)
        assert task.result["job_id"] == next(t.result["job_id"] for t in first if t.payload["job_key"] == task.payload["job_key"])

    # Exporting the round-tripped revision writes the same jobs again.
    again = e2e.root / "again"
    assert e2e.lead("export", "REQ-0001", "--bundle", str(again))[0] == 0
    for j in jobs:
        assert (again / "resources" / f"{j}.job.yml").read_text() == texts[j]


def test_references_and_variables_are_kept_as_written(e2e, schema):
    assert e2e.lead("submit", str(REPO / "examples" / "orchestrated-jobs.md"))[0] == 0
    out_dir = e2e.root / "b"
    assert e2e.lead("export", "REQ-0001", "--bundle", str(out_dir))[0] == 0
    main = yaml.safe_load((out_dir / "databricks.yml").read_text())
    assert main["variables"] == {"catalog": {"default": "main"}, "schema": {"default": "default_python_${bundle.target}"}}
    primary = yaml.safe_load((out_dir / "resources" / "primary.job.yml").read_text())["resources"]["jobs"]["primary"]
    assert [t["run_job_task"]["job_id"] for t in primary["tasks"]] == ["${resources.jobs.leaf1.id}", "${resources.jobs.leaf2.id}"]
    sample = yaml.safe_load((out_dir / "resources" / "sample_job.job.yml").read_text())["resources"]["jobs"]["sample_job"]
    assert sample["parameters"] == [{"name": "catalog", "default": "${var.catalog}"}, {"name": "schema", "default": "${var.schema}"}]
    assert sample["environments"][0]["spec"]["dependencies"] == ["${workspace.file_path}/dist/default_python-0.0.1-py3-none-any.whl"]
    # a relative path is written resolved (the bundle has no src/ folder of its own); defaults are merged
    assert sample["tasks"][0]["notebook_task"]["notebook_path"] == "/Workspace/Shared/job-agent/files/src/sample_notebook"
    assert sample["tasks"][0]["max_retries"] == 1
    assert sample["tags"] == {"project": "job-agent-examples"}


def test_refuses_a_non_empty_directory_unless_forced(e2e):
    assert e2e.lead("submit", str(REPO / "examples" / "nightly-sales.md"))[0] == 0
    out_dir = e2e.root / "proj"
    out_dir.mkdir()
    (out_dir / "README.md").write_text("mine\n")
    (out_dir / "resources").mkdir()
    (out_dir / "resources" / "stale.job.yml").write_text("old\n")
    code, out, err = e2e.lead("export", "REQ-0001", "--bundle", str(out_dir))
    assert code == 1 and out == ""
    assert "is not empty" in err and "--force" in err and "Traceback" not in err
    assert sorted(p.name for p in out_dir.rglob("*")) == ["README.md", "resources", "stale.job.yml"]

    code, out, err = e2e.lead("export", "REQ-0001", "--bundle", str(out_dir), "--force")
    assert code == 0, err
    assert (out_dir / "README.md").read_text() == "mine\n"
    assert sorted(p.name for p in (out_dir / "resources").iterdir()) == ["sales_backfill.job.yml", "sales_nightly.job.yml"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["README.md", "databricks.yml", "resources"]


def test_user_mistakes_exit_1_and_write_nothing(e2e, tmp_path):
    code, out, err = e2e.lead("export", "REQ-0009", "--bundle", str(tmp_path / "x"))
    assert (code, out) == (1, "") and "no requirement REQ-0009" in err
    code, out, err = e2e.lead("export", "banana", "--bundle", str(tmp_path / "x"))
    assert code == 1 and "Traceback" not in err
    assert e2e.lead("submit", str(REPO / "examples" / "nightly-sales.md"))[0] == 0
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, out, err = e2e.lead("export", "REQ-0001", "--bundle", str(a_file))
    assert code == 1 and "not a directory" in err
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]


def test_a_literal_secret_is_written_masked_and_reported(e2e):
    text = """\
---
title: Secret job
bundle: secrets_demo
workspace_root: /Workspace/Shared/job-agent
---

```yaml
resources:
  jobs:
    etl:
      parameters:
        - name: api_token
          default: dapi0123456789abcdef0123456789abcdef
        - name: day
          default: monday
      tasks:
        - task_key: main
          notebook_task:
            notebook_path: ${workspace.root_path}/notebooks/ingest
```
"""
    assert e2e.lead("submit", str(e2e.write("secret.md", text)))[0] == 0
    code, out, err = e2e.lead("export", "REQ-0001", "--bundle", str(e2e.root / "b"), "--json")
    assert code == 0, err
    assert json.loads(out)["masked"] == ["etl.parameters[0].default"]
    assert "etl.parameters[0].default looks like a secret" in err
    written = (e2e.root / "b" / "resources" / "etl.job.yml").read_text()
    assert "dapi0123456789" not in written and "dapi0123456789" not in out + err
    job = yaml.safe_load(written)["resources"]["jobs"]["etl"]
    assert job["parameters"] == [{"name": "api_token", "default": "***"}, {"name": "day", "default": "monday"}]
