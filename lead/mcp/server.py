"""The MCP server behind `lead mcp`: the `mcp` SDK's low-level `Server` with two handlers,
`tools/list` (the tools of `lead.mcp.tools`, each with its JSON schema) and `tools/call`
(`lead.mcp.audit.run_call`, in a worker thread), over stdio or streamable HTTP.

The Databricks workspace (a real one through the SDK's unified auth, or the sandbox) is opened
on the first tool that needs it and closed when the server stops, so starting the server and
listing the tools import neither the SDK nor the sandbox.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "job-agent"


@dataclass(frozen=True)
class WorkspaceOptions:
    """How to reach Databricks, as the worker's options say: `--sandbox` (with its state file
    and clock speed) or a config `--profile` (else the SDK's unified auth)."""

    sandbox: bool = False
    sandbox_state: Path | None = None
    sandbox_clock_speed: float = 60.0
    profile: str | None = None


class LazyWorkspace:
    """Enters `worker.workspace.open_workspace` on the first call (thread-safe) and leaves it at `close()`."""

    def __init__(self, options: WorkspaceOptions) -> None:
        self._options = options
        self._stack = contextlib.ExitStack()
        self._provider = None
        self._lock = threading.Lock()

    def __call__(self):
        """The `worker.workspace.WorkspaceProvider`, its client already made.

        Raises:
            lead.mcp.tools.ToolError: the workspace cannot be used (no usable auth, unknown
                profile, a sandbox state file it cannot read); the next call tries again.
        """
        with self._lock:
            if self._provider is None:
                from worker.workspace import open_workspace

                o = self._options
                try:
                    provider = self._stack.enter_context(open_workspace(
                        sandbox=o.sandbox, sandbox_state=o.sandbox_state, sandbox_clock_speed=o.sandbox_clock_speed,
                        profile=o.profile))
                    provider()  # the SDK resolves its configuration (auth) here
                except Exception as error:  # noqa: BLE001 - any failure here means "cannot use this workspace"
                    from lead.mcp.tools import ToolError

                    self._stack.close()
                    raise ToolError(f"cannot use the workspace ({_describe(o)}): {type(error).__name__}: {error}") from None
                self._provider = provider
            return self._provider

    def close(self) -> None:
        """Stop the sandbox, if one was started."""
        with self._lock:
            self._stack.close()
            self._provider = None


def _describe(o: WorkspaceOptions) -> str:
    if o.sandbox:
        return f"SANDBOX, state {o.sandbox_state}" if o.sandbox_state else "SANDBOX"
    return f"Databricks profile {o.profile}" if o.profile else "Databricks (SDK unified auth)"


def client_name(ctx: Any) -> str | None:
    """The client's name from its `initialize` request (`clientInfo.name`), or None."""
    session = getattr(ctx, "session", None)
    params = getattr(session, "client_params", None)
    info = getattr(params, "client_info", None)
    return getattr(info, "name", None) or None


def build_server(env, *, allow_writes: bool):
    """The low-level `mcp.server.lowlevel.Server` serving `lead.mcp.tools.TOOLS` for `env`
    (a `lead.mcp.tools.ToolEnv`); write tools are refused unless `allow_writes`."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from lead.mcp.audit import run_call
    from lead.mcp.tools import TOOLS

    listed = [
        types.Tool(
            name=t.name,
            description=t.description + ("" if not t.write else " (write tool: needs a server started with --allow-writes)"),
            input_schema=t.schema,
            annotations=types.ToolAnnotations(read_only_hint=not t.write, destructive_hint=t.name == "cancel_run"),
        )
        for t in TOOLS
    ]

    async def on_list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx, params) -> types.CallToolResult:
        who = client_name(ctx)
        try:
            outcome = await anyio.to_thread.run_sync(
                lambda: run_call(env, params.name, params.arguments, allow_writes=allow_writes, client=who))
        except Exception as error:  # noqa: BLE001 - e.g. the audit could not be written
            from state.redaction import redact_text

            message = redact_text(f"{params.name}: internal error: {type(error).__name__}: {error}")
            return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
        if outcome.status != "ok":
            return types.CallToolResult(content=[types.TextContent(type="text", text=outcome.error)], is_error=True)
        text = json.dumps(outcome.result, indent=2, default=str, ensure_ascii=False)
        structured = json.loads(text) if isinstance(outcome.result, dict) else None
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=structured)

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=("Databricks job automation: submit requirements, follow their tasks, ask monitoring questions, "
                      "start, follow and cancel job runs, remediate failed runs. "
                      + ("Write tools are enabled." if allow_writes else "Read-only: write tools are refused.")),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("job-agent")
    except PackageNotFoundError:
        return "0"


async def serve_stdio(server) -> None:
    """Serve one client over this process's stdin/stdout until it closes stdin."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve_http(server, *, host: str, port: int, log_level: str = "warning") -> None:
    """Serve streamable HTTP at `http://HOST:PORT/mcp` (uvicorn) until interrupted."""
    import uvicorn

    app = server.streamable_http_app(streamable_http_path="/mcp", host=host)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level)).run()
