"""SQL routes: warehouses (``GET /api/2.0/sql/warehouses``, ``GET /api/2.0/sql/warehouses/{id}``)
and Statement Execution (``POST /api/2.0/sql/statements``, ``GET /api/2.0/sql/statements/{id}``,
``POST /api/2.0/sql/statements/{id}/cancel``).

Shapes: ``sql.ListWarehousesResponse``, ``sql.GetWarehouseResponse``, ``sql.StatementResponse``.
Statements execute synchronously on the embedded engine (``sandbox.sql_engine``); ``wait_timeout``
must be ``0s`` or ``5s``..``50s`` like the service. With ``0s`` the first answer is ``PENDING`` and
the result is fetched with ``GET .../{id}``. SQL errors are HTTP 200 with ``status.state = FAILED``
and ``status.error`` (``error_code``, ``message``), like the service.
"""

from __future__ import annotations

import copy
import re
import uuid

from databricks.sdk.service import sql
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from sandbox import seed
from sandbox.errors import InvalidParameterValue, ResourceDoesNotExist
from sandbox.handler_io import json_body, ok, require, token_of


async def list_warehouses(request: Request):
    """``GET /api/2.0/sql/warehouses`` -> ``{"warehouses": [EndpointInfo]}``."""
    token_of(request)
    whs = seed.warehouses(request.app.state.store.host)
    return ok(sql.ListWarehousesResponse.from_dict({"warehouses": list(whs.values())}).as_dict())


async def get_warehouse(request: Request):
    """``GET /api/2.0/sql/warehouses/{id}`` -> ``sql.GetWarehouseResponse``; unknown id -> 404."""
    token_of(request)
    wid = request.path_params["id"]
    wh = seed.warehouses(request.app.state.store.host).get(wid)
    if wh is None:
        raise ResourceDoesNotExist(f"Unable to find warehouse {wid}.")
    return ok(sql.GetWarehouseResponse.from_dict(wh).as_dict())


def _parse_wait(value: str | None) -> int:
    if value is None:
        return 10
    m = re.fullmatch(r"(\d+)s", value)
    if not m or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
        raise InvalidParameterValue(
            f"wait_timeout must be 0s or between 5s and 50s, got {value!r}.")
    return int(m.group(1))


async def execute_statement(request: Request):
    """``POST /api/2.0/sql/statements`` (fields as ``StatementExecutionAPI.execute_statement`` sends them) -> ``sql.StatementResponse``."""
    from sandbox import sql_engine

    body = await json_body(request)
    statement = require(body, "statement", str)
    warehouse_id = require(body, "warehouse_id", str)
    store = request.app.state.store
    if warehouse_id not in seed.warehouses(store.host):
        raise ResourceDoesNotExist(f"Unable to find warehouse {warehouse_id}.")
    wait = _parse_wait(body.get("wait_timeout"))
    if body.get("disposition", "INLINE") != "INLINE":
        raise InvalidParameterValue("The sandbox supports only disposition INLINE.")
    if body.get("format", "JSON_ARRAY") != "JSON_ARRAY":
        raise InvalidParameterValue("The sandbox supports only format JSON_ARRAY.")
    params = [sql.StatementParameterListItem.from_dict(p).as_dict() for p in body.get("parameters") or []]
    row_limit = body.get("row_limit")
    token = token_of(request)
    with store.transaction(token) as ws:
        # a deep copy taken under the lock; the engine then runs on a worker thread, so a slow
        # statement blocks neither the event loop nor other clients' requests
        snapshot = copy.deepcopy({"jobs": ws["jobs"], "runs": ws["runs"], "clusters": ws["clusters"]})
        now = store.now_ms(ws)
    result = await run_in_threadpool(sql_engine.execute, statement, params, snapshot, now, store.host,
                                     row_limit=row_limit, catalog=body.get("catalog"), schema=body.get("schema"),
                                     system_tables=getattr(store, "system_tables", None))
    statement_id = str(uuid.UUID(int=uuid.uuid4().int))
    result["statement_id"] = statement_id
    tr = store.transient(token)
    with store.lock:
        tr["statements"][statement_id] = result
    if wait == 0 and result["status"]["state"] == "SUCCEEDED":
        return ok({"statement_id": statement_id, "status": {"state": "PENDING"}})
    return ok(sql.StatementResponse.from_dict(result).as_dict())


async def get_statement(request: Request):
    """``GET /api/2.0/sql/statements/{id}`` -> ``sql.StatementResponse``; unknown id -> 404."""
    store = request.app.state.store
    tr = store.transient(token_of(request))
    with store.lock:
        result = tr["statements"].get(request.path_params["id"])
    if result is None:
        raise ResourceDoesNotExist(f"Statement {request.path_params['id']} not found.")
    return ok(sql.StatementResponse.from_dict(result).as_dict())


async def cancel_statement(request: Request):
    """``POST /api/2.0/sql/statements/{id}/cancel`` -> ``{}`` (statements finish at once; a no-op)."""
    token_of(request)
    return ok({})


ROUTES = [
    Route("/api/2.0/sql/warehouses", list_warehouses, methods=["GET"]),
    Route("/api/2.0/sql/warehouses/{id}", get_warehouse, methods=["GET"]),
    Route("/api/2.0/sql/statements", execute_statement, methods=["POST"]),
    Route("/api/2.0/sql/statements/{id}", get_statement, methods=["GET"]),
    Route("/api/2.0/sql/statements/{id}/cancel", cancel_statement, methods=["POST"]),
]
