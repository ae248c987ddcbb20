"""Chunk sources: the installed databricks-sdk, and directories of documentation files.

- :class:`SdkSource` introspects ``databricks.sdk.service.*``: it imports each service module,
  reads its source with :func:`inspect.getsource` and walks it with :mod:`ast` to collect every
  dataclass's docstring and its fields' attribute docstrings (a string literal right after
  ``name: Type = default``), every enum's docstring and members, and every public API method's
  docstring. Chunk paths look like ``sdk:jobs.JobSettings.max_concurrent_runs``.
- :class:`DirectorySource` walks a directory for ``.md``, ``.mdx``, ``.rst`` and ``.txt`` files;
  chunk paths are POSIX paths relative to the directory. Binary, empty and unreadable files
  are skipped with a warning.

A source spec on the command line is ``sdk``, ``sdk:jobs,compute`` (some service modules
only) or a directory path; see :func:`parse_source`.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import logging
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

from docs_index.chunking import (
    Chunk,
    ChunkingConfig,
    Section,
    chunk_document,
    chunks_from_sections,
)

log = logging.getLogger(__name__)

DOC_SUFFIXES = (".md", ".mdx", ".rst", ".txt")
"""File suffixes a directory source indexes."""

SDK_SOURCE = "sdk"


class SourceError(ValueError):
    """A source spec names something that cannot be indexed (missing directory, bad module)."""


@dataclass
class SourceScan:
    """What one source yielded: its chunks, the files it read and the files it skipped.

    ``files`` counts indexed files (service modules for the SDK); ``skipped`` lists
    ``(path, reason)`` for files left out.
    """

    chunks: list[Chunk] = field(default_factory=list)
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


class Source(Protocol):
    """Anything that can be scanned into chunks; ``key`` identifies it in the index."""

    key: str

    def scan(self, config: ChunkingConfig, model_id: str = "") -> SourceScan:
        """Read the source and chunk it with ``config``; ``model_id`` goes into content hashes."""
        ...


def parse_source(spec: str) -> "SdkSource | DirectorySource":
    """Turn a command-line source spec into a source.

    ``sdk`` -> every service module; ``sdk:jobs,compute`` -> those modules;
    ``sdk:jobs.JobSettings,jobs.Task`` -> those classes only (small indexes for tests);
    anything else is a directory. Raises :class:`SourceError` when the directory does not
    exist or no module is named.
    """
    if spec == SDK_SOURCE:
        return SdkSource()
    if spec.startswith(SDK_SOURCE + ":"):
        mods = tuple(m.strip() for m in spec.split(":", 1)[1].split(",") if m.strip())
        if not mods:
            raise SourceError(f"no module named in source spec {spec!r}")
        return SdkSource(modules=mods)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise SourceError(f"source directory not found: {spec}")
    return DirectorySource(path)


# ---------------------------------------------------------------- directories


@dataclass
class DirectorySource:
    """A directory of documentation files; the chunks' ``source`` is its absolute path."""

    root: Path

    @property
    def key(self) -> str:
        """The absolute, resolved directory path."""
        return str(self.root.resolve())

    def files(self) -> Iterator[Path]:
        """Files under the root with an indexed suffix, sorted, hidden directories skipped."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.lower().endswith(DOC_SUFFIXES) and not name.startswith("."):
                    yield Path(dirpath) / name

    def scan(self, config: ChunkingConfig, model_id: str = "") -> SourceScan:
        """Read and chunk every file; skip (with a warning) binary, empty or unreadable ones."""
        scan = SourceScan()
        for f in self.files():
            rel = f.relative_to(self.root).as_posix()
            text, reason = read_text_file(f)
            if text is None:
                log.warning("skipping %s: %s", f, reason)
                scan.skipped.append((rel, reason))
                continue
            chunks = chunk_document(text, source=self.key, rel_path=rel, config=config,
                                    model_id=model_id)
            if not chunks:
                log.warning("skipping %s: no text to index", f)
                scan.skipped.append((rel, "no text to index"))
                continue
            scan.files += 1
            scan.chunks.extend(chunks)
        return scan


def read_text_file(path: Path) -> tuple[str | None, str]:
    """Read a UTF-8 text file. Returns ``(text, "")`` or ``(None, reason)`` when it is
    unreadable, binary (contains NUL bytes or is not UTF-8) or empty."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return None, f"unreadable ({e.strerror or e})"
    if b"\x00" in raw[:8192]:
        return None, "binary file"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "binary file (not UTF-8)"
    if not text.strip():
        return None, "empty file"
    return text.replace("\r\n", "\n"), ""


# ---------------------------------------------------------------- the SDK


@dataclass
class SdkSource:
    """The installed ``databricks.sdk.service`` modules (all, or the ones named).

    ``modules`` entries are module names (``jobs``) or ``module.Class`` (``jobs.Task``) to
    keep only some classes of a module.
    """

    modules: tuple[str, ...] | None = None
    key: str = SDK_SOURCE

    def _class_filter(self) -> dict[str, set[str] | None]:
        out: dict[str, set[str] | None] = {}
        for entry in self.modules or ():
            mod, _, cls = entry.partition(".")
            if not cls:
                out[mod] = None
            elif out.get(mod, set()) is not None:
                out.setdefault(mod, set()).add(cls)
        return out

    def module_names(self) -> list[str]:
        """The service module names to read (e.g. ``["jobs", "compute"]``), sorted.

        Raises :class:`SourceError` when a named module does not exist in the installed SDK.
        """
        import databricks.sdk.service as service

        available = sorted(
            m.name for m in pkgutil.iter_modules(service.__path__) if not m.name.startswith("_")
        )
        if self.modules is None:
            return available
        wanted = self._class_filter()
        missing = [m for m in wanted if m not in available]
        if missing:
            raise SourceError(f"no such databricks.sdk.service module: {', '.join(missing)}")
        return sorted(wanted)

    def scan(self, config: ChunkingConfig, model_id: str = "") -> SourceScan:
        """Import each service module and chunk its docstrings (see the module docstring)."""
        scan = SourceScan()
        for name in self.module_names():
            try:
                tree = _module_tree(name)
            except Exception as e:  # an SDK module that fails to import is skipped, not fatal
                log.warning("skipping databricks.sdk.service.%s: %s", name, e)
                scan.skipped.append((f"sdk:{name}", str(e)))
                continue
            scan.files += 1
            classes = self._class_filter().get(name) if self.modules else None
            scan.chunks.extend(sdk_module_chunks(name, tree, config, model_id, classes))
        return scan


@functools.lru_cache(maxsize=None)
def _module_tree(name: str) -> ast.Module:
    """The parsed source of ``databricks.sdk.service.<name>`` (imported; cached per process)."""
    module = importlib.import_module(f"databricks.sdk.service.{name}")
    return ast.parse(inspect.getsource(module))


def _decorator_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}


def _string_expr(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        if isinstance(stmt.value.value, str):
            return inspect.cleandoc(stmt.value.value)
    return None


def dataclass_field_docs(cls: ast.ClassDef) -> list[tuple[str, str, str]]:
    """``(field, annotation, docstring)`` for each field of a class body followed by a string
    literal (an attribute docstring), in source order. Undocumented fields are left out."""
    out = []
    body = cls.body
    for stmt, nxt in zip(body, body[1:]):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            doc = _string_expr(nxt)
            if doc:
                out.append((stmt.target.id, ast.unparse(stmt.annotation), doc))
    return out


def _signature(fn: ast.FunctionDef) -> str:
    args = fn.args
    params = [a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
    params += [a.arg for a in args.kwonlyargs]
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"({', '.join(params)}){ret}"


def sdk_module_chunks(
    module: str,
    tree: ast.Module,
    config: ChunkingConfig,
    model_id: str = "",
    classes: set[str] | None = None,
) -> list[Chunk]:
    """Chunks of one parsed service module ``databricks.sdk.service.<module>``.

    One chunk (or more, when long) per documented dataclass, dataclass field, enum, API class
    and public API method. ``path`` is ``sdk:<module>.<Class>[.<member>]``; the heading path
    is ``(Class,)`` or ``(Class, member)``; the title is the module's dotted name.
    ``classes``: keep only these class names (None: all).
    """
    title = f"databricks.sdk.service.{module}"
    file = f"sdk:{module}"
    out: list[Chunk] = []

    def add(path: str, heading: tuple[str, ...], body: str) -> None:
        out.extend(
            chunks_from_sections(
                [Section(heading, body)], source=SDK_SOURCE, path=path, title=title,
                file=file, config=config, model_id=model_id, field_entries=False,
            )
        )

    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
            continue
        if classes is not None and node.name not in classes:
            continue
        cls = node.name
        doc = ast.get_docstring(node) or ""
        if "dataclass" in _decorator_names(node):
            fields = dataclass_field_docs(node)
            if doc:
                listing = ", ".join(f for f, _, _ in fields)
                add(f"sdk:{module}.{cls}", (cls,),
                    f"Data class {cls}.\n{doc}" + (f"\nFields: {listing}" if listing else ""))
            for fname, ann, fdoc in fields:
                add(f"sdk:{module}.{cls}.{fname}", (cls, fname),
                    f"{cls}.{fname} ({ann}): {fdoc}")
        elif "Enum" in _base_names(node):
            members = [
                s.targets[0].id for s in node.body
                if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name)
            ]
            body = f"Enum {cls}." + (f"\n{doc}" if doc else "")
            if members:
                body += "\nValues: " + ", ".join(members)
            add(f"sdk:{module}.{cls}", (cls,), body)
        else:
            if doc:
                add(f"sdk:{module}.{cls}", (cls,), f"{cls}\n{doc}")
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                    fdoc = ast.get_docstring(fn)
                    if fdoc:
                        add(f"sdk:{module}.{cls}.{fn.name}", (cls, fn.name),
                            f"{cls}.{fn.name}{_signature(fn)}\n{fdoc}")
    return out
