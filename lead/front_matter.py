"""The front matter of a requirements file: its fields, checked, as a `FrontMatter`.

Fields (anything else is an error naming the field):

| field | shape | use |
|---|---|---|
| ``title`` | string | the requirement's title (default: the body's first ``#`` heading, else the file name) |
| ``owner`` | e-mail address | who is told about failures |
| ``profile`` | string | the Databricks config profile (``~/.databrickscfg``) to deploy with |
| ``workspace_root`` | absolute workspace path | ``${workspace.root_path}``; relative paths resolve under ``<root>/files`` |
| ``variables`` | mapping name -> value | ``${var.NAME}`` (wins over a block's ``variables:`` default) |
| ``tags`` | mapping string -> string | added to every job's ``tags`` |
| ``defaults`` | mapping | see `lead.defaults` for the supported keys |
| ``run_after_deploy`` | list of job keys | each becomes a ``run_job`` task after its deploy |
| ``bundle`` | string, or ``{name: ...}`` | ``${bundle.name}`` |
| ``target`` | string | ``${bundle.target}`` |
| ``remediation`` | mapping | how failed runs are handled (see `lead.remediation_block`) |
| ``monitors`` | list | scheduled catalogue queries with alert rules (see `lead.monitors_block`) |
| ``artifacts`` | mapping name -> ``{build, path, type, timeout_seconds}`` | build commands run at submit before local library paths are resolved (see `lead.artifacts`) |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lead.artifacts import ArtifactBuild, check_artifacts
from lead.defaults import check_defaults
from lead.errors import FieldProblem
from lead.monitors_block import check_monitors
from lead.remediation_block import check_remediation
from lead.substitution import suggest

FIELDS = (
    "title",
    "owner",
    "profile",
    "workspace_root",
    "variables",
    "tags",
    "defaults",
    "run_after_deploy",
    "bundle",
    "target",
    "remediation",
    "monitors",
    "artifacts",
)
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class FrontMatter:
    """The checked front matter. Absent fields are ``None`` or empty."""

    title: str | None = None
    owner: str | None = None
    profile: str | None = None
    workspace_root: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    run_after_deploy: tuple[str, ...] = ()
    bundle_name: str | None = None
    target: str | None = None
    remediation: dict[str, Any] | None = None
    monitors: list[dict[str, Any]] | None = None
    artifacts: dict[str, ArtifactBuild] = field(default_factory=dict)


def _string(data: dict, key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise FieldProblem((key,), f"must be a non-empty string, not {value!r}")
    return value.strip()


def read_front_matter(data: Any) -> FrontMatter:
    """Check the parsed front matter mapping and return it as a `FrontMatter`.

    Raises `FieldProblem` whose path is the field inside the front matter, e.g.
    ``("owner",)``, ``("defaults", "max_retriess")``, ``("run_after_deploy", 1)``.
    """
    if data is None:
        return FrontMatter()
    if not isinstance(data, dict):
        raise FieldProblem((), "the front matter must be a mapping of fields")
    for key in data:
        if key not in FIELDS:
            raise FieldProblem(
                (key,),
                f"unknown top-level field '{key}'{suggest(key, FIELDS)} (front matter fields: "
                f"{', '.join(FIELDS)})",
            )
    owner = _string(data, "owner")
    if owner is not None and not EMAIL.match(owner):
        raise FieldProblem(("owner",), f"'{owner}' is not a well-formed e-mail address")
    root = _string(data, "workspace_root")
    if root is not None:
        if not root.startswith("/"):
            raise FieldProblem(
                ("workspace_root",),
                f"'{root}' must be an absolute workspace path such as /Workspace/Shared/my-project",
            )
        root = root.rstrip("/") or "/"
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise FieldProblem(("variables",), "must be a mapping of variable names to values")
    for name in variables:
        if not NAME.match(name):
            raise FieldProblem(("variables", name), f"'{name}' is not a valid variable name")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict):
        raise FieldProblem(("tags",), "must be a mapping of tag names to string values")
    clean_tags: dict[str, str] = {}
    for k, v in tags.items():
        if isinstance(v, (dict, list)) or v is None:
            raise FieldProblem(("tags", k), f"tag '{k}' must have a string value")
        clean_tags[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    defaults = data.get("defaults") or {}
    check_defaults(defaults)
    run_after = data.get("run_after_deploy") or []
    if isinstance(run_after, str):
        run_after = [run_after]
    if not isinstance(run_after, list):
        raise FieldProblem(("run_after_deploy",), "must be a list of job keys")
    seen: set[str] = set()
    for i, key in enumerate(run_after):
        if not isinstance(key, str):
            raise FieldProblem(("run_after_deploy", i), f"must be a job key, not {key!r}")
        if key in seen:
            raise FieldProblem(("run_after_deploy", i), f"job '{key}' is listed twice")
        seen.add(key)
    bundle = data.get("bundle")
    if isinstance(bundle, dict):
        extra = set(bundle) - {"name"}
        if extra:
            raise FieldProblem(("bundle", sorted(extra)[0]), "only `bundle: {name: ...}` is used")
        bundle = bundle.get("name")
        if bundle is not None and (not isinstance(bundle, str) or not bundle.strip()):
            raise FieldProblem(("bundle", "name"), "must be a non-empty string")
    elif bundle is not None:
        bundle = _string(data, "bundle")
    return FrontMatter(
        title=_string(data, "title"),
        owner=owner,
        profile=_string(data, "profile"),
        workspace_root=root,
        variables=dict(variables),
        tags=clean_tags,
        defaults=dict(defaults),
        run_after_deploy=tuple(run_after),
        bundle_name=bundle,
        target=_string(data, "target"),
        remediation=check_remediation(data["remediation"]) if "remediation" in data else None,
        monitors=check_monitors(data["monitors"]) if "monitors" in data else None,
        artifacts=check_artifacts(data.get("artifacts")),
    )
