"""Secrets never shown: a requirements file with literal secrets of every kind, submitted, run
by a real `worker --sandbox --until-idle`, revised and run again; no secret appears in any
output of `lead submit`, `lead status`, `lead show` (text or `--json`), the worker's log or the
progress files, while references, ids, tokens and ordinary URLs stay readable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from lead.cli import app
from lead.cli_runner import run_cli

HEX = "0123456789abcdef0123456789abcdef"
# one fake secret of each kind the issue names (and their replacements in revision 2)
PARAM_DEFAULT = "svc-Q7mZ2pLx9TkV"           # default of a job parameter named service_token
ENV_VAR = "pw-Hv3Nq8Rw2Ys5"                  # spark_env_vars DB_PASSWORD
DAPI = "dapi" + HEX                          # a Databricks token under an innocent key
URL_PASSWORD = "Xk4Jm8Pq2Wz6"                # postgres://etl_user:<this>@db.example.com/sales
JDBC_PASSWORD = "Jd7Lr3Nv9Bc1"               # ...;password=<this> in a JDBC URL
REVISED = {
    PARAM_DEFAULT: "svc-R8nA3qMy0UlW",
    ENV_VAR: "pw-Iw4Or9Sx3Zt6",
    DAPI: "dapi" + HEX[::-1],
    URL_PASSWORD: "Yl5Kn9Qr3Xa7",
    JDBC_PASSWORD: "Ke8Ms4Ow0Cd2",
}
SECRETS = [PARAM_DEFAULT, ENV_VAR, DAPI, URL_PASSWORD, JDBC_PASSWORD, *REVISED.values()]

# what must stay visible
REFERENCE = "{{secrets/etl/api_key}}"
PLAIN_URL = "https://example.com/exports/sales.csv?format=csv"

REQUIREMENTS = f"""\
---
title: Secrets everywhere
owner: data-eng@example.com
workspace_root: /Workspace/Shared/job-agent
run_after_deploy: [loader]
---

# Secrets everywhere

```yaml
resources:
  jobs:
    loader:
      name: loader
      parameters:
        - name: service_token
          default: {PARAM_DEFAULT}
        - name: region
          default: eu-west-1
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: 1
            spark_env_vars:
              DB_PASSWORD: {ENV_VAR}
              API_KEY: "{REFERENCE}"
      tasks:
        - task_key: load
          job_cluster_key: main
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
            base_parameters:
              region_hint: {DAPI}
              source_db: postgres://etl_user:{URL_PASSWORD}@db.example.com:5432/sales
              target_jdbc: jdbc:sqlserver://sql.example.com:1433;database=dw;user=etl;password={JDBC_PASSWORD}
              export_url: {PLAIN_URL}
```
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
    env.update(
        JOB_AGENT_DB=f"sqlite:///{root / 'state.db'}",
        JOB_AGENT_PROGRESS_DIR=str(root / "progress"),
        JOB_AGENT_HOME=str(root / ".job-agent"),
    )
    return env


def _lead(root: Path, *args: str) -> tuple[int, str, str]:
    """The real `lead` CLI in this process against the temp database; (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    extra = ["--db", f"sqlite:///{root / 'state.db'}"]
    if args[0] == "submit":
        extra += ["--progress-dir", str(root / "progress")]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(app, "lead", [*args, *extra])
    return code, out.getvalue(), err.getvalue()


def _worker(root: Path) -> subprocess.CompletedProcess:
    """`worker --sandbox --until-idle` as its own process (its log is stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "--sandbox", "--until-idle", "--no-citations",
         "--poll-interval", "0.05", "--sandbox-clock-speed", "3600"],
        cwd=root, env=_env(root), capture_output=True, text=True, timeout=300,
    )


def _assert_no_secret(where: str, text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{where} shows {leaked}"


def _look_at_everything(root: Path, shown: list[tuple[str, str]]) -> dict[str, dict]:
    """Run status and show (text and --json) for everything; collect outputs; return show JSONs."""
    shows = {}
    for args in (["status"], ["status", "--json"], ["status", "REQ-0001"], ["status", "REQ-0001", "--json"]):
        code, out, err = _lead(root, *args)
        assert code == 0, err
        shown.append((" ".join(args), out + err))
    tasks = json.loads(_lead(root, "status", "REQ-0001", "--json")[1])["tasks"]
    for task in tasks:
        for as_json in (False, True):
            args = ["show", task["id"]] + (["--json"] if as_json else [])
            code, out, err = _lead(root, *args)
            assert code == 0, err
            shown.append((" ".join(args), out + err))
            if as_json:
                shows[task["id"]] = json.loads(out)
    return shows


def test_secrets_never_shown_by_lead_worker_or_progress(tmp_path):
    root = tmp_path
    req = root / "secrets.md"
    req.write_text(REQUIREMENTS)
    shown: list[tuple[str, str]] = []

    # -- submit: warnings name the file, the line and the field; --json carries them too
    code, out, err = _lead(root, "submit", str(req))
    assert code == 0, err
    shown.append(("submit", out + err))
    warnings = [line for line in err.splitlines() if line.startswith("lead: warning: ")]
    expected = {
        (_line(REQUIREMENTS, f"default: {PARAM_DEFAULT}"), "resources.jobs.loader.parameters[0].default"),
        (_line(REQUIREMENTS, "DB_PASSWORD:"), "resources.jobs.loader.job_clusters[0].new_cluster.spark_env_vars.DB_PASSWORD"),
        (_line(REQUIREMENTS, "region_hint:"), "resources.jobs.loader.tasks[0].notebook_task.base_parameters.region_hint"),
        (_line(REQUIREMENTS, "source_db:"), "resources.jobs.loader.tasks[0].notebook_task.base_parameters.source_db"),
        (_line(REQUIREMENTS, "target_jdbc:"), "resources.jobs.loader.tasks[0].notebook_task.base_parameters.target_jdbc"),
    }
    found = set()
    for line in warnings:
        match = re.match(rf"lead: warning: {re.escape(str(req))}:(\d+): (\S+): (.*)$", line)
        assert match, line
        found.add((int(match.group(1)), match.group(2)))
        assert "{{secrets/<scope>/<key>}}" in match.group(3)
    assert found == expected, warnings
    assert "service_token" in err and "a Databricks token" in err and "a URL with a password" in err
    assert "API_KEY" not in err and "region" not in [w.split(": ")[1].rsplit(".", 1)[-1] for w in warnings]

    code, out, err = _lead(root, "submit", str(req), "--json")  # unchanged: still warned
    assert code == 0, err
    shown.append(("submit --json", out + err))
    data = json.loads(out)
    assert data["outcome"] == "unchanged" and len(data["warnings"]) == len(expected)
    assert all(w.startswith(f"{req}:") for w in data["warnings"])

    # -- the worker deploys and runs the job in the sandbox
    worker = _worker(root)
    assert worker.returncode == 0, worker.stderr[-3000:]
    shown.append(("worker log", worker.stdout + worker.stderr))
    shows = _look_at_everything(root, shown)
    deploy, run = shows["T-0001"], shows["T-0002"]
    assert deploy["status"] == "COMPLETE" and run["status"] == "COMPLETE"

    # the settings are shown, masked where secret, readable elsewhere
    settings = deploy["payload"]["settings"]
    assert settings["parameters"] == [{"name": "service_token", "default": "***"}, {"name": "region", "default": "eu-west-1"}]
    env_vars = settings["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    assert env_vars == {"DB_PASSWORD": "***", "API_KEY": REFERENCE}
    params = settings["tasks"][0]["notebook_task"]["base_parameters"]
    assert params["region_hint"] == "***"
    assert params["source_db"] == "postgres://etl_user:***@db.example.com:5432/sales"
    assert params["target_jdbc"] == "jdbc:sqlserver://sql.example.com:1433;database=dw;user=etl;password=***"
    assert params["export_url"] == PLAIN_URL
    create = deploy["plan"]["actions"][0]
    assert create["kind"] == "CREATE" and create["params"]["settings"]["parameters"][0]["default"] == "***"
    job_id = deploy["result"]["job_id"]
    assert isinstance(job_id, int) and str(job_id) in json.dumps(run)
    # idempotency tokens (32 hex characters) stay readable
    assert re.fullmatch(r"[0-9a-f]{32}", deploy["plan"]["idempotency_token"])
    assert run["result"]["idempotency_token"] and run["result"]["idempotency_token"] in _lead(root, "show", "T-0002")[1]

    # -- revision 2 changes every secret: the UPDATE plan's before/after are masked
    revised = REQUIREMENTS
    for old, new in REVISED.items():
        revised = revised.replace(old, new)
    req.write_text(revised)
    code, out, err = _lead(root, "submit", str(req))
    assert code == 0 and "revised to revision 2" in out, err
    shown.append(("submit revision 2", out + err))
    worker = _worker(root)
    assert worker.returncode == 0, worker.stderr[-3000:]
    shown.append(("worker log 2", worker.stdout + worker.stderr))
    shows = _look_at_everything(root, shown)
    update = next(s for s in shows.values() if s["type"] == "deploy_job")
    changes = {c["field"]: c for a in update["plan"]["actions"] for c in a.get("changes", [])}
    assert update["plan"]["actions"][0]["kind"] == "UPDATE", update["plan"]
    secret_fields = [f for f in changes if f.endswith(("parameters[service_token].default", "spark_env_vars.DB_PASSWORD", "region_hint"))]
    assert len(secret_fields) == 3, sorted(changes)
    for field in secret_fields:
        assert changes[field]["before"] == "***" and changes[field]["after"] == "***"
    source_db = next(c for f, c in changes.items() if f.endswith("source_db"))
    assert source_db["before"] == source_db["after"] == "postgres://etl_user:***@db.example.com:5432/sales"

    # -- nothing anywhere shows a secret
    for where, text in shown:
        _assert_no_secret(where, text)
    pages = sorted((root / "progress").glob("*.md"))
    assert len(pages) == 2
    for page in pages:
        _assert_no_secret(page.name, page.read_text())
    page = next(p for p in pages if p.name.startswith("REQ-0001")).read_text()
    assert "+ tasks[load].notebook_task.base_parameters.region_hint: ***" in page or "region_hint" in page
    assert f"/jobs/{job_id}" in page
    # ... while the database keeps the settings as written (the worker sends them)
    import sqlite3

    with sqlite3.connect(root / "state.db") as conn:
        stored = " ".join(row[0] for row in conn.execute("select payload from task where type = 'deploy_job'"))
    assert PARAM_DEFAULT in stored and REVISED[PARAM_DEFAULT] in stored
