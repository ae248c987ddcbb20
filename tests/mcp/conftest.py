"""Fixtures for the MCP server tests (the helpers live in `mcp_helpers.py`)."""

from __future__ import annotations

import pytest
from mcp_helpers import McpEnv


@pytest.fixture
def mcp_env(tmp_path) -> McpEnv:
    return McpEnv(tmp_path)
