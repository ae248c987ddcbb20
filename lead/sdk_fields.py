"""The field tree of the SDK's ``jobs.JobSettings``, derived once per installed SDK version.

`databricks.sdk.service.jobs` costs over a second to import, and `lead submit` only needs
the *names and shapes* of the job settings fields. So the tree is derived from the SDK's
dataclasses once, written to a cache file, and read from there afterwards:

    <cache dir>/jobsettings-fields-<databricks-sdk version>.json

The cache dir is ``$JOB_AGENT_HOME/cache`` when ``JOB_AGENT_HOME`` is set, else the user
cache dir (`platformdirs.user_cache_dir("job-agent")`, e.g. ``~/.cache/job-agent``). The SDK
version is read with `importlib.metadata` (no SDK import). A missing, unreadable or corrupt
file is rebuilt from the SDK and written again (atomically: a temporary file, then
`os.replace`); when it cannot be written (a read-only home) the tree is used from memory.

The tree (`FieldTree`) names dataclasses by ``module.QualName`` and gives each field a
*shape*, a string:

- ``"scalar"``: a str, int, float, bool or enum;
- ``"any"``: anything (a type this module does not know);
- ``"class:<module.QualName>"``: a mapping with that dataclass's fields;
- ``"list:<shape>"``: a list of that shape;
- ``"map:<shape>"``: a mapping of any keys to that shape.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
SDK_DISTRIBUTION = "databricks-sdk"
ROOT_CLASS = "JobSettings"


@dataclass(frozen=True)
class ClassInfo:
    """One dataclass: its short name (for messages) and its fields, name -> shape."""

    name: str
    fields: dict[str, str]


@dataclass(frozen=True)
class FieldTree:
    """Every dataclass reachable from ``jobs.JobSettings``.

    `classes` maps ``module.QualName`` to `ClassInfo`; `by_name` maps a class name of
    ``databricks.sdk.service.jobs`` (``JobSettings``, ``Task``, ...) to its key in `classes`.
    """

    sdk_version: str
    classes: dict[str, ClassInfo]
    by_name: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The cache file's content."""
        return {
            "format": FORMAT,
            "sdk_version": self.sdk_version,
            "by_name": self.by_name,
            "classes": {k: {"name": c.name, "fields": c.fields} for k, c in self.classes.items()},
        }


class CorruptCache(ValueError):
    """The cache file's content is not a field tree of this format and SDK version."""


@functools.lru_cache(maxsize=1)
def sdk_version() -> str:
    """The installed ``databricks-sdk`` version, from its metadata (does not import it);
    read once per process.

    Raises `importlib.metadata.PackageNotFoundError` when the SDK is not installed."""
    from importlib.metadata import version

    return version(SDK_DISTRIBUTION)


def cache_dir() -> Path:
    """``$JOB_AGENT_HOME/cache`` if ``JOB_AGENT_HOME`` is set, else the user cache dir."""
    home = os.environ.get("JOB_AGENT_HOME")
    if home:
        return Path(home) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("job-agent", appauthor=False))


def cache_path(version: str | None = None) -> Path:
    """The cache file for `version` (default: the installed SDK's)."""
    return cache_dir() / f"jobsettings-fields-{version or sdk_version()}.json"


_TREE: FieldTree | None = None


def field_tree() -> FieldTree:
    """The field tree of the installed SDK: from memory, else the cache file, else derived
    from the SDK (which is imported then) and written to the cache file."""
    global _TREE
    version = sdk_version()
    if _TREE is not None and _TREE.sdk_version == version:
        return _TREE
    path = cache_path(version)
    try:
        tree = parse(json.loads(path.read_text(encoding="utf-8")), version)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, CorruptCache):
        tree = derive()
        write_cache(tree, path)
    _TREE = tree
    return tree


def write_cache(tree: FieldTree, path: Path) -> bool:
    """Write `tree` to `path` atomically; False (and nothing written) when the directory is
    not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(tree.to_json(), f, separators=(",", ":"), sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def parse(data: Any, version: str) -> FieldTree:
    """Check a cache file's JSON `data` and return its tree.

    Raises `CorruptCache` when it is not of this format and `version`, or any shape is
    malformed or names a class the tree does not hold."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("sdk_version") != version:
        raise CorruptCache("not a field tree of this format and SDK version")
    raw_classes, by_name = data.get("classes"), data.get("by_name")
    if not isinstance(raw_classes, dict) or not isinstance(by_name, dict):
        raise CorruptCache("classes or by_name missing")
    classes: dict[str, ClassInfo] = {}
    for key, info in raw_classes.items():
        if not isinstance(info, dict) or not isinstance(info.get("name"), str):
            raise CorruptCache(f"class {key!r} malformed")
        fields = info.get("fields")
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            raise CorruptCache(f"fields of {key!r} malformed")
        classes[key] = ClassInfo(info["name"], dict(fields))
    for shape in (s for c in classes.values() for s in c.fields.values()):
        _check_shape(shape, classes)
    if ROOT_CLASS not in by_name or not all(isinstance(v, str) and v in classes for v in by_name.values()):
        raise CorruptCache("by_name malformed")
    return FieldTree(version, classes, dict(by_name))


def _check_shape(shape: str, classes: dict[str, ClassInfo]) -> None:
    while shape.startswith(("list:", "map:")):
        shape = shape.split(":", 1)[1]
    if shape in ("scalar", "any"):
        return
    if shape.startswith("class:") and shape[6:] in classes:
        return
    raise CorruptCache(f"bad shape {shape!r}")


def derive() -> FieldTree:
    """Derive the tree from the SDK's dataclasses (imports ``databricks.sdk.service.jobs``)."""
    import dataclasses
    import enum
    import typing

    from databricks.sdk.service import jobs

    classes: dict[str, ClassInfo] = {}
    pending: list[type] = []

    def key(cls: type) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def shape(hint: Any) -> str:
        origin = typing.get_origin(hint)
        if origin is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            return shape(args[0]) if len(args) == 1 else "any"
        if origin in (list, typing.List):
            (item,) = typing.get_args(hint) or (Any,)
            return "list:" + shape(item)
        if origin in (dict, typing.Dict):
            args = typing.get_args(hint)
            return "map:" + (shape(args[1]) if len(args) == 2 else "any")
        if isinstance(hint, type):
            if issubclass(hint, enum.Enum) or hint in (str, int, float, bool):
                return "scalar"
            if dataclasses.is_dataclass(hint):
                if key(hint) not in classes:
                    classes[key(hint)] = ClassInfo(hint.__name__, {})
                    pending.append(hint)
                return "class:" + key(hint)
        return "any"

    by_name: dict[str, str] = {}
    for name in dir(jobs):
        cls = getattr(jobs, name)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == jobs.__name__:
            shape(cls)
            by_name[name] = key(cls)
    while pending:
        cls = pending.pop()
        hints = typing.get_type_hints(cls)
        classes[key(cls)].fields.update({f.name: shape(hints.get(f.name)) for f in dataclasses.fields(cls)})
    return FieldTree(sdk_version(), classes, by_name)
