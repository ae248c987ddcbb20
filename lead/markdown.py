"""The markdown side of a requirements file: where the front matter and the fenced blocks are.

Pure text scanning that keeps 1-based line numbers of the whole file, which
python-frontmatter does not give (it strips the text before splitting). The rules follow
python-frontmatter's YAML handler for the front matter (the file, ignoring leading blank
lines, starts with a line of three or more dashes; the next line of three or more dashes
closes it) and CommonMark for fenced code blocks (```` ``` ```` or ``~~~``, up to three
spaces of indentation, closed by a fence of the same character at least as long; an
unclosed fence runs to the end of the document).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DASHES = re.compile(r"^-{3,}\s*$")
_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class FrontMatterSplit:
    """Where the front matter is.

    `front_matter` is the YAML text between the dashes (``None`` when the file has no front
    matter), starting at file line `front_matter_line`. `body` starts at file line
    `body_line`. `open_line` is the line of the opening dashes (0 without front matter).
    `unclosed` is true when the opening dashes are never closed.
    """

    front_matter: str | None
    front_matter_line: int
    body: str
    body_line: int
    open_line: int = 0
    unclosed: bool = False


def split_front_matter(text: str) -> FrontMatterSplit:
    """Split `text` into front matter and body, keeping line numbers (see module doc)."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines) or not _DASHES.match(lines[i].lstrip()):
        return FrontMatterSplit(None, 0, text, 1)
    for j in range(i + 1, len(lines)):
        if _DASHES.match(lines[j].rstrip("\r\n")):
            return FrontMatterSplit(
                front_matter="".join(lines[i + 1 : j]),
                front_matter_line=i + 2,
                body="".join(lines[j + 1 :]),
                body_line=j + 2,
                open_line=i + 1,
            )
    return FrontMatterSplit(None, 0, text, 1, open_line=i + 1, unclosed=True)


@dataclass(frozen=True)
class FencedBlock:
    """One fenced code block: its language (first word of the info string, lower-cased;
    ``""`` for a plain fence), its content (indentation of the fence removed), the file line
    of the opening fence and of the content's first line, and whether it was closed."""

    language: str
    content: str
    open_line: int
    content_line: int
    closed: bool


def fenced_blocks(body: str, body_line: int) -> list[FencedBlock]:
    """All fenced code blocks of `body`, whose first line is file line `body_line`."""
    lines = body.splitlines()
    blocks: list[FencedBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        words = m["info"].strip().split()
        language = words[0].strip("{}.").lower() if words else ""
        close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        content: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            strip = len(line) - len(line.lstrip(" "))
            content.append(line[min(indent, strip) :])
            j += 1
        closed = j < len(lines)
        blocks.append(
            FencedBlock(
                language=language,
                content="\n".join(content) + ("\n" if content else ""),
                open_line=body_line + i,
                content_line=body_line + i + 1,
                closed=closed,
            )
        )
        i = j + 1
    return blocks


def first_heading(body: str) -> str | None:
    """The text of the first ATX heading (``# Title``) outside fenced blocks, if any."""
    in_fence: str | None = None
    for line in body.splitlines():
        m = _FENCE_OPEN.match(line)
        if in_fence is None and m:
            in_fence = m["fence"][0] * len(m["fence"])
            continue
        if in_fence is not None:
            if line.strip().startswith(in_fence) and not line.strip().strip(in_fence[0]):
                in_fence = None
            continue
        text = _heading_text(line)
        if text:
            return text
    return None


def _heading_text(line: str) -> str | None:
    """The text of an ATX heading line (CommonMark: up to three spaces, one to six ``#``,
    a space or tab, the text, an optional closing run of ``#`` after a space), else None.
    String operations only: linear in the line, whatever it holds."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return None
    rest = stripped.lstrip("#")
    hashes = len(stripped) - len(rest)
    if not 1 <= hashes <= 6 or not rest or not rest[0].isspace():
        return None
    text = rest.strip()
    body = text.rstrip("#")
    if body != text and (not body or body[-1].isspace()):
        text = body.rstrip()
    return text or None
