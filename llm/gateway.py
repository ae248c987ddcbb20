"""The one place model calls are made: litellm, with timeouts, retries, validation, a cache and accounting.

Callers ask for text (`complete_text`), for text their own parser accepts (`complete_checked`),
or for a JSON object valid against a JSON schema (`complete_json`). Parsers say what is wrong by
raising `OutputRejected(problems)`; the gateway then sends one repair turn quoting the problems
and gives up with `LlmOutputInvalid` if the second answer is rejected too.

- **Safety**: every message is masked with `state.redaction.redact_text` (the rules progress
  files use) before it is hashed, sent, cached or logged; error messages are masked too.
- **Retries**: rate limits (429), timeouts, 5xx answers and dropped connections are retried
  `settings.max_retries` times with exponential backoff (tenacity); the provider client's own
  retries are off so the count is ours. Other errors (bad key, unknown model) fail at once.
- **Cache**: with an engine, accepted answers are kept in table `llm_cache` keyed by the sha256
  of the request (model, api_base, masked messages, response format, temperature); the same
  request is answered from there without an HTTP call. An answer accepted after a repair round
  is also kept under the first request's key, so a re-run gets it without the repair round.
- **Accounting**: with an engine, every call (and cache hit, marked `cached`) is a row of
  `llm_call`: model, purpose, prompt/completion tokens from the provider's `usage` block, cost
  from litellm's price table (`litellm.completion_cost`; None for unknown models), status,
  duration. `lead llm usage` sums them.
- litellm is imported at the first real call, never by importing this module; its remote
  price-map fetch is disabled (`LITELLM_LOCAL_MODEL_COST_MAP`), so nothing but the model's own
  endpoint is contacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from llm.config import LlmSettings, llm_settings

T = TypeVar("T")

OFF_MESSAGE = "LLM is off (set JOB_AGENT_LLM_MODEL to use one); working on rules alone"
MAX_ERROR_CHARS = 500
MAX_PROBLEMS_SENT = 20

_said_off = False
_said_off_lock = threading.Lock()


class LlmError(Exception):
    """A model call did not give a usable answer; the message is masked and says why."""


class LlmUnavailable(LlmError):
    """The call failed after its retries (timeout, rate limit, 5xx, connection) or was refused (auth, bad model)."""


class LlmOutputInvalid(LlmError):
    """The answer was still invalid after the repair round.

    Attributes:
        problems: what the last validation said, one message each.
    """

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class OutputRejected(Exception):
    """Raised by a caller's check to reject an answer; `problems` are sent back in the repair turn."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else [str(p) for p in problems]
        super().__init__("; ".join(self.problems))


@dataclass
class _Reply:
    content: str
    key: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    duration_ms: int = 0
    cached: bool = False


def _mask(text: str) -> str:
    from state.redaction import redact_text

    return redact_text(text)


def _masked_messages(messages: list[dict]) -> list[dict]:
    out = []
    for message in messages:
        if not isinstance(message, dict) or "role" not in message or not isinstance(message.get("content"), str):
            raise TypeError(f"each message must be {{'role': str, 'content': str}}, got {message!r}")
        out.append({"role": message["role"], "content": _mask(message["content"])})
    return out


_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.DOTALL)


def parse_json_object(text: str) -> dict:
    """The JSON object in a model's answer: the whole text, or the first fenced ```json block.

    Raises:
        OutputRejected: no JSON object could be read (the message says where parsing stopped).
    """
    candidates = [text.strip()]
    match = _FENCED_JSON.search(text)
    if match:
        candidates.insert(0, match.group(1).strip())
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = exc
            continue
        if not isinstance(value, dict):
            raise OutputRejected(f"the answer must be one JSON object, got a JSON {type(value).__name__}")
        return value
    raise OutputRejected(f"the answer is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")


def schema_problems(value: Any, schema: dict) -> list[str]:
    """Every way `value` breaks the JSON schema, as `"<path>: <message>"` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{path}: {error.message}")
    return problems


def _import_litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True  # a provider without JSON mode gets the request without it
    litellm.telemetry = False
    return litellm


def _transient_errors(litellm) -> tuple[type[BaseException], ...]:
    exc = litellm.exceptions
    names = ("RateLimitError", "Timeout", "APIConnectionError", "InternalServerError",
             "ServiceUnavailableError", "BadGatewayError")
    return tuple(getattr(exc, name) for name in names if hasattr(exc, name))


class Gateway:
    """Model calls for one configuration; thread-safe; cheap to create.

    Args:
        settings: which model and how patient (`llm.config.LlmSettings`).
        engine: the state database's engine for the cache and the accounting (None: neither).
        backoff_s: the first retry's wait in seconds (doubling, at most 20 s).
    """

    def __init__(self, settings: LlmSettings, engine=None, *, backoff_s: float = 1.0) -> None:
        self.settings = settings
        self.engine = engine
        self.backoff_s = backoff_s
        self._warned_db = False

    # -- public -------------------------------------------------------------------------------

    def complete_text(self, purpose: str, messages: list[dict], *, task_id: int | None = None) -> str:
        """The model's answer to `messages` (a list of `{"role", "content"}`), as text.

        Raises:
            LlmUnavailable: the call failed after its retries.
        """
        reply = self._call(purpose, _masked_messages(messages), json_mode=False, task_id=task_id)
        self._finish(purpose, reply, "ok", None, task_id)
        return reply.content

    def complete_checked(self, purpose: str, messages: list[dict], check: Callable[[str], T], *,
                         task_id: int | None = None, json_mode: bool = False) -> T:
        """`check(answer)` of the model's answer, with one repair round.

        `check` parses and validates the text; it raises `OutputRejected(problems)` to reject it.
        Then the conversation goes back to the model once more with the problems listed, and
        `check` reads the new answer.

        Raises:
            LlmUnavailable: a call failed after its retries.
            LlmOutputInvalid: the repaired answer was rejected too (`problems` from the last check).
        """
        conversation = _masked_messages(messages)
        first_key = self.request_key(conversation, json_mode)
        problems: list[str] = []
        for round_ in range(2):
            reply = self._call(purpose, conversation, json_mode=json_mode, task_id=task_id)
            try:
                value = check(reply.content)
            except OutputRejected as rejected:
                problems = rejected.problems
                self._finish(purpose, reply, "invalid", "; ".join(problems), task_id, keep=False)
                if round_ == 0:
                    conversation = conversation + [
                        {"role": "assistant", "content": _mask(reply.content)},
                        {"role": "user", "content": _mask(repair_message(problems))},
                    ]
                continue
            self._finish(purpose, reply, "ok", None, task_id)
            if round_ == 1:  # the same request next time gets the repaired answer at once
                self._keep(first_key, reply)
            return value
        shown = "; ".join(problems[:MAX_PROBLEMS_SENT])
        raise LlmOutputInvalid(_mask(f"the model's answer was still invalid after a repair round: {shown}"), problems)

    def complete_json(self, purpose: str, messages: list[dict], schema: dict, *, task_id: int | None = None,
                      check: Callable[[dict], T] | None = None) -> dict | T:
        """A JSON object from the model, valid against `schema` (JSON Schema 2020-12), then `check` if given.

        The schema is appended to the last message so any provider knows the shape; JSON mode
        (`response_format={"type": "json_object"}`) is asked for where the provider has it.

        Raises:
            LlmUnavailable: a call failed after its retries.
            LlmOutputInvalid: the repaired answer still broke the schema or the check.
        """
        schema_text = json.dumps(schema, indent=1, sort_keys=True)
        messages = list(messages)
        last = dict(messages[-1])
        last["content"] = (f"{last['content']}\n\nAnswer with one JSON object only, valid against this JSON schema:\n"
                           f"```json\n{schema_text}\n```")
        messages[-1] = last

        def parse(text: str):
            value = parse_json_object(text)
            problems = schema_problems(value, schema)
            if problems:
                raise OutputRejected(problems)
            return check(value) if check else value

        return self.complete_checked(purpose, messages, parse, task_id=task_id, json_mode=True)

    # -- internals ----------------------------------------------------------------------------

    def request_key(self, messages: list[dict], json_mode: bool) -> str:
        """The cache key of a request: sha256 over model, api_base, masked messages, JSON mode, temperature."""
        body = json.dumps({"model": self.settings.model, "api_base": self.settings.api_base, "messages": messages,
                           "json": json_mode, "temperature": self.settings.temperature}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def _call(self, purpose: str, messages: list[dict], *, json_mode: bool, task_id: int | None) -> _Reply:
        key = self.request_key(messages, json_mode)
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        litellm = _import_litellm()
        import tenacity

        kwargs: dict[str, Any] = {
            "model": self.settings.model, "messages": messages, "timeout": self.settings.timeout_s,
            "temperature": self.settings.temperature, "max_retries": 0, "num_retries": 0,
        }
        if self.settings.api_base:
            kwargs["api_base"] = self.settings.api_base
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        started = time.monotonic()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_transient_errors(litellm)),
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.backoff_s, max=20),
            reraise=True,
        )
        try:
            response = retrying(litellm.completion, **kwargs)
            content = response.choices[0].message.content
        except Exception as error:  # noqa: BLE001 - every provider failure becomes one typed error
            message = _mask(f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
            reply = _Reply(content="", key=key, duration_ms=int((time.monotonic() - started) * 1000))
            self._finish(purpose, reply, "error", message, task_id, keep=False)
            raise LlmUnavailable(f"model {self.settings.model} did not answer: {message}") from None
        usage = getattr(response, "usage", None)
        reply = _Reply(
            content=content if isinstance(content, str) else "",
            key=key,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        try:
            cost = litellm.completion_cost(completion_response=response, model=self.settings.model)
            reply.cost_usd = float(cost) if cost is not None else None
        except Exception:  # noqa: BLE001 - litellm raises for models missing from its price table
            reply.cost_usd = None
        return reply

    def _cache_get(self, key: str) -> _Reply | None:
        if self.engine is None:
            return None
        from state.models import LlmCacheEntry

        row = self._db(lambda session: session.get(LlmCacheEntry, key))
        if row is None:
            return None
        return _Reply(content=row.content, key=key, cached=True)

    def _finish(self, purpose: str, reply: _Reply, status: str, error: str | None, task_id: int | None,
                *, keep: bool = True) -> None:
        """Record the call in `llm_call` and, for an accepted fresh answer, keep it in `llm_cache`."""
        if self.engine is None:
            return
        from state.models import LlmCacheEntry, LlmCall

        def write(session) -> None:
            session.add(LlmCall(
                model=self.settings.model, purpose=purpose, prompt_tokens=0 if reply.cached else reply.prompt_tokens,
                completion_tokens=0 if reply.cached else reply.completion_tokens,
                cost_usd=None if reply.cached else reply.cost_usd, cached=reply.cached, status=status, error=error,
                duration_ms=reply.duration_ms, request_key=reply.key, task_id=task_id,
            ))
            if reply.cached and status == "invalid":  # a kept answer the caller no longer accepts
                stale = session.get(LlmCacheEntry, reply.key)
                if stale is not None:
                    session.delete(stale)
            if keep and not reply.cached and status == "ok":
                self._cache_add(session, reply.key, reply)
            session.commit()

        self._db(write)

    def _keep(self, key: str, reply: _Reply) -> None:
        """Keep `reply`'s accepted content in `llm_cache` under `key` (another request's key)."""
        if self.engine is None:
            return

        def write(session) -> None:
            self._cache_add(session, key, reply)
            session.commit()

        self._db(write)

    def _cache_add(self, session, key: str, reply: _Reply) -> None:
        """Add `reply` to `llm_cache` under `key` unless an entry is there (the caller commits)."""
        from state.models import LlmCacheEntry

        if session.get(LlmCacheEntry, key) is None:
            session.add(LlmCacheEntry(key=key, model=self.settings.model, content=reply.content,
                                      prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens))

    def _db(self, action: Callable[[Any], T]) -> T | None:
        """Run `action(session)`; a database failure is reported once and does not fail the model call."""
        from sqlalchemy.exc import SQLAlchemyError
        from sqlmodel import Session

        try:
            with Session(self.engine) as session:
                return action(session)
        except SQLAlchemyError as error:
            if not self._warned_db:
                self._warned_db = True
                print(f"llm: cannot record model calls in the state database: {_mask(str(error))[:200]}", file=sys.stderr)
            return None


def repair_message(problems: list[str]) -> str:
    """The user turn of the repair round: the validation messages, one per line, and what to do."""
    listed = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SENT])
    more = f"\n- ... and {len(problems) - MAX_PROBLEMS_SENT} more" if len(problems) > MAX_PROBLEMS_SENT else ""
    return ("Your answer was rejected by validation:\n" + listed + more +
            "\nFix every problem and answer again in the same format, with nothing else.")


def say_llm_off() -> None:
    """Print `OFF_MESSAGE` on stderr, once per process."""
    global _said_off
    with _said_off_lock:
        if _said_off:
            return
        _said_off = True
    print(f"note: {OFF_MESSAGE}", file=sys.stderr)


def get_gateway(engine=None, *, front_matter_llm: str | dict | None = None,
                settings: LlmSettings | None = None, quiet: bool = False) -> Gateway | None:
    """The gateway for the configured model, or None when the LLM is off (said once on stderr unless `quiet`).

    Raises:
        llm.config.LlmConfigError: the `llm:` front matter or a `JOB_AGENT_LLM_*` variable is malformed.
    """
    settings = settings or llm_settings(front_matter_llm)
    if settings is None:
        if not quiet:
            say_llm_off()
        return None
    return Gateway(settings, engine)
