"""Reading a requirements file into a `RequirementsDoc` with its task specs.

`load_requirements(path)` is the whole of it: split off the front matter (cross-checked
with python-frontmatter), check its fields, read every fenced ```` ```yaml ```` /
```` ```yml ```` block of the body (other fenced blocks and all prose are ignored), then for
each job: substitute ``${...}``, check field names against the SDK's ``JobSettings``,
resolve local build artifacts (`lead.artifacts`: the front matter's ``artifacts:`` build
commands run first) and relative paths, merge the front matter's ``defaults`` and ``tags``,
and decompose into ``deploy_job`` / ``run_job`` specs. Every problem is a `RequirementsError` naming the
file, the line in the whole file and the field.

Prose (`lead.prose`): the front matter fields ``llm`` (the model, see `llm.config.llm_settings`)
and ``generate`` (true/false) are read here, not by `lead.front_matter`. A file whose jobs are
asked for in prose raises `NeedsModel` (a `RequirementsError` whose message still says "no
jobs: ..." to callers that know nothing of prose) carrying a `ProseRequest`; the rule is
`prose_rule` below. Only `lead.prose` calls the model; this module never imports it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead import limits, yaml_lines
from lead.artifacts import ArtifactResolver, BuildFailed, run_builds
from lead.decompose import JobReference, PreparedJob, RunRequest, TaskSpec, decompose
from lead.defaults import apply_defaults
from lead.errors import FieldProblem, LimitExceeded, RequirementsError, YamlError
from lead.front_matter import read_front_matter
from lead.job_blocks import Ignored, JobSource, read_block
from lead.job_schema import BUNDLE_ONLY_JOB_KEYS, check_fields
from lead.markdown import fenced_blocks, first_heading, split_front_matter
from lead.substitution import (
    Substituter,
    SubstitutionContext,
    VariableDef,
    job_references,
)
from lead.export import written_references
from lead.workspace_paths import resolve_job_paths
from lead.yaml_lines import LineMap, format_path

YAML_LANGUAGES = ("yaml", "yml")


@dataclass(frozen=True)
class RequirementsDoc:
    """A requirements file, read and decomposed.

    path: the file as given. title: front matter ``title``, else the first ``#`` heading,
    else the file name. owner, profile, workspace_root: front matter (``None`` when absent;
    workspace_root without a trailing slash). variables: effective variable values as written
    (front matter over block defaults; declarations without a value are left out). tags,
    defaults: front matter, tags as strings. run_after_deploy: job keys. front_matter: the
    front matter mapping as written. content_sha256: hex sha256 of the raw file bytes; when
    jobs use local artifacts (`lead.artifacts`), of those bytes and the artifacts' hashes, so a
    rebuilt file makes a new revision.
    task_specs: in topological order, dependencies first. bundle, target: for
    ``${bundle.name}``/``${bundle.target}``. ignored: parts accepted but not used (bundle
    settings such as ``permissions`` or ``targets``), one `Ignored` each, for the CLI to show.
    """

    path: Path
    title: str
    owner: str | None
    profile: str | None
    workspace_root: str | None
    variables: dict[str, Any]
    tags: dict[str, str]
    defaults: dict[str, Any]
    run_after_deploy: tuple[str, ...]
    front_matter: dict[str, Any]
    content_sha256: str
    task_specs: list[TaskSpec]
    bundle: str | None = None
    target: str | None = None
    ignored: tuple[Ignored, ...] = field(default_factory=tuple)


PROSE_FIELDS = ("llm", "generate")
"""Front matter fields of the prose lead, read here (not by `lead.front_matter`)."""

MIN_PROSE_WORDS = 8
"""Prose shorter than this (a heading, a one-line note) never goes to the model on its own."""


@dataclass(frozen=True)
class ProseRequest:
    """A file whose jobs are asked for in prose: what the prose lead needs to write them.

    path: the file as given. text: the whole file (BOM removed). prose: the body outside fenced
    blocks, as written. prose_line: the file line where the body starts. front_matter: the
    front matter mapping as written. job_keys: keys of the jobs its YAML blocks already define
    (the model must not define them again). llm: the front matter's ``llm`` value (None when
    absent). forced: true when the front matter says ``generate: true``.
    """

    path: Path
    text: str
    prose: str
    prose_line: int
    front_matter: dict[str, Any]
    job_keys: tuple[str, ...]
    llm: Any
    forced: bool


class NeedsModel(RequirementsError):
    """The file asks for jobs in prose that no YAML block defines (see `prose_rule`).

    `request` is the `ProseRequest` for `lead.prose`. Raised by `load_requirements` unless
    `prose_done`; its message (for callers that do not handle prose) says the file has no
    jobs the rules can read and that an LLM can turn its prose into jobs.
    """

    def __init__(self, request: ProseRequest, message: str) -> None:
        self.request = request
        super().__init__(request.path, 1, "", message)


def prose_words(body: str, body_line: int = 1) -> tuple[str, int]:
    """`(prose, word count)`: the body's lines outside fenced blocks, and their words (headings
    included, code excluded)."""
    lines = body.splitlines()
    inside = set()
    for block in fenced_blocks(body, body_line):
        end = block.content_line + block.content.count("\n") + (1 if block.closed else 0)
        inside.update(range(block.open_line, end))
    kept = [ln for i, ln in enumerate(lines) if body_line + i not in inside]
    prose = "\n".join(kept).strip("\n")
    return prose, len(re.findall(r"[A-Za-z0-9]+", prose))


def prose_rule(generate: bool | None, has_jobs: bool, has_other_work: bool, words: int) -> bool:
    """Whether a file goes to the prose lead (the model). Predictable by design:

    - front matter ``generate: false``: never;
    - ``generate: true``: always (the model writes the jobs the prose asks for that the YAML
      blocks do not define; it sees those blocks' job keys);
    - otherwise only when the rules would find nothing to do: no job in any YAML block, no
      ``monitors:`` and no ``remediation: watch:`` in the front matter, and at least
      `MIN_PROSE_WORDS` words of prose. A structured file never calls the model.
    """
    if generate is not None:
        return generate
    return not has_jobs and not has_other_work and words >= MIN_PROSE_WORDS


def load_requirements(path: Path, *, text: str | None = None, prose_done: bool = False) -> RequirementsDoc:
    """Read the requirements file at `path` (or `text`, reported as `path`).

    With `text`, the file is not read and `content_sha256` is of ``text`` encoded as UTF-8.
    Imports ``databricks.sdk.service.jobs`` only when the field tree cache
    (`lead.sdk_fields`) is missing or corrupt. `prose_done`: the text already holds the prose
    lead's generated block (`lead.prose`), so `prose_rule` is not applied again.

    Raises:
        NeedsModel: the file asks for jobs in prose (`prose_rule`); catch it before
            `RequirementsError` to hand it to `lead.prose`.
        RequirementsError: any problem in the file (see the `lead` package docstring for the
            list), located by line in the whole file and dotted field.
        OSError: the file cannot be read.
    """
    path = Path(path)
    if text is None:
        with path.open("rb") as f:
            raw = f.read(limits.MAX_FILE_BYTES + 1)
        _check_size(path, len(raw))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise RequirementsError(path, line, "", f"not UTF-8 text ({exc.reason})") from None
    else:
        raw = text.encode("utf-8", "surrogatepass")
        _check_size(path, len(raw))
    text = text.removeprefix("\ufeff")
    _check_characters(path, text)
    return _Reader(path, text, hashlib.sha256(raw).hexdigest(), prose_done=prose_done).read()


# What YAML 1.1 does not allow in a stream (PyYAML's reader refuses the same): C0 controls
# other than tab, LF and CR; DEL; C1 controls other than NEL; surrogates; U+FFFE, U+FFFF.
# Refused in the whole file, prose included: the title and the recorded text must be clean.
_NOT_TEXT = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _check_size(path: Path, size: int) -> None:
    if size > limits.MAX_FILE_BYTES:
        raise LimitExceeded(
            path, 1, "", f"the file is larger than {limits.MAX_FILE_BYTES // (1024 * 1024)} MiB",
            limit="MAX_FILE_BYTES",
        )


def _check_characters(path: Path, text: str) -> None:
    bad = _NOT_TEXT.search(text)
    if bad is not None:
        start = text.rfind("\n", 0, bad.start()) + 1
        line = text.count("\n", 0, bad.start()) + 1
        raise RequirementsError(
            path, line, "",
            f"control character U+{ord(bad.group()):04X} at column {bad.start() - start + 1}: "
            "not allowed in a requirements file",
        )


class _Reader:
    def __init__(self, path: Path, text: str, sha: str, *, prose_done: bool = False) -> None:
        self.prose_done = prose_done
        self.path = path
        self.text = text
        self.sha = sha
        self.nodes = 0  # YAML nodes built, over all blocks

    def error(self, line: int, field: str, message: str, limit: str = "") -> RequirementsError:
        if limit:
            return LimitExceeded(self.path, line, field, message, limit=limit)
        return RequirementsError(self.path, line, field, message)

    def located(self, problem: FieldProblem, lines: LineMap, prefix: tuple = ()) -> RequirementsError:
        if problem.at is not None:
            return self.error(problem.at[0], problem.at[1], problem.message, problem.limit)
        full = tuple(prefix) + problem.path
        return self.error(lines.line_of(full), format_path(full), problem.message, problem.limit)

    def yaml(self, text: str, first_line: int, where: str) -> tuple[Any, LineMap]:
        try:
            value, lines = yaml_lines.load(text, first_line=first_line)
        except YamlError as exc:
            message = exc.message.replace("invalid YAML", f"invalid YAML {where}".rstrip(), 1)
            raise self.error(exc.line, format_path(exc.path), message, exc.limit) from None
        self.nodes += len(lines.lines)  # one line entry per node built
        if self.nodes > limits.MAX_YAML_NODES:
            raise self.error(
                first_line, "", f"the file's YAML expands to more than {limits.MAX_YAML_NODES:,} nodes",
                "MAX_YAML_NODES",
            )
        return value, lines

    def read(self) -> RequirementsDoc:
        if not self.text.strip():
            raise self.error(1, "", "empty file: expected front matter and fenced ```yaml blocks with jobs")
        split = split_front_matter(self.text)
        if split.unclosed:
            raise self.error(split.open_line, "", "the front matter opened here with '---' is never closed")
        fm_data, fm_lines = ({}, LineMap())
        if split.front_matter is not None:
            fm_data, fm_lines = self.yaml(split.front_matter, split.front_matter_line, "in the front matter")
            fm_data = {} if fm_data is None else fm_data
            if not isinstance(fm_data, dict):
                raise self.error(split.front_matter_line, "", "the front matter must be a mapping of fields")
        self.cross_check(fm_data, split.body)
        generate = fm_data.get("generate")
        if generate is not None and not isinstance(generate, bool):
            raise self.error(fm_lines.line_of(("generate",)), "generate",
                             f"must be true or false, not {generate!r}")
        if "llm" in fm_data:
            self.check_llm(fm_data["llm"], fm_lines)
        try:
            fm = read_front_matter({k: v for k, v in fm_data.items() if k not in PROSE_FIELDS})
        except FieldProblem as problem:
            raise self.located(problem, fm_lines) from None

        jobs: list[JobSource] = []
        seen: dict[str, JobSource] = {}
        block_vars: dict[str, VariableDef] = {}
        bundle_name = fm.bundle_name
        ignored: list[Ignored] = []
        for block in fenced_blocks(split.body, split.body_line):
            if block.language not in YAML_LANGUAGES:
                continue
            if not block.closed:
                raise self.error(block.open_line, "", f"the ```{block.language} block opened here is never closed")
            value, lines = self.yaml(block.content, block.content_line, "")
            if value is None:
                continue
            try:
                contents = read_block(value, lines)
            except FieldProblem as problem:
                raise self.located(problem, lines) from None
            for job in contents.jobs:
                other = seen.get(job.key)
                if other is not None:
                    raise self.error(
                        job.line, job.field,
                        f"duplicate job key '{job.key}' (already defined at line {other.line})",
                    )
                if len(jobs) == limits.MAX_JOBS:
                    raise self.error(
                        job.line, job.field, f"more than {limits.MAX_JOBS:,} jobs in one file", "MAX_JOBS"
                    )
                seen[job.key] = job
                jobs.append(job)
            for name, var in contents.variables.items():
                known = block_vars.get(name)
                if known is not None and known.value != var.value:
                    raise self.error(
                        var.line, var.field,
                        f"variable '{name}' is declared again with a different default "
                        f"(first at line {known.line})",
                    )
                block_vars.setdefault(name, var)
            bundle_name = bundle_name or contents.bundle_name
            ignored.extend(contents.ignored)
        other_work = bool(fm.monitors) or bool((fm.remediation or {}).get("watch"))
        if not self.prose_done and (generate or (generate is None and not jobs and not other_work)):
            prose, words = prose_words(split.body, split.body_line)  # only when the rule may say yes
            if prose_rule(generate, bool(jobs), other_work, words):
                request = ProseRequest(
                    path=self.path, text=self.text, prose=prose, prose_line=split.body_line,
                    front_matter=dict(fm_data), job_keys=tuple(job.key for job in jobs),
                    llm=fm_data.get("llm"), forced=generate is True,
                )
                reason = ("the front matter says `generate: true`" if generate else
                          "no jobs: the file has no fenced ```yaml block with `resources: jobs:` or `jobs:`")
                raise NeedsModel(
                    request,
                    f"{reason}; its prose asks for jobs, which only the LLM lead can write "
                    "(`lead submit` with JOB_AGENT_LLM_MODEL or front matter `llm:` set)",
                )
        if not jobs and not fm.monitors and not (fm.remediation or {}).get("watch"):
            raise self.error(
                1, "", "no jobs: the file has no fenced ```yaml block with `resources: jobs:` or `jobs:` "
                       "(and no `monitors:` or `remediation: watch:` in the front matter)"
            )

        variables = dict(block_vars)
        for name, value in fm.variables.items():
            variables[name] = VariableDef(value, fm_lines.line_of(("variables", name)), f"variables.{name}")
        ctx = SubstitutionContext(
            variables=variables,
            bundle_name=bundle_name,
            target=fm.target,
            workspace_root=fm.workspace_root,
            job_keys=frozenset(job.key for job in jobs),
        )
        subst = Substituter(ctx)
        try:
            defaults = subst.substitute(fm.defaults, ("defaults",))
            tags = subst.substitute(fm.tags, ("tags",))
        except FieldProblem as problem:
            raise self.located(problem, fm_lines) from None

        base_dir = self.path.resolve().parent
        try:
            run_builds(fm.artifacts, base_dir)
        except BuildFailed as failed:
            raise self.error(
                fm_lines.line_of(("artifacts", failed.name, "build")), f"artifacts.{failed.name}.build", failed.message
            ) from None
        resolver = ArtifactResolver(base_dir, fm.workspace_root)
        prepared = [
            self.prepare(job, subst, defaults, tags, fm.workspace_root, fm_lines, ignored, resolver)
            for job in jobs
        ]
        hashes = sorted({a.sha256 for job in prepared for a in job.artifacts})
        if hashes:
            self.sha = hashlib.sha256(("\n".join([self.sha, *hashes])).encode()).hexdigest()
        runs = [
            RunRequest(key, fm_lines.line_of(("run_after_deploy", i)), f"run_after_deploy[{i}]")
            for i, key in enumerate(fm.run_after_deploy)
        ]
        specs = decompose(
            prepared, runs, path=self.path, owner=fm.owner, profile=fm.profile, workspace_root=fm.workspace_root
        )
        return RequirementsDoc(
            path=self.path,
            title=fm.title or first_heading(split.body) or self.path.stem,
            owner=fm.owner,
            profile=fm.profile,
            workspace_root=fm.workspace_root,
            variables={n: v.value for n, v in variables.items() if not v.note},
            tags=dict(fm.tags),
            defaults=dict(fm.defaults),
            run_after_deploy=fm.run_after_deploy,
            front_matter=dict(fm_data),
            content_sha256=self.sha,
            task_specs=specs,
            bundle=bundle_name,
            target=fm.target,
            ignored=tuple(ignored),
        )

    def check_llm(self, value: Any, fm_lines: LineMap) -> None:
        """The front matter's ``llm`` must be a model string or a mapping `llm.config` accepts
        (its shape only: the environment is not read here)."""
        from llm.config import LlmConfigError, llm_settings

        line = fm_lines.line_of(("llm",))
        if value is None or value is False:
            return
        if isinstance(value, dict) and "model" not in value:
            value = dict(value, model="placeholder/model")  # the model may come from the environment
        try:
            llm_settings(value)
        except LlmConfigError as error:
            raise self.error(line, "llm", str(error).removeprefix("llm: ").removeprefix("llm.")) from None

    def cross_check(self, fm_data: dict, body: str) -> None:
        """python-frontmatter must read the same front matter and body as our line-keeping
        split; a disagreement means the line numbers would be wrong, so it is reported."""
        import frontmatter
        from frontmatter.default_handlers import YAMLHandler

        class _Handler(YAMLHandler):
            def load(self, fm: str, **kwargs: object) -> Any:
                return yaml_lines.load(fm)[0] if fm.strip() else None

        try:
            metadata, content = frontmatter.parse(self.text, handler=_Handler())
        except YamlError as exc:  # its split gave YAML ours did not: a disagreement
            metadata, content = {"<error>": str(exc)}, ""
        def norm(s: str) -> str:  # python-frontmatter turns CRLF into LF
            return s.replace("\r\n", "\n").replace("\r", "\n").strip()

        if metadata != fm_data or norm(content) != norm(body):
            raise self.error(
                1, "", "python-frontmatter reads this file's front matter differently; check its '---' lines"
            )

    def prepare(
        self,
        job: JobSource,
        subst: Substituter,
        defaults: dict[str, Any],
        tags: dict[str, str],
        root: str | None,
        fm_lines: LineMap,
        ignored: list[Ignored],
        resolver: ArtifactResolver,
    ) -> PreparedJob:
        settings = dict(job.settings)
        for key in BUNDLE_ONLY_JOB_KEYS & settings.keys():
            del settings[key]
            ignored.append(
                Ignored(job.lines.line_of(job.prefix + (key,)), format_path(job.prefix + (key,)),
                        "bundle-only job setting not applied by this product")
            )
        written = settings
        try:
            settings = substituted = subst.substitute(settings)
            check_fields(settings, "JobSettings")
            settings, artifacts = resolver.resolve_job(settings)
            settings = resolve_job_paths(settings, root)
        except FieldProblem as problem:
            raise self.located(problem, job.lines, job.prefix) from None
        origins: dict[tuple, tuple] = {}
        if "name" not in settings:
            settings["name"] = job.key
        settings, origins = apply_defaults(settings, defaults, tags)
        rel = job.lines.sub(job.prefix)
        field_lines = {format_path(p): ln for p, ln in rel.lines.items() if p}
        field_lines.setdefault("name", job.line)
        for p, origin in origins.items():
            for sub in _paths(_get(settings, p)):
                field_lines[format_path(p + sub)] = fm_lines.line_of(origin + sub)
        references = []
        for p, key in job_references(settings):
            merged = next((p[:n] for n in range(len(p), 0, -1) if p[:n] in origins), None)
            if merged is not None:
                origin = origins[merged] + p[len(merged) :]
                references.append(JobReference(key, fm_lines.line_of(origin), format_path(origin)))
            else:
                references.append(JobReference(key, rel.line_of(p), format_path(job.prefix + p)))
        kept = written_references(written, substituted, settings, {n: v.value for n, v in subst.ctx.variables.items()})
        return PreparedJob(job.key, settings, field_lines, job.line, job.field, tuple(references),
                           tuple(artifacts), kept)


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """`prefix` and every path below it inside `value` (mapping keys and list indexes)."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, prefix + (i,)))
    return out
