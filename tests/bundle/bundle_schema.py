"""A checker for bundle configuration, built from the bundle JSON schema rendered as markdown.

`../shared/data/databricks-docs/cli-bundle-schema/*.md` is generated from the Databricks CLI's
``bundle/schema/jsonschema.json``: one file per top-level key (``bundle.md``, ``targets.md``,
...) or resource kind (``resources.jobs.md``), one ``### `key.path``` heading per field, then
``Type: `...``` and, for enums, ``Allowed values: `A`, `B``` and "This field is required.".
Paths use ``<name>`` for a map's keys and ``[]`` for a list's items.

`load_schema(dir)` parses the headings into a tree of `Node`s; `check(config, schema)` walks a
parsed YAML value against it and returns the problems, each ``"path: message"``:

- an unknown key in an object (a node with known fields);
- a wrong type: ``string``, ``bool``, ``int``/``int64``, ``float64``, ``Map`` (a mapping),
  ``Sequence of X`` (a list, items checked against the ``[]`` fields or X), an enum value not
  allowed; a named object type (``jobs.CronSchedule``) checks its fields; a named type written
  without fields at that place (``for_each_task.task: jobs.Task``) takes the fields the same
  type has elsewhere;
- a missing field that the schema says is required;
- as in the real schema, a string holding a ``${...}`` reference is accepted for any field.

Not known from these files, so not checked: ``interface`` values (any), the shape of ``include``
(its file has no field headings), and keys below ``targets.<name>.X`` (only depth 1 is
rendered there). It is test tooling: `databricks bundle validate` is the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ITEM = "[]"
ANY_KEY = "<name>"
_HEADING = re.compile(r"^### `([^`]+)`\s*$")
_TYPE = re.compile(r"^Type: `([^`]+)`")
_ALLOWED = re.compile(r"Allowed values: (.+)$")
_TOP = re.compile(r"^# Bundle (?:top-level key|resource) `([^`]+)`")
_REFERENCE = re.compile(r"\$\{[^}]+\}")


@dataclass
class Node:
    """One field of the schema: its declared `type` (None when the files do not say), its
    `children` (known keys; ``<name>`` for any key of a map, ``[]`` for list items), the enum
    values `allowed` and the child keys that are `required`."""

    type: str | None = None
    children: dict[str, "Node"] = field(default_factory=dict)
    allowed: list[str] | None = None
    required: set[str] = field(default_factory=set)

    def child(self, key: str) -> "Node":
        return self.children.setdefault(key, Node())


def _segments(path: str) -> list[str]:
    """``a.b[].c`` -> ``["a", "b", "[]", "c"]``."""
    out: list[str] = []
    for part in path.split("."):
        items = 0
        while part.endswith(ITEM):
            part, items = part[: -len(ITEM)], items + 1
        if part:
            out.append(part)
        out += [ITEM] * items
    return out


def load_schema(directory: Path) -> Node:
    """Parse every ``*.md`` of `directory` into the root `Node` (see the module docstring)."""
    root = Node(type="object")
    for md in sorted(Path(directory).glob("*.md")):
        node: Node | None = None
        parent: Node | None = None
        leaf = ""
        for line in md.read_text(encoding="utf-8").splitlines():
            top = _TOP.match(line)
            if top:
                holder = root
                for seg in _segments(top.group(1)):
                    holder = holder.child(seg)
                if top.group(1).startswith("resources."):
                    holder.type = holder.type or "Map"
                    holder.child(ANY_KEY)
                continue
            heading = _HEADING.match(line)
            if heading:
                segs = _segments(heading.group(1))
                parent = root
                for seg in segs[:-1]:
                    parent = parent.child(seg)
                leaf = segs[-1]
                node = parent.child(leaf)
                continue
            if node is None:
                continue
            typ = _TYPE.match(line)
            if typ:
                node.type = typ.group(1)
            allowed = _ALLOWED.search(line)
            if allowed:
                node.allowed = re.findall(r"`([^`]*)`", allowed.group(1))
            if "This field is required." in line and parent is not None:
                parent.required.add(leaf)
    _link_named_types(root)
    return root


def _link_named_types(root: Node) -> None:
    """A named object type that has no fields at one place borrows them from another place."""
    by_type: dict[str, Node] = {}

    def collect(node: Node) -> None:
        item = node.children.get(ITEM)
        if item is not None and item.type is None and (node.type or "").startswith("Sequence of "):
            item.type = node.type[len("Sequence of "):]  # `tasks: Sequence of jobs.Task` -> `tasks[]: jobs.Task`
        if node.type and node.children and node.type not in by_type and not node.type.startswith(("Sequence", "Map")):
            by_type[node.type] = node
        for c in node.children.values():
            collect(c)

    def link(node: Node, seen: set[int]) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if node.type in by_type and not node.children and node.allowed is None:
            donor = by_type[node.type]
            node.children, node.required = donor.children, donor.required
        for c in list(node.children.values()):
            link(c, seen)

    collect(root)
    link(root, set())


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_REFERENCE.search(value))


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def check(value: Any, node: Node, path: str = "") -> list[str]:
    """The problems of `value` against `node` (see the module docstring); ``[]`` when it fits."""
    where = path or "<root>"
    if _is_reference(value):
        return []
    t = node.type or ""
    if t == "interface":
        return []
    if t == "string":
        return [] if isinstance(value, str) else [f"{where}: expected a string, got {_kind(value)} {value!r}"]
    if t == "bool":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean, got {_kind(value)} {value!r}"]
    if t in ("int", "int64"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {_kind(value)} {value!r}"]
    if t == "float64":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {_kind(value)} {value!r}"]
    if not t and ITEM in node.children:  # `permissions[].level` with no type for `permissions`: a list
        t = "Sequence of items"
    if t.startswith("Sequence of "):
        if not isinstance(value, list):
            return [f"{where}: expected a list ({t}), got {_kind(value)}"]
        item = node.children.get(ITEM) or Node(type=t[len("Sequence of "):])
        return [p for i, v in enumerate(value) for p in check(v, item, f"{path}[{i}]")]
    if node.allowed is not None:
        if not isinstance(value, str) or value not in node.allowed:
            return [f"{where}: {value!r} is not one of {', '.join(node.allowed)}"]
        return []
    if t == "Map" or ANY_KEY in node.children:
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {_kind(value)}"]
        sub = node.children.get(ANY_KEY)
        if sub is None:
            return []
        return [p for k, v in value.items() for p in check(v, sub, f"{path}.{k}" if path else str(k))]
    if node.children:
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping ({t or 'object'}), got {_kind(value)}"]
        out = []
        for k, v in value.items():
            sub = node.children.get(k)
            if sub is None:
                out.append(f"{where}: unknown key {k!r}")
                continue
            out += check(v, sub, f"{path}.{k}" if path else str(k))
        out += [f"{where}: required key {k!r} is missing" for k in sorted(node.required) if k not in value]
        return out
    if "." in t:  # a named scalar type with no fields and no enum rendered: not known here
        return []
    return []


def check_bundle(directory: Path, schema: Node) -> list[str]:
    """Check ``databricks.yml`` and the files its ``include`` globs name, each separately
    (a bundle merges them; each file holds top-level keys). Problems are prefixed with the file."""
    import yaml

    directory = Path(directory)
    main = yaml.safe_load((directory / "databricks.yml").read_text())
    problems = [f"databricks.yml: {p}" for p in check(main, schema)]
    if not isinstance(main, dict) or "bundle" not in main:
        problems.append("databricks.yml: the bundle needs `bundle: {name: ...}`")
    for pattern in (main or {}).get("include") or []:
        for f in sorted(directory.glob(pattern)):
            problems += [f"{f.relative_to(directory)}: {p}" for p in check(yaml.safe_load(f.read_text()), schema)]
    return problems
