"""`${...}` interpolation in job settings, following Databricks Asset Bundles.

Source of facts: the bundle docs page "Substitutions and variables in Databricks Asset
Bundles" (docs.databricks.com/dev-tools/bundles/variables). Supported here:

- ``${var.NAME}`` (and ``${var.NAME.field}`` into a complex value): the front matter's
  ``variables`` first, then a block's bundle-style ``variables: {NAME: {default: ...}}``.
  A variable's own value may use substitutions too (cycles are errors).
- ``${bundle.name}``, ``${bundle.target}``: front matter ``bundle`` and ``target``.
- ``${workspace.root_path}`` = the front matter's ``workspace_root``;
  ``${workspace.file_path}`` = ``<workspace_root>/files`` (where bundles sync files).
- left as written, resolved later by the worker: ``${workspace.current_user.userName}``,
  ``${workspace.current_user.short_name}`` (at run time) and ``${resources.jobs.KEY.id}``
  (at apply time, from the completed ``deploy_job:KEY`` task; KEY must be a job of the file).

A string that is exactly one ``${var.NAME}`` takes the variable's value with its type
(so ``max_retries: ${var.retries}`` stays an integer); inside a longer string the value is
rendered as text (booleans as ``true``/``false``). Everything else in ``${...}`` is an
error: an unknown namespace, a resource kind other than jobs (pipelines, schemas, volumes,
...), a job not in the file, an undefined variable. Job parameter templates such as
``{{job.parameters.[input]}}`` are not ``${...}`` and pass through untouched.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from lead.errors import FieldProblem
from lead.yaml_lines import format_path

SUBSTITUTION = re.compile(r"\$\{([^${}]*)\}")
JOB_REFERENCE = re.compile(r"\$\{resources\.jobs\.([A-Za-z0-9_\-]+)\.id\}")
RUNTIME_LITERALS = frozenset(
    {"workspace.current_user.userName", "workspace.current_user.short_name"}
)


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class VariableDef:
    """A variable's value and where it was defined (reported for problems inside it).

    `value` is `NO_VALUE` for a bundle-style declaration without a ``default``; `note` then
    says why, for the "undefined variable" message.
    """

    value: Any
    line: int
    field: str
    note: str = ""


@dataclass(frozen=True)
class SubstitutionContext:
    """What `${...}` can refer to in one requirements file."""

    variables: dict[str, VariableDef]
    bundle_name: str | None
    target: str | None
    workspace_root: str | None
    job_keys: frozenset[str]


def suggest(word: str, candidates: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of `candidates` (difflib), or ``""``."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def job_references(value: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every ``${resources.jobs.KEY.id}`` left in a substituted value, as ``(path, KEY)``."""
    found: list[tuple[tuple, str]] = []
    if isinstance(value, str):
        found.extend((path, key) for key in JOB_REFERENCE.findall(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            found.extend(job_references(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(job_references(v, path + (i,)))
    return found


class Substituter:
    """Applies the substitutions of one file. One instance per file (it memoises variables).

    `substitute(value, path)` returns a new value; it raises `FieldProblem` with the path of
    the offending string relative to `value`'s root (or, for a problem inside a variable's
    definition, with `at=(line, field)` of that definition).
    """

    def __init__(self, ctx: SubstitutionContext) -> None:
        self.ctx = ctx
        self._resolved: dict[str, Any] = {}
        self._stack: list[str] = []

    def substitute(self, value: Any, path: tuple = ()) -> Any:
        """A copy of `value` (str, list, dict, scalar) with every ``${...}`` applied;
        `path` is prepended to the path of a `FieldProblem`."""
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            return {k: self.substitute(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, path + (i,)) for i, v in enumerate(value)]
        return value

    def _string(self, text: str, path: tuple) -> Any:
        whole = SUBSTITUTION.fullmatch(text.strip())
        if whole and whole.group(1).strip().startswith("var."):
            return self._expression(whole.group(1).strip(), path)
        return SUBSTITUTION.sub(lambda m: self._inline(m, path), text)

    def _inline(self, m: re.Match[str], path: tuple) -> str:
        expr = m.group(1).strip()
        value = self._expression(expr, path)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        kind = "no value" if value is None else f"a {type(value).__name__} value"
        raise FieldProblem(
            path, f"'${{{expr}}}' has {kind} and cannot be used inside a longer string"
        )

    def _expression(self, expr: str, path: tuple) -> Any:
        parts = expr.split(".")
        head = parts[0]
        if head == "var" and len(parts) >= 2:
            return self._variable(parts[1], parts[2:], expr, path)
        if head == "bundle" and len(parts) == 2 and parts[1] in ("name", "target"):
            have = self.ctx.bundle_name if parts[1] == "name" else self.ctx.target
            if have is None:
                need = "`bundle` (or a block's `bundle: {name: ...}`)" if parts[1] == "name" else "`target`"
                raise FieldProblem(path, f"'${{{expr}}}' needs {need} in the front matter")
            return have
        if head == "workspace":
            if expr in RUNTIME_LITERALS:
                return "${" + expr + "}"
            if expr in ("workspace.root_path", "workspace.file_path"):
                root = self.ctx.workspace_root
                if root is None:
                    raise FieldProblem(path, f"'${{{expr}}}' needs `workspace_root` in the front matter")
                return root if expr == "workspace.root_path" else f"{root}/files"
            raise FieldProblem(
                path,
                f"unsupported substitution '${{{expr}}}' (supported workspace values: root_path, "
                "file_path, current_user.userName, current_user.short_name)",
            )
        if head == "resources":
            return self._resource(parts, expr, path)
        raise FieldProblem(
            path,
            f"unsupported substitution '${{{expr}}}' (supported: var.NAME, bundle.name, "
            "bundle.target, workspace.root_path, workspace.file_path, "
            "workspace.current_user.userName, workspace.current_user.short_name, "
            "resources.jobs.KEY.id)",
        )

    def _resource(self, parts: list[str], expr: str, path: tuple) -> str:
        kind = parts[1] if len(parts) > 1 else ""
        if kind != "jobs":
            raise FieldProblem(
                path,
                f"'${{{expr}}}' refers to resource kind '{kind}', which this product does not "
                "manage (only jobs)",
            )
        if len(parts) != 4 or parts[3] != "id":
            raise FieldProblem(
                path, f"unsupported reference '${{{expr}}}' (only ${{resources.jobs.KEY.id}})"
            )
        key = parts[2]
        if key not in self.ctx.job_keys:
            raise FieldProblem(
                path,
                f"reference to job '{key}', which is not defined in this file"
                + suggest(key, self.ctx.job_keys),
            )
        return "${" + expr + "}"

    def _variable(self, name: str, sub: list[str], expr: str, path: tuple) -> Any:
        var = self.ctx.variables.get(name)
        if var is None or var.value is NO_VALUE:
            why = f" ({var.note})" if var is not None and var.note else (
                " (not in the front matter's `variables` nor in a block's `variables:`"
                + suggest(name, self.ctx.variables)
                + ")"
            )
            raise FieldProblem(path, f"undefined variable '{name}'{why}")
        value = self._resolve_variable(name, var)
        for i, key in enumerate(sub):
            if not isinstance(value, dict) or key not in value:
                raise FieldProblem(
                    path, f"'${{{expr}}}': variable '{name}' has no field '{'.'.join(sub[: i + 1])}'"
                )
            value = value[key]
        return value

    def _resolve_variable(self, name: str, var: VariableDef) -> Any:
        if name in self._resolved:
            return self._resolved[name]
        if name in self._stack:
            cycle = " -> ".join(self._stack[self._stack.index(name) :] + [name])
            raise FieldProblem((), f"variable cycle: {cycle}", at=(var.line, var.field))
        self._stack.append(name)
        try:
            value = self.substitute(var.value)
        except FieldProblem as problem:
            if problem.at is not None:
                raise
            sub = format_path(problem.path)
            field = var.field + ("." + sub if sub and not sub.startswith("[") else sub)
            raise FieldProblem((), problem.message, at=(var.line, field)) from None
        finally:
            self._stack.pop()
        self._resolved[name] = value
        return value
