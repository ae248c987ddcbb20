"""One fenced YAML block of a requirements file: its jobs and bundle-style variables.

A block is a mapping in the Databricks Asset Bundles configuration shape. Its top-level keys:

- ``resources:`` with ``jobs:`` (any other resource kind, e.g. ``pipelines``, ``schemas``,
  ``volumes``, ``dashboards``, is an error naming it: this product manages jobs only);
- bare ``jobs:`` (the same as ``resources: jobs:``);
- ``variables:`` bundle-style declarations, ``NAME: {default: ..., description: ...}`` (or
  ``NAME: value``), giving defaults for ``${var.NAME}`` that the front matter overrides;
- accepted and knowingly ignored (reported in `RequirementsDoc.ignored`): ``bundle`` (its
  ``name`` is used for ``${bundle.name}`` when the front matter has none), ``workspace``
  (the front matter's ``profile`` and ``workspace_root`` decide where to deploy),
  ``permissions``, ``targets`` (no target overrides are applied), ``include``, ``sync``,
  ``artifacts`` and ``presets``;
- anything else is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lead.errors import FieldProblem
from lead.substitution import NO_VALUE, VariableDef, suggest
from lead.yaml_lines import LineMap, format_path

ACCEPTED_KEYS = ("resources", "jobs", "variables")
IGNORED_KEYS = ("bundle", "workspace", "permissions", "targets", "include", "sync", "artifacts", "presets")
JOB_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
VARIABLE_KEYS = ("default", "description", "type", "lookup")


@dataclass(frozen=True)
class Ignored:
    """A part of the file that was accepted but deliberately not used."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class JobSource:
    """One job as written: its key, raw settings, and where it sits in its block.

    `prefix` is the job's path from the block root (``("resources", "jobs", KEY)`` or
    ``("jobs", KEY)``); `lines` is the block's whole `LineMap` (paths from the block root).
    """

    key: str
    settings: dict[str, Any]
    prefix: tuple[str, ...]
    lines: LineMap

    @property
    def line(self) -> int:
        """File line of the job's key."""
        return self.lines.line_of(self.prefix)

    @property
    def field(self) -> str:
        """Dotted field of the job, e.g. ``resources.jobs.etl``."""
        return format_path(self.prefix)


@dataclass
class BlockContents:
    """What one block contributes to the file."""

    jobs: list[JobSource] = field(default_factory=list)
    variables: dict[str, VariableDef] = field(default_factory=dict)
    bundle_name: str | None = None
    ignored: list[Ignored] = field(default_factory=list)


def read_block(value: Any, lines: LineMap) -> BlockContents:
    """Read a parsed block (see module doc). Raises `FieldProblem` with a path from the
    block root, e.g. ``("resources", "pipelines")``."""
    if not isinstance(value, dict):
        raise FieldProblem((), "a yaml block must be a mapping holding `resources: jobs:` or `jobs:`")
    out = BlockContents()
    for key, sub in value.items():
        if key in IGNORED_KEYS:
            out.ignored.append(Ignored(lines.line_of((key,)), key, "bundle setting not used by this product"))
        elif key not in ACCEPTED_KEYS:
            raise FieldProblem(
                (key,),
                f"unknown top-level field '{key}'{suggest(key, ACCEPTED_KEYS + IGNORED_KEYS)} "
                f"(a yaml block holds {', '.join(ACCEPTED_KEYS)}; ignored: {', '.join(IGNORED_KEYS)})",
            )
    bundle = value.get("bundle")
    if isinstance(bundle, dict) and isinstance(bundle.get("name"), str):
        out.bundle_name = bundle["name"]
    if "resources" in value:
        resources = value["resources"]
        if not isinstance(resources, dict):
            raise FieldProblem(("resources",), "must be a mapping of resource kinds (only `jobs`)")
        for kind in resources:
            if kind != "jobs":
                raise FieldProblem(
                    ("resources", kind),
                    f"resource kind '{kind}' is not managed by this product (only jobs)",
                )
        out.jobs.extend(_jobs(resources.get("jobs"), ("resources", "jobs"), lines))
    if "jobs" in value:
        out.jobs.extend(_jobs(value["jobs"], ("jobs",), lines))
    if "variables" in value:
        out.variables.update(_variables(value["variables"], lines))
    seen: dict[str, JobSource] = {}
    for job in out.jobs:
        if job.key in seen:
            raise FieldProblem(
                job.prefix, f"duplicate job key '{job.key}' (already defined at line {seen[job.key].line})"
            )
        seen[job.key] = job
    return out


def _jobs(jobs: Any, prefix: tuple[str, ...], lines: LineMap) -> list[JobSource]:
    if jobs is None:
        return []
    if not isinstance(jobs, dict):
        raise FieldProblem(prefix, "must be a mapping of job keys to job settings")
    out = []
    for key, settings in jobs.items():
        if not JOB_KEY.match(key):
            raise FieldProblem(prefix + (key,), f"job key '{key}' may use only letters, digits, '_' and '-'")
        if not isinstance(settings, dict) or not settings:
            raise FieldProblem(prefix + (key,), f"job '{key}' must be a mapping of job settings")
        out.append(JobSource(key, settings, prefix + (key,), lines))
    return out


def _variables(variables: Any, lines: LineMap) -> dict[str, VariableDef]:
    if not isinstance(variables, dict):
        raise FieldProblem(("variables",), "must be a mapping of variable declarations")
    out: dict[str, VariableDef] = {}
    for name, decl in variables.items():
        at = ("variables", name)
        if isinstance(decl, dict):
            for k in decl:
                if k not in VARIABLE_KEYS:
                    raise FieldProblem(at + (k,), f"unknown variable setting '{k}'{suggest(k, VARIABLE_KEYS)}")
            line = lines.line_of(at)
            if "default" in decl:
                out[name] = VariableDef(decl["default"], lines.line_of(at + ("default",)), format_path(at + ("default",)))
            elif "lookup" in decl:
                out[name] = VariableDef(
                    NO_VALUE, line, format_path(at),
                    f"declared at line {line} with a `lookup`, which is not supported; "
                    "give it a value in the front matter's `variables`",
                )
            else:
                out[name] = VariableDef(
                    NO_VALUE, line, format_path(at),
                    f"declared at line {line} without a default; give it a value in the "
                    "front matter's `variables`",
                )
        else:
            out[name] = VariableDef(decl, lines.line_of(at), format_path(at))
    return out
