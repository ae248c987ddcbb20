"""Local build artifacts of a requirements file: building them and resolving library paths to them.

A bundle's job may name a library by a local path, often with a wildcard, e.g.
``environments[].spec.dependencies: [../dist/*.whl]`` or ``libraries: [{whl: ../dist/*.whl}]``
(the public ``default_python`` template); ``databricks bundle deploy`` builds the file (the
bundle's ``artifacts`` section), uploads it and rewrites the path (bundle docs: "Databricks Asset
Bundles library dependencies", "artifacts"). The lead does the same at submit time, on the
machine that has the files:

- front matter ``artifacts:`` (`check_artifacts`) names build commands, run first
  (`run_builds`): ``NAME: {build: "uv build --wheel", path: ".", type: whl}``; ``path`` is the
  command's working directory, relative to the requirements file's directory; the command is
  split with `shlex` (never a shell) and runs with a timeout;
- a library path is a candidate when it is relative (`lead.workspace_paths.is_relative`): a
  task's ``libraries[].whl|jar|egg|requirements`` (also inside ``for_each_task.task``) and an
  ``environments[].spec.dependencies`` entry starting with ``./`` or ``../``;
- a candidate with a wildcard (``*?[``) must match exactly one local file, searched relative to
  the requirements file's directory (no match, or several, is an error naming the pattern and
  the directory searched); one without a wildcard is an artifact only when that local file
  exists (otherwise `lead.workspace_paths` maps it into ``<workspace_root>/files`` as before);
- the file (at most `MAX_ARTIFACT_BYTES`) is hashed (sha256) and the path rewritten to
  ``<workspace_root>/artifacts/<sha256[:16]>/<file name>``: a changed file is a changed
  setting (an UPDATE), an unchanged one is not (NO_OP, no upload). The ``deploy_job`` worker
  uploads it (`tasks.deploy_job`) before creating or updating the job.

Each resolved artifact goes into the ``deploy_job`` payload as ``artifacts``: a list of
`Artifact.as_payload` dicts.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lead.errors import FieldProblem
from lead.workspace_paths import is_relative, local_environment_dependencies
from lead.yaml_lines import format_path

#: the largest file uploaded as an artifact (bytes): the Workspace API's import limit ("This has
#: a limit of 10 MB", `workspace.Import.content`, `/api/2.0/workspace/import`); a larger library
#: belongs on a volume (``/Volumes/...``), named by its path
MAX_ARTIFACT_BYTES = 10 * 1024 * 1024
#: seconds a build command may run when its block gives no ``timeout_seconds``
DEFAULT_BUILD_TIMEOUT = 600
#: lines of a failed build's output shown in the error
OUTPUT_TAIL_LINES = 15
ARTIFACT_KEYS = ("build", "path", "type", "timeout_seconds")
ARTIFACT_TYPES = ("whl", "jar")
_LIBRARY_PATH_KEYS = ("whl", "jar", "egg", "requirements")
_WILDCARD = "*?["


@dataclass(frozen=True)
class ArtifactBuild:
    """One ``artifacts:`` entry: `name`, the `build` command (or None), its working directory
    `path` as written (relative to the requirements file's directory), `type` and
    `timeout_seconds`."""

    name: str
    build: str | None
    path: str
    type: str | None
    timeout_seconds: int


@dataclass(frozen=True)
class Artifact:
    """One local file a job's library path resolved to.

    field: dotted path of the library field within the job settings
    (``environments[0].spec.dependencies[0]``). pattern: the path as written. local_path:
    absolute local file. sha256: hex digest of its bytes; size: bytes. workspace_path: where it
    is uploaded and what the settings now name.
    """

    field: str
    pattern: str
    local_path: str
    sha256: str
    size: int
    workspace_path: str

    def as_payload(self) -> dict[str, Any]:
        """The JSON dict stored in the deploy_job payload's ``artifacts`` list."""
        return {
            "field": self.field,
            "pattern": self.pattern,
            "local_path": self.local_path,
            "file_name": os.path.basename(self.local_path),
            "sha256": self.sha256,
            "size": self.size,
            "workspace_path": self.workspace_path,
        }


class BuildFailed(Exception):
    """A build command of ``artifacts:`` failed: `name` of the artifact and a one-paragraph
    `message` (command, directory, exit status or reason, the tail of its output)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(message)


def check_artifacts(value: Any) -> dict[str, ArtifactBuild]:
    """Check the front matter's ``artifacts`` mapping (see the module docstring).

    Raises `FieldProblem` with the path inside the front matter, e.g.
    ``("artifacts", "default", "build")``.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldProblem(("artifacts",), "must be a mapping of artifact names to {build, path, type}")
    out: dict[str, ArtifactBuild] = {}
    for name, spec in value.items():
        at = ("artifacts", name)
        if not isinstance(spec, dict):
            raise FieldProblem(at, f"artifact '{name}' must be a mapping with `build` and/or `path`")
        for key in spec:
            if key not in ARTIFACT_KEYS:
                raise FieldProblem(at + (key,), f"unknown artifact setting '{key}' (known: {', '.join(ARTIFACT_KEYS)})")
        build = spec.get("build")
        if build is not None:
            if not isinstance(build, str) or not build.strip():
                raise FieldProblem(at + ("build",), "must be a command line such as `uv build --wheel`")
            try:
                if not shlex.split(build):
                    raise ValueError("empty command")
            except ValueError as error:
                raise FieldProblem(at + ("build",), f"cannot split the command line: {error}") from None
        path = spec.get("path", ".")
        if not isinstance(path, str) or not path.strip() or os.path.isabs(path):
            raise FieldProblem(at + ("path",), "must be a directory relative to the requirements file")
        kind = spec.get("type")
        if kind is not None and kind not in ARTIFACT_TYPES:
            raise FieldProblem(at + ("type",), f"must be one of {', '.join(ARTIFACT_TYPES)}, not {kind!r}")
        timeout = spec.get("timeout_seconds", DEFAULT_BUILD_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= 86400:
            raise FieldProblem(at + ("timeout_seconds",), "must be a whole number of seconds, 1 to 86400")
        out[name] = ArtifactBuild(name, build.strip() if build else None, path, kind, timeout)
    return out


def _tail(text: str) -> str:
    from state.redaction import redact_text

    lines = [line for line in (text or "").splitlines() if line.strip()]
    return redact_text(" | ".join(lines[-OUTPUT_TAIL_LINES:]))


def run_builds(builds: dict[str, ArtifactBuild], base_dir: Path) -> None:
    """Run every build command of `builds`, in order, in ``base_dir / build.path``.

    Raises:
        BuildFailed: a missing directory, a command not found, a timeout or a non-zero exit
            (with the tail of its combined output, credentials masked).
    """
    import subprocess  # only when a file has build commands

    for build in builds.values():
        if build.build is None:
            continue
        cwd = (base_dir / build.path).resolve()
        where = f"`{build.build}` in {cwd}"
        if not cwd.is_dir():
            raise BuildFailed(build.name, f"build directory {cwd} does not exist")
        try:
            done = subprocess.run(
                shlex.split(build.build), cwd=cwd, capture_output=True, text=True, errors="replace",
                timeout=build.timeout_seconds, stdin=subprocess.DEVNULL, check=False,
            )
        except FileNotFoundError:
            raise BuildFailed(build.name, f"build command {where}: program not found") from None
        except PermissionError:
            raise BuildFailed(build.name, f"build command {where}: program not executable") from None
        except subprocess.TimeoutExpired as error:
            out = (error.stdout or "") if isinstance(error.stdout, str) else (error.stdout or b"").decode("utf-8", "replace")
            raise BuildFailed(
                build.name, f"build command {where} did not finish within {build.timeout_seconds} s; output: {_tail(out)}"
            ) from None
        if done.returncode != 0:
            raise BuildFailed(
                build.name,
                f"build command {where} failed with exit status {done.returncode}; output: "
                f"{_tail((done.stdout or '') + chr(10) + (done.stderr or ''))}",
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactResolver:
    """Resolves one file's local library paths (see the module docstring).

    base_dir: the requirements file's directory. workspace_root: the front matter's
    (``None`` -> a local artifact is an error). `resolve_job` returns the settings with the
    paths rewritten and the `Artifact`s found; the same file is hashed once per resolver.
    """

    def __init__(self, base_dir: Path, workspace_root: str | None) -> None:
        self.base_dir = Path(base_dir)
        self.workspace_root = workspace_root
        self._hashed: dict[str, tuple[str, int]] = {}

    def resolve_job(self, settings: dict[str, Any]) -> tuple[dict[str, Any], list[Artifact]]:
        """`settings` (not changed) -> (a copy with local library paths rewritten, artifacts).

        Raises `FieldProblem` at the library field: a wildcard matching no file or several, a
        file over `MAX_ARTIFACT_BYTES`, no ``workspace_root``.
        """
        import copy

        out = copy.deepcopy(settings)
        found: list[Artifact] = []
        for i, task in enumerate(out.get("tasks") or []):
            if isinstance(task, dict):
                self._task(task, ("tasks", i), found)
        for deps, j, at in local_environment_dependencies(out):
            deps[j] = self._one(deps[j], at, found)
        return out, found

    def _task(self, task: dict, at: tuple, found: list[Artifact]) -> None:
        for j, lib in enumerate(task.get("libraries") or []):
            if not isinstance(lib, dict):
                continue
            for key in _LIBRARY_PATH_KEYS:
                if isinstance(lib.get(key), str) and is_relative(lib[key]):
                    lib[key] = self._one(lib[key], at + ("libraries", j, key), found)
        inner = task.get("for_each_task", {}).get("task") if isinstance(task.get("for_each_task"), dict) else None
        if isinstance(inner, dict):
            self._task(inner, at + ("for_each_task", "task"), found)

    def _one(self, pattern: str, at: tuple, found: list[Artifact]) -> str:
        """The rewritten path for `pattern`, or `pattern` unchanged when it is no artifact."""
        searched = os.path.normpath(os.path.join(self.base_dir, os.path.dirname(pattern) or "."))
        if any(c in pattern for c in _WILDCARD):
            matches = sorted(p for p in glob.glob(os.path.join(glob.escape(str(self.base_dir)), pattern)) if os.path.isfile(p))
            if not matches:
                raise FieldProblem(
                    at,
                    f"path '{pattern}' has a wildcard and no file matches it in {searched} (searched relative to "
                    f"the requirements file's directory {self.base_dir}); build the artifact first or name a "
                    "build command in the front matter's `artifacts:`",
                )
            if len(matches) > 1:
                names = ", ".join(os.path.basename(p) for p in matches[:5]) + (" ..." if len(matches) > 5 else "")
                raise FieldProblem(
                    at,
                    f"path '{pattern}' matches {len(matches)} files in {searched} ({names}); one library path "
                    "must name one file: remove the old builds or make the pattern precise",
                )
            local = Path(os.path.normpath(matches[0]))
        else:
            local = Path(os.path.normpath(os.path.join(self.base_dir, pattern)))
            if not local.is_file():
                return pattern  # not a local file: `lead.workspace_paths` maps it under <root>/files
        if self.workspace_root is None:
            raise FieldProblem(
                at, f"the local file '{pattern}' is uploaded under `workspace_root`/artifacts: the front matter needs "
                    "`workspace_root`",
            )
        key = str(local)
        if key not in self._hashed:
            size = local.stat().st_size
            if size > MAX_ARTIFACT_BYTES:
                raise FieldProblem(
                    at, f"{local} is {size / 1024 / 1024:.1f} MiB; the workspace import API takes at most "
                        f"{MAX_ARTIFACT_BYTES // (1024 * 1024)} MiB: copy a larger file to a volume and name its "
                        "/Volumes/... path",
                )
            self._hashed[key] = (_sha256(local), size)
        sha, size = self._hashed[key]
        workspace_path = f"{self.workspace_root}/artifacts/{sha[:16]}/{local.name}"
        found.append(Artifact(format_path(at), pattern, key, sha, size, workspace_path))
        return workspace_path
