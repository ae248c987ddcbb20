"""The state tables: requirements, tasks, task dependencies and task events.

Ids are integers in the database and shown as `REQ-0001` / `T-0001` (see `format_id` and
`parse_id`). Status columns hold the string values of `state.machine.TaskStatus` and
`state.machine.RequirementStatus`; only `state.machine` changes them after a row is created.
All timestamps are timezone-aware UTC (`state.columns.UTCDateTime`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from state.columns import UTCDateTime, utcnow

_PREFIXES = {"requirement": "REQ", "task": "T"}
_ID_RE = re.compile(r"^(?:(REQ|T)-)?0*(\d+)$", re.IGNORECASE)


def format_id(kind: str, number: int) -> str:
    """Show a row id: `format_id("task", 7) == "T-0007"`, `format_id("requirement", 1) == "REQ-0001"`."""
    return f"{_PREFIXES[kind]}-{number:04d}"


def parse_id(kind: str, text: str) -> int:
    """Read an id the user typed: `T-0007`, `t-7` or `7` for a task; `REQ-0001` or `1` for a requirement.

    Raises:
        ValueError: when the text is not an id of that kind.
    """
    match = _ID_RE.match(text.strip())
    if not match or (match.group(1) and match.group(1).upper() != _PREFIXES[kind]):
        raise ValueError(f"{text!r} is not a {kind} id (expected like {format_id(kind, 1)})")
    return int(match.group(2))


REQUIREMENT_KINDS = ("file", "recurring", "ad_hoc")
"""`file`: a submitted requirements file; `recurring`: a schedule made outside a file (e.g. from
the command line); `ad_hoc`: one-off work from the command line and follow-ups without a file."""


class Requirement(SQLModel, table=True):
    """A unit of intent: a requirements file's bundle and target, or work with no file.

    `identity` names it the same on every machine, database and checkout: `<bundle>/<target>`
    for a file (as a bundle deployment is identified), `<kind>/<name>` otherwise. The same
    bundle and target submitted from another path is a new revision of the same requirement;
    `source_path` records the path of the latest submission (None for non-file kinds).
    `revision` starts at 1 and grows each time the content changes (`content_sha256` is the
    sha256 of the file's bytes at the latest revision).
    """

    __tablename__ = "requirement"

    id: Optional[int] = Field(default=None, primary_key=True)
    identity: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    kind: str = "file"
    bundle: Optional[str] = None
    target: Optional[str] = None
    title: str
    slug: str
    source_path: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    content_sha256: str
    revision: int = 1
    status: str = "OPEN"
    owner: Optional[str] = None
    front_matter: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    @property
    def ref(self) -> str:
        """The id as shown to people, e.g. `REQ-0001`."""
        return format_id("requirement", self.id)


class Task(SQLModel, table=True):
    """One unit of work for a worker: a task type, its payload and where it stands.

    `status` is a `TaskStatus` value and `phase` a `Phase` value (or None before the first
    phase). `attempts` counts claims; `not_before` delays the next claim (retry backoff, a
    recurrence's time, a "check again at"). `lease_owner`/`lease_expires_at` are set while
    IN_PROGRESS. `plan` holds the stored plan of the plan phase; `result` what apply
    produced; `error` the last error message; `checkpoint` what a phase that said "check again
    at T" needs to resume (e.g. the run id being followed).
    `retry_generation` counts explicit retries (FAILED -> PENDING by a person); run
    idempotency tokens include it. `idempotency_key`, when set, is unique: enqueueing a task
    with an existing key inserts nothing. `deployment_key` (`<bundle>/<target>/<job_key>`)
    names the deployment the task changes; at most one task per key is IN_PROGRESS.
    `schedule` (`{"every_seconds": N}` or `{"quartz_cron_expression", "timezone_id"}`) makes
    the task recurring: occurrence `occurrence` was due at `scheduled_for` (set exactly for
    recurring tasks), and the next is enqueued when it ends. `source_path`/`source_line`/`source_field` point at the
    requirements text it came from.
    """

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("requirement_id", "revision", "spec_key", "occurrence", name="uq_task_spec"),
        Index("ix_task_claim", "status", "not_before", "priority"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    requirement_id: int = Field(foreign_key="requirement.id", index=True)
    revision: int = 1
    spec_key: str
    type: str
    title: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "PENDING"
    phase: Optional[str] = None
    priority: int = 0
    attempts: int = 0
    max_attempts: int = 3
    retry_generation: int = 0
    idempotency_key: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True, unique=True))
    deployment_key: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True, index=True))
    occurrence: int = 0
    schedule: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    scheduled_for: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    checkpoint: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    not_before: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    lease_owner: Optional[str] = None
    lease_expires_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    plan: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    result: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    source_path: Optional[str] = None
    source_line: Optional[int] = None
    source_field: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    @property
    def ref(self) -> str:
        """The id as shown to people, e.g. `T-0001`."""
        return format_id("task", self.id)


class TaskDependency(SQLModel, table=True):
    """`task_id` runs only once `depends_on_id` is COMPLETE."""

    __tablename__ = "task_dependency"

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    depends_on_id: int = Field(foreign_key="task.id", primary_key=True, index=True)


class TaskEvent(SQLModel, table=True):
    """One status or phase change of a task, written in the same transaction as the change.

    `from_status` is None for the creation event. `actor` is a worker id, `lead` or a user
    command; `reason` says why in words.
    """

    __tablename__ = "task_event"

    id: Optional[int] = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    from_status: Optional[str] = None
    to_status: str
    phase: Optional[str] = None
    actor: str
    reason: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))


class Deployment(SQLModel, table=True):
    """Which Databricks job a deployment key names in one workspace.

    `key` is `<bundle>/<target>/<job_key>` (also the job's `job_agent_key` tag); `workspace`
    the workspace host. `job_id` is the job the pipeline deploys to, recorded as soon as
    `jobs/create` answers; `extra_job_ids` other jobs created for the same key (overlapping
    applies) that a plan must check and delete. `settings_hash` is the fingerprint of the
    settings last applied and `task_id` the task that applied them.
    """

    __tablename__ = "deployment"

    workspace: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    job_id: Optional[int] = None
    extra_job_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    settings_hash: Optional[str] = None
    task_id: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Decision(SQLModel, table=True):
    """One remediation decision about one failed run (the decision log).

    `task_id` is the `remediate_run` task that decided; `workspace`, `run_id`, `repair_count`
    name the failure (a run is decided at most once per repair count). `inputs_digest` is a
    sha256 of what was read (messages, codes, cluster spec). `message` is the masked error
    excerpt the classifier read (kept for feedback and training export). `category`,
    `remediation`, `confidence` (0..1), `evidence` (the line that decided), `layer` and
    `priority` come from the classifier; `reason` says why the policy chose the remediation.
    `detail` holds what apply did or will do (the field diff of a new-parameters retry, so a
    person can revert it; the e-mail sent). `status` is PLANNED, APPLIED or FAILED; `outcome`
    SUCCESS or FAILED once the repaired run ends (None before, and for decisions without a
    repair). `feedback_*` hold a person's correction (`lead feedback`).
    """

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("workspace", "run_id", "repair_count", name="uq_decision_run"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    task_id: Optional[int] = Field(default=None, index=True)
    workspace: str
    run_id: int = Field(index=True)
    repair_count: int = 0
    job_id: Optional[int] = Field(default=None, index=True)
    job_name: Optional[str] = None
    inputs_digest: str
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    category: str
    remediation: str
    confidence: float
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    layer: str
    priority: str
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "PLANNED"
    outcome: Optional[str] = None
    outcome_run_state: Optional[str] = None
    feedback_remediation: Optional[str] = None
    feedback_category: Optional[str] = None
    feedback_note: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    feedback_at: Optional[datetime] = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))

    @property
    def ref(self) -> str:
        """The id as shown to people, e.g. `D-0001`."""
        return f"D-{self.id:04d}"


class LlmCall(SQLModel, table=True):
    """One model call made through the LLM gateway (`llm.gateway`), for accounting.

    `purpose` names what the call was for (`prose_lead`, `remediation`, `ask_route`,
    `ask_summary`, ...); `model` the litellm model string. `prompt_tokens`,
    `completion_tokens` and `cost_usd` come from the provider's usage block and litellm's
    price table (`cost_usd` is None when litellm does not know the model's price).
    `cached` is true for an answer served from `llm_cache` (no tokens billed, not counted as a
    call by `lead llm usage`). `status` is `ok`, `invalid` (the output failed validation) or
    `error` (the call failed); `error` holds the masked message. `duration_ms` is wall time.
    `request_key` is the cache key (sha256 of the request). Nothing secret is stored: the
    prompt itself is not kept here.
    """

    __tablename__ = "llm_call"

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    model: str
    purpose: str = Field(index=True)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Optional[float] = None
    cached: bool = False
    status: str = "ok"
    error: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: int = 0
    request_key: str = Field(default="", index=True)
    task_id: Optional[int] = None


class LlmCacheEntry(SQLModel, table=True):
    """A model response kept so the same request is not paid for twice.

    `key` is the sha256 of the request (model, messages after masking, response format,
    temperature); `content` the text the model answered; the token counts are what the
    original call was billed.
    """

    __tablename__ = "llm_cache"

    key: str = Field(primary_key=True)
    model: str
    content: str = Field(default="", sa_column=Column(Text, nullable=False))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class AuditEntry(SQLModel, table=True):
    """One tool call received by the MCP server (`lead mcp`), newest last by `id`.

    `tool` is the tool name; `arguments` the call's arguments with secrets masked
    (`state.redaction.redact`); `status` is `ok`, `error` (the tool raised a typed error) or
    `refused` (a write tool on a read-only server); `error` the message shown to the client;
    `client` the MCP client's name from its `initialize` request (None when it gave none).
    """

    __tablename__ = "audit_entry"

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    tool: str = Field(index=True)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "ok"
    error: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    client: Optional[str] = None
    duration_ms: int = 0
