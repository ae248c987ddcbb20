"""The `lead` command end to end: submit, status, show, retry, cancel; exit codes; all-or-nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import Session

from state.engine import make_engine
from state.machine import transition
from state.queue import claim_next

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD = """\
---
title: Two jobs
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
variables:
  catalog: main
run_after_deploy: [report]
---

# Two jobs

```yaml
resources:
  jobs:
    ingest:
      name: ingest ${var.catalog}
      tasks:
        - task_key: load
          notebook_task:
            notebook_path: ${workspace.root_path}/notebooks/ingest
    report:
      name: report
      tasks:
        - task_key: run_ingest
          run_job_task:
            job_id: ${resources.jobs.ingest.id}
```
"""

def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# (name, broken text, the text on the line at fault, expected field fragment)
BROKEN = [
    ("malformed front matter", GOOD.replace("owner: me@example.com", "owner: [me@example.com"), "workspace_root:", ""),
    ("invalid yaml", GOOD.replace("      name: report\n", "      name: report\n     bad: [\n"), "bad: [", ""),
    ("unknown job field", GOOD.replace("      name: report\n", "      name: report\n      max_concurent_runs: 2\n"), "max_concurent_runs", "resources.jobs.report.max_concurent_runs"),
    ("undefined variable", GOOD.replace("${var.catalog}", "${var.catalogue}"), "${var.catalogue}", "resources.jobs.ingest.name"),
    ("missing job", GOOD.replace("${resources.jobs.ingest.id}", "${resources.jobs.ingestt.id}"), "ingestt", "resources.jobs.report.tasks[0].run_job_task.job_id"),
    (
        "cycle",
        GOOD.replace(
            "            notebook_path: ${workspace.root_path}/notebooks/ingest\n",
            "            notebook_path: ${workspace.root_path}/notebooks/ingest\n        - task_key: back\n          run_job_task:\n            job_id: ${resources.jobs.report.id}\n",
        ),
        None,
        "resources.jobs",
    ),
]


def _db_rows(workdir: Path) -> dict[str, int]:
    db = workdir / "state.db"
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("requirement", "task", "task_dependency", "task_event")}


def test_submit_prints_tasks_records_them_and_renders_progress(lead, workdir):
    (workdir / "req.md").write_text(GOOD)
    result = lead("submit", "req.md")
    assert result.code == 0, result.err
    assert "REQ-0001 created: 3 tasks PENDING" in result.out
    assert "T-0001  deploy_job  Deploy job ingest (ingest main)" in result.out
    status = lead("status", "--json")
    assert status.code == 0
    (board_row,) = status.json()
    assert board_row["id"] == "REQ-0001" and board_row["counts"]["PENDING"] == 3
    tasks = lead("status", "REQ-0001", "--json").json()["tasks"]
    assert [(t["id"], t["status"], t["depends_on"]) for t in tasks] == [
        ("T-0001", "PENDING", []),
        ("T-0002", "PENDING", ["T-0001"]),
        ("T-0003", "PENDING", ["T-0002"]),
    ]
    page = (workdir / "progress" / "REQ-0001-two-jobs.md").read_text()
    assert "```mermaid" in page and "T0001 --> T0002" in page and "T0002 --> T0003" in page
    assert "| [REQ-0001](REQ-0001-two-jobs.md) | Two jobs | OPEN | 1 | 3 |" in (workdir / "progress" / "README.md").read_text()


def test_resubmitting_the_same_file_creates_nothing(lead, workdir):
    (workdir / "req.md").write_text(GOOD)
    assert lead("submit", "req.md").code == 0
    before = _db_rows(workdir)
    again = lead("submit", "req.md", "--json")
    assert again.code == 0 and again.json()["outcome"] == "unchanged"
    assert _db_rows(workdir) == before


def test_changed_file_makes_a_revision_and_cancels_pending_tasks(lead, workdir):
    (workdir / "req.md").write_text(GOOD)
    lead("submit", "req.md")
    (workdir / "req.md").write_text(GOOD.replace("name: report", "name: weekly report"))
    result = lead("submit", "req.md", "--json")
    data = result.json()
    assert (data["outcome"], data["revision"], data["cancelled"]) == ("revised", 2, ["T-0001", "T-0002", "T-0003"])
    assert [t["id"] for t in data["tasks"]] == ["T-0004", "T-0005", "T-0006"]


@pytest.mark.parametrize(("name", "text", "line", "field"), BROKEN, ids=[b[0] for b in BROKEN])
def test_bad_input_is_one_line_exit_1_and_writes_nothing(lead, workdir, name, text, line, field):
    (workdir / "ok.md").write_text(GOOD.replace("Two jobs", "Other"))
    assert lead("submit", "ok.md").code == 0
    before = _db_rows(workdir)
    (workdir / "req.md").write_text(text)
    result = lead("submit", "req.md")
    assert result.code == 1
    message = result.err.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("lead: error: req.md:")
    if line is not None:
        assert message.startswith(f"lead: error: req.md:{_line(text, line)}:"), message
    assert field in message
    assert "Traceback" not in result.err
    assert _db_rows(workdir) == before


def test_show_retry_and_cancel(lead, workdir):
    (workdir / "req.md").write_text(GOOD)
    lead("submit", "req.md")
    engine = make_engine()
    claim = claim_next(engine, "w1", 60)
    with Session(engine) as session:
        transition(session, claim.task_id, "IN_PROGRESS", "FAILED", actor="w1", lease_owner="w1", values={"error": "boom"})
        session.commit()
    shown = lead("show", "T-0001", "--json").json()
    assert shown["status"] == "FAILED" and shown["error"] == "boom"
    assert shown["payload"]["job_key"] == "ingest"
    assert [e["to_status"] for e in shown["events"]] == ["PENDING", "IN_PROGRESS", "FAILED"]
    assert "blocked by T-0001" in lead("status", "REQ-0001").out

    refused = lead("retry", "T-0002")
    assert refused.code == 1 and "expected FAILED, but it is PENDING" in refused.err

    assert lead("retry", "T-0001").code == 0
    again = lead("show", "T-1", "--json").json()
    assert (again["status"], again["attempts"], again["error"]) == ("PENDING", 0, None)

    cancelled = lead("cancel", "REQ-0001", "--json").json()
    assert cancelled == {"cancelled": ["T-0001", "T-0002", "T-0003"], "running": []}
    assert lead("cancel", "T-0001").code == 1  # already CANCELLED
    assert lead("status", "REQ-0001", "--json").json()["status"] == "CANCELLED"


def test_unknown_ids_and_bad_flags_are_user_errors(lead, workdir):
    assert lead("show", "T-0042").code == 1
    assert lead("show", "REQ-1").code == 1
    assert lead("status", "--nope").code == 1
    missing = lead("submit", "nope.md")
    assert missing.code == 1 and "nope.md: cannot read" in missing.err


def test_examples_submit(lead, workdir):
    for example in sorted(EXAMPLES.glob("*.md")):
        result = lead("submit", str(example), "--json")
        assert result.code == 0, result.err
        assert result.json()["outcome"] == "created"
        types = {t["type"] for t in result.json()["tasks"]}
        assert types >= ({"monitor_query"} if example.name == "monitoring.md" else {"deploy_job", "run_job"})
