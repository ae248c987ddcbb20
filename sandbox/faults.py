"""Fault injection: rules that make matching requests fail, slow down or lose their response.

A rule (``FaultRule``) matches requests of one token whose path matches ``path`` (a shell-style
glob, ``fnmatch``; e.g. ``/api/2.2/jobs/*``) and, if given, ``method``. The first ``offset``
matching requests pass untouched; the next ``count`` (``None`` = forever) are faulted. With
``probability`` below 1, each of those eligible requests is faulted only with that probability
(drawn from a generator seeded by ``seed``, so a test run is repeatable); e.g. two rules with
``probability: 0.1`` and ``count: None``, one 429 and one 503, answer about 20% of requests
with an error:

- ``kind="429"``: HTTP 429 ``TOO_MANY_REQUESTS`` with ``Retry-After: retry_after`` seconds
  (the SDK's retry honours it: ``retry_after_secs`` in ``databricks/sdk/errors/customizer.py``);
- ``kind="503"``: HTTP 503 ``TEMPORARILY_UNAVAILABLE`` with ``Retry-After`` (also retried by the SDK);
- ``kind="latency"``: the request is served after ``latency_ms`` milliseconds;
- ``kind="lose_response"``: the request is APPLIED, then the answer is lost: ``mode="drop"``
  (default) closes the connection without a response (the SDK sees a connection error and
  retries, which is how naive clients create duplicates); ``mode="500"|"502"|"503"|"504"``
  answers that status instead.

Rules live in memory per token (``Store.transient``), never in the state file.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from dataclasses import asdict, dataclass

from sandbox.errors import InvalidParameterValue

KINDS = ("429", "503", "latency", "lose_response")


@dataclass
class FaultRule:
    """One fault rule; ``seen`` counts matching requests, ``fired`` faulted ones."""

    id: int
    path: str
    kind: str
    count: int | None = 1
    offset: int = 0
    method: str | None = None
    retry_after: int = 0
    latency_ms: int = 0
    mode: str = "drop"
    probability: float = 1.0
    seed: int = 0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        import random

        self._rng = random.Random(self.seed)

    def take(self, method: str, path: str) -> bool:
        """Count a request; True if this request must be faulted."""
        if self.method and self.method.upper() != method.upper():
            return False
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        self.seen += 1
        if self.seen <= self.offset:
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        if self.probability < 1.0 and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def as_dict(self) -> dict:
        """JSON form (control endpoint ``GET /__sandbox/faults``)."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def make_rule(rule_id: int, spec: dict) -> FaultRule:
    """Validate a rule spec (control endpoint body or ``add_fault`` kwargs); raises ``InvalidParameterValue``."""
    allowed = {"path", "kind", "count", "offset", "method", "retry_after", "latency_ms", "mode", "probability", "seed"}
    bad = set(spec) - allowed
    if bad:
        raise InvalidParameterValue(f"Unknown fault rule fields {sorted(bad)}; allowed: {sorted(allowed)}")
    kind = str(spec.get("kind", ""))
    if kind not in KINDS:
        raise InvalidParameterValue(f"Fault kind must be one of {KINDS}, got {kind!r}")
    if not spec.get("path"):
        raise InvalidParameterValue("A fault rule needs a path pattern, e.g. '/api/2.2/jobs/*'")
    mode = str(spec.get("mode", "drop"))
    if mode not in ("drop", "500", "502", "503", "504"):
        raise InvalidParameterValue("lose_response mode must be 'drop', '500', '502', '503' or '504'")
    count = spec.get("count", 1)
    return FaultRule(
        id=rule_id,
        path=spec["path"],
        kind=kind,
        count=None if count is None or count == -1 else int(count),
        offset=int(spec.get("offset", 0)),
        method=spec.get("method"),
        retry_after=int(spec.get("retry_after", 0)),
        latency_ms=int(spec.get("latency_ms", 0)),
        mode=mode,
        probability=_probability(spec.get("probability", 1.0)),
        seed=int(spec.get("seed", 0)),
    )


def _probability(value) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"probability must be a number in (0, 1], got {value!r}") from None
    if not 0.0 < p <= 1.0:
        raise InvalidParameterValue(f"probability must be in (0, 1], got {p}")
    return p


_ERRORS = {
    "429": ("TOO_MANY_REQUESTS", "Too many requests. Please wait a moment and try again."),
    "503": ("TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable. Please try again later."),
}


class FaultMiddleware:
    """ASGI middleware applying the caller's fault rules before/after the wrapped app.

    ``rules_for(token) -> list[FaultRule]`` gives the token's rules (guarded by the store lock).
    Control paths (``/__sandbox/...``) are never faulted.
    """

    def __init__(self, app, rules_for, lock):
        self.app = app
        self.rules_for = rules_for
        self.lock = lock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox"):
            await self.app(scope, receive, send)
            return
        token = None
        for k, v in scope.get("headers") or []:
            if k == b"authorization":
                parts = v.decode("latin-1").split(" ", 1)
                if len(parts) == 2:
                    token = parts[1].strip()
        rule = None
        if token:
            with self.lock:
                for r in self.rules_for(token):
                    if r.take(scope["method"], scope["path"]):
                        rule = r
                        break
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.kind == "latency":
            await asyncio.sleep(rule.latency_ms / 1000)
            await self.app(scope, receive, send)
            return
        if rule.kind in _ERRORS:
            code, message = _ERRORS[rule.kind]
            body = json.dumps({"error_code": code, "message": message}).encode()
            await send({"type": "http.response.start", "status": int(rule.kind),
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(rule.retry_after).encode()),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        # lose_response: apply the request, swallow the answer
        async def swallow(message):
            return None

        await self.app(scope, receive, swallow)
        if rule.mode == "drop":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                transport.close()
                return
        status = 500 if rule.mode == "drop" else int(rule.mode)
        body = json.dumps({"error_code": "INTERNAL_ERROR" if status == 500 else "TEMPORARILY_UNAVAILABLE",
                           "message": "The response was lost (sandbox fault rule)."}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"0"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
