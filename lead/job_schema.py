"""Field names of job settings, checked against the Databricks SDK's own dataclasses.

The source of truth is `databricks.sdk.service.jobs.JobSettings` (the Jobs API 2.2
``JobSettings`` object, which is also the Databricks Asset Bundles job schema) and the
dataclasses its type hints reach (`jobs.Task`, `compute.ClusterSpec`, `jobs.NotebookTask`,
...). Only field *names* are checked here, recursively wherever a mapping meets a dataclass;
values (types, enums, required fields) are the worker's validate phase.

`databricks.sdk` costs seconds to import, so it is imported inside `check_fields`, never at
module import time.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from typing import Any

from lead.errors import FieldProblem
from lead.substitution import suggest

# Keys a bundle accepts on a job resource that are not JobSettings fields. They are removed
# from the settings (and reported as ignored) rather than rejected, so bundle YAML pastes.
BUNDLE_ONLY_JOB_KEYS = frozenset({"permissions", "lifecycle"})


def _settings_class(name: str) -> type:
    from databricks.sdk.service import jobs  # lazy: see module docstring

    return getattr(jobs, name)


@functools.lru_cache(maxsize=None)
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name) for f in dataclasses.fields(cls)}


def field_names(class_name: str = "JobSettings") -> frozenset[str]:
    """The field names of `jobs.<class_name>` (imports the SDK)."""
    return frozenset(_fields(_settings_class(class_name)))


def check_fields(value: Any, class_name: str = "JobSettings", path: tuple = ()) -> None:
    """Check every mapping key in `value` against the SDK dataclass it would populate.

    `class_name` names a dataclass of `databricks.sdk.service.jobs` (``JobSettings`` for a
    whole job, ``Task`` for one task). Raises `FieldProblem(path, "unknown job field 'x'
    (NotebookTask has no such field; did you mean 'y'?)")` for the first unknown key, in
    document order. Values of the wrong shape are left for the worker's validation.
    """
    _check(value, _settings_class(class_name), tuple(path))


def _check(value: Any, hint: Any, path: tuple) -> None:
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        for arg in typing.get_args(hint):
            if arg is not type(None):
                _check(value, arg, path)
        return
    if origin in (list, typing.List) and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        for i, v in enumerate(value):
            _check(v, item, path + (i,))
        return
    if origin in (dict, typing.Dict) and isinstance(value, dict):
        args = typing.get_args(hint)
        if len(args) == 2:
            for k, v in value.items():
                _check(v, args[1], path + (k,))
        return
    if (
        isinstance(hint, type)
        and dataclasses.is_dataclass(hint)
        and not issubclass(hint, enum.Enum)
        and isinstance(value, dict)
    ):
        fields = _fields(hint)
        for key, v in value.items():
            if key not in fields:
                raise FieldProblem(
                    path + (key,),
                    f"unknown job field '{key}' ({hint.__name__} has no such field"
                    + suggest(key, fields)
                    + ")",
                )
            _check(v, fields[key], path + (key,))
