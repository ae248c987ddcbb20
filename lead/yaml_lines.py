"""YAML with line numbers: PyYAML's SafeLoader, keeping where every key and item was written.

`load(text, first_line=N)` composes the text into nodes with PyYAML (libyaml's parser
when PyYAML has it, PyYAML's composer and resolver as `yaml.SafeLoader`) and builds
plain Python values (dict, list, str, int, float, bool, None) itself, recording the line of
every mapping key and sequence item in a `LineMap` keyed by path tuples such as
``("resources", "jobs", "etl", "tasks", 0, "notebook_task")``.

Deliberate differences from `yaml.safe_load`:
- dates and timestamps stay strings (job settings want the text as written, and the result
  must be JSON-serialisable);
- a key repeated in one mapping is an error instead of silently keeping the last value;
- only JSON-compatible values are accepted: the tags ``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``, ``!!timestamp`` (kept as its text), ``!!seq`` and ``!!map``; an
  explicit tag must fit its value (``!!int abc`` is an error); integers must fit in 64 bits
  and floats be finite (``.inf``/``.nan`` are refused: the settings are JSON);
- limits (`lead.limits`): nodes as written and with aliases expanded (`MAX_YAML_NODES`,
  which stops "billion laughs" alias bombs), nesting depth (`MAX_DEPTH`), integer length;
  composing and building never recurse deeper than `MAX_DEPTH` levels;
- merge keys (``<<: *anchor``, ``<<: [*a, *b]``) and anchors/aliases work as in PyYAML
  (explicit keys override merged ones, the first listed merge wins); a merged key's line is
  where its value is written.

`format_path` renders a path tuple as the dotted field names used in error messages.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from lead import limits
from lead.errors import YamlError

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_TIMESTAMP_TAG = _TAG + "timestamp"
_MERGE_TAG = _TAG + "merge"


class PlainLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without the implicit timestamp resolver (dates stay strings)."""


PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# the pattern each core tag's text must match (PyYAML's implicit resolvers), also for an
# explicit tag
_PATTERNS: dict[str, re.Pattern[str]] = {
    tag: rx for resolvers in yaml.SafeLoader.yaml_implicit_resolvers.values() for tag, rx in resolvers
}


# what an explicit !!float also takes (PyYAML's implicit float needs a dot: `1e5` is text)
_FLOAT_TEXT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$")
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "timestamp"))


try:  # libyaml's scanner and parser, about five times faster than PyYAML's own
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None

if _CParser is not None:

    class _Base(Composer, _CParser, SafeConstructor, Resolver):
        """libyaml's parser (events) under PyYAML's Python composer, constructor and resolver
        (the composer stays ours: its depth and node limits apply)."""

        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _Base.yaml_implicit_resolvers = PlainLoader.yaml_implicit_resolvers
else:
    _Base = PlainLoader  # type: ignore[misc,assignment]


class _LimitedLoader(_Base):  # type: ignore[misc,valid-type]
    """A loader whose composer stops past `MAX_DEPTH` levels or `MAX_YAML_NODES` nodes,
    before PyYAML's recursive composer could exhaust the stack or memory."""

    def __init__(self, text: str, first_line: int) -> None:
        self._first_line = first_line
        self._depth = 0
        self._nodes = 0
        super().__init__(text)

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes += 1
        if self._nodes > limits.MAX_YAML_NODES:
            raise YamlError(
                self._first_line + self.peek_event().start_mark.line,
                f"more than {limits.MAX_YAML_NODES:,} YAML nodes in one block",
                limit="MAX_YAML_NODES",
            )
        self._depth += 1
        if self._depth > limits.MAX_DEPTH:
            raise YamlError(
                self._first_line + self.peek_event().start_mark.line,
                f"YAML nested more than {limits.MAX_DEPTH} levels deep",
                limit="MAX_DEPTH",
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
    # prefix length -> {prefix: {rest of path: line}}, built on the first `sub` with that
    # length, so taking every job's lines out of a block is one pass, not one per job
    _index: dict[int, dict[Path, dict[Path, int]]] = field(default_factory=dict, compare=False, repr=False)

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
        index = self._index.get(n)
        if index is None:
            index = {}
            for p, ln in self.lines.items():
                if len(p) >= n:
                    index.setdefault(p[:n], {})[p[n:]] = ln
            self._index[n] = index
        return LineMap(dict(index.get(prefix, {})))


def load(text: str, *, first_line: int = 1) -> tuple[Any, LineMap]:
    """Parse one YAML document; return ``(value, LineMap)``.

    `first_line` is the file line number of the text's first line, so reported lines are
    absolute. An empty document gives ``(None, LineMap)``.

    Raises:
        YamlError: invalid YAML (PyYAML's problem text and mark), more than one document,
            a repeated key, a non-scalar key, or a value that is not JSON-compatible.
    """
    lines: dict[Path, int] = {}
    loader: _LimitedLoader | None = None
    try:
        bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
        if bad is not None:
            raise YamlError(
                first_line + text.count("\n", 0, bad.start()),
                f"invalid YAML: special character U+{ord(bad.group()):04X} is not allowed",
            )
        try:
            loader = _LimitedLoader(text, first_line)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = first_line + (mark.line if mark else 0)
            what = exc.problem or exc.context or "invalid YAML"
            ctx = f" ({exc.context})" if exc.problem and exc.context else ""
            raise YamlError(line, f"invalid YAML: {what}{ctx}") from None
        if node is None:
            return None, LineMap({(): first_line})
        value = _Builder(loader, first_line, lines).build(node, ())
        return value, LineMap(lines)
    finally:
        if loader is not None:
            loader.dispose()


class _Builder:
    """Builds plain values from composed nodes. Aliases are built again at each use (the
    result is a tree, as JSON is), so the nodes produced are counted against
    `MAX_YAML_NODES` and the depth against `MAX_DEPTH` (a recursive alias ends there)."""

    def __init__(self, loader: _LimitedLoader, first_line: int, lines: dict[Path, int]) -> None:
        self.loader = loader
        self.first_line = first_line
        self.lines = lines
        self.depth = 0
        self.nodes = 0

    def line(self, node: yaml.Node) -> int:
        return self.first_line + node.start_mark.line

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, self.line(node))
        self.nodes += 1
        if self.nodes > limits.MAX_YAML_NODES:
            raise YamlError(
                self.line(node),
                f"the YAML expands to more than {limits.MAX_YAML_NODES:,} nodes (aliases used too often?)",
                path,
                limit="MAX_YAML_NODES",
            )
        self.depth += 1
        if self.depth > limits.MAX_DEPTH:
            raise YamlError(
                self.line(node),
                f"YAML nested more than {limits.MAX_DEPTH} levels deep (a recursive alias?)",
                path,
                limit="MAX_DEPTH",
            )
        try:
            if isinstance(node, MappingNode):
                self.collection_tag(node, "map", path)
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                self.collection_tag(node, "seq", path)
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.scalar(node, path)
        finally:
            self.depth -= 1

    def collection_tag(self, node: yaml.Node, kind: str, path: Path) -> None:
        if node.tag != _TAG + kind:
            raise YamlError(self.line(node), f"unsupported YAML tag {_short(node.tag)} (only !!{kind} here)", path)

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
            key = self.scalar(key_node, path)
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
        """A scalar's value by its tag (resolved or explicit), checked against the tag's
        pattern first, so no constructor ever sees text it cannot convert."""
        tag, text = node.tag, node.value
        if tag == _TAG + "str":
            return text
        if tag == _MERGE_TAG:
            raise YamlError(self.line(node), "'<<' is the merge key; quote it to write the text '<<'", path)
        if tag in (_TAG + "value", _TAG + "yaml"):
            return text  # "=", "!", "&", "*" written alone: PyYAML's odd resolutions of text
        pattern = _PATTERNS.get(tag)
        if pattern is None or tag not in _SCALAR_TAGS:
            raise YamlError(self.line(node), f"unsupported YAML tag {_short(tag)} on {_shown(text)}", path)
        if not (pattern.match(text) or (tag == _TAG + "float" and _FLOAT_TEXT.match(text))):
            raise YamlError(self.line(node), f"{_shown(text)} is not a valid {_short(tag)}", path)
        if tag == _TAG + "null":
            return None
        if tag == _TIMESTAMP_TAG:
            return text  # dates stay text
        if tag == _TAG + "bool":
            return self.loader.construct_yaml_bool(node)
        if tag == _TAG + "int":
            if len(text) > limits.MAX_INT_CHARS:
                raise YamlError(
                    self.line(node),
                    f"integer of {len(text):,} characters: the Jobs API takes 64-bit integers "
                    "(quote it to keep it as text)",
                    path,
                    limit="MAX_INT_CHARS",
                )
            value = self.loader.construct_yaml_int(node)
            if not -(2**63) <= value < 2**63:
                raise YamlError(
                    self.line(node),
                    f"integer {_shown(text)} is out of range: the Jobs API takes 64-bit integers "
                    "(quote it to keep it as text)",
                    path,
                )
            return value
        value = self.loader.construct_yaml_float(node)  # the only core tag left
        if not math.isfinite(value):
            raise YamlError(self.line(node), f"{_shown(text)} is not a finite number (settings are JSON)", path)
        return value


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
