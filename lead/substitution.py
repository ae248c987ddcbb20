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

from lead import limits
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


_SUGGEST_MAX_CHARS = 64
_SUGGEST_MAX_CANDIDATES = 2000


def suggest(word: str, candidates: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest of `candidates` (difflib), or ``""`` (also
    when the word is over 64 characters or there are over 2,000 candidates)."""
    # bounded work whatever the file holds: difflib's ratio is quadratic in the lengths
    pool = [c for c in candidates if isinstance(c, str) and len(c) <= _SUGGEST_MAX_CHARS]
    if len(word) > _SUGGEST_MAX_CHARS or len(pool) > _SUGGEST_MAX_CANDIDATES:
        return ""
    close = difflib.get_close_matches(word, sorted(pool), n=1, cutoff=0.6)
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

    Limits (`lead.limits`, each a `FieldProblem` with `limit` set): one string after
    substitution (`MAX_VALUE_CHARS`), everything substituted in the file together
    (`MAX_DOCUMENT_CHARS`, counting a variable's value each time it is used), the nesting of a
    value with the variables placed in it (`MAX_DEPTH`) and of variables used in variables
    (`MAX_VARIABLE_NESTING`). Sizes are kept per variable and per produced list or mapping,
    so the work is linear in the input however often a value is reused.
    """

    def __init__(self, ctx: SubstitutionContext) -> None:
        self.ctx = ctx
        self._resolved: dict[str, Any] = {}
        self._stack: list[str] = []
        self.total = 0  # size of everything substituted so far (see `_size`)
        # id -> (container, size, depth) of every list and mapping this instance produced
        self._measured: dict[int, tuple[Any, int, int]] = {}

    def substitute(self, value: Any, path: tuple = ()) -> Any:
        """A copy of `value` (str, list, dict, scalar) with every ``${...}`` applied;
        `path` is prepended to the path of a `FieldProblem`."""
        out, _, _ = self._sub(value, tuple(path), len(path))
        return out

    def _count(self, size: int, path: tuple) -> None:
        self.total += size
        if self.total > limits.MAX_DOCUMENT_CHARS:
            raise FieldProblem(
                path,
                f"the substituted settings exceed {limits.MAX_DOCUMENT_CHARS:,} characters "
                "(variables used too often, or too large?)",
                limit="MAX_DOCUMENT_CHARS",
            )

    def _sub(self, value: Any, path: tuple, level: int) -> tuple[Any, int, int]:
        """``(new value, size, depth)``; `level` is how deep `value` sits. Recursion as
        deep as `value`, which the YAML reader keeps within `MAX_DEPTH`."""
        if isinstance(value, str):
            return self._string(value, path, level)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            size, depth = 1, 0
            self._count(1, path)
            for k, v in value.items():
                self._count(len(k), path)
                out[k], s, d = self._sub(v, path + (k,), level + 1)
                size, depth = size + len(k) + s, max(depth, d)
            return self._made(out, size, depth + 1)
        if isinstance(value, list):
            items: list[Any] = []
            size, depth = 1, 0
            self._count(1, path)
            for i, v in enumerate(value):
                item, s, d = self._sub(v, path + (i,), level + 1)
                items.append(item)
                size, depth = size + s, max(depth, d)
            return self._made(items, size, depth + 1)
        self._count(1, path)
        return value, 1, 0

    def _made(self, container: Any, size: int, depth: int) -> tuple[Any, int, int]:
        self._measured[id(container)] = (container, size, depth)
        return container, size, depth

    def _measure(self, value: Any) -> tuple[int, int]:
        """``(size, depth)`` of a (part of a) substituted value."""
        if isinstance(value, str):
            return len(value), 0
        if isinstance(value, (dict, list)):
            known = self._measured.get(id(value))
            if known is not None and known[0] is value:
                return known[1], known[2]
            items = value.items() if isinstance(value, dict) else enumerate(value)
            size, depth = 1, 0
            for k, v in items:
                s, d = self._measure(v)
                size, depth = size + s + (len(k) if isinstance(k, str) else 0), max(depth, d)
            self._made(value, size, depth + 1)
            return size, depth + 1
        return 1, 0

    def _string(self, text: str, path: tuple, level: int) -> tuple[Any, int, int]:
        whole = SUBSTITUTION.fullmatch(text.strip())
        if whole and whole.group(1).strip().startswith("var."):
            value = self._expression(whole.group(1).strip(), path)
            size, depth = self._measure(value)
            if level + depth > limits.MAX_DEPTH:
                raise FieldProblem(
                    path,
                    f"with '{text.strip()}' in place the value is nested more than {limits.MAX_DEPTH} levels deep",
                    limit="MAX_DEPTH",
                )
            if isinstance(value, str) and size > limits.MAX_VALUE_CHARS:
                raise self._too_long(path)
            self._count(size, path)
            return value, size, depth
        pieces: list[str] = []
        length = 0
        last = 0
        for m in SUBSTITUTION.finditer(text):
            piece = self._inline(m, path)
            pieces += (text[last : m.start()], piece)
            length += m.start() - last + len(piece)
            last = m.end()
            if length > limits.MAX_VALUE_CHARS:
                raise self._too_long(path)
        if not pieces:
            self._count(len(text), path)
            return text, len(text), 0
        pieces.append(text[last:])
        out = "".join(pieces)
        if len(out) > limits.MAX_VALUE_CHARS:
            raise self._too_long(path)
        self._count(len(out), path)
        return out, len(out), 0

    @staticmethod
    def _too_long(path: tuple) -> FieldProblem:
        return FieldProblem(
            path,
            f"the value is longer than {limits.MAX_VALUE_CHARS:,} characters after substitution",
            limit="MAX_VALUE_CHARS",
        )

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
        if len(self._stack) >= limits.MAX_VARIABLE_NESTING:
            raise FieldProblem(
                (),
                f"variables nested more than {limits.MAX_VARIABLE_NESTING} deep: "
                + " -> ".join(self._stack[:3] + ["..."] + self._stack[-2:] + [name]),
                at=(var.line, var.field),
                limit="MAX_VARIABLE_NESTING",
            )
        self._stack.append(name)
        outer_total, self.total = self.total, 0  # counted where the variable is used
        try:
            value, _, _ = self._sub(var.value, (), 0)
        except FieldProblem as problem:
            if problem.at is not None:
                raise
            sub = format_path(problem.path)
            field = var.field + ("." + sub if sub and not sub.startswith("[") else sub)
            raise FieldProblem((), problem.message, at=(var.line, field), limit=problem.limit) from None
        finally:
            self._stack.pop()
            self.total = outer_total
        self._resolved[name] = value
        return value
