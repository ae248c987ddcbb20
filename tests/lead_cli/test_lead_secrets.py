"""`lead` never shows a secret: submit warnings, show and status (text and --json), progress files;
and a file without literal secrets gets no warning."""

from __future__ import annotations

from sqlmodel import Session

from state.engine import make_engine
from state.machine import transition
from state.progress import render_progress
from state.queue import claim_next

DAPI = "dapi" + "fedcba9876543210" * 2
PARAM = "svc-Zt4Qw8Ly2Nm6"
ENV = "pw-Bx7Kc3Vd9Fh1"
URL_PW = "Ur5Gt2Hy8Ju4"

SECRET_FILE = f"""\
---
title: With secrets
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
variables:
  db_url: postgres://etl:{URL_PW}@db.example.com/sales
---

```yaml
resources:
  jobs:
    etl:
      name: etl
      parameters:
        - name: api_token
          default: {PARAM}
      tasks:
        - task_key: load
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: 1
            spark_env_vars:
              SMTP_PASSWORD: {ENV}
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
            base_parameters:
              hint: {DAPI}
              db: ${{var.db_url}}
        - task_key: script
          existing_cluster_id: 0123-456789-abcdefgh
          spark_python_task:
            python_file: /Workspace/Shared/job-agent/files/run.py
            parameters: ["--user", "etl", "--password", "{ENV}x", "--jdbc=jdbc:x://h;pwd={PARAM}y"]
```
"""

CLEAN_FILE = """\
---
title: No secrets
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
---

```yaml
resources:
  jobs:
    etl:
      name: refresh token cache
      parameters:
        - name: api_token
          default: "{{secrets/etl/api_token}}"
        - name: source
          default: https://example.com/exports/sales.csv
      tasks:
        - task_key: token_refresh
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: 1
            spark_env_vars:
              SMTP_PASSWORD: "{{secrets/etl/smtp}}"
              LOG_LEVEL: INFO
          notebook_task:
            notebook_path: ${workspace.root_path}/notebooks/ingest
            base_parameters:
              batch: 0123456789abcdef0123456789abcdef
              secret_scope: etl
```
"""

SECRETS = (DAPI, PARAM, ENV, URL_PW)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _everything_shown(lead, workdir) -> str:
    outputs = []
    for args in (("status",), ("status", "--json"), ("status", "REQ-0001"), ("status", "REQ-0001", "--json"),
                 ("show", "T-0001"), ("show", "T-0001", "--json")):
        result = lead(*args)
        assert result.code == 0, result.err
        outputs.append(result.out + result.err)
    outputs += [p.read_text() for p in sorted((workdir / "progress").glob("*.md"))]
    return "\n".join(outputs)


def test_submit_warns_about_literal_secrets_and_nothing_shows_them(lead, workdir):
    req = workdir / "req.md"
    req.write_text(SECRET_FILE)
    result = lead("submit", str(req))
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("lead: warning: ")]
    assert [w.split(": ")[3] for w in warnings] == [
        "resources.jobs.etl.parameters[0].default",
        "resources.jobs.etl.tasks[0].new_cluster.spark_env_vars.SMTP_PASSWORD",
        "resources.jobs.etl.tasks[0].notebook_task.base_parameters.hint",
        "resources.jobs.etl.tasks[0].notebook_task.base_parameters.db",
        "resources.jobs.etl.tasks[1].spark_python_task.parameters[3]",
        "resources.jobs.etl.tasks[1].spark_python_task.parameters[4]",
    ]
    lines = [int(w.split(": ")[2].rsplit(":", 1)[1]) for w in warnings]
    assert lines == [_line(SECRET_FILE, f"default: {PARAM}"), _line(SECRET_FILE, "SMTP_PASSWORD"),
                     _line(SECRET_FILE, "hint:"), _line(SECRET_FILE, "db: ${var.db_url}")] + [_line(SECRET_FILE, "--password")] * 2
    assert all(w.startswith(f"lead: warning: {req}:") for w in warnings)
    assert "{{secrets/<scope>/<key>}}" in warnings[1] and "when the cluster starts" in warnings[1]
    assert "a Databricks token" in warnings[2] and "a URL with a password" in warnings[3]

    again = lead("submit", str(req), "--json")
    assert again.code == 0 and again.json()["warnings"] == [w.removeprefix("lead: warning: ") for w in warnings]

    shown = result.out + result.err + again.out + again.err + _everything_shown(lead, workdir)
    assert not [s for s in SECRETS if s in shown]
    payload = lead("show", "T-0001", "--json").json()["payload"]["settings"]
    assert payload["parameters"] == [{"name": "api_token", "default": "***"}]
    assert payload["tasks"][0]["notebook_task"]["base_parameters"] == {"hint": "***", "db": "postgres://etl:***@db.example.com/sales"}
    assert payload["tasks"][1]["spark_python_task"]["parameters"] == ["--user", "etl", "--password", "***", "--jdbc=jdbc:x://h;pwd=***"]


def test_no_warning_and_nothing_masked_without_literal_secrets(lead, workdir):
    req = workdir / "req.md"
    req.write_text(CLEAN_FILE)
    result = lead("submit", str(req), "--json")
    assert result.code == 0, result.err
    assert "warning" not in result.err and result.json()["warnings"] == []
    shown = lead("show", "T-0001", "--json").json()
    settings = shown["payload"]["settings"]
    assert settings["name"] == "refresh token cache"
    assert settings["parameters"] == [{"name": "api_token", "default": "{{secrets/etl/api_token}}"},
                                      {"name": "source", "default": "https://example.com/exports/sales.csv"}]
    assert settings["tasks"][0]["new_cluster"]["spark_env_vars"] == {"SMTP_PASSWORD": "{{secrets/etl/smtp}}", "LOG_LEVEL": "INFO"}
    assert settings["tasks"][0]["notebook_task"]["base_parameters"] == {"batch": "0123456789abcdef0123456789abcdef", "secret_scope": "etl"}
    assert "***" not in lead("show", "T-0001").out


def test_errors_and_event_reasons_are_masked_in_status_show_and_progress(lead, workdir):
    req = workdir / "req.md"
    req.write_text(CLEAN_FILE)
    assert lead("submit", str(req)).code == 0
    engine = make_engine(f"sqlite:///{workdir / 'state.db'}")
    try:
        claim = claim_next(engine, "w1", 60)
        with Session(engine) as session:
            transition(session, claim.task_id, "IN_PROGRESS", "FAILED", actor="w1", lease_owner="w1",
                       reason=f"jobs/create refused: token {DAPI} is invalid",
                       values={"error": f"cannot reach postgres://etl:{URL_PW}@db.example.com/sales with token {DAPI}"})
            session.commit()
            render_progress(session, workdir / "progress")
    finally:
        engine.dispose()
    shown = _everything_shown(lead, workdir)
    assert DAPI not in shown and URL_PW not in shown
    assert "cannot reach postgres://etl:***@db.example.com/sales with token ***" in shown
    assert "jobs/create refused: token *** is invalid" in shown
    status = lead("status", "REQ-0001", "--json").json()
    assert status["tasks"][0]["error"] == "cannot reach postgres://etl:***@db.example.com/sales with token ***"
