"""Test-wide settings: nothing reaches a hub or a cost-map server, state goes to temp dirs."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# The tests choose their model themselves (the scripted local server), never the developer's.
for _name in ("JOB_AGENT_LLM_MODEL", "JOB_AGENT_LLM_API_BASE", "JOB_AGENT_LLM_TIMEOUT"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402

from llm_fake_server import FakeLlmServer  # noqa: E402


@pytest.fixture
def llm_server():
    """A local OpenAI-compatible server with scripted replies (see `tests/llm_fake_server.py`)."""
    with FakeLlmServer() as server:
        yield server


@pytest.fixture
def llm_env(llm_server, monkeypatch):
    """Point the pipeline at `llm_server` through the environment; yields the server."""
    for name, value in llm_server.env.items():
        monkeypatch.setenv(name, value)
    return llm_server
