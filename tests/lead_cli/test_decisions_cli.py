"""The decision log commands: list, feedback, export (corrected labels win), stats; and the
front matter's remediation block reaching the run_job and watch_runs tasks."""

from __future__ import annotations

import json

from sqlmodel import Session

from state.decisions import record_decision
from state.engine import make_engine, writer


def _decide(workdir, run_id: int, category: str, remediation: str, message: str) -> None:
    engine = make_engine(f"sqlite:///{workdir / 'state.db'}")
    with Session(writer(engine)) as session:
        record_decision(session, "https://ws", run_id, 0, job_id=7, job_name="Nightly", inputs_digest="x", message=message,
                        category=category, remediation=remediation, confidence=0.9, evidence=message, layer="signature",
                        priority="high", reason="test", detail={}, status="APPLIED")
        session.commit()
    engine.dispose()


def test_feedback_corrects_a_decision_and_wins_in_export_and_stats(lead, workdir):
    _decide(workdir, 11, "network", "RETRY", "java.net.UnknownHostException: db.internal")
    _decide(workdir, 12, "resource", "RETRY_WITH_NEW_PARAMS", "java.lang.OutOfMemoryError: Java heap space")
    listed = lead("decisions", "--json").json()
    assert [(d["id"], d["run_id"], d["remediation"]) for d in listed] == [("D-0002", 12, "RETRY_WITH_NEW_PARAMS"),
                                                                          ("D-0001", 11, "RETRY")]
    result = lead("feedback", "D-0001", "--action", "notify_owner", "--note", "a misconfigured host: the owner fixes it")
    assert result.code == 0, result.err
    assert "D-0001: recorded NOTIFY_OWNER" in result.out
    assert lead("feedback", "D-0009", "--action", "RETRY").code == 1
    assert lead("feedback", "D-0001", "--action", "REBOOT").code == 1
    assert lead("feedback", "D-0001", "--action", "RETRY", "--category", "weather").code == 1

    lines = [json.loads(line) for line in lead("decisions", "export", "--format", "jsonl").out.splitlines()]
    labels = [json.loads(example["messages"][-1]["content"]) for example in lines]
    assert labels == [{"category": "network", "remediation": "NOTIFY_OWNER"},
                      {"category": "resource", "remediation": "RETRY_WITH_NEW_PARAMS"}]
    assert lines[0]["messages"][1] == {"role": "user", "content": "java.net.UnknownHostException: db.internal"}
    stats = lead("decisions", "stats", "--json").json()
    assert stats["network"]["reviewed"] == 1 and stats["network"]["remediation_accuracy"] == 0.0
    assert stats["resource"]["reviewed"] == 0 and stats["resource"]["remediation_accuracy"] is None
    assert lead("decisions", "export", "--format", "csv").code == 1


def test_corrections_reach_the_classifier_as_labelled_examples(workdir):
    from state.decisions import corrections, record_feedback

    _decide(workdir, 21, "network", "RETRY", "java.net.UnknownHostException: db.internal")
    engine = make_engine(f"sqlite:///{workdir / 'state.db'}")
    with Session(writer(engine)) as session:
        record_feedback(session, 1, remediation="NOTIFY_OWNER", category=None, note=None)
        session.commit()
        assert corrections(session) == [{"message": "java.net.UnknownHostException: db.internal", "category": "network",
                                          "remediation": "NOTIFY_OWNER"}]


def test_the_remediation_block_is_checked_and_wired_into_the_tasks(lead, workdir):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "examples" / "remediation.md").read_text()
    bad = text.replace("per_run: 2", "per_run: many")
    (workdir / "bad.md").write_text(bad)
    result = lead("submit", str(workdir / "bad.md"))
    assert result.code == 1
    assert "remediation.budget.per_run" in result.err and f"bad.md:{bad.splitlines().index('    per_run: many                       # repairs of one run before escalating') + 1}" in result.err

    watched = text.replace("  budget:", "  watch: {every: 10m, scope: owned}\n  budget:", 1)
    (workdir / "req.md").write_text(watched)
    result = lead("submit", str(workdir / "req.md"), "--json")
    assert result.code == 0, result.err
    show = {t["type"]: t for t in result.json()["tasks"]}
    assert "watch_runs" in show
    watch = lead("show", show["watch_runs"]["id"], "--json").json()
    assert watch["schedule"] == {"every_seconds": 600.0}
    assert watch["payload"]["scope"] == "owned" and watch["payload"]["remediation"]["escalate_to"] == "oncall@example.com"
    run = lead("show", show["run_job"]["id"], "--json").json()
    assert run["payload"]["remediation"]["enabled"] is True
