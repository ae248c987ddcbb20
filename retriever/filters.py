"""Evaluating a Chroma-style ``where`` filter against one chunk's metadata in memory.

Used for the BM25 side of a search so that ``where`` means the same for every mode.
Supported: ``{"key": value}``, ``{"key": {"$eq"|"$ne"|"$in"|"$nin"|"$gt"|"$gte"|"$lt"|"$lte": v}}``,
``{"$and": [...]}``, ``{"$or": [...]}``. Anything else raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$in": lambda a, b: a in b,
    "$nin": lambda a, b: a not in b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def validate_where(where: dict[str, Any]) -> None:
    """Raise ``ValueError`` if ``where`` uses an unsupported shape or operator."""
    matches(where, {})


def matches(where: dict[str, Any], metadata: dict[str, Any]) -> bool:
    """Whether ``metadata`` satisfies ``where`` (all top-level conditions must hold)."""
    if not isinstance(where, dict):
        raise ValueError(f"where must be a dict, got {type(where).__name__}")
    ok = True
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list):
                raise ValueError(f"{key} takes a list of filters")
            results = [matches(c, metadata) for c in cond]
            ok = ok and (all(results) if key == "$and" else any(results))
        elif key.startswith("$"):
            raise ValueError(f"unsupported where operator {key}")
        elif isinstance(cond, dict):
            for op, val in cond.items():
                if op not in _OPS:
                    raise ValueError(f"unsupported where operator {op}")
                ok = ok and _OPS[op](metadata.get(key), val)
        else:
            ok = ok and metadata.get(key) == cond
    return ok


def to_chroma(where: dict[str, Any]) -> dict[str, Any]:
    """The same filter in the shape Chroma accepts: several top-level conditions become an
    explicit ``$and`` (Chroma takes one key per level), recursively."""
    if not isinstance(where, dict):
        return where
    items = []
    for key, cond in where.items():
        if key in ("$and", "$or"):
            items.append({key: [to_chroma(c) for c in cond]})
        else:
            items.append({key: cond})
    return items[0] if len(items) == 1 else {"$and": items}
