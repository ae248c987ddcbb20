"""Writing a submitted requirement back out as a Databricks Asset Bundle (`lead export`).

A bundle here is what ``databricks bundle validate`` reads (bundle docs: "Databricks Asset
Bundle configuration", "include"): ``DIR/databricks.yml`` with ``bundle.name``, ``variables``
(each with its ``default``; ``type: complex`` for a mapping or list), ``workspace.root_path``
(the requirement's ``workspace_root``; ``workspace.profile`` when the file named one),
``include: [resources/*.job.yml]`` and ``targets: {<target>: {default: true}}`` (no ``mode``:
development mode would rename and pause the jobs, and they would no longer be the jobs this
product deployed); plus one ``DIR/resources/<job_key>.job.yml`` per job holding
``resources.jobs.<job_key>``.

The job settings are the ones recorded at submit (the ``deploy_job`` payloads of the
requirement's current revision: after substitution, path and artifact resolution, front matter
defaults and tags), with every string the file wrote with a ``${...}`` put back as written where
substitution alone produced the recorded value (`written_references`, recorded at submit):
``${var.*}``, ``${bundle.*}``, ``${workspace.*}`` and ``${resources.jobs.X.id}`` stay
references, so the bundle resolves them the same way. The pipeline's ``job_agent_key`` tag is
not written (it is added at deploy time and is ours). Values that look like secrets are masked
(`state.redaction.redact`) and reported.

Nothing half-written: the files are written in a temporary directory and renamed into place;
a non-empty ``DIR`` is refused unless ``force`` (then ``databricks.yml`` and ``resources/`` are
replaced and other files in ``DIR`` are left alone).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_VAR = re.compile(r"\$\{var\.([A-Za-z][A-Za-z0-9_\-]*)")
_MISSING = object()
OWNER_TAG = "job_agent_key"  # tasks.job_ownership.OWNER_TAG, not imported: that module loads the SDK
BUNDLE_FILE = "databricks.yml"
RESOURCES_DIR = "resources"


class ExportError(Exception):
    """The requirement cannot be exported, or `DIR` cannot take the bundle: one line for people."""


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return _MISSING
    return value


def _variables_used(texts: list[str], variables: dict[str, Any]) -> dict[str, Any]:
    """The variables named by `texts`, and those their values name in turn, with their values."""
    out: dict[str, Any] = {}
    todo = [name for text in texts for name in _VAR.findall(text)]
    while todo:
        name = todo.pop()
        if name in out or name not in variables:
            continue
        value = variables[name]
        if type(value).__name__ == "_NoValue":
            continue
        out[name] = value
        todo.extend(_VAR.findall(_strings(value)))
    return dict(sorted(out.items()))


def _strings(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings(v) for v in value)
    return ""


def written_references(
    written: dict[str, Any], substituted: dict[str, Any], final: dict[str, Any], variables: dict[str, Any]
) -> dict[str, Any] | None:
    """What export needs to write a job's ``${...}`` back as the file wrote them.

    Args:
        written: the job's settings as written (bundle-only keys removed).
        substituted: the same after `lead.substitution` (same shape where nothing expanded).
        final: the settings recorded for the worker (paths, artifacts and defaults applied).
        variables: the file's variables, name -> value as written.

    Returns ``{"references": [[path, text], ...], "variables": {name: value}}`` (a path is a
    list of keys and indexes into the settings; only strings whose substituted value is still
    the recorded value, so a path that resolution rewrote keeps its recorded form), or None
    when the job has no such string. JSON-serialisable.
    """
    refs: list[list[Any]] = []

    def walk(w: Any, s: Any, path: tuple) -> None:
        if isinstance(w, str):
            if "${" in w and s != w and _get(final, path) == s:
                refs.append([list(path), w])
        elif isinstance(w, dict) and isinstance(s, dict):
            for k, v in w.items():
                if k in s:
                    walk(v, s[k], path + (k,))
        elif isinstance(w, list) and isinstance(s, list) and len(w) == len(s):
            for i, (a, b) in enumerate(zip(w, s)):
                walk(a, b, path + (i,))

    walk(written, substituted, ())
    if not refs:
        return None
    return {"references": refs, "variables": _variables_used([text for _, text in refs], variables)}


@dataclass
class ExportedJob:
    """One job of the bundle: its key, the settings written and the fields masked as secrets."""

    key: str
    settings: dict[str, Any]
    masked: list[str] = field(default_factory=list)


@dataclass
class Bundle:
    """A bundle ready to write: name, target, variables (name -> default), workspace root and
    profile, jobs; `files()` renders it."""

    name: str
    target: str
    variables: dict[str, Any]
    root_path: str | None
    profile: str | None
    jobs: list[ExportedJob]

    def databricks_yml(self) -> dict[str, Any]:
        """The ``databricks.yml`` mapping."""
        out: dict[str, Any] = {"bundle": {"name": self.name}}
        if self.variables:
            out["variables"] = {
                name: ({"type": "complex", "default": value} if isinstance(value, (dict, list)) else {"default": value})
                for name, value in self.variables.items()
            }
        workspace: dict[str, Any] = {}
        if self.profile:
            workspace["profile"] = self.profile
        if self.root_path:
            workspace["root_path"] = self.root_path
        if workspace:
            out["workspace"] = workspace
        out["include"] = [f"{RESOURCES_DIR}/*.job.yml"]
        out["targets"] = {self.target: {"default": True}}
        return out

    def files(self) -> dict[str, str]:
        """Relative path -> YAML text of every file of the bundle."""
        import yaml

        def dump(value: Any) -> str:
            return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)

        header = f"# Exported by `lead export` from the job-agent deployment {self.name}/{self.target}.\n"
        out = {BUNDLE_FILE: header + dump(self.databricks_yml())}
        for job in self.jobs:
            out[f"{RESOURCES_DIR}/{job.key}.job.yml"] = dump({"resources": {"jobs": {job.key: job.settings}}})
        return out


def _set(value: Any, path: list, new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


def export_job(payload: dict[str, Any]) -> ExportedJob:
    """One ``deploy_job`` payload -> the job as the bundle writes it (see the module docstring)."""
    from state.redaction import redact

    settings = copy.deepcopy(payload.get("settings") or {})
    written = payload.get("written") or {}
    for path, text in written.get("references") or []:
        if _get(settings, tuple(path)) is not _MISSING:
            _set(settings, path, text)
    tags = settings.get("tags")
    if isinstance(tags, dict):
        tags.pop(OWNER_TAG, None)
        if not tags:
            del settings["tags"]
    masked_settings = redact(settings)
    masked = sorted(_differences(settings, masked_settings, ""))
    return ExportedJob(payload["job_key"], masked_settings, masked)


def _differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a for p in _differences(a[k], b.get(k), f"{path}.{k}" if path else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def build_bundle(
    *, bundle: str, target: str, front_matter: dict[str, Any], payloads: list[dict[str, Any]]
) -> Bundle:
    """The bundle of one requirement from its recorded identity, front matter and the
    ``deploy_job`` payloads of its current revision (in deploy order).

    Raises:
        ExportError: no jobs.
    """
    if not payloads:
        raise ExportError("it has no jobs to export (only deploy_job tasks become bundle resources)")
    variables: dict[str, Any] = {}
    for payload in payloads:
        variables.update((payload.get("written") or {}).get("variables") or {})
    fm_vars = front_matter.get("variables") if isinstance(front_matter.get("variables"), dict) else {}
    variables.update(fm_vars)  # the front matter wins over a block's default, as at submit
    from state.redaction import redact

    variables = redact(dict(sorted(variables.items())))
    root = next((p.get("workspace_root") for p in payloads if p.get("workspace_root")), None)
    profile = next((p.get("profile") for p in payloads if p.get("profile")), None)
    return Bundle(bundle, target, variables, root, profile, [export_job(p) for p in payloads])


def write_bundle(files: dict[str, str], directory: Path, *, force: bool = False) -> None:
    """Write `files` (relative path -> text) into `directory`, all or nothing.

    An absent or empty `directory` receives a complete temporary sibling by one rename. A
    non-empty one is refused unless `force`; then ``databricks.yml`` and ``resources/`` are
    swapped in (renames) and everything else in it is left alone.

    Raises:
        ExportError: `directory` is a file, is not empty (without `force`), or cannot be written.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"{directory} exists and is not a directory")
    non_empty = directory.is_dir() and any(directory.iterdir())
    if non_empty and not force:
        raise ExportError(f"{directory} is not empty; choose an empty directory or pass --force to replace "
                          f"its {BUNDLE_FILE} and {RESOURCES_DIR}/")
    parent = directory.parent if not non_empty else directory
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.export-", dir=parent))
    except OSError as error:
        raise ExportError(f"cannot write in {parent}: {error.strerror or error}") from None
    try:
        for rel, text in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (tmp / RESOURCES_DIR).mkdir(exist_ok=True)
        if not non_empty:
            if directory.is_dir():
                directory.rmdir()
            os.rename(tmp, directory)
            return
        old = directory / f".{RESOURCES_DIR}.old-{tmp.name}"
        if (directory / RESOURCES_DIR).exists():
            os.rename(directory / RESOURCES_DIR, old)
        os.rename(tmp / RESOURCES_DIR, directory / RESOURCES_DIR)
        os.replace(tmp / BUNDLE_FILE, directory / BUNDLE_FILE)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        raise ExportError(f"cannot write the bundle into {directory}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
