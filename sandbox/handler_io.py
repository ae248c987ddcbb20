"""Request/response plumbing shared by the route modules: the caller's token, typed query and body
access that raise the service's errors, and JSON responses.

Bodies are parsed as JSON objects; query values arrive as strings (the SDK sends booleans as
``"true"``/``"false"``, see ``_BaseClient._fix_query_string``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.errors import InvalidParameterValue, MalformedRequest, Unauthenticated


def token_of(request: Request) -> str:
    """The bearer token of the request; raises ``Unauthenticated`` (401) without one."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("No API token found in the Authorization header. Use 'Authorization: Bearer <token>'.")
    return token.strip()


async def json_body(request: Request) -> dict:
    """The request body as a JSON object ({} when empty); raises ``MalformedRequest`` otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise MalformedRequest(f"Invalid JSON given in the body of the request - {e}") from None
    if not isinstance(data, dict):
        raise MalformedRequest("Invalid JSON given in the body of the request - expected a JSON object")
    return data


def q_str(request: Request, name: str, default: str | None = None) -> str | None:
    """A string query parameter or ``default``."""
    return request.query_params.get(name, default)


def q_int(request: Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter; raises ``InvalidParameterValue`` if it is not an integer."""
    v = request.query_params.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise InvalidParameterValue(f"Invalid value for parameter {name}: {v!r} is not an integer") from None


def q_bool(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``true``/``false``, case-insensitive)."""
    v = request.query_params.get(name)
    if v is None:
        return default
    if v.lower() in ("true", "1"):
        return True
    if v.lower() in ("false", "0"):
        return False
    raise InvalidParameterValue(f"Invalid value for parameter {name}: {v!r} is not a boolean")


def require(body: dict, name: str, kind: type | tuple[type, ...] = object) -> Any:
    """``body[name]``, required; raises ``InvalidParameterValue`` if missing or of the wrong type."""
    if name not in body or body[name] is None:
        raise InvalidParameterValue(f"Missing required field: {name}")
    v = body[name]
    if kind is int and isinstance(v, str) and v.isdigit():
        return int(v)
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise InvalidParameterValue(f"Invalid value for field {name}: {v!r}")
    return v


def ok(data: dict | None = None, status: int = 200) -> Response:
    """A JSON response (``{}`` when ``data`` is None)."""
    return JSONResponse(data if data is not None else {}, status_code=status)
