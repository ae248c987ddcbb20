"""Which model the pipeline talks to, if any: `JOB_AGENT_LLM_MODEL`, or `llm:` in front matter.

This module is light (no litellm import): every command may ask whether the LLM is on.

A model is any litellm model string (`openai/gpt-4o-mini`, `anthropic/claude-...`,
`azure/<deployment>`, `databricks/databricks-claude-sonnet-4-5`, `ollama/llama3`, or
`openai/<name>` with `api_base` for any OpenAI-compatible server). Keys are never configured
here: litellm reads each provider's usual environment variables (`OPENAI_API_KEY`,
`ANTHROPIC_API_KEY`, `DATABRICKS_HOST`/`DATABRICKS_TOKEN`, `AZURE_API_KEY`, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

ENV_MODEL = "JOB_AGENT_LLM_MODEL"
"""Names the model (a litellm model string). Unset or empty: the LLM is off."""

ENV_API_BASE = "JOB_AGENT_LLM_API_BASE"
"""When set, passed to litellm as `api_base` (an OpenAI-compatible server, a proxy)."""

ENV_TIMEOUT = "JOB_AGENT_LLM_TIMEOUT"
"""Seconds one model request may take before it is abandoned and retried (default 60)."""

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 2
MAX_TIMEOUT_S = 600.0


class LlmConfigError(ValueError):
    """The `llm:` front matter or an `JOB_AGENT_LLM_*` variable is malformed; the message says which."""


@dataclass(frozen=True)
class LlmSettings:
    """How to reach the model.

    Attributes:
        model: the litellm model string.
        api_base: the server's base URL (`http://127.0.0.1:8000/v1`), or None for the provider's own.
        timeout_s: seconds one request may take (litellm `timeout`).
        max_retries: further attempts after a rate limit (429), a timeout, a 5xx or a dropped
            connection, with exponential backoff.
        temperature: sampling temperature (0: as repeatable as the provider allows).
    """

    model: str
    api_base: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    temperature: float = 0.0


def _timeout(value: Any, where: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise LlmConfigError(f"{where}: timeout must be a number of seconds, got {value!r}") from None
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise LlmConfigError(f"{where}: timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds, got {value!r}")
    return seconds


def _model(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or any(c.isspace() for c in value.strip()):
        raise LlmConfigError(f"{where}: model must be a litellm model string like 'openai/gpt-4o-mini', got {value!r}")
    return value.strip()


def llm_settings(front_matter_llm: str | dict | None = None) -> LlmSettings | None:
    """The model to use, or None when the LLM is off.

    `front_matter_llm` is a requirement's `llm:` value: a model string, or a mapping with `model`
    and optionally `api_base` and `timeout_s`; it wins over the environment
    (`JOB_AGENT_LLM_MODEL`, `JOB_AGENT_LLM_API_BASE`, `JOB_AGENT_LLM_TIMEOUT`). `llm: off` (or
    `false`) turns the model off for that requirement.

    Raises:
        LlmConfigError: a malformed value (wrong type, unknown key, bad timeout).
    """
    env_timeout = os.environ.get(ENV_TIMEOUT)
    timeout = _timeout(env_timeout, ENV_TIMEOUT) if env_timeout else DEFAULT_TIMEOUT_S
    api_base = os.environ.get(ENV_API_BASE) or None
    if front_matter_llm is False or (isinstance(front_matter_llm, str) and front_matter_llm.strip().lower() in {"off", "none", "false"}):
        return None
    if isinstance(front_matter_llm, str):
        return LlmSettings(model=_model(front_matter_llm, "llm"), api_base=api_base, timeout_s=timeout)
    if isinstance(front_matter_llm, dict):
        unknown = sorted(set(front_matter_llm) - {"model", "api_base", "timeout_s"})
        if unknown:
            raise LlmConfigError(f"llm: unknown key(s) {', '.join(map(str, unknown))} (known: model, api_base, timeout_s)")
        model = front_matter_llm.get("model") or os.environ.get(ENV_MODEL)
        if not model:
            return None
        base = front_matter_llm.get("api_base", api_base)
        if base is not None and (not isinstance(base, str) or not base.startswith(("http://", "https://"))):
            raise LlmConfigError(f"llm.api_base must be an http(s) URL, got {base!r}")
        if "timeout_s" in front_matter_llm:
            timeout = _timeout(front_matter_llm["timeout_s"], "llm.timeout_s")
        return LlmSettings(model=_model(model, "llm.model"), api_base=base, timeout_s=timeout)
    if front_matter_llm is not None:
        raise LlmConfigError(f"llm: must be a model string or a mapping with 'model', got {type(front_matter_llm).__name__}")
    model = os.environ.get(ENV_MODEL, "").strip()
    if not model:
        return None
    return LlmSettings(model=_model(model, ENV_MODEL), api_base=api_base, timeout_s=timeout)
