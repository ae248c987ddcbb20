"""`lead mcp` over stdio, driven by the `mcp` SDK's client against the sandbox, with real
workers: every tool listed and called, write tools refused on a read-only server, bad
arguments giving tool errors that change nothing, and every call in `lead audit --json`."""

from __future__ import annotations

import json

import anyio
from mcp_helpers import CLIENT_NAME, TOOL_NAMES, WRITE_TOOLS, error_text, payload

SECRET = "dapi0123456789abcdef0123456789abcdef"

REQUIREMENTS = f"""\
---
title: MCP jobs
owner: data-eng@example.com
workspace_root: /Workspace/Shared/job-agent
---

# Nightly ingest

```yaml
resources:
  jobs:
    mcp_etl:
      name: MCP ETL
      parameters:
        - name: run_date
          default: "2026-01-01"
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: 1
            spark_env_vars:
              API_TOKEN: {SECRET}
      tasks:
        - task_key: step
          job_cluster_key: main
          notebook_task:
            notebook_path: ${{workspace.root_path}}/notebooks/ingest
```
"""


def test_tools_are_listed_with_schemas_and_write_tools_are_refused_read_only(mcp_env):
    """A read-only server lists all 14 tools with their schemas, refuses each write tool (as a
    tool error, audited `refused`, nothing recorded) and serves the read tools."""
    calls = []

    async def scenario():
        async with mcp_env.session() as s:
            listed = (await s.list_tools()).tools
            calls.append(("tools", [t.name for t in listed], {t.name: t.input_schema for t in listed}))
            for name, args in (("submit_requirements", {"text": REQUIREMENTS}), ("start_job_run", {"job": "mcp_etl"}),
                               ("cancel_run", {"run_id": 1}), ("run_monitor", {"template": "most_expensive_runs"}),
                               ("remediate_run", {"run_id": 1})):
                calls.append((name, error_text(await s.call_tool(name, args))))
            calls.append(("list_warehouses", payload(await s.call_tool("list_warehouses", {}))))
            calls.append(("requirement_status", payload(await s.call_tool("requirement_status", {}))))

    anyio.run(scenario)
    _, names, schemas = calls[0]
    assert names == TOOL_NAMES
    for name, schema in schemas.items():
        assert schema["type"] == "object" and "properties" in schema, name
        assert schema.get("additionalProperties") is False, name
    refusals = dict(calls[1:6])
    assert set(refusals) == WRITE_TOOLS
    for name, message in refusals.items():
        assert message == f"{name} is a write tool; start the server with --allow-writes"
    warehouses = dict(calls[6:])["list_warehouses"]
    assert warehouses and {"id", "name", "state", "cluster_size", "warehouse_type"} <= set(warehouses[0])
    assert dict(calls[6:])["requirement_status"] == []
    assert mcp_env.counts() == {"Requirement": 0, "Task": 0, "TaskEvent": 0}
    assert not (mcp_env.home / "mcp-requirements" / "mcp-requirements.md").exists()

    audit = mcp_env.audit()
    assert [a["tool"] for a in audit] == ["requirement_status", "list_warehouses", "remediate_run", "run_monitor",
                                         "cancel_run", "start_job_run", "submit_requirements"]
    assert [a["status"] for a in audit] == ["ok", "ok"] + ["refused"] * 5
    assert {a["client"] for a in audit} == {CLIENT_NAME}
    assert SECRET not in json.dumps(audit)  # the refused submission's text is masked too
    assert "***" in audit[-1]["arguments"]["text"]


def test_every_tool_against_the_sandbox_with_workers(mcp_env):
    """With --allow-writes: submit, let a worker deploy, then every tool once (and the bad
    calls), a worker again for the queued work; the audit holds every call, newest first."""
    made: list[tuple[str, str]] = []  # (tool, status) in call order
    seen: dict[str, object] = {}

    async def call(s, name, args, *, ok=True):
        result = await s.call_tool(name, args)
        made.append((name, "ok" if ok else "error"))
        return payload(result) if ok else error_text(result)

    async def first(s):
        seen["submit"] = await call(s, "submit_requirements", {"text": REQUIREMENTS, "name": "mcp-jobs.md"})
        before = mcp_env.counts()
        bad = REQUIREMENTS.replace("      tasks:", "      taskz:")
        seen["bad_text"] = await call(s, "submit_requirements", {"text": bad, "name": "mcp-jobs.md"}, ok=False)
        seen["bad_path"] = await call(s, "submit_requirements", {"path": str(mcp_env.root / "missing.md")}, ok=False)
        seen["both"] = await call(s, "submit_requirements", {"text": "x", "path": "y.md"}, ok=False)
        seen["bad_limit"] = await call(s, "list_jobs", {"limit": 0}, ok=False)
        seen["extra_arg"] = await call(s, "list_clusters", {"limit": 5, "verbose": True}, ok=False)
        seen["bad_template"] = await call(s, "run_monitor", {"template": "no_such_template"}, ok=False)
        seen["bad_param"] = await call(s, "run_monitor", {"template": "most_expensive_runs",
                                                           "parameters": {"top_n": "lots"}}, ok=False)
        seen["bad_task"] = await call(s, "task_show", {"task": "T-0999"}, ok=False)
        seen["bad_req_id"] = await call(s, "requirement_status", {"requirement": "nonsense"}, ok=False)
        seen["unchanged"] = (before, mcp_env.counts())
        result = await s.call_tool("no_such_tool", {})
        made.append(("no_such_tool", "error"))
        seen["unknown_tool"] = error_text(result)
        seen["resubmit"] = await call(s, "submit_requirements", {"text": REQUIREMENTS, "name": "mcp-jobs.md"})

    async def second(s):
        req = seen["submit"]["requirement"]
        seen["status"] = await call(s, "requirement_status", {"requirement": req})
        seen["board"] = await call(s, "requirement_status", {})
        seen["show"] = await call(s, "task_show", {"task": seen["submit"]["tasks"][0]["id"]})
        seen["jobs"] = await call(s, "list_jobs", {"limit": 10})
        seen["clusters"] = await call(s, "list_clusters", {"limit": 10})
        seen["warehouses"] = await call(s, "list_warehouses", {"limit": 1})
        seen["monitors"] = await call(s, "list_monitors", {"domain": "reliability"})
        seen["no_job"] = await call(s, "start_job_run", {"job": "no_such_job"}, ok=False)
        seen["started"] = await call(s, "start_job_run", {"job": "MCP ETL", "params": {"run_date": "2026-11-01"}})
        run_id = seen["started"]["run_id"]
        seen["run_status"] = await call(s, "get_run_status", {"run_id": run_id})
        seen["no_run"] = await call(s, "get_run_status", {"run_id": 987654321}, ok=False)
        seen["cancelled"] = await call(s, "cancel_run", {"run_id": run_id, "wait": True})
        seen["remediate"] = await call(s, "remediate_run", {"run_id": run_id, "escalate_to": "oncall@example.com"})
        seen["asked"] = await call(s, "ask", {"question": "which jobs failed most often last week?"})
        seen["no_fit"] = await call(s, "ask", {"question": "zzz qqq"}, ok=False)
        seen["monitor"] = await call(s, "run_monitor", {"template": "most_expensive_runs", "parameters": {"top_n": 3}})

    async def third(s):
        seen["answer"] = await call(s, "task_show", {"task": seen["asked"]["answer_task"]})
        seen["monitor_done"] = await call(s, "task_show", {"task": seen["monitor"]["task"]})
        seen["decisions"] = await call(s, "list_decisions", {"limit": 5})

    async def with_server(step):
        async with mcp_env.session("--allow-writes") as s:
            await step(s)

    anyio.run(with_server, first)
    mcp_env.run_worker()  # deploys the job
    anyio.run(with_server, second)
    mcp_env.run_worker()  # runs the monitoring queries, the answer and the remediation
    anyio.run(with_server, third)

    submitted = seen["submit"]
    assert submitted["outcome"] == "created" and submitted["tasks"][0]["type"] == "deploy_job"
    assert SECRET not in json.dumps(submitted) and submitted["warnings"]
    assert seen["resubmit"]["outcome"] == "unchanged"  # the same text under the same name is the same file
    assert (mcp_env.home / "mcp-requirements" / "mcp-jobs.md").read_text() == REQUIREMENTS
    assert "mcp-jobs.md:" in seen["bad_text"] and "unknown job field 'taskz'" in seen["bad_text"]
    assert "missing.md: cannot read" in seen["bad_path"]
    assert "exactly one of 'text'" in seen["both"]
    assert "argument 'limit'" in seen["bad_limit"] and "minimum" in seen["bad_limit"]
    assert "verbose" in seen["extra_arg"]
    assert "no_such_template" in seen["bad_template"]
    assert "top_n" in seen["bad_param"]
    assert "no task T-0999" in seen["bad_task"]
    assert "not a requirement id" in seen["bad_req_id"]
    assert "no tool 'no_such_tool'" in seen["unknown_tool"]
    before, after = seen["unchanged"]
    assert after == before  # no bad call recorded anything

    assert seen["status"]["tasks"][0]["status"] == "COMPLETE"
    assert [r["id"] for r in seen["board"]] == [submitted["requirement"]]
    assert seen["show"]["status"] == "COMPLETE" and SECRET not in json.dumps(seen["show"])
    job = next(j for j in seen["jobs"] if j["name"] == "MCP ETL")
    assert seen["clusters"] is not None and len(seen["warehouses"]) == 1
    assert seen["monitors"] and {m["domain"] for m in seen["monitors"]} == {"reliability"}
    assert "no_such_job" in seen["no_job"]
    started = seen["started"]
    assert started["job_id"] == job["job_id"] and started["run_id"] > 0
    assert seen["run_status"]["run_id"] == started["run_id"]
    assert "987654321" in seen["no_run"]
    assert seen["cancelled"]["life_cycle_state"] in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
    assert seen["remediate"]["created"] is True and seen["remediate"]["run_id"] == started["run_id"]
    asked = seen["asked"]
    assert asked["intents"] and asked["templates"] and asked["status"] == "PENDING" and asked["answer"] is None
    assert "nothing fits" in seen["no_fit"]
    assert seen["monitor"]["task"].startswith("T-")
    assert seen["answer"]["status"] == "COMPLETE" and seen["answer"]["result"]["answer"]
    assert seen["monitor_done"]["status"] == "COMPLETE"
    assert started["run_id"] in [d["run_id"] for d in seen["decisions"]]  # the remediation's decision

    called = {name for name, _ in made}
    assert set(TOOL_NAMES) <= called
    audit = mcp_env.audit()
    assert [(a["tool"], a["status"]) for a in audit] == list(reversed(made))
    assert [a["at"] for a in audit] == sorted((a["at"] for a in audit), reverse=True)
    assert {a["client"] for a in audit} == {CLIENT_NAME}
    assert SECRET not in json.dumps(audit)
    first_submit = audit[-1]
    assert first_submit["tool"] == "submit_requirements" and "***" in first_submit["arguments"]["text"]
    errors = [a for a in audit if a["status"] == "error"]
    assert all(a["error"] for a in errors) and all(a["error"] is None for a in audit if a["status"] == "ok")


def test_ask_and_run_monitor_wait_for_a_running_worker(mcp_env):
    """With wait_seconds, `ask` returns the workers' answer and `run_monitor` the query's
    rows, while a worker runs beside the server; without a worker, ask says so and stays queued."""
    import subprocess
    import sys

    seen = {}

    async def alone():
        async with mcp_env.session() as s:
            seen["queued"] = payload(await s.call_tool("ask", {"question": "which jobs failed most often last week?",
                                                                "wait_seconds": 0.5}))

    async def with_worker():
        async with mcp_env.session("--allow-writes") as s:
            seen["asked"] = payload(await s.call_tool("ask", {"question": "What are our top 5 cost contributors this month?",
                                                               "wait_seconds": 90}))
            seen["monitor"] = payload(await s.call_tool("run_monitor", {"template": "most_expensive_runs",
                                                                       "parameters": {"top_n": 2}, "wait_seconds": 90}))

    anyio.run(alone)
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "--no-citations", "--sandbox", "--sandbox-state", str(mcp_env.sandbox_state),
         "--sandbox-clock-speed", "3600", "--poll-interval", "0.05", "--db", mcp_env.db_url,
         "--progress-dir", str(mcp_env.progress)],
        cwd=mcp_env.root, env=mcp_env.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        anyio.run(with_worker)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    queued = seen["queued"]
    assert queued["status"] == "PENDING" and queued["answer"] is None and "is a worker running?" in queued["note"]
    asked = seen["asked"]
    assert asked["status"] == "COMPLETE" and asked["intents"] == ["cost"]
    assert asked["answer"].startswith("#") and asked["path"].endswith("answer.md")
    monitor = seen["monitor"]
    assert monitor["template"] == "most_expensive_runs" and monitor["row_count"] <= 2 and monitor["columns"]
    assert [a["tool"] for a in mcp_env.audit()] == ["run_monitor", "ask", "ask"]
