"""Mutations of requirements files, for the fuzz test and `bench/fuzz_lead.py`.

`seed_files(repo)` gives the starting files: the examples, and each bundle job of
``<repo>/../shared/data/bundle-jobs/`` wrapped as a requirements file (when that folder is
there). `mutate(text, rng)` applies one to four mutations, drawn by `rng` (a `random.Random`
or what hypothesis's ``st.randoms()`` gives), of the kinds that once crashed or exhausted
`lead submit` (issue 13): control characters and broken bytes, deep nesting, huge integers,
bad explicit tags, values of the wrong shape, long chains of job references, alias bombs,
doubling variables, headings with long runs of spaces, plus plain edits (deleting,
duplicating, swapping and re-indenting lines, inserting YAML punctuation). The result is
bytes (a mutation may make it invalid UTF-8) and stays under about 1 MB.
"""

from __future__ import annotations

import re
from pathlib import Path
from random import Random

SHARED_DATA = ("..", "shared", "data")

CONTROL = ["\x00", "\x1b", "\x7f", "\x80", "\ufffe", "\x0b", "\x0c", "\x85", "\u2028", "\x01", "\ud800"]
TOKENS = [
    ": ", "- ", "&a ", "*a", "<<: *a", "<<: [*a, *b]", "${var.x}", "${var.catalog}", "${resources.jobs.x.id}",
    "${resources.pipelines.p.id}", "${bundle.name}", "${workspace.root_path}", "${", "}", "---", "```",
    "```yaml", "~~~", "{", "}", "[", "]", "'", '"', "\t", "\r", "\r\n", "%YAML 1.1", "? ", "|", ">", "#",
    "!!str ", "null", "~", "true", "0x1F", "1:30", ".inf", ".nan", "-1", "1e400", "''", "\\", "@", "`",
]
TAGS = [
    "!!int abc", "!!float", "!!float abc", "!!bool maybe", "!!timestamp nope", "!foo", "!!binary aGk=",
    "!!set", "!!omap", "!!python/object:os.system", "!!null x", "!!int", "!!str", "!<tag:x>", "!!map", "!!seq",
]
SHAPES = ["5", "abc", "", "[]", "{}", "[1, 2]", "{a: 1}", "true", "null", "- x", "'5'"]
SHAPE_KEYS = [
    "tasks", "environments", "spec", "libraries", "job_clusters", "new_cluster", "notebook_task", "depends_on",
    "email_notifications", "tags", "parameters", "schedule", "variables", "defaults", "resources", "jobs",
    "dependencies", "base_parameters", "run_after_deploy", "on_failure", "spark_conf", "bundle",
]


def seed_files(repo: Path) -> dict[str, str]:
    """Starting texts by name: the repository's examples and the shared bundle jobs."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted((repo / "examples").glob("*.md"))}
    bundles = repo.joinpath(*SHARED_DATA) / "bundle-jobs"
    if bundles.is_dir():
        for p in sorted(bundles.glob("*.yml")):
            files[p.name] = (
                "---\nworkspace_root: /Workspace/Shared/fuzz\nowner: a@example.com\n---\n\n# "
                + p.stem + "\n\n```yaml\n" + p.read_text(encoding="utf-8") + "```\n"
            )
    return files


def _pos(text: str, rng: Random) -> int:
    return rng.randint(0, len(text))


def _line_bounds(text: str, rng: Random) -> tuple[int, int]:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    start = rng.choice(starts)
    end = text.find("\n", start)
    return start, len(text) if end < 0 else end


def _n(rng: Random, big: int) -> int:
    """Mostly small, sometimes near `big`."""
    return rng.choice([rng.randint(1, 20), rng.randint(20, big), big, big + rng.randint(0, 100)])


def _value_slot(text: str, rng: Random) -> int | None:
    """The position just after a `key:` followed by a space, if any."""
    slots = [m.end() for m in re.finditer(r"\w: ", text)]
    return rng.choice(slots) if slots else None


def _ins(text: str, at: int, what: str) -> str:
    return text[:at] + what + text[at:]


def mutation(text: str, rng: Random) -> str:
    """One mutation of `text` (see module doc)."""
    kind = rng.randrange(16)
    if kind == 0:  # a control or otherwise forbidden character
        return _ins(text, _pos(text, rng), rng.choice(CONTROL))
    if kind == 1:  # delete a span
        a = _pos(text, rng)
        return text[:a] + text[a + rng.randint(1, 200) :]
    if kind == 2:  # duplicate a line (a key written twice, a job twice, ...)
        a, b = _line_bounds(text, rng)
        return text[:b] + "\n" + text[a:b] + text[b:]
    if kind == 3:  # swap two lines
        lines = text.split("\n")
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if kind == 4:  # deep nesting
        at = _value_slot(text, rng) or _pos(text, rng)
        n = _n(rng, 3000)
        opener = rng.choice(["[", "{a: ", "[{x: "])
        closer = {"[": "]", "{a: ": "}", "[{x: ": "}]"}[opener] * n if rng.random() < 0.5 else ""
        return _ins(text, at, opener * n + "1" + closer)
    if kind == 5:  # a huge integer
        at = _value_slot(text, rng) or _pos(text, rng)
        return _ins(text, at, rng.choice(["", "-", "0x", "1:"]) + "9" * _n(rng, 6000) + " ")
    if kind == 6:  # a bad or unusual explicit tag
        at = rng.choice([_value_slot(text, rng) or 0, _line_bounds(text, rng)[0] + rng.randint(0, 8)])
        return _ins(text, min(at, len(text)), rng.choice(TAGS) + " ")
    if kind == 7:  # a value of the wrong shape
        keys = [m for m in re.finditer(r"(?m)^(\s*-?\s*)(" + "|".join(SHAPE_KEYS) + r"):[^\n]*", text)]
        if not keys:
            return text
        m = rng.choice(keys)
        return text[: m.start()] + f"{m.group(1)}{m.group(2)}: {rng.choice(SHAPES)}" + text[m.end() :]
    if kind == 8:  # a long chain of jobs referring to the next
        n = _n(rng, 1200)
        jobs = "".join(
            f"  c{i}:\n    tasks: [{{task_key: t, run_job_task: {{job_id: '${{resources.jobs.c{i + 1}.id}}'}}}}]\n"
            for i in range(n)
        )
        return text + f"\n```yaml\njobs:\n{jobs}  c{n}:\n    name: last\n```\n"
    if kind == 9:  # an alias bomb
        width, depth = rng.randint(2, 12), rng.randint(2, 10)
        rows = ["x0: &a0 [" + ", ".join(["l"] * width) + "]"]
        rows += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, depth)]
        block = "\n```yaml\n" + "\n".join(rows) + "\njobs:\n  bomb:\n    tags: {t: 1}\n    parameters: *a" + str(depth - 1) + "\n```\n"
        return text + block
    if kind == 10:  # doubling variables in the front matter
        n = _n(rng, 30)
        rows = "  d0: xxxxxxxxxx\n" + "".join(f'  d{i}: "${{var.d{i - 1}}}${{var.d{i - 1}}}"\n' for i in range(1, n))
        use = f"\n```yaml\njobs:\n  dbl:\n    description: ${{var.d{n - 1}}}\n```\n"
        if text.startswith("---\n") and "\nvariables:\n" in text.split("\n---", 1)[0]:
            text = text.replace("\nvariables:\n", "\nvariables:\n" + rows, 1)
        elif text.startswith("---\n"):
            text = "---\nvariables:\n" + rows + text[4:]
        return text + use
    if kind == 11:  # a heading (or line) with a long run of spaces; no title to stop the scan
        text = re.sub(r"(?m)^title:.*\n", "", text, count=1)
        heading = rng.choice(["# a", "#", "   ######", "# a #"]) + " " * _n(rng, 5000) + rng.choice(["b", "", "#", "x #"])
        return _ins(text, _line_bounds(text, rng)[0], heading + "\n")
    if kind == 12:  # re-indent a line
        a, _ = _line_bounds(text, rng)
        if rng.random() < 0.5:
            return _ins(text, a, " " * rng.randint(1, 6))
        if text[a : a + 1] != " ":
            return text
        return text[:a] + text[a + min(rng.randint(1, 4), len(text) - a) :]
    if kind == 13:  # YAML punctuation or a substitution
        return _ins(text, _pos(text, rng), rng.choice(TOKENS))
    if kind == 14:  # a long run of one token
        token = rng.choice(["${", "a", "-", "[", "#", " ", "`", "${var.", ":", "*a ", "'", '"', "\\"])
        return _ins(text, _pos(text, rng), token * _n(rng, 20000 // len(token)))
    # kind 15: change a word
    words = list(re.finditer(r"[A-Za-z_]{3,}", text))
    if not words:
        return text
    m = rng.choice(words)
    word = m.group()
    i = rng.randrange(len(word))
    return text[: m.start()] + word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz_") + word[i + 1 :] + text[m.end() :]


def mutate(text: str, rng: Random) -> bytes:
    """One to four mutations of `text`, as bytes; sometimes a few raw bytes are then
    flipped (possibly breaking UTF-8)."""
    for _ in range(rng.randint(1, 4)):
        text = mutation(text, rng)
        if len(text) > 1_000_000:
            text = text[:1_000_000]
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    if data and rng.random() < 0.1:
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)
