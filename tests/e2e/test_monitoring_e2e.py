"""Monitoring end to end: a scheduled monitor whose alert fires once across three occurrences
(real SMTP server), and `lead monitor run` through a real worker process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from sqlalchemy import select
from sqlmodel import Session
from test_remediation_e2e import inbox  # noqa: F401  (the aiosmtpd fixture)

from state.models import Task

FRONT = """\
---
title: Spend monitors
owner: finops@example.com
monitors:
  - name: spend
    template: top_cost_contributors
    parameters: {top_n: 3}
    every: 1s
    alerts:
      - {column: list_cost_usd, op: ">", value: 0, recipients: [finops@example.com]}
---

# Spend

Watch the biggest spenders.
"""


def test_an_alert_fires_once_across_three_occurrences(e2e, inbox):  # noqa: F811
    path = e2e.write("monitors.md", FRONT)
    code, _, err = e2e.lead("submit", str(path))
    assert code == 0, err
    engine = e2e.engine()
    done: list[Task] = []
    deadline = time.monotonic() + 120
    while len(done) < 3 and time.monotonic() < deadline:
        e2e.run_worker()
        with Session(engine) as session:
            done = list(session.execute(select(Task).where(Task.type == "monitor_query", Task.status == "COMPLETE")
                                        .order_by(Task.occurrence)).scalars())
        time.sleep(0.3)
    assert len(done) >= 3
    alerts = [t.result["alerts"][0] for t in done[:3]]
    assert [a["holds"] for a in alerts] == [True, True, True]
    assert [a["fired"] for a in alerts] == [True, False, False]
    assert len(inbox.messages) == 1 and inbox.recipients == [["finops@example.com"]]
    assert "spend" in inbox.messages[0]["Subject"]
    first = done[0].result
    assert first["columns"][:1] and "job_name" in first["columns"] and "list_cost_usd" in first["columns"]
    costs = [float(r[first["columns"].index("list_cost_usd")]) for r in first["rows"]]
    assert costs == sorted(costs, reverse=True) and len(costs) <= 3
    assert (e2e.root / "progress").exists()


def test_lead_monitor_run_waits_for_a_worker_and_prints_the_result(e2e):
    proc = e2e.spawn_worker("--poll-interval", "0.05", log_name="monitor-worker.log")
    try:
        result = subprocess.run([sys.executable, "-m", "lead.cli", "monitor", "run", "top_cost_contributors",
                                 "--param", "top_n=2", "--wait", "90", "--json"], cwd=e2e.root, env=e2e.worker_env(),
                                capture_output=True, text=True, timeout=120)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert result.returncode == 0, result.stderr + (e2e.root / "monitor-worker.log").read_text()[-2000:]
    data = json.loads(result.stdout)
    assert set(data) == {"template", "parameters", "columns", "rows", "row_count", "report"}
    assert data["template"] == "top_cost_contributors" and data["parameters"]["top_n"] == "2"
    assert len(data["rows"]) == data["row_count"] <= 2


def test_lead_monitor_run_says_when_no_worker_runs(e2e):
    code, out, err = e2e.lead("monitor", "run", "top_cost_contributors", "--wait", "1")
    assert code == 1 and "is a worker running" in err
    code, out, err = e2e.lead("monitor", "run", "top_cost_contributors", "--param", "top_n=abc", "--wait", "1")
    assert code == 1 and "top_n" in err


def test_lead_ask_waits_for_the_worker_and_prints_the_answer(e2e):
    proc = e2e.spawn_worker("--poll-interval", "0.05", log_name="ask-worker.log")
    try:
        time.sleep(5)  # the worker is up
        result = subprocess.run([sys.executable, "-m", "lead.cli", "ask",
                                 "Which jobs failed in the last 7 days and what did the failures cost?",
                                 "--wait", "90", "--json"], cwd=e2e.root, env=e2e.worker_env(),
                                capture_output=True, text=True, timeout=120)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert result.returncode == 0, result.stderr + (e2e.root / "ask-worker.log").read_text()[-2000:]
    data = json.loads(result.stdout)
    assert set(data["intents"]) >= {"cost", "reliability"}
    assert data["answer"].startswith("# Which jobs failed") and "nightly-orders-etl" in data["answer"]
    injected = subprocess.run([sys.executable, "-m", "lead.cli", "ask", "top 5 spenders for job '; DROP TABLE x; --",
                               "--dry-run", "--json"], cwd=e2e.root, env=e2e.worker_env(), capture_output=True, text=True)
    assert injected.returncode in (0, 1)
