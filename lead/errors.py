"""Typed errors raised while reading a requirements file.

`RequirementsError` is the only error a caller of `lead.requirements.load_requirements`
sees for a problem in the user's file: it names the file, the 1-based line in the whole
file (front matter included) and the dotted field, and renders as one line.

`FieldProblem` and `YamlError` are internal: lower layers (substitution, schema checks,
path resolution, the YAML reader) raise them with a location *relative to what they were
given*, and the layer that knows where that input sits in the file converts them into a
`RequirementsError`.
"""

from __future__ import annotations

from pathlib import Path


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class RequirementsError(ValueError):
    """A problem in a requirements file, located by file, line and field.

    Attributes:
        path: the file as the caller named it (a `Path`; rendered with `str()`).
        line: 1-based line in the whole file, counting the front matter and its `---` lines.
        field: dotted path of the offending field, e.g.
            ``resources.jobs.etl.tasks[0].notebook_task.notebook_path`` or ``owner``;
            ``""`` for problems about the file as a whole (empty file, no jobs).
        message: what is wrong, one line.

    ``str(err)`` is exactly one line: ``PATH:LINE: FIELD: MESSAGE`` (``PATH:LINE: MESSAGE``
    when there is no field).
    """

    def __init__(self, path: Path | str, line: int, field: str, message: str) -> None:
        self.path = Path(path)
        self.line = int(line)
        self.field = field
        self.message = _one_line(message)
        super().__init__(self._render())

    def _render(self) -> str:
        if self.field:
            return f"{self.path}:{self.line}: {self.field}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"

    def __str__(self) -> str:
        return self._render()


class LimitExceeded(RequirementsError):
    """A `RequirementsError` for a file past one of the limits of `lead.limits`.

    `limit` is the limit's name (``"MAX_YAML_NODES"``, ...)."""

    def __init__(self, path: Path | str, line: int, field: str, message: str, *, limit: str) -> None:
        self.limit = limit
        super().__init__(path, line, field, message)


class FieldProblem(Exception):
    """Internal: a problem at `path` (a tuple of keys and list indexes) inside some value.

    The catcher knows where that value sits in the file and turns this into a
    `RequirementsError` (a `LimitExceeded` when `limit` names a limit). When the problem lies somewhere else entirely (for instance inside
    a variable's definition while substituting a job field), `at` carries the absolute
    ``(line, field)`` to report instead.
    """

    def __init__(
        self,
        path: tuple[str | int, ...],
        message: str,
        *,
        at: tuple[int, str] | None = None,
        limit: str = "",
    ) -> None:
        self.path = tuple(path)
        self.message = _one_line(message)
        self.at = at
        self.limit = limit
        super().__init__(self.message)


class YamlError(Exception):
    """Internal: invalid YAML, or YAML we refuse (duplicate keys, unsupported values).

    `line` is already absolute (the YAML reader is told the text's first line number);
    `path` is the key path of the offending node when known, else ``()``. `limit` names the
    `lead.limits` limit that was exceeded, ``""`` for any other problem.
    """

    def __init__(self, line: int, message: str, path: tuple[str | int, ...] = (), *, limit: str = "") -> None:
        self.line = int(line)
        self.message = _one_line(message)
        self.path = tuple(path)
        self.limit = limit
        super().__init__(f"line {self.line}: {self.message}")
