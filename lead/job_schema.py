"""Field names and shapes of job settings, checked against the Databricks SDK's dataclasses.

The source of truth is `databricks.sdk.service.jobs.JobSettings` (the Jobs API 2.2
``JobSettings`` object, which is also the Databricks Asset Bundles job schema) and the
dataclasses its type hints reach (`jobs.Task`, `compute.ClusterSpec`, `jobs.NotebookTask`,
...). Checked here, recursively: field *names* wherever a mapping meets a dataclass, and
*shapes*: a list where the SDK has a list, a mapping where it has a dataclass or a dict, a
single value where it has a str, number, bool or enum. ``null`` is accepted anywhere (the
field is then unset). Values themselves (types of scalars, enums, required fields) are the
worker's validate phase.

`databricks.sdk` costs over a second to import, so the field tree comes from
`lead.sdk_fields` (a cache file derived once per installed SDK version); the SDK is imported
only to (re)build that cache.
"""

from __future__ import annotations

from typing import Any

from lead.errors import FieldProblem
from lead.sdk_fields import FieldTree, field_tree
from lead.substitution import suggest

# Keys a bundle accepts on a job resource that are not JobSettings fields. They are removed
# from the settings (and reported as ignored) rather than rejected, so bundle YAML pastes.
BUNDLE_ONLY_JOB_KEYS = frozenset({"permissions", "lifecycle"})


def _class_key(tree: FieldTree, class_name: str) -> str:
    try:
        return tree.by_name[class_name]
    except KeyError:
        raise ValueError(f"databricks.sdk.service.jobs has no dataclass {class_name!r}") from None


def field_names(class_name: str = "JobSettings") -> frozenset[str]:
    """The field names of `jobs.<class_name>` (from the cached field tree).

    Raises `ValueError` when `databricks.sdk.service.jobs` has no such dataclass."""
    tree = field_tree()
    return frozenset(tree.classes[_class_key(tree, class_name)].fields)


def check_fields(value: Any, class_name: str = "JobSettings", path: tuple = ()) -> None:
    """Check every mapping key and every list/mapping shape in `value` against the SDK
    dataclass it would populate.

    `class_name` names a dataclass of `databricks.sdk.service.jobs` (``JobSettings`` for a
    whole job, ``Task`` for one task; `ValueError` for an unknown one). Raises
    `FieldProblem(path + (key,), "unknown job field 'x' (NotebookTask has no such field; did
    you mean 'y'?)")` for an unknown key and `FieldProblem(path, "must be a list, not ...")`
    (or "a mapping", "a single value") for a value of the wrong shape; the first problem in
    document order. `path` is prepended to the reported path.
    """
    tree = field_tree()
    _check(tree, value, "class:" + _class_key(tree, class_name), tuple(path))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _check(tree: FieldTree, value: Any, shape: str, path: tuple) -> None:
    """Recursion as deep as `value`, which the YAML reader and the substitution keep
    within their nesting limit."""
    if value is None or shape == "any":
        return
    kind, _, inner = shape.partition(":")
    if kind == "scalar":
        if isinstance(value, (dict, list)):
            raise FieldProblem(path, f"must be a single value, not {_describe(value)}")
        return
    if kind == "list":
        if not isinstance(value, list):
            raise FieldProblem(path, f"must be a list, not {_describe(value)}")
        for i, item in enumerate(value):
            _check(tree, item, inner, path + (i,))
        return
    if not isinstance(value, dict):
        raise FieldProblem(path, f"must be a mapping, not {_describe(value)}")
    if kind == "map":
        for k, v in value.items():
            _check(tree, v, inner, path + (k,))
        return
    info = tree.classes[inner]
    for key, v in value.items():
        if key not in info.fields:
            raise FieldProblem(
                path + (key,),
                f"unknown job field '{key}' ({info.name} has no such field" + suggest(key, info.fields) + ")",
            )
        _check(tree, v, info.fields[key], path + (key,))
