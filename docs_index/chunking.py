"""Chunking that follows a document's structure.

A document is first cut into *sections* (heading path + body): markdown ATX headings,
reStructuredText underlined titles and ``.. py:class::``/``.. py:method::`` directives, and,
inside a section, *field entries* (bullets that start with a back-quoted name such as
``- **`max_concurrent_runs`** ...`` or ``* `name` - ...``), each of which becomes its own
section under the field's name. Sections longer than ``max_chars`` are split into windows on
paragraph, then line, then word boundaries, consecutive windows sharing ``overlap`` characters.
In reStructuredText, ``Usage:`` code examples move after the prose of their section
(:func:`usage_last`), so a chunk starts with what a method does rather than with its example.

Chunk ids are stable: a hash of (source, path, heading path, window number), so an edit of
one section re-embeds that section only. The content hash covers the text that is embedded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

HEADING_SEP = " > "
"""Separator used when a heading path is rendered as one string."""


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size limits, in characters.

    ``max_chars``: longest chunk body; ``overlap``: characters repeated at the start of the
    next window of a split section; ``min_chars``: sections with less body text are dropped
    (empty directive stubs and the like); ``pack``: group consecutive small sections and
    field entries into chunks of up to ``max_chars`` (fewer, denser chunks: cheaper to embed)
    instead of one chunk per section or field.
    """

    max_chars: int = 1000
    overlap: int = 150
    min_chars: int = 12
    pack: bool = False

    def __post_init__(self) -> None:
        if self.max_chars < 100 or not (0 <= self.overlap < self.max_chars // 2):
            raise ValueError(f"bad chunking config: {self}")


@dataclass(frozen=True)
class Section:
    """A structural unit of a document: its heading path (outermost first) and body text."""

    heading_path: tuple[str, ...]
    body: str


@dataclass(frozen=True)
class Chunk:
    """One indexed passage.

    ``source``: ``"sdk"`` or the absolute path of a source directory; ``path``: the file path
    relative to that directory (or ``sdk:<module>.<Class>[.<member>]``); ``file``: the unit a
    chunk is removed with (the relative file path, or ``sdk:<module>``); ``ordinal``: window
    number inside the section.
    """

    id: str
    text: str
    source: str
    path: str
    title: str
    heading_path: tuple[str, ...]
    file: str
    ordinal: int = 0
    content_hash: str = field(default="", compare=False)

    @property
    def heading(self) -> str:
        """The heading path as one string, e.g. ``"Data class `JobSettings` > max_concurrent_runs"``."""
        return HEADING_SEP.join(self.heading_path)

    @property
    def embed_text(self) -> str:
        """The text given to the embedding model and to BM25: title, heading path, then body."""
        head = HEADING_SEP.join([self.title, *self.heading_path]) if self.title else self.heading
        return f"{head}\n{self.text}" if head else self.text

    def metadata(self) -> dict[str, str | int]:
        """The Chroma metadata of this chunk (flat, scalar values only)."""
        return {
            "source": self.source,
            "path": self.path,
            "title": self.title,
            "heading": self.heading,
            "heading_path": json.dumps(list(self.heading_path)),
            "file": self.file,
            "ordinal": self.ordinal,
            "content_hash": self.content_hash,
        }


def chunk_id(source: str, path: str, heading_path: tuple[str, ...], ordinal: int) -> str:
    """Stable chunk id: a 24-hex-digit sha1 of the chunk's position (not of its text)."""
    key = "\x00".join([source, path, *heading_path, str(ordinal)])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:24]


def content_hash(text: str, model_id: str = "") -> str:
    """sha256 of the embedded text and the model id: equal hashes need no new embedding."""
    return hashlib.sha256(f"{model_id}\x00{text}".encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- splitting long sections


def split_text(text: str, max_chars: int, overlap: int) -> list[str]:
    """Split ``text`` into windows of at most ``max_chars`` characters.

    Cuts at paragraph breaks, else line breaks, else spaces, else anywhere; each window after
    the first starts with up to ``overlap`` characters from the end of the previous one.
    Returns ``[text]`` when it already fits; never returns an empty list for non-empty text.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    windows: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + max_chars, n)
        if end < n:
            cut = -1
            lo = start + max_chars // 2
            for sep in ("\n\n", "\n", " "):
                cut = text.rfind(sep, lo, end)
                if cut != -1:
                    break
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if piece:
            windows.append(piece)
        if end >= n:
            break
        nxt = end - overlap if overlap else end
        if overlap:
            space = text.find(" ", nxt, end)
            nxt = space + 1 if space != -1 else nxt
        start = max(nxt, start + 1)
    return windows


# ---------------------------------------------------------------- field entries

_FIELD_BULLET = re.compile(r"^[-*+]\s+(?:\*\*)?`([A-Za-z_$][\w.$<>\[\]{}/-]*)`")


def split_field_entries(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Separate field-entry bullets from the prose of a section body.

    A field entry is a top-level bullet whose text starts with a back-quoted name, plus its
    continuation lines. Returns ``(prose, [(name, entry_text), ...])``; when fewer than two
    entries are found the whole body is returned as prose (a single bullet is not a list).
    """
    lines = body.split("\n")
    prose: list[str] = []
    entries: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    in_fence = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            in_fence = not in_fence
            current = None
            prose.append(line)
            continue
        m = None if in_fence else _FIELD_BULLET.match(line)
        if m:
            current = (m.group(1), [line])
            entries.append(current)
            continue
        if current is not None:
            if stripped == "":
                nxt = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
                if nxt.startswith((" ", "\t")):
                    current[1].append(line)
                    continue
                current = None
            elif line.startswith((" ", "\t")) or not re.match(r"^(#|[-*+]\s|\d+\.\s)", line):
                current[1].append(line)
                continue
            else:
                current = None
        prose.append(line)
    if len(entries) < 2:
        return body, []
    return "\n".join(prose), [(name, "\n".join(ls).strip()) for name, ls in entries]


# ---------------------------------------------------------------- markdown

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?\n)---\s*\n", re.S)
_FM_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.M)


def _clean_heading(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


def parse_markdown(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Cut markdown (or mdx) into sections by ATX headings, outside fenced code.

    Returns ``(title, sections)``: the title is the front matter ``title:``, else the first
    level-1 heading (which is then not part of heading paths), else ``fallback_title``.
    """
    title = ""
    fm = _FRONT_MATTER.match(text)
    if fm:
        t = _FM_TITLE.search(fm.group(1))
        title = t.group(1).strip() if t else ""
        text = text[fm.end() :]
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        joined = "\n".join(body).strip()
        if joined:
            sections.append(Section(tuple(h for _, h in stack), joined))
        body.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            in_fence = not in_fence
        m = None if in_fence else _ATX.match(line)
        if m:
            level, heading = len(m.group(1)), _clean_heading(m.group(2))
            if level == 1 and not title and not stack:
                flush()
                title = heading
                continue
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            continue
        body.append(line)
    flush()
    return title or fallback_title, sections


# ---------------------------------------------------------------- reStructuredText

_RST_ADORN = re.compile(r"""^([=\-~^"'`#*+:.])\1{2,}\s*$""")
_RST_DIRECTIVE = re.compile(
    r"^(\s*)\.\.\s+(?:py:)?(class|method|function|autoclass|exception)::\s*(.+?)\s*$"
)


_RST_USAGE = re.compile(r"^\s*Usage:\s*$")
_RST_CODE = re.compile(r"^(\s*)\.\.\s+code-block::")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def usage_last(lines: list[str]) -> list[str]:
    """Move ``Usage:`` examples (a ``Usage:`` line, then a ``.. code-block::`` directive and
    its indented body) after the rest of a reStructuredText section body.

    The SDK's API pages put a long example before each method's description; an embedding
    model that reads only a chunk's first tokens would then see code instead of the words
    that say what the method does. Other lines, other code blocks included, keep their order.
    """
    prose: list[str] = []
    code: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        usage = bool(_RST_USAGE.match(line))
        j = i + 1 if usage else i
        while usage and j < len(lines) and not lines[j].strip():
            j += 1
        m = _RST_CODE.match(lines[j]) if usage and j < len(lines) else None
        if not m:
            prose.append(line)
            i += 1
            continue
        base = _indent(lines[j])
        k = j + 1
        while k < len(lines) and (not lines[k].strip() or _indent(lines[k]) > base):
            k += 1
        code.extend(lines[i:k])
        i = k
    return prose + [""] + code if code else prose


def parse_rst(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Cut reStructuredText into sections by underlined titles and py class/method directives.

    Title levels follow the order in which adornment styles first appear; a directive nests
    under the titles by its indentation. Returns ``(title, sections)``; the title is the first
    section title, else ``fallback_title``.
    """
    lines = text.split("\n")
    styles: list[tuple[bool, str]] = []
    title = ""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []

    def flush() -> None:
        kept = [ln for ln in body if not re.match(r"^\s*:(members|undoc-members|value):", ln)]
        joined = "\n".join(usage_last(kept)).strip()
        if joined:
            sections.append(Section(tuple(h for _, h in stack), joined))
        body.clear()

    def push(level: int, heading: str) -> None:
        flush()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        # overlined title: adornment, text, adornment
        if (
            _RST_ADORN.match(line)
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and lines[i + 2].strip() == line.strip()
        ):
            style = (True, line.strip()[0])
            heading, i = lines[i + 1].strip(), i + 3
        elif (
            line.strip()
            and not line.startswith((" ", "\t"))
            and _RST_ADORN.match(nxt)
            and len(nxt.strip()) >= len(line.strip())
            and not _RST_ADORN.match(line)
        ):
            style = (False, nxt.strip()[0])
            heading, i = line.strip(), i + 2
        else:
            d = _RST_DIRECTIVE.match(line)
            if d:
                indent = len(d.group(1).expandtabs(4))
                name = re.split(r"[\s(]", d.group(3), maxsplit=1)[0]
                push(100 + indent, name)
            else:
                body.append(line)
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        heading = _clean_heading(heading)
        if not title and not stack:  # the document title: not part of heading paths
            flush()
            title = heading
            continue
        push(level, heading)
    flush()
    return title or fallback_title, sections


def parse_text(text: str, fallback_title: str) -> tuple[str, list[Section]]:
    """Plain text: one section with no heading; the title is ``fallback_title``."""
    body = text.strip()
    return fallback_title, [Section((), body)] if body else []


def parse_document(text: str, rel_path: str) -> tuple[str, list[Section]]:
    """Dispatch on the file suffix (``.md``/``.mdx``, ``.rst``, else plain text)."""
    p = PurePosixPath(rel_path)
    fallback = p.stem.replace("-", " ").replace("_", " ")
    suffix = p.suffix.lower()
    if suffix in (".md", ".mdx", ".markdown"):
        return parse_markdown(text, fallback)
    if suffix == ".rst":
        return parse_rst(text, fallback)
    return parse_text(text, fallback)


# ---------------------------------------------------------------- sections -> chunks


def chunks_from_sections(
    sections: list[Section],
    *,
    source: str,
    path: str,
    title: str,
    file: str,
    config: ChunkingConfig,
    model_id: str = "",
    field_entries: bool = True,
) -> list[Chunk]:
    """Turn sections into chunks: field entries split out, long bodies windowed, ids assigned.

    Sections with a body shorter than ``config.min_chars`` are dropped. Two sections with the
    same heading path get distinct ids through their window numbers.
    """
    out: list[Chunk] = []
    used: dict[tuple[str, ...], int] = {}

    def emit(heading_path: tuple[str, ...], body: str) -> None:
        if len(body.strip()) < config.min_chars:
            return
        for piece in split_text(body, config.max_chars, config.overlap):
            ordinal = used.get(heading_path, 0)
            used[heading_path] = ordinal + 1
            c = Chunk(
                id=chunk_id(source, path, heading_path, ordinal),
                text=piece,
                source=source,
                path=path,
                title=title,
                heading_path=heading_path,
                file=file,
                ordinal=ordinal,
            )
            out.append(_with_hash(c, model_id))

    if config.pack:
        units: list[tuple[tuple[str, ...], str]] = []
        for sec in sections:
            prose, entries = split_field_entries(sec.body) if field_entries else (sec.body, [])
            if prose.strip():
                units.append((sec.heading_path, prose.strip()))
            units.extend((sec.heading_path + (name,), entry) for name, entry in entries)
        for heading_path, text in pack_units(units, config.max_chars):
            emit(heading_path, text)
        return out
    for sec in sections:
        prose, entries = split_field_entries(sec.body) if field_entries else (sec.body, [])
        emit(sec.heading_path, prose)
        for name, entry in entries:
            emit(sec.heading_path + (name,), entry)
    return out


def pack_units(
    units: list[tuple[tuple[str, ...], str]], max_chars: int
) -> list[tuple[tuple[str, ...], str]]:
    """Greedily group consecutive ``(heading_path, text)`` units into texts of at most
    ``max_chars`` characters, in document order; a longer unit stays alone (and is windowed
    later). A group takes its first unit's heading path; each later unit's text is preceded
    by its own last heading when that differs, so no heading is lost."""
    groups: list[tuple[tuple[str, ...], str]] = []
    head: tuple[str, ...] | None = None
    parts: list[str] = []
    size = 0
    for heading_path, text in units:
        piece = text
        if head is not None and heading_path != head and heading_path:
            piece = f"{heading_path[-1]}\n{text}"
        if parts and size + len(piece) + 2 > max_chars:
            groups.append((head or (), "\n\n".join(parts)))
            head, parts, size = None, [], 0
            piece = text
        if head is None:
            head = heading_path
        parts.append(piece)
        size += len(piece) + 2
    if parts:
        groups.append((head or (), "\n\n".join(parts)))
    return groups


def _with_hash(c: Chunk, model_id: str) -> Chunk:
    return Chunk(
        id=c.id,
        text=c.text,
        source=c.source,
        path=c.path,
        title=c.title,
        heading_path=c.heading_path,
        file=c.file,
        ordinal=c.ordinal,
        content_hash=content_hash(c.embed_text, model_id),
    )


def chunk_document(
    text: str,
    *,
    source: str,
    rel_path: str,
    config: ChunkingConfig,
    model_id: str = "",
) -> list[Chunk]:
    """Chunk one document's text; ``rel_path`` (POSIX, relative to its source) is its path."""
    title, sections = parse_document(text, rel_path)
    return chunks_from_sections(
        sections, source=source, path=rel_path, title=title, file=rel_path, config=config,
        model_id=model_id,
    )
