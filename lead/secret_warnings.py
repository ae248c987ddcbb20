"""Warnings for literal secrets in a requirements file: `lead submit` names the field and the line.

A job that carries a secret as a literal value (a password in `spark_env_vars`, a token as a
job parameter's default, a `dapi...` token or a URL with a password anywhere) works, but the
secret then sits in the file, in the state database and in the job settings every workspace
user with view access can read. Databricks resolves secret references
`{{secrets/<scope>/<key>}}` at run time in Spark configuration properties (`spark_conf`) and
environment variables (`spark_env_vars`), so each warning shows that form.

Reads only the task specs `lead.requirements.load_requirements` returns (`deploy_job`
payloads: `settings`, `field_lines`, `source`); the parser is not involved. The warning text
never contains the secret. Which values count as secret is `state.redaction`'s decision, the
same one that masks what is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from lead.yaml_lines import format_path
from state.redaction import credential_kind, is_secret_key, is_secret_reference

_ENV_CONTAINERS = ("spark_env_vars", "spark_conf")
_PARAMETER_VALUE_KEYS = ("default", "value")
_REFERENCE = "{{secrets/<scope>/<key>}}"
_FLAG = re.compile(r"^--?([A-Za-z][A-Za-z0-9_.-]*)$")


@dataclass(frozen=True)
class SecretWarning:
    """One literal secret: where it is (`path`, `line`, dotted `field`) and what to do instead."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line or '?'}: {self.field}: {self.message}"


@dataclass(frozen=True)
class _Finding:
    at: tuple[str | int, ...]
    message: str


def secret_warnings(task_specs: list[Any], path: str | None = None) -> list[SecretWarning]:
    """Warnings for every literal secret in the `deploy_job` specs of `task_specs`
    (`RequirementsDoc.task_specs`), in file order.

    `path` is the file name to show (default: each payload's `source.path`).
    """
    out: list[SecretWarning] = []
    for spec in task_specs:
        payload = getattr(spec, "payload", None) or {}
        if getattr(spec, "type", None) != "deploy_job" or not isinstance(payload.get("settings"), dict):
            continue
        lines = payload.get("field_lines") or {}
        source = payload.get("source") or {}
        shown = path or source.get("path") or "?"
        for finding in literal_secrets(payload["settings"]):
            line = _line_of(lines, finding.at) or source.get("line")
            field = f"resources.jobs.{payload.get('job_key', '?')}.{format_path(finding.at)}"
            out.append(SecretWarning(str(shown), line, field, finding.message))
    return sorted(out, key=lambda w: (w.path, w.line or 0, w.field))


def literal_secrets(settings: dict[str, Any]) -> list[_Finding]:
    """The literal secrets in one job's settings (`jobs.JobSettings` shape), with their paths."""
    return list(_walk(settings, ()))


def _walk(value: Any, at: tuple[str | int, ...], secret_name: str | None = None) -> Iterator[_Finding]:
    if isinstance(value, dict):
        name = value.get("name") if isinstance(value.get("name"), str) else None
        parameter = name if name is not None and " " not in name and is_secret_key(name) else None
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            if is_secret_key(key):
                yield from _walk(item, at + (key,), secret_name=key)
            elif parameter is not None and key in _PARAMETER_VALUE_KEYS:
                yield from _walk(item, at + (key,), secret_name=f"parameter {parameter}")
            else:
                yield from _walk(item, at + (key,), secret_name)
        return
    if isinstance(value, list):
        previous: Any = None
        for index, item in enumerate(value):
            flag = _FLAG.match(previous) if isinstance(previous, str) else None
            if flag and is_secret_key(flag.group(1)) and isinstance(item, str) and not item.startswith("-"):
                yield from _walk(item, at + (index,), secret_name=previous)  # ["--password", "xyz"]
            else:
                yield from _walk(item, at + (index,), secret_name)
            previous = item
        return
    if value is None or isinstance(value, bool) or value == "" or not isinstance(value, (str, int, float)):
        return
    if is_secret_reference(value) or (isinstance(value, str) and value.startswith("${")):
        return  # a reference resolved at run time, or a placeholder the worker fills in
    kind = credential_kind(value) if isinstance(value, str) else None
    if secret_name is None and kind is None:
        return
    yield _Finding(at, _message(at, secret_name, kind))


def _message(at: tuple[str | int, ...], secret_name: str | None, kind: str | None) -> str:
    container = next((part for part in reversed(at) if part in _ENV_CONTAINERS), None)
    what = f"literal secret ({secret_name})" if secret_name else f"literal secret ({kind})"
    if container == "spark_env_vars":
        advice = f'store it in a secret scope and write "{_REFERENCE}": Databricks resolves it when the cluster starts'
    elif container == "spark_conf":
        advice = f'store it in a secret scope and write "{_REFERENCE}": Databricks resolves it in Spark configuration at run time'
    else:
        advice = (
            f'store it in a secret scope; Databricks resolves "{_REFERENCE}" at run time in spark_env_vars and '
            'spark_conf, or the task can read it with dbutils.secrets.get("<scope>", "<key>")'
        )
    return f"{what}: {advice}"


def _line_of(lines: dict[str, int], at: tuple[str | int, ...]) -> int | None:
    """The line of `at`, else of its nearest listed parent (the `field_lines` contract)."""
    for end in range(len(at), 0, -1):
        line = lines.get(format_path(at[:end]))
        if line is not None:
            return line
    return None
