"""`lead mcp --http PORT`: a streamable-HTTP smoke test with the SDK's own client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import anyio
from mcp_helpers import CLIENT_NAME, TOOL_NAMES, error_text, payload


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"lead mcp --http exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def test_streamable_http_lists_tools_and_calls_one(mcp_env):
    port = _free_port()
    log = open(mcp_env.root / "mcp-http.log", "ab")
    proc = subprocess.Popen([sys.executable, *mcp_env.server_args("--http", str(port))], cwd=mcp_env.root,
                            env=mcp_env.env(), stdout=log, stderr=subprocess.STDOUT)
    seen = {}

    async def scenario():
        import mcp_types as types
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
            async with ClientSession(read, write, client_info=types.Implementation(name=CLIENT_NAME, version="1")) as s:
                await s.initialize()
                seen["tools"] = [t.name for t in (await s.list_tools()).tools]
                seen["monitors"] = payload(await s.call_tool("list_monitors", {"domain": "cost"}))
                seen["refused"] = error_text(await s.call_tool("submit_requirements", {"path": "x.md"}))

    try:
        _wait_listening(port, proc)
        anyio.run(scenario)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert seen["tools"] == TOOL_NAMES
    assert seen["monitors"] and {m["domain"] for m in seen["monitors"]} == {"cost"}
    assert "is a write tool" in seen["refused"]
    audit = mcp_env.audit()
    assert [(a["tool"], a["status"], a["client"]) for a in audit] == [
        ("submit_requirements", "refused", CLIENT_NAME), ("list_monitors", "ok", CLIENT_NAME)]
