"""`state.audit` on a real SQLite file, `lead audit`'s text and filters, `lead mcp`'s start-up
errors, and that serving MCP imports no heavy library until a tool needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlmodel import Session

from state.audit import entry_as_json, list_entries, record_call
from state.engine import make_engine, writer


def _record(db_url: str, **fields) -> None:
    engine = make_engine(db_url)
    with Session(writer(engine)) as session:
        record_call(session, **fields)
        session.commit()
    engine.dispose()


def test_record_call_masks_secrets_and_lists_newest_first(mcp_env):
    _record(mcp_env.db_url, tool="submit_requirements", arguments={"text": "token=abc123secret", "api_key": "k-1"},
            status="refused", error="submit_requirements: jdbc:x;password=hunter2;", client="c1", duration_ms=3)
    _record(mcp_env.db_url, tool="list_jobs", arguments={"limit": 5}, status="ok", client=None, duration_ms=-2)
    _record(mcp_env.db_url, tool="list_jobs", arguments=["not", "an", "object"], status="error", error="list_jobs: bad")
    engine = make_engine(mcp_env.db_url)
    with Session(engine) as session:
        rows = [entry_as_json(e) for e in list_entries(session)]
        only = [entry_as_json(e) for e in list_entries(session, tool="submit_requirements", limit=10)]
        newest = [entry_as_json(e) for e in list_entries(session, limit=1)]
    engine.dispose()
    assert [r["tool"] for r in rows] == ["list_jobs", "list_jobs", "submit_requirements"]
    assert rows[0]["arguments"] == {"arguments": ["not", "an", "object"]}
    assert rows[1]["duration_ms"] == 0 and rows[1]["client"] is None
    secret = only[0]
    assert secret["arguments"] == {"text": "token=***", "api_key": "***"}
    assert "hunter2" not in secret["error"] and secret["client"] == "c1"
    assert newest == rows[:1]


def test_record_call_refuses_an_unknown_status(mcp_env):
    engine = make_engine(mcp_env.db_url)
    with Session(writer(engine)) as session, pytest.raises(ValueError, match="audit status 'maybe'"):
        record_call(session, tool="x", arguments={}, status="maybe")
    engine.dispose()


def test_lead_audit_text_json_and_filters(mcp_env):
    code, out, _ = mcp_env.lead("audit")
    assert code == 0 and "No tool calls recorded" in out
    _record(mcp_env.db_url, tool="list_jobs", arguments={"limit": 5}, status="ok", client="claude", duration_ms=12)
    _record(mcp_env.db_url, tool="cancel_run", arguments={"run_id": 7}, status="refused",
            error="cancel_run is a write tool; start the server with --allow-writes", client="claude")
    code, out, _ = mcp_env.lead("audit")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["at", "(UTC)", "tool"]
    assert "cancel_run" in lines[2] and "refused" in lines[2] and "--allow-writes" in lines[2]
    assert "list_jobs" in lines[3] and '{"limit": 5}' in lines[3] and "12 ms" in lines[3]
    code, out, _ = mcp_env.lead("audit", "--json", "--tool", "list_jobs")
    data = json.loads(out)
    assert code == 0 and [d["tool"] for d in data] == ["list_jobs"]
    assert list(data[0]) == ["tool", "arguments", "status", "at", "client"]
    code, out, _ = mcp_env.lead("audit", "--json", "--limit", "1")
    assert [d["tool"] for d in json.loads(out)] == ["cancel_run"]
    code, _, err = mcp_env.lead("audit", "--limit", "0")
    assert code == 1 and "--limit" in err


def test_lead_mcp_start_up_errors_exit_1(mcp_env):
    code, _, err = mcp_env.lead("mcp", "--sandbox", "--profile", "p")
    assert code == 1 and "--profile and --sandbox exclude each other" in err
    from lead.cli import app
    from lead.cli_runner import run_cli

    assert run_cli(app, "lead", ["mcp", "--db", "nosuchscheme://x"]) == 1


def test_serving_imports_no_heavy_library_until_a_tool_needs_it(mcp_env):
    """Building the server and listing tools leaves the Databricks SDK, litellm, chromadb,
    torch and sentence-transformers unimported; a workspace tool then brings the SDK in."""
    script = f"""
import sys
from pathlib import Path
from lead.mcp.server import LazyWorkspace, WorkspaceOptions, build_server
from lead.mcp.tools import ToolEnv
from lead.mcp.audit import run_call
ws = LazyWorkspace(WorkspaceOptions(sandbox=True, sandbox_state=Path({str(mcp_env.sandbox_state)!r})))
env = ToolEnv(db={mcp_env.db_url!r}, progress_dir=None, submissions_dir=Path({str(mcp_env.root)!r}), open_workspace=ws)
build_server(env, allow_writes=False)
assert run_call(env, "list_monitors", {{}}, allow_writes=False, client="t").status == "ok"
heavy = ("databricks.sdk", "litellm", "chromadb", "torch", "sentence_transformers")
print(sorted(m for m in heavy if m in sys.modules))
assert run_call(env, "list_clusters", {{"limit": 2}}, allow_writes=False, client="t").status == "ok"
print("databricks.sdk" in sys.modules)
ws.close()
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=mcp_env.root, env=mcp_env.env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:2] == ["[]", "True"]


def test_the_lead_command_does_not_import_the_mcp_sdk():
    """`lead submit`/`lead status` load `lead.cli`, which registers `lead mcp`: the MCP SDK,
    uvicorn and jsonschema wait for `lead mcp` itself."""
    code = ("import sys, lead.cli\n"
            "print(sorted(m for m in ('mcp', 'mcp_types', 'uvicorn', 'starlette', 'jsonschema', 'databricks.sdk')"
            " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_an_unusable_workspace_is_a_tool_error(mcp_env, monkeypatch):
    """No usable Databricks auth (an unknown profile): the workspace tools say so as a tool
    error, audited `error`, and the server keeps serving."""
    from lead.mcp.audit import run_call
    from lead.mcp.server import LazyWorkspace, WorkspaceOptions
    from lead.mcp.tools import ToolEnv

    for name in [k for k in __import__("os").environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(mcp_env.root))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(mcp_env.root / "no.databrickscfg"))
    workspace = LazyWorkspace(WorkspaceOptions(profile="no-such-profile"))
    env = ToolEnv(db=mcp_env.db_url, progress_dir=None, submissions_dir=mcp_env.root, open_workspace=workspace)
    try:
        outcome = run_call(env, "list_jobs", {}, allow_writes=False, client="t")
        again = run_call(env, "get_run_status", {"run_id": 5}, allow_writes=False, client="t")
        fine = run_call(env, "list_monitors", {}, allow_writes=False, client="t")
    finally:
        workspace.close()
    assert outcome.status == "error"
    assert outcome.error.startswith("list_jobs: cannot use the workspace (Databricks profile no-such-profile): ")
    assert again.status == "error" and "cannot use the workspace" in again.error
    assert fine.status == "ok"
    assert [(a["tool"], a["status"]) for a in mcp_env.audit()] == [
        ("list_monitors", "ok"), ("get_run_status", "error"), ("list_jobs", "error")]
