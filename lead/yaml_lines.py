"""YAML with line numbers: PyYAML's SafeLoader, keeping where every key and item was written.

`load(text, first_line=N)` composes the text into nodes with `yaml.SafeLoader` and builds
plain Python values (dict, list, str, int, float, bool, None) itself, recording the line of
every mapping key and sequence item in a `LineMap` keyed by path tuples such as
``("resources", "jobs", "etl", "tasks", 0, "notebook_task")``.

Deliberate differences from `yaml.safe_load`:
- dates and timestamps stay strings (job settings want the text as written, and the result
  must be JSON-serialisable);
- a key repeated in one mapping is an error instead of silently keeping the last value;
- only JSON-compatible scalars are accepted (no ``!!binary``, ``!!set``);
- merge keys (``<<: *anchor``, ``<<: [*a, *b]``) and anchors/aliases work as in PyYAML
  (explicit keys override merged ones, the first listed merge wins); a merged key's line is
  where its value is written.

`format_path` renders a path tuple as the dotted field names used in error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from lead.errors import YamlError

Path = tuple[str | int, ...]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class PlainLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without the implicit timestamp resolver (dates stay strings)."""


PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def format_path(path: Path) -> str:
    """Render a path tuple as a dotted field: ``("jobs", "etl", "tasks", 0, "x")`` ->
    ``jobs.etl.tasks[0].x``. Keys that are not plain identifiers are quoted:
    ``spark_conf["spark.master"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


@dataclass(frozen=True)
class LineMap:
    """Lines (1-based, absolute in the file) of the keys and items of one YAML document.

    A mapping entry's line is the line of its key; a sequence item's line is where the item
    starts. The root path ``()`` maps to where the document starts.
    """

    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one (never fails: falls
        back to the root's line, or 1)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def sub(self, prefix: Path) -> "LineMap":
        """The lines under `prefix`, re-keyed relative to it (the prefix itself becomes ``()``)."""
        prefix = tuple(prefix)
        n = len(prefix)
        return LineMap({p[n:]: ln for p, ln in self.lines.items() if p[:n] == prefix})


def load(text: str, *, first_line: int = 1) -> tuple[Any, LineMap]:
    """Parse one YAML document; return ``(value, LineMap)``.

    `first_line` is the file line number of the text's first line, so reported lines are
    absolute. An empty document gives ``(None, LineMap)``.

    Raises:
        YamlError: invalid YAML (PyYAML's problem text and mark), more than one document,
            a repeated key, a non-scalar key, or a value that is not JSON-compatible.
    """
    loader = PlainLoader(text)
    lines: dict[Path, int] = {}
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = first_line + (mark.line if mark else 0)
            what = exc.problem or exc.context or "invalid YAML"
            ctx = f" ({exc.context})" if exc.problem and exc.context else ""
            raise YamlError(line, f"invalid YAML: {what}{ctx}") from None
        except yaml.YAMLError as exc:  # reader errors (bad characters) carry no mark
            raise YamlError(first_line, f"invalid YAML: {exc}") from None
        if node is None:
            return None, LineMap({(): first_line})
        value = _Builder(loader, first_line, lines).build(node, ())
        return value, LineMap(lines)
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, loader: PlainLoader, first_line: int, lines: dict[Path, int]) -> None:
        self.loader = loader
        self.first_line = first_line
        self.lines = lines
        self.depth = 0

    def line(self, node: yaml.Node) -> int:
        return self.first_line + node.start_mark.line

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, self.line(node))
        self.depth += 1
        if self.depth > 200:
            raise YamlError(self.line(node), "YAML nested too deeply (recursive alias?)", path)
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.scalar(node, path)
        finally:
            self.depth -= 1

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        """A mapping's value, with ``<<`` merge keys applied as PyYAML does: explicit keys
        (wherever they are written) override merged ones; of several merged mappings the
        one listed first wins (``<<: [*a, *b]``: `a` over `b`); of two ``<<`` keys the later
        wins. Key order is PyYAML's. A merged key keeps the line where its value is written
        (in the anchored mapping)."""
        explicit: dict[str, Any] = {}
        merges: list[MappingNode] = []  # lowest precedence first
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.extend(self.merge_sources(value_node, self.line(key_node), path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise YamlError(self.line(key_node), "mapping keys must be plain scalars", path)
            key = self.loader.construct_object(key_node)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise YamlError(
                    self.line(key_node),
                    f"mapping key {key_node.value!r} must be a string (quote it)",
                    path,
                )
            key = str(key)
            if key in explicit:
                raise YamlError(
                    self.line(key_node),
                    f"duplicate key {key!r} (first written at line {self.lines[path + (key,)]})",
                    path + (key,),
                )
            self.lines[path + (key,)] = self.line(key_node)
            explicit[key] = self.build(value_node, path + (key,))
        if not merges:
            return explicit
        out: dict[str, Any] = {}
        winner: dict[str, int] = {}
        merged_lines: list[dict[Path, int]] = []
        for i, source in enumerate(merges):
            outer, self.lines = self.lines, {}
            try:
                value = self.build(source, ())
            finally:
                merged_lines.append(self.lines)
                self.lines = outer
            out.update(value)
            winner.update(dict.fromkeys(value, i))
        out.update(explicit)
        for i, lines in enumerate(merged_lines):
            for sub, line in lines.items():
                if sub and sub[0] not in explicit and winner.get(sub[0]) == i:
                    self.lines[path + sub] = line
        return out

    def merge_sources(self, value_node: yaml.Node, line: int, path: Path) -> list[MappingNode]:
        """The mappings a ``<<`` key (at `line`) merges, lowest precedence first (PyYAML's
        order). An alias's node carries the anchor's position, so problems are reported at
        the ``<<`` line."""
        if isinstance(value_node, MappingNode):
            return [value_node]
        if isinstance(value_node, SequenceNode):
            for item in value_node.value:
                if not isinstance(item, MappingNode):
                    raise YamlError(
                        line, f"invalid YAML: expected a mapping for merging, but found a {item.id}", path
                    )
            return list(reversed(value_node.value))
        raise YamlError(
            line,
            f"invalid YAML: expected a mapping or list of mappings for merging, but found a {value_node.id}",
            path,
        )

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        try:
            value = self.loader.construct_object(node)
        except yaml.MarkedYAMLError as exc:
            raise YamlError(self.line(node), f"invalid YAML: {exc.problem}", path) from None
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise YamlError(
            self.line(node), f"unsupported YAML value of type {type(value).__name__} (tag {node.tag})", path
        )
