"""`lead mcp` (serve the pipeline to MCP clients) and `lead audit` (what they called).

    lead mcp [--http PORT] [--allow-writes] [--sandbox [--sandbox-state FILE] | --profile P]
    lead audit [--json] [--limit N] [--tool NAME]

`lead mcp` speaks MCP over stdio (the default: an MCP client starts it as a subprocess) or
streamable HTTP at `http://127.0.0.1:PORT/mcp` with `--http PORT`. It is read-only unless
started with `--allow-writes`: the write tools (`submit_requirements`, `start_job_run`,
`cancel_run`, `run_monitor`, `remediate_run`) are refused otherwise. Every tool call is
recorded in the audit table (arguments with secrets masked), which `lead audit` lists,
newest first; `--json` gives `[{"tool", "arguments", "status", "at", "client"}]` (the
error message and duration show in the text table).

Importing this module imports neither the `mcp` SDK nor the Databricks SDK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lead.cli_runner import (DbOption, JsonOption, ProfileOption, ProgressOption, SandboxClockOption, SandboxOption,
                             SandboxStateOption, UserError, open_engine)


def mcp(
    http: Annotated[Optional[int], typer.Option("--http", min=1, max=65535, metavar="PORT", help="Serve streamable HTTP on this port (path /mcp) instead of stdio.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on with --http.")] = "127.0.0.1",
    allow_writes: Annotated[bool, typer.Option("--allow-writes", help="Enable the write tools (submit, start/cancel runs, run monitors, remediate).")] = False,
    sandbox: SandboxOption = False,
    sandbox_state: SandboxStateOption = None,
    sandbox_clock_speed: SandboxClockOption = 60.0,
    profile: ProfileOption = None,
    submissions_dir: Annotated[Optional[Path], typer.Option("--submissions-dir", help="Where requirements given as text are saved [default: .job-agent/mcp-requirements].")] = None,
    progress_dir: ProgressOption = None,
    db: DbOption = None,
) -> None:
    """Serve the pipeline to MCP clients (stdio, or streamable HTTP with --http PORT).

    Read-only unless --allow-writes (write tools: submit_requirements, start_job_run,
    cancel_run, run_monitor, remediate_run). The workspace is opened at the first tool that
    needs it. Every call is audited: see `lead audit`.
    """
    if profile and sandbox:
        raise UserError("--profile and --sandbox exclude each other")
    from state.engine import home_dir

    open_engine(db).dispose()  # a bad --db is a user error now, not at the first call
    from lead.mcp.server import LazyWorkspace, WorkspaceOptions, build_server, serve_http, serve_stdio
    from lead.mcp.tools import TOOLS, ToolEnv

    workspace = LazyWorkspace(WorkspaceOptions(
        sandbox=sandbox, sandbox_state=(sandbox_state or home_dir() / "sandbox.json") if sandbox else None,
        sandbox_clock_speed=sandbox_clock_speed, profile=profile))
    env = ToolEnv(db=db, progress_dir=progress_dir, submissions_dir=submissions_dir or home_dir() / "mcp-requirements",
                  open_workspace=workspace)
    server = build_server(env, allow_writes=allow_writes)
    where = f"streamable HTTP at http://{host}:{http}/mcp" if http else "stdio"
    target = ("SANDBOX (local emulator; nothing reaches Databricks)" if sandbox
              else f"Databricks profile {profile}" if profile else "Databricks (SDK unified auth)")
    print(f"lead mcp: {len(TOOLS)} tools over {where}, {'writes allowed' if allow_writes else 'read-only'}; "
          f"workspace: {target}", file=sys.stderr, flush=True)
    try:
        if http:
            serve_http(server, host=host, port=http)
        else:
            import anyio

            anyio.run(serve_stdio, server)
    finally:
        workspace.close()


def audit(
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="How many entries, newest first.")] = 50,
    tool: Annotated[Optional[str], typer.Option("--tool", help="Only calls of this tool.")] = None,
    db: DbOption = None,
) -> None:
    """List the tool calls recorded by `lead mcp` (and by `lead run`/`lead runs`), newest first (arguments masked)."""
    from sqlmodel import Session

    from state.audit import AUDIT_JSON_FIELDS, entry_as_json, list_entries

    engine = open_engine(db)
    with Session(engine) as session:
        rows = [entry_as_json(e) for e in list_entries(session, limit=limit, tool=tool)]
    if as_json:
        typer.echo(json.dumps([{key: r[key] for key in AUDIT_JSON_FIELDS} for r in rows], indent=2, default=str))
        return
    if not rows:
        typer.echo("No tool calls recorded" + (f" for {tool}." if tool else ". Start a server with `lead mcp`."))
        return
    from lead.cli import _table  # the table layout every `lead` listing uses

    table = [[r["at"][:19].replace("T", " "), r["tool"], r["status"], r["client"] or "-", f"{r['duration_ms']} ms",
              _summary(r)] for r in rows]
    typer.echo(_table(["at (UTC)", "tool", "status", "client", "took", "arguments / error"], table))


def _summary(row: dict) -> str:
    text = row["error"] if row["status"] != "ok" and row["error"] else json.dumps(row["arguments"], ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."
