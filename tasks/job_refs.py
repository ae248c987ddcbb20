"""Run-time references left literal in job settings by the lead, and their resolution.

The lead (`lead/__init__.py`, "Left literal in settings for the worker") leaves two kinds of
`${...}` in a deploy_job payload's settings:

- `${resources.jobs.OTHER.id}`: the id of another job of the same requirements file, taken
  from the result of the completed dependency `deploy_job:OTHER` (`{"job_id": ...}`). A value
  that is exactly the reference becomes an int (e.g. `run_job_task.job_id`, an int in
  `jobs.RunJobTask`); a reference inside a longer string is replaced by the id's digits.
- `${workspace.current_user.userName}` and `${workspace.current_user.short_name}`: the
  identity the pipeline deploys as (`GET /api/2.0/preview/scim/v2/Me`, `current_user.me()`).
  `short_name` follows Databricks Asset Bundles' substitution: the user name up to the `@`,
  every character other than a letter, digit or `_` turned into `_`, lower-cased.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tasks.base import TaskContext

JOB_REF = re.compile(r"\$\{resources\.jobs\.([A-Za-z0-9_-]+)\.id\}")
USER_REF = re.compile(r"\$\{workspace\.current_user\.(userName|short_name)\}")

_ME_CACHE: OrderedDict[tuple[int, int], str] = OrderedDict()
_ME_CACHE_SIZE = 256


@dataclass
class UnresolvedRef:
    """A `${resources.jobs.KEY.id}` whose dependency result has no job id: the settings
    `field` (dotted path) that holds it and the job `key` it names."""

    field: str
    key: str


def current_user_name(ctx: TaskContext) -> str:
    """The workspace user name (`userName` of SCIM `Me`), fetched once per task attempt."""
    cache_key = (ctx.task_id, ctx.attempt)
    if cache_key not in _ME_CACHE:
        _ME_CACHE[cache_key] = ctx.workspace.current_user.me().user_name or ""
        while len(_ME_CACHE) > _ME_CACHE_SIZE:
            _ME_CACHE.popitem(last=False)
    return _ME_CACHE[cache_key]


def short_name(user_name: str) -> str:
    """`${workspace.current_user.short_name}` of a user name: `Jane.Doe@x.com` -> `jane_doe`."""
    local = user_name.split("@", 1)[0]
    return re.sub(r"[^A-Za-z0-9_]", "_", local).lower()


def referenced_job_keys(value: Any) -> set[str]:
    """Every job key named by a `${resources.jobs.KEY.id}` anywhere inside `value`."""
    if isinstance(value, str):
        return set(JOB_REF.findall(value))
    if isinstance(value, dict):
        return set().union(*(referenced_job_keys(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(referenced_job_keys(v) for v in value)) if value else set()
    return set()


def _uses_current_user(value: Any) -> bool:
    if isinstance(value, str):
        return USER_REF.search(value) is not None
    if isinstance(value, dict):
        return any(_uses_current_user(v) for v in value.values())
    if isinstance(value, list):
        return any(_uses_current_user(v) for v in value)
    return False


def resolve_settings(ctx: TaskContext, settings: dict[str, Any], *,
                     blank_unresolved: bool = False) -> tuple[dict[str, Any], list[UnresolvedRef]]:
    """A copy of `settings` with every reference replaced.

    With `blank_unresolved`, a value that is exactly an unresolvable job reference becomes
    None (so that schema checks of the rest can still run).

    Job ids come from `ctx.dependency_results["deploy_job:KEY"]["job_id"]`; the user from
    `ctx.workspace.current_user.me()` (only called when the settings use it).

    Returns:
        (resolved settings, references that could not be resolved). An unresolved job
        reference stays literal in the returned settings.
    """
    job_ids: dict[str, int] = {}
    for key in referenced_job_keys(settings):
        result = ctx.dependency_results.get(f"deploy_job:{key}") or {}
        if result.get("job_id") is not None:
            job_ids[key] = int(result["job_id"])
    user = current_user_name(ctx) if _uses_current_user(settings) else ""
    missing: list[UnresolvedRef] = []

    def sub(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: sub(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        whole = JOB_REF.fullmatch(value)
        if whole and whole.group(1) in job_ids:
            return job_ids[whole.group(1)]
        if whole and blank_unresolved:
            missing.append(UnresolvedRef(path, whole.group(1)))
            return None

        def job(m: re.Match) -> str:
            if m.group(1) in job_ids:
                return str(job_ids[m.group(1)])
            missing.append(UnresolvedRef(path, m.group(1)))
            return m.group(0)

        out = JOB_REF.sub(job, value)
        return USER_REF.sub(lambda m: user if m.group(1) == "userName" else short_name(user), out)

    return sub(settings, ""), missing
