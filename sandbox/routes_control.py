"""Control endpoints under ``/__sandbox/`` for tests and tools in other processes.

All except ``health`` act on the caller's token (``Authorization: Bearer <token>``):

- ``GET  /__sandbox/health`` -> ``{"ok": true}`` (no token needed)
- ``POST /__sandbox/faults`` body ``{"path", "kind", "count", "offset", "method", "retry_after",
  "latency_ms", "mode"}`` -> the rule with its ``id`` (see ``sandbox.faults``)
- ``GET  /__sandbox/faults`` -> ``{"faults": [rule]}`` with ``seen`` / ``fired`` counters
- ``DELETE /__sandbox/faults`` -> ``{}`` (drop all rules of the token)
- ``POST /__sandbox/scenario`` body = a scenario dict, or ``{"path": "file.yaml"}`` -> ``{"rules": n}``
- ``GET  /__sandbox/scenario`` -> the loaded (resolved) scenario or ``{}``
- ``GET  /__sandbox/clock`` -> ``{"now_ms", "speed"}``; ``POST /__sandbox/clock/advance``
  ``{"seconds": s}`` -> ``{"now_ms"}`` (moves only this token's workspace clock)
- ``POST /__sandbox/reset`` -> ``{}`` (fresh seeded workspace, faults dropped)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from sandbox.errors import InvalidParameterValue
from sandbox.faults import make_rule
from sandbox.handler_io import json_body, ok, token_of
from sandbox.scenarios import parse_scenario


def add_fault(store, token: str, spec: dict) -> dict:
    """Validate and register a fault rule for ``token``; returns its dict (with ``id``)."""
    tr = store.transient(token)
    with store.lock:
        rule = make_rule(tr["next_fault_id"], spec)
        tr["next_fault_id"] += 1
        tr["faults"].append(rule)
    return rule.as_dict()


def load_scenario(store, token: str, data) -> dict:
    """Parse ``data`` (dict or file path) and make it ``token``'s scenario; returns the resolved dict."""
    scenario = parse_scenario(data)
    with store.transaction(token, write=True) as ws:
        ws["scenario"] = scenario.source
    return scenario.source


def advance(store, token: str, seconds: float) -> int:
    """Move ``token``'s workspace clock forward by ``seconds``; returns its new now (epoch ms)."""
    if seconds < 0:
        raise InvalidParameterValue(f"Cannot move the clock backwards ({seconds} s)")
    with store.transaction(token, write=True) as ws:
        ws["clock_offset_ms"] = int(ws.get("clock_offset_ms", 0)) + int(seconds * 1000)
        return store.now_ms(ws)


async def health(request: Request):
    """Readiness probe."""
    return ok({"ok": True})


async def faults_add(request: Request):
    """Register a fault rule for the caller's token."""
    return ok(add_fault(request.app.state.store, token_of(request), await json_body(request)))


async def faults_list(request: Request):
    """List the caller's fault rules with their counters."""
    store = request.app.state.store
    with store.lock:
        return ok({"faults": [r.as_dict() for r in store.transient(token_of(request))["faults"]]})


async def faults_clear(request: Request):
    """Drop all the caller's fault rules."""
    store = request.app.state.store
    with store.lock:
        store.transient(token_of(request))["faults"].clear()
    return ok({})


async def scenario_load(request: Request):
    """Load a scenario (dict body, or ``{"path": file}``) for the caller's token."""
    body = await json_body(request)
    data = body["path"] if set(body) == {"path"} else body
    resolved = load_scenario(request.app.state.store, token_of(request), data)
    return ok({"rules": len(resolved.get("rules", []))})


async def scenario_get(request: Request):
    """The caller's loaded scenario (resolved), or ``{}``."""
    with request.app.state.store.transaction(token_of(request)) as ws:
        return ok(ws.get("scenario") or {})


async def clock_get(request: Request):
    """The caller's simulated now (epoch ms) and the clock speed."""
    store = request.app.state.store
    with store.transaction(token_of(request)) as ws:
        return ok({"now_ms": store.now_ms(ws), "speed": store.clock.speed})


async def clock_advance(request: Request):
    """Advance the caller's clock by ``seconds``."""
    body = await json_body(request)
    seconds = body.get("seconds")
    if not isinstance(seconds, (int, float)):
        raise InvalidParameterValue("Body must be {\"seconds\": <number>}")
    return ok({"now_ms": advance(request.app.state.store, token_of(request), float(seconds))})


async def reset(request: Request):
    """Reset the caller's workspace to the seed."""
    request.app.state.store.reset(token_of(request))
    return ok({})


ROUTES = [
    Route("/__sandbox/health", health, methods=["GET"]),
    Route("/__sandbox/faults", faults_add, methods=["POST"]),
    Route("/__sandbox/faults", faults_list, methods=["GET"]),
    Route("/__sandbox/faults", faults_clear, methods=["DELETE"]),
    Route("/__sandbox/scenario", scenario_load, methods=["POST"]),
    Route("/__sandbox/scenario", scenario_get, methods=["GET"]),
    Route("/__sandbox/clock", clock_get, methods=["GET"]),
    Route("/__sandbox/clock/advance", clock_advance, methods=["POST"]),
    Route("/__sandbox/reset", reset, methods=["POST"]),
]
