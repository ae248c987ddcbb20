"""The sandbox ASGI application: Starlette routes of every API family, the service's error
bodies for typed errors and unknown endpoints, and the fault-injection middleware around it all.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.errors import ApiError, NotFoundEndpoint
from sandbox.faults import FaultMiddleware
from sandbox.store import Store

log = logging.getLogger("sandbox")


async def _api_error(request: Request, exc: ApiError):
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: Request, exc: HTTPException):
    if exc.status_code == 404:
        body = NotFoundEndpoint(f"No API found for '{request.method} {request.url.path}'").body()
    elif exc.status_code == 405:
        body = {"error_code": "BAD_REQUEST", "message": f"Method {request.method} is not allowed on {request.url.path}"}
    else:
        body = {"error_code": "BAD_REQUEST", "message": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception):
    log.exception("sandbox handler failed on %s %s", request.method, request.url.path)
    return JSONResponse({"error_code": "INTERNAL_ERROR", "message": f"Sandbox internal error: {exc!r}"},
                        status_code=500)


def build_app(store: Store):
    """The ASGI app serving ``store``: Starlette with all routes, wrapped in ``FaultMiddleware``."""
    from sandbox import routes_compute, routes_control, routes_jobs, routes_sql, routes_workspace

    routes = (routes_compute.ROUTES + routes_jobs.ROUTES + routes_workspace.ROUTES + routes_sql.ROUTES
              + routes_control.ROUTES)
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error,
                                                        Exception: _unexpected})
    app.state.store = store
    return FaultMiddleware(app, lambda token: store.transient(token)["faults"], store.lock)
