"""Workspace API 2.0 routes: ``get-status``, ``list``, ``mkdirs``, ``import`` (JSON and multipart),
``export`` and ``delete`` under ``/api/2.0/workspace/``.

Paths are canonical without the ``/Workspace`` prefix (``/Workspace/Shared/x`` is accepted and
means ``/Shared/x``). Shapes: ``workspace.ObjectInfo``, ``workspace.ListResponse``,
``workspace.Import``, ``workspace.ExportResponse``. Errors like the service: missing path -> 404
``RESOURCE_DOES_NOT_EXIST``; existing path without ``overwrite`` -> 400 ``RESOURCE_ALREADY_EXISTS``;
another user's home -> 403 ``PERMISSION_DENIED``; non-empty folder without ``recursive`` -> 400
``DIRECTORY_NOT_EMPTY``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy

from databricks.sdk.service import workspace
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox import seed
from sandbox.errors import (ApiError, InvalidParameterValue, PermissionDenied, ResourceAlreadyExists,
                            ResourceDoesNotExist)
from sandbox.handler_io import json_body, ok, q_str, require, token_of

_EXT_LANG = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R"}
_NOTEBOOK_HEADERS = {"# Databricks notebook source": "PYTHON", "-- Databricks notebook source": "SQL",
                     "// Databricks notebook source": "SCALA"}


def canonical(path: str | None) -> str:
    """Canonical workspace path: absolute, no trailing slash, ``/Workspace`` prefix removed.

    Raises ``InvalidParameterValue`` for a missing or relative path.
    """
    if not path or not path.startswith("/"):
        raise InvalidParameterValue(f"Path ({path}) is not absolute. Workspace paths must start with '/'.")
    if path == "/Workspace" or path.startswith("/Workspace/"):
        path = path[len("/Workspace"):] or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return path


def _check_access(path: str) -> None:
    other = f"/Users/{seed.OTHER_USER_NAME}"
    if path == other or path.startswith(other + "/"):
        raise PermissionDenied(f"User {seed.USER_NAME} does not have Manage permissions on {path}.")


def _info(obj: dict) -> dict:
    d = {k: v for k, v in obj.items() if k != "content"}
    return workspace.ObjectInfo.from_dict(d).as_dict()


def _get(ws: dict, path: str) -> dict:
    if path == "/":
        return {"path": "/", "object_type": "DIRECTORY", "object_id": 0}
    obj = ws["objects"].get(path)
    if obj is None:
        raise ResourceDoesNotExist(f"Path ({path}) doesn't exist.")
    return obj


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


async def get_status(request: Request):
    """``GET /api/2.0/workspace/get-status?path=`` -> ``workspace.ObjectInfo``."""
    path = canonical(q_str(request, "path"))
    _check_access(path)
    with request.app.state.store.transaction(token_of(request)) as ws:
        return ok(_info(_get(ws, path)))


async def list_objects(request: Request):
    """``GET /api/2.0/workspace/list?path=`` -> ``{"objects": [ObjectInfo]}`` (direct children, sorted)."""
    path = canonical(q_str(request, "path"))
    _check_access(path)
    with request.app.state.store.transaction(token_of(request)) as ws:
        obj = _get(ws, path)
        if obj["object_type"] != "DIRECTORY":
            return ok({"objects": [_info(obj)]})
        prefix = path.rstrip("/") + "/"
        children = [o for p, o in ws["objects"].items() if p.startswith(prefix) and "/" not in p[len(prefix):]]
        out = {"objects": [_info(o) for o in sorted(children, key=lambda o: o["path"])]}
    return ok(out if out["objects"] else {})


def _mkdirs(ws: dict, path: str, now: int) -> None:
    parts = [p for p in path.split("/") if p]
    cur = ""
    for part in parts:
        cur += "/" + part
        obj = ws["objects"].get(cur)
        if obj is None:
            oid = ws["next_object_id"]
            ws["next_object_id"] += 1
            ws["objects"][cur] = {"path": cur, "object_type": "DIRECTORY", "object_id": oid,
                                  "resource_id": str(oid), "created_at": now, "modified_at": now}
        elif obj["object_type"] != "DIRECTORY":
            raise ResourceAlreadyExists(f"Path ({cur}) already exists and is not a directory.")


async def mkdirs(request: Request):
    """``POST /api/2.0/workspace/mkdirs`` ``{path}`` -> ``{}``; creates missing parents too."""
    body = await json_body(request)
    path = canonical(require(body, "path", str))
    _check_access(path)
    store = request.app.state.store
    with store.transaction(token_of(request), write=True) as ws:
        _mkdirs(ws, path, store.now_ms(ws))
    return ok({})


async def _import_body(request: Request) -> dict:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return await json_body(request)
    raw = await request.body()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
    out: dict = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "content":
            out["content"] = base64.b64encode(payload).decode()
        elif name:
            out[name] = payload.decode()
    if isinstance(out.get("overwrite"), str):
        out["overwrite"] = out["overwrite"].lower() == "true"
    return out


async def import_object(request: Request):
    """``POST /api/2.0/workspace/import`` (JSON ``workspace.Import`` or multipart ``content`` file) -> ``{}``.

    ``format``: SOURCE (needs ``language``; makes a NOTEBOOK), AUTO (NOTEBOOK if the content starts
    with a "Databricks notebook source" header, else FILE), RAW (FILE), JUPYTER (NOTEBOOK, PYTHON).
    """
    body = await _import_body(request)
    path = canonical(require(body, "path", str))
    _check_access(path)
    fmt = (body.get("format") or "SOURCE").upper()
    language = body.get("language")
    try:
        content = base64.b64decode(body.get("content") or "", validate=True)
    except ValueError:
        raise InvalidParameterValue("content must be base64-encoded.") from None
    text_head = content[:64].decode("utf-8", "replace")
    if fmt == "SOURCE":
        if not language:
            raise InvalidParameterValue("The language field is required when importing with format SOURCE.")
        object_type = "NOTEBOOK"
    elif fmt == "AUTO":
        header = next((lang for h, lang in _NOTEBOOK_HEADERS.items() if text_head.startswith(h)), None)
        object_type = "NOTEBOOK" if header else "FILE"
        language = header if header else None
    elif fmt == "RAW":
        object_type, language = "FILE", None
    elif fmt == "JUPYTER":
        object_type, language = "NOTEBOOK", "PYTHON"
    else:
        raise InvalidParameterValue(f"Import format {fmt} is not supported by the sandbox (SOURCE, AUTO, RAW, JUPYTER).")
    store = request.app.state.store
    with store.transaction(token_of(request), write=True) as ws:
        parent = _parent(path)
        pobj = ws["objects"].get(parent) if parent != "/" else {"object_type": "DIRECTORY"}
        if pobj is None or pobj["object_type"] != "DIRECTORY":
            raise ResourceDoesNotExist(f"The parent folder ({parent}) does not exist.")
        existing = ws["objects"].get(path)
        now = store.now_ms(ws)
        if existing is not None:
            if not body.get("overwrite") or existing["object_type"] == "DIRECTORY":
                raise ResourceAlreadyExists(f"Path ({path}) already exists.")
            oid, created = existing["object_id"], existing["created_at"]
        else:
            oid, created = ws["next_object_id"], now
            ws["next_object_id"] += 1
        obj = {"path": path, "object_type": object_type, "object_id": oid, "created_at": created,
               "modified_at": now, "content": base64.b64encode(content).decode(), "size": len(content)}
        if language:
            obj["language"] = language
        ws["objects"][path] = obj
    return ok({})


async def export(request: Request):
    """``GET /api/2.0/workspace/export?path=&format=`` -> ``{"content": base64, "file_type"}``.

    With ``direct_download=true`` (the SDK's ``workspace.download``) the raw bytes are answered.
    """
    path = canonical(q_str(request, "path"))
    _check_access(path)
    with request.app.state.store.transaction(token_of(request)) as ws:
        obj = _get(ws, path)
        if obj["object_type"] == "DIRECTORY":
            raise InvalidParameterValue(f"Path ({path}) is a directory; export a directory with format DBC.")
        ext = {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}.get(obj.get("language", ""), "")
        content = obj.get("content", "")
    if q_str(request, "direct_download", "false").lower() == "true":
        return Response(base64.b64decode(content), media_type="application/octet-stream")
    return ok({"content": content, "file_type": ext or path.rsplit(".", 1)[-1]})


async def delete(request: Request):
    """``POST /api/2.0/workspace/delete`` ``{path, recursive}`` -> ``{}``."""
    body = await json_body(request)
    path = canonical(require(body, "path", str))
    _check_access(path)
    with request.app.state.store.transaction(token_of(request), write=True) as ws:
        obj = _get(ws, path)
        prefix = path + "/"
        children = [p for p in ws["objects"] if p.startswith(prefix)]
        if obj["object_type"] == "DIRECTORY" and children and not body.get("recursive"):
            raise ApiError(f"Folder ({path}) is not empty.", error_code="DIRECTORY_NOT_EMPTY", status=400)
        for p in children + [path]:
            ws["objects"].pop(p, None)
    return ok({})


ROUTES = [
    Route("/api/2.0/workspace/get-status", get_status, methods=["GET"]),
    Route("/api/2.0/workspace/list", list_objects, methods=["GET"]),
    Route("/api/2.0/workspace/mkdirs", mkdirs, methods=["POST"]),
    Route("/api/2.0/workspace/import", import_object, methods=["POST"]),
    Route("/api/2.0/workspace/export", export, methods=["GET"]),
    Route("/api/2.0/workspace/delete", delete, methods=["POST"]),
]
