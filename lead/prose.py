"""The prose lead: job definitions written by the model from a requirements file's prose.

Used only for a file that `lead.requirements` hands over with `NeedsModel` (the rule is
`lead.requirements.prose_rule`: no job YAML and at least a few sentences of prose, or front
matter ``generate: true``). A structured file never gets here, so ``lead submit`` of one never
imports litellm.

The flow of `generate_jobs`:

1. **Model**: `llm.gateway.get_gateway` with the front matter's ``llm:`` over
   ``JOB_AGENT_LLM_MODEL``; none configured -> `ProseError` "needs an LLM".
2. **Grounding** (`ground`): documentation passages on the job-settings fields the prose
   involves, from the docs index (`retriever`; sentence-transformers loads only here). With no
   index the lead works ungrounded and says so once. The passages' citations are kept.
3. **Writing**: the model answers with bundle YAML in one fenced ``yaml`` block
   (`lead.prose_prompt`).
4. **Validation**: the block is appended to the file as one more fenced ``yaml`` block and the
   whole document goes through `load_requirements` exactly as a hand-written file does. Problems
   inside the block are located as ``generated YAML line N: FIELD: MESSAGE``; the gateway sends
   them back for one repair round, then `ProseError` with the last messages.

The generated jobs' task payloads carry ``"generated": {"yaml", "model", "citations",
"grounded"}`` (the progress page and ``lead show`` display it), their ``source.path`` is
``<file> (generated YAML)`` and their ``field_lines`` are lines of the generated YAML (fields
merged from the front matter's ``defaults``/``tags`` are left out of ``field_lines``).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead.errors import RequirementsError
from lead.markdown import fenced_blocks
from lead.prose_prompt import Passage, build_messages
from lead.requirements import YAML_LANGUAGES, ProseRequest, RequirementsDoc, load_requirements

PURPOSE = "prose_lead"
MAX_PASSAGES = 8
PASSAGE_CHARS = 700
GENERATED = "generated YAML"

# prose words -> the documentation query on the job-settings fields they involve (SDK names)
FIELD_TOPICS: tuple[tuple[str, str], ...] = (
    (r"\b(schedul\w*|daily|nightly|hourly|weekly|every|cron|at \d)", "JobSettings schedule CronSchedule quartz_cron_expression timezone_id"),
    (r"\b(trigger|periodic|file arrival|arrive)", "JobSettings trigger TriggerSettings periodic file_arrival"),
    (r"\b(cluster|node|workers?|spark version|runtime|single.node)", "jobs JobCluster new_cluster node_type_id num_workers spark_version"),
    (r"\bnotebooks?\b", "jobs Task notebook_task notebook_path"),
    (r"\b(python|script|\.py\b)", "jobs Task spark_python_task python_file parameters"),
    (r"\bwheel\b", "jobs Task python_wheel_task package_name entry_point"),
    (r"\b(sql|warehouse|query|queries)\b", "jobs Task sql_task warehouse_id"),
    (r"\b(pipeline|dlt)\b", "jobs Task pipeline_task pipeline_id"),
    (r"\b(run|trigger)s? (the |another |other )?jobs?\b", "jobs Task run_job_task job_id"),
    (r"\b(e-?mail|notify|notification|alert)", "JobSettings email_notifications on_failure on_success"),
    (r"\b(retr(y|ies)|again)\b", "jobs Task max_retries min_retry_interval_millis retry_on_timeout"),
    (r"\b(timeout|minutes|hours?|longer than)\b", "JobSettings timeout_seconds"),
    (r"\b(after|then|depends?|before|once .* (done|finished))\b", "jobs Task depends_on TaskDependency task_key"),
    (r"\b(serverless|environment|dependenc|librar|pip)\w*", "jobs JobEnvironment environment_key spec client dependencies"),
    (r"\bparameters?\b", "JobSettings parameters JobParameterDefinition name default"),
    (r"\bconcurren\w*|at most one run|parallel", "JobSettings max_concurrent_runs"),
    (r"\btags?\b", "JobSettings tags"),
)
BASE_QUERY = "jobs JobSettings tasks Task task_key"

_said: set[str] = set()
_said_lock = threading.Lock()


def _say_once(log: Callable[[str], None], message: str) -> None:
    with _said_lock:
        if message in _said:
            return
        _said.add(message)
    log(message)


def _stderr(message: str) -> None:
    print(f"lead: note: {message}", file=sys.stderr)


class ProseError(Exception):
    """The prose could not be turned into jobs: no model configured, the model did not answer,
    or its answer was still invalid after the repair round.

    Attributes:
        problems: the last validation messages (``generated YAML line N: FIELD: MESSAGE``),
            empty when the failure was not a validation one.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class Generated:
    """What the prose lead produced.

    doc: the requirements document with the generated jobs, validated as a hand-written file
    (``content_sha256`` is of the file with the generated block appended, so other YAML makes
    a new revision). yaml: the generated block (bundle YAML, pasteable into the file). model:
    the litellm model string. citations: one-line documentation references given to the model.
    grounded: whether a docs index was used. job_keys: the jobs the model defined.
    """

    doc: RequirementsDoc
    yaml: str
    model: str
    citations: list[str] = field(default_factory=list)
    grounded: bool = False
    job_keys: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """``{"yaml", "model", "citations", "grounded", "job_keys"}``."""
        return {"yaml": self.yaml, "model": self.model, "citations": list(self.citations),
                "grounded": self.grounded, "job_keys": list(self.job_keys)}


# -- grounding ---------------------------------------------------------------------------------


def field_queries(prose: str) -> list[str]:
    """The documentation queries for the job-settings fields `prose` involves (`FIELD_TOPICS`),
    the base query on tasks first."""
    lowered = prose.lower()
    return [BASE_QUERY] + [query for pattern, query in FIELD_TOPICS if re.search(pattern, lowered)]


def ground(prose: str, *, index_dir: Path | None = None, log: Callable[[str], None] = _stderr) -> list[Passage] | None:
    """Documentation passages on the fields `prose` involves: at most `MAX_PASSAGES`, one per
    (path, heading), each cut to `PASSAGE_CHARS` characters. None (said once through `log`)
    when there is no docs index or it cannot be searched.

    `index_dir`: the docs index (default: the retriever's, `.job-agent/docs-index` or
    ``$JOB_AGENT_HOME/docs-index``). Loads chromadb and sentence-transformers.
    """
    from retriever import Retriever
    from retriever.citations import citations_from_hits

    try:
        retriever = Retriever(index_dir)
        if not retriever.available():
            _say_once(log, "the prose lead works ungrounded: no docs index found "
                           "(build one with `uv run docs-index build`)")
            return None
        seen: set[tuple[str, str]] = set()
        passages: list[Passage] = []
        for query in field_queries(prose):
            for hit in retriever.search(query, k=2):
                key = (hit.path, hit.heading)
                if key in seen:
                    continue
                seen.add(key)
                [citation] = citations_from_hits([hit], 1)
                text = hit.text if len(hit.text) <= PASSAGE_CHARS else hit.text[:PASSAGE_CHARS].rstrip() + " ..."
                passages.append(Passage(str(citation), text))
                if len(passages) >= MAX_PASSAGES:
                    return passages
        return passages
    except Exception as error:  # noqa: BLE001 - grounding is optional; the model still writes jobs
        _say_once(log, f"the prose lead works ungrounded: the docs index could not be searched "
                       f"({type(error).__name__}: {error})")
        return None


# -- validating the answer ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Appended:
    text: str
    first_line: int  # file line of the generated block's first line
    line_count: int


def append_block(request: ProseRequest, yaml_text: str) -> _Appended:
    """The file with `yaml_text` appended as one more fenced ``yaml`` block (a fence longer
    than any backtick run inside it)."""
    base = request.text if request.text.endswith("\n") or not request.text else request.text + "\n"
    body = yaml_text if yaml_text.endswith("\n") else yaml_text + "\n"
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    head = base + "\n" + fence + "yaml\n"
    return _Appended(head + body + fence + "\n", head.count("\n") + 1, body.count("\n"))


def locate(error: RequirementsError, appended: _Appended, name: str) -> str:
    """One validation message naming field and line: ``generated YAML line N: FIELD: MESSAGE``
    inside the generated block, ``NAME line N: FIELD: MESSAGE`` elsewhere in the file."""
    relative = error.line - appended.first_line + 1
    where = f"{GENERATED} line {relative}" if 1 <= relative <= appended.line_count + 1 else f"{name} line {error.line}"
    return f"{where}: {error.field}: {error.message}" if error.field else f"{where}: {error.message}"


def read_answer(answer: str, request: ProseRequest) -> tuple[RequirementsDoc, str, _Appended, tuple[str, ...]]:
    """Parse the model's answer as the lead parses a hand-written file.

    Returns ``(doc, yaml, appended, new job keys)``.

    Raises:
        llm.gateway.OutputRejected: no single fenced ``yaml`` block, no new job, or any
            validation problem, located as in `locate`.
    """
    from llm.gateway import OutputRejected

    blocks = [b for b in fenced_blocks(answer, 1) if b.language in YAML_LANGUAGES and b.closed]
    if len(blocks) != 1:
        raise OutputRejected([f"the answer must hold exactly one fenced ```yaml block with `resources: jobs:`; "
                              f"it holds {len(blocks)}"])
    yaml_text = blocks[0].content
    appended = append_block(request, yaml_text)
    try:
        doc = load_requirements(request.path, text=appended.text, prose_done=True)
    except RequirementsError as error:
        raise OutputRejected([locate(error, appended, request.path.name)]) from None
    keys = tuple(
        spec.payload["job_key"] for spec in doc.task_specs
        if spec.type == "deploy_job" and spec.payload["job_key"] not in request.job_keys
    )
    if not keys:
        raise OutputRejected([f"{GENERATED} line 1: resources.jobs: the block defines no new job "
                              "(write the jobs the prose asks for under `resources: jobs:`)"])
    return doc, yaml_text, appended, keys


def _relocate(doc: RequirementsDoc, appended: _Appended, keys: tuple[str, ...], extra: dict[str, Any]) -> RequirementsDoc:
    """The generated jobs' specs with lines of the generated YAML and the ``generated`` payload."""
    first, last = appended.first_line, appended.first_line + appended.line_count

    def rel(line: int) -> int:
        return line - first + 1

    specs = []
    for spec in doc.task_specs:
        if spec.type != "deploy_job" or spec.payload["job_key"] not in keys:
            specs.append(spec)
            continue
        payload = dict(spec.payload)
        payload["field_lines"] = {k: rel(v) for k, v in payload.get("field_lines", {}).items() if first <= v < last}
        source = dict(payload.get("source") or {})
        source.update(path=f"{source.get('path', doc.path)} ({GENERATED})", line=rel(spec.source_line))
        payload["source"] = source
        payload["generated"] = extra
        specs.append(dataclasses.replace(
            spec, payload=payload, source_line=None,
            source_field=f"{spec.source_field} ({GENERATED} line {rel(spec.source_line)})",
        ))
    return dataclasses.replace(doc, task_specs=specs)


# -- the whole flow ----------------------------------------------------------------------------


def generate_jobs(
    request: ProseRequest,
    *,
    engine=None,
    index_dir: Path | None = None,
    log: Callable[[str], None] = _stderr,
    gateway=None,
    settings=None,
) -> Generated:
    """Turn the prose of `request` into validated jobs (see the module docstring).

    `engine`: the state database, for the model's response cache and accounting (`llm_call`);
    the same file submitted again (or after a ``--dry-run``) gets the same answer without a
    second request. `gateway`: a ready `llm.gateway.Gateway`; else one for `settings`
    (`llm.config.LlmSettings`), else for the front matter's ``llm:`` over the environment. `log`: where one-time notes go (LLM off, ungrounded).

    Raises:
        ProseError: no model configured ("needs an LLM"), the model did not answer, or its jobs
            were still invalid after the repair round (`problems` lists the messages).
        llm.config.LlmConfigError: a malformed ``JOB_AGENT_LLM_*`` variable.
    """
    from llm.gateway import LlmOutputInvalid, LlmUnavailable, get_gateway

    name = request.path.name
    if gateway is None:
        gateway = get_gateway(engine, front_matter_llm=request.llm, settings=settings)
    if gateway is None:
        raise ProseError(
            f"{request.path}: this file asks for jobs in prose"
            + (" (`generate: true`)" if request.forced else " and defines none in fenced ```yaml blocks")
            + "; turning prose into job settings needs an LLM: set JOB_AGENT_LLM_MODEL (e.g. openai/gpt-4o-mini) "
              "or `llm:` in the front matter, or write the jobs as fenced ```yaml blocks"
        )
    passages = ground(request.prose, index_dir=index_dir, log=log)
    messages = build_messages(request.prose, request.front_matter, request.job_keys, passages or [])
    try:
        doc, yaml_text, appended, keys = gateway.complete_checked(
            PURPOSE, messages, lambda answer: read_answer(answer, request)
        )
    except LlmOutputInvalid as error:
        listed = "\n".join(f"  {p}" for p in error.problems)
        raise ProseError(
            f"{request.path}: the model ({gateway.settings.model}) could not turn the prose into valid job settings "
            f"after a repair round:\n{listed}\nReword the prose, or write the jobs as fenced ```yaml blocks.",
            error.problems,
        ) from None
    except LlmUnavailable as error:
        raise ProseError(f"{name}: the prose lead needs the model, which did not answer: {error}") from None
    citations = [p.citation for p in passages or []]
    extra = {"yaml": yaml_text, "model": gateway.settings.model, "citations": citations, "grounded": passages is not None}
    return Generated(
        doc=_relocate(doc, appended, keys, extra), yaml=yaml_text, model=gateway.settings.model,
        citations=citations, grounded=passages is not None, job_keys=keys,
    )
