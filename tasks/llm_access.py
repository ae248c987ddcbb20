"""How a task type reaches the model: the LLM gateway for the worker's configuration, or None.

The worker's environment carries the model (``JOB_AGENT_LLM_MODEL``, ``JOB_AGENT_LLM_API_BASE``,
see ``llm.config``). :func:`task_gateway` builds the gateway with the worker's state database
engine (so every call is accounted in ``llm_call`` and cached in ``llm_cache``) and returns None
when no model is configured (the gateway says once per process, on stderr, that the LLM is
off) or the configuration is malformed (said in the task log; the task goes on by rules).

Import cost: ``llm.gateway`` is light (litellm is imported at the first real call).
"""

from __future__ import annotations

from typing import Any


def _engine(ctx: Any) -> Any:
    """The worker's state engine (`TaskContext.engine`; None in bare contexts)."""
    return getattr(ctx, "engine", None)


def task_gateway(ctx: Any, front_matter_llm: Any = None) -> Any:
    """An ``llm.gateway.Gateway`` for this task, or None when the LLM is off.

    `front_matter_llm` is the requirement's ``llm:`` value when the task carries it (a model
    string, a mapping, or ``off``); it wins over the environment (``llm.config.llm_settings``).
    Without one, ``ctx.llm`` is used when the worker provides a gateway; else one is built
    from the environment with the state engine found on the context. Never raises for a
    configuration problem: a malformed value is logged with ``ctx.log`` and the LLM stays off.
    """
    provided = getattr(ctx, "llm", None)
    if provided is not None and front_matter_llm is None:
        return provided
    from llm.config import LlmConfigError
    from llm.gateway import get_gateway

    try:
        return get_gateway(_engine(ctx), front_matter_llm=front_matter_llm)
    except LlmConfigError as error:
        log = getattr(ctx, "log", None)
        if callable(log):
            log(f"LLM configuration is malformed ({error}); working on rules alone")
        return None
