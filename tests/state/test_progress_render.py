"""The progress markdown: its content, not just its existence."""

from __future__ import annotations

import yaml
from sqlmodel import Session

from state.machine import update_held, transition
from state.queue import claim_next
from state.progress import render_progress, write_atomic
from state_fixtures import Spec


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_board_and_requirement_page(engine, submit, tmp_path):
    result = submit(
        [
            Spec("deploy_job:a", title="deploy ingest"),
            Spec("deploy_job:b", title="deploy report", depends_on=("deploy_job:a",)),
            Spec("run_job:b", type="run_job", title="run report", depends_on=("deploy_job:b",)),
        ]
    )
    a, b, run_b = result.task_ids
    assert claim_next(engine, "w1", 60).task_id == a
    with Session(engine) as session:
        update_held(
            session,
            a,
            lease_owner="w1",
            values={
                "plan": {
                    "actions": [
                        {
                            "kind": "UPDATE",
                            "target": "job 42",
                            "summary": "2 fields",
                            "changes": [
                                {"field": "max_concurrent_runs", "before": 1, "after": 4, "citations": ["jobs.md › max_concurrent_runs"]},
                                {"field": "spark_env_vars.API_TOKEN", "before": "old-secret", "after": "new-secret"},
                            ],
                        }
                    ]
                },
                "result": {"job_id": 42, "job_url": "http://ws/jobs/42"},
            },
        )
        transition(session, a, "IN_PROGRESS", "FAILED", actor="w1", lease_owner="w1", values={"error": "tasks[0].notebook_task.notebook_path: no such notebook\nmore"})
        session.commit()
        out = tmp_path / "progress"
        paths = render_progress(session, out)
    assert sorted(p.name for p in paths) == ["README.md", "REQ-0001-nightly-sales.md"]

    board = (out / "README.md").read_text()
    assert "| [REQ-0001](REQ-0001-nightly-sales.md) | Nightly sales | FAILED | 1 | 2 | 0 | 0 | 1 | 0 |" in board

    page = (out / "REQ-0001-nightly-sales.md").read_text()
    front = _front_matter(page)
    assert front["id"] == "REQ-0001" and front["status"] == "FAILED"
    assert front["counts"] == {"PENDING": 2, "IN_PROGRESS": 0, "COMPLETE": 0, "FAILED": 1, "CANCELLED": 0}
    assert "| T-0001 | deploy_job | deploy ingest | FAILED |  | 1/3 | tasks[0].notebook_task.notebook_path: no such notebook |" in page
    assert "| T-0002 | deploy_job | deploy report | PENDING (blocked by T-0001) |" in page
    assert "| T-0003 | run_job | run report | PENDING (waiting on T-0002) |" in page
    assert '  T0001["T-0001 deploy_job<br/>deploy ingest"]:::failed' in page
    assert "  T0001 --> T0002" in page and "  T0002 --> T0003" in page
    assert "```diff\n# UPDATE job 42: 2 fields\n- max_concurrent_runs: 1\n+ max_concurrent_runs: 4" in page
    assert "Sources: jobs.md › max_concurrent_runs" in page
    assert "secret" not in page.replace("spark_env_vars", "")  # the token values are masked
    assert "+ spark_env_vars.API_TOKEN: ***" in page
    assert "[job](http://ws/jobs/42)" in page
    assert "| T-0001 | IN_PROGRESS → FAILED |  | w1 |" in page


def test_retitled_requirement_replaces_its_old_file(engine, submit, tmp_path):
    submit([Spec("deploy_job:a")], title="Old name")
    out = tmp_path / "p"
    with Session(engine) as session:
        render_progress(session, out)
    submit([Spec("deploy_job:a")], sha="b", title="New name")
    with Session(engine) as session:
        render_progress(session, out)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "REQ-0001-new-name.md"]


def test_write_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "x" / "f.md"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.md"]
