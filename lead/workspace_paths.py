"""Relative notebook and file paths in job tasks, resolved into the workspace.

A bundle syncs the project's files to ``${workspace.file_path}`` (``<root_path>/files``)
and rewrites each local path in a job, relative to the YAML file that holds it, into that
synced tree (bundle docs: "Paths in Databricks Asset Bundles"; notebooks lose their
``.py``/``.ipynb``/... extension because workspace notebooks have none). A requirements file
has no synced tree of its own, so the rule here is:

- a path is *relative* when it is not absolute (``/Workspace/...``, ``/Volumes/...``), has no
  URL scheme (``dbfs:/``, ``s3://``, ...) and does not start with ``${``;
- a relative path resolves to ``<workspace_root>/files/<path>``, after dropping its leading
  ``./`` and ``../`` segments: the requirements file stands for whichever bundle folder the
  job came from (``resources/`` uses ``../src/x.py``, the bundle root uses ``./x.py``), so
  both ``../src/hello.py`` and ``./src/hello.py`` land on ``<root>/files/src/hello.py``;
- ``notebook_task.notebook_path`` additionally loses a ``.py``, ``.ipynb``, ``.sql``,
  ``.scala``, ``.r`` or ``.R`` extension; ``spark_python_task.python_file``,
  ``sql_task.file.path`` and library paths keep theirs;
- in ``environments[].spec.dependencies`` only entries starting with ``./`` or ``../`` are
  paths (anything else is a pip requirement such as ``cowsay`` or ``pandas==2.2``);
- a task whose source is Git (``source: GIT``, or the job has ``git_source`` and the task
  does not say ``source: WORKSPACE``) keeps its paths: they are relative to the repository;
- wildcards (``../dist/*.whl``) need a build step this product does not do: error;
- a relative path with no ``workspace_root`` in the front matter is an error.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from lead.errors import FieldProblem

NOTEBOOK_EXTENSIONS = (".py", ".ipynb", ".sql", ".scala", ".r", ".R")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# (task sub-object, field holding a path, path is a notebook)
_TASK_PATH_FIELDS = (
    (("notebook_task",), "notebook_path", True),
    (("spark_python_task",), "python_file", False),
    (("sql_task", "file"), "path", False),
)
_LIBRARY_PATH_KEYS = ("whl", "jar", "egg", "requirements")


def is_relative(path: str) -> bool:
    """True for a local path a bundle would translate (see module doc)."""
    return bool(path) and not (
        path.startswith("/") or path.startswith("${") or _SCHEME.match(path)
    )


def resolve(path: str, workspace_root: str | None, field_path: tuple, *, notebook: bool) -> str:
    """Resolve one relative `path` to ``<workspace_root>/files/...`` (see module doc).

    Raises `FieldProblem(field_path, ...)` when there is no workspace root, the path has a
    wildcard, or it climbs out of the synced tree after its leading ``../`` are dropped.
    """
    if workspace_root is None:
        raise FieldProblem(
            field_path,
            f"relative path '{path}' needs `workspace_root` in the front matter "
            "(or write an absolute workspace path)",
        )
    if any(c in path for c in "*?["):
        raise FieldProblem(
            field_path,
            f"path '{path}' has a wildcard; building artifacts is not supported, give the "
            "built file's workspace or volume path",
        )
    parts = path.split("/")
    while parts and parts[0] in (".", ".."):
        parts.pop(0)
    rest = posixpath.normpath("/".join(parts)) if parts else ""
    if not rest or rest == "." or rest.startswith(".."):
        raise FieldProblem(field_path, f"path '{path}' does not name a file under the workspace root")
    if notebook and rest.endswith(NOTEBOOK_EXTENSIONS):
        rest = rest[: rest.rindex(".")]
    return f"{workspace_root}/files/{rest}"


def resolve_job_paths(settings: dict[str, Any], workspace_root: str | None) -> dict[str, Any]:
    """A copy of one job's `settings` with its relative task, library and environment
    paths resolved. Raises `FieldProblem` with the path of the field within `settings`."""
    out = copy.deepcopy(settings)
    has_git = isinstance(out.get("git_source"), dict)
    for i, task in enumerate(out.get("tasks") or []):
        if isinstance(task, dict):
            _resolve_task(task, ("tasks", i), workspace_root, has_git)
    for deps, j, at in local_environment_dependencies(out):
        deps[j] = resolve(deps[j], workspace_root, at, notebook=False)
    return out


def local_environment_dependencies(settings: dict[str, Any]) -> Iterator[tuple[list, int, tuple]]:
    """Each `environments[].spec.dependencies` entry of one job's `settings` that is a relative
    local path (`./...`, `../...`), as `(the dependencies list, index, field path)`, so the caller
    can replace it in place (`deps[j] = ...`)."""
    for i, env in enumerate(settings.get("environments") or []):
        spec = env.get("spec") if isinstance(env, dict) else None
        deps = spec.get("dependencies") if isinstance(spec, dict) else None
        if not isinstance(deps, list):
            continue
        for j, dep in enumerate(deps):
            if isinstance(dep, str) and dep.startswith(("./", "../")):
                yield deps, j, ("environments", i, "spec", "dependencies", j)


def _resolve_task(task: dict, at: tuple, root: str | None, has_git: bool) -> None:
    for parents, key, notebook in _TASK_PATH_FIELDS:
        holder: Any = task
        for p in parents:
            holder = holder.get(p) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or not isinstance(holder.get(key), str):
            continue
        top = task.get(parents[0]) if isinstance(task.get(parents[0]), dict) else {}
        source = str(top.get("source") or ("GIT" if has_git else "WORKSPACE")).upper()
        if source == "GIT" or not is_relative(holder[key]):
            continue
        holder[key] = resolve(holder[key], root, at + parents + (key,), notebook=notebook)
    for j, lib in enumerate(task.get("libraries") or []):
        if not isinstance(lib, dict):
            continue
        for key in _LIBRARY_PATH_KEYS:
            if isinstance(lib.get(key), str) and is_relative(lib[key]):
                lib[key] = resolve(lib[key], root, at + ("libraries", j, key), notebook=False)
    inner = task.get("for_each_task", {}).get("task") if isinstance(task.get("for_each_task"), dict) else None
    if isinstance(inner, dict):
        _resolve_task(inner, at + ("for_each_task", "task"), root, has_git)
