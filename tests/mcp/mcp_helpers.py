"""Helpers for the MCP server tests: a working directory with its own SQLite database, sandbox
state file and progress dir; `lead mcp` started as a real subprocess and driven by the `mcp`
SDK's own client (stdio or streamable HTTP); real workers (`worker --sandbox --until-idle`)
sharing the database and the sandbox state. Imported by name (`from mcp_helpers import ...`):
a bare `from conftest import` gets whichever test directory's conftest was loaded first."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLIENT_NAME = "job-agent-tests"
CLOCK = "3600"

TOOL_NAMES = [
    "submit_requirements", "requirement_status", "task_show", "ask", "list_monitors", "run_monitor",
    "remediate_run", "list_decisions", "start_job_run", "get_run_status", "cancel_run",
    "list_jobs", "list_clusters", "list_warehouses",
]
WRITE_TOOLS = {"submit_requirements", "start_job_run", "cancel_run", "run_monitor", "remediate_run"}


class McpEnv:
    """One working directory: database, sandbox state, progress dir, and how to reach them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_url = f"sqlite:///{root / 'state.db'}"
        self.sandbox_state = root / "sandbox.json"
        self.progress = root / "progress"
        self.home = root / ".job-agent"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JOB_AGENT_"))}
        env.update(JOB_AGENT_HOME=str(self.home), PYTHONPATH=str(REPO))
        return env

    def server_args(self, *extra: str) -> list[str]:
        """`lead mcp` arguments against this directory's sandbox and database."""
        return ["-m", "lead.cli", "mcp", "--sandbox", "--sandbox-state", str(self.sandbox_state),
                "--sandbox-clock-speed", CLOCK, "--db", self.db_url, "--progress-dir", str(self.progress), *extra]

    @contextlib.asynccontextmanager
    async def session(self, *extra: str):
        """An initialized `mcp.ClientSession` talking to `lead mcp EXTRA...` over stdio."""
        import mcp_types as types
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(command=sys.executable, args=self.server_args(*extra), env=self.env(),
                                       cwd=str(self.root))
        with open(self.root / "mcp-server.log", "a") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=120,
                                         client_info=types.Implementation(name=CLIENT_NAME, version="1")) as session:
                    await session.initialize()
                    yield session

    def run_worker(self, timeout: float = 180) -> None:
        """`worker --sandbox --until-idle` on the same database and sandbox state (a real process)."""
        proc = subprocess.run(
            [sys.executable, "-m", "worker.cli", "--no-citations", "--sandbox", "--sandbox-state", str(self.sandbox_state),
             "--sandbox-clock-speed", CLOCK, "--until-idle", "--poll-interval", "0.05", "--backoff-base", "0.05",
             "--db", self.db_url, "--progress-dir", str(self.progress)],
            cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]

    def lead(self, *args: str) -> tuple[int, str, str]:
        """The real `lead` CLI in this process; returns (code, stdout, stderr)."""
        from lead.cli import app
        from lead.cli_runner import run_cli

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(app, "lead", [*args, "--db", self.db_url])
        return code, out.getvalue(), err.getvalue()

    def audit(self) -> list[dict[str, Any]]:
        """`lead audit --json` (the five contract keys), each entry joined with its stored
        `error` (read from the table: the JSON contract does not carry it)."""
        code, out, err = self.lead("audit", "--json", "--limit", "1000")
        assert code == 0, err
        entries = json.loads(out)
        from sqlmodel import Session

        from state.audit import entry_as_json, list_entries
        from state.engine import make_engine

        engine = make_engine(self.db_url)
        with Session(engine) as session:
            stored = [entry_as_json(e) for e in list_entries(session, limit=1000)]
        engine.dispose()
        assert [(e["tool"], e["status"], e["at"]) for e in entries] == [(e["tool"], e["status"], e["at"]) for e in stored]
        return [dict(entry, error=row["error"]) for entry, row in zip(entries, stored)]

    def counts(self) -> dict[str, int]:
        """Rows per pipeline table (everything a tool could change, but the audit)."""
        from sqlalchemy import func, select
        from sqlmodel import Session

        from state.engine import make_engine
        from state.models import Requirement, Task, TaskEvent

        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                return {m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
                        for m in (Requirement, Task, TaskEvent)}
        finally:
            engine.dispose()


def payload(result) -> Any:
    """The JSON a successful tool call returned (its text content)."""
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def error_text(result) -> str:
    """The message of a tool error (and that it is one)."""
    assert result.is_error, result.content[0].text[:500]
    return result.content[0].text
