"""The shipped examples parse, decompose as documented, and reference the seeded paths; and
reading requirements does not pull in the heavy libraries."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from lead.requirements import load_requirements

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def workspace_paths(doc) -> set[str]:
    text = json.dumps([s.payload.get("settings", {}) for s in doc.task_specs])
    return set(re.findall(r'"(/Workspace/[^"]*)"', text))


def test_nightly_sales():
    doc = load_requirements(EXAMPLES / "nightly-sales.md")
    assert doc.title == "Nightly sales refresh"
    assert [(s.key, s.depends_on) for s in doc.task_specs] == [
        ("deploy_job:sales_nightly", ()),
        ("deploy_job:sales_backfill", ()),
        ("run_job:sales_nightly", ("deploy_job:sales_nightly",)),
    ]
    nightly = doc.task_specs[0].payload["settings"]
    assert nightly["name"] == "[dev] Nightly sales refresh"
    assert nightly["schedule"] == {"quartz_cron_expression": "0 30 2 * * ?", "timezone_id": "Europe/Amsterdam"}
    assert nightly["tasks"][2]["notebook_task"]["base_parameters"] == {"target_table": "main.sales.daily_orders"}
    assert {t["max_retries"] for t in nightly["tasks"]} == {2}
    assert nightly["parameters"][2] == {"name": "requested_by", "default": "${workspace.current_user.userName}"}
    backfill = doc.task_specs[1].payload["settings"]
    assert {t["max_retries"] for t in backfill["tasks"]} == {0}
    assert workspace_paths(doc) == {
        "/Workspace/Shared/job-agent/notebooks/ingest",
        "/Workspace/Shared/job-agent/notebooks/transform",
        "/Workspace/Shared/job-agent/notebooks/publish",
        "/Workspace/Shared/job-agent/scripts/cleanup.py",
    }


def test_orchestrated_jobs():
    doc = load_requirements(EXAMPLES / "orchestrated-jobs.md")
    assert [(s.key, s.depends_on) for s in doc.task_specs] == [
        ("deploy_job:sample_job", ()),
        ("deploy_job:example_job", ()),
        ("deploy_job:serverless_job", ()),
        ("deploy_job:leaf1", ()),
        ("deploy_job:leaf2", ()),
        ("deploy_job:primary", ("deploy_job:leaf1", "deploy_job:leaf2")),
        ("run_job:primary", ("deploy_job:primary",)),
    ]
    sample = doc.task_specs[0].payload["settings"]
    assert sample["parameters"] == [
        {"name": "catalog", "default": "main"},
        {"name": "schema", "default": "default_python_dev"},
    ]
    assert "pipeline_task" not in json.dumps(sample)
    primary = doc.task_specs[5].payload["settings"]
    assert [t["run_job_task"]["job_id"] for t in primary["tasks"]] == [
        "${resources.jobs.leaf1.id}",
        "${resources.jobs.leaf2.id}",
    ]
    assert workspace_paths(doc) == {
        "/Workspace/Shared/job-agent/files/src/sample_notebook",
        "/Workspace/Shared/job-agent/files/dist/default_python-0.0.1-py3-none-any.whl",
        "/Workspace/Shared/job-agent/files/src/hello",
        "/Workspace/Shared/job-agent/files/src/main.py",
        "/Workspace/Shared/job-agent/files/argv.py",
    }


def test_importing_lead_requirements_stays_light():
    code = (
        "import sys, lead.requirements, lead.decompose, lead.errors\n"
        "heavy = [m for m in ('databricks.sdk', 'litellm', 'chromadb', 'sentence_transformers', 'torch')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
