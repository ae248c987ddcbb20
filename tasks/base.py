"""The contract between the worker and a task type: phases, plans, outcomes.

A task type implements three phases (DESIGN.md, "validate -> plan -> apply"):

- `validate(ctx)` checks the task's input and the workspace without changing anything and
  raises `ValidationFailed` with one `Problem` per finding.
- `plan(ctx) -> Plan` reads the live workspace and returns the actions it would take, with
  before/after values, the fingerprint of the remote state it read and an idempotency token.
  The worker stores the plan before apply.
- `apply(ctx, plan) -> dict` executes exactly that plan and returns the result (JSON-ready:
  ids, URLs, states). If the remote state no longer matches `plan.fingerprint` it raises
  `StalePlan`, and the worker sends the task back to plan.

A phase that must wait for something slow (a Databricks run lasting hours) raises
`CheckAgain(after_seconds, checkpoint)`: the worker drops the lease and the task waits as
PENDING (the attempt not counted) until then, keeping its phase and stored plan; at the next
claim the phase is called again with `ctx.checkpoint` set, so no worker slot is held while
waiting. Apply may also enqueue further tasks with `ctx.follow_up(FollowUp(...))`; they are
recorded in the same transaction as the task's outcome (COMPLETE or FAILED), and a follow-up
whose idempotency key exists is not recorded again.

Errors other than these are classified by the worker's retry policy (transient: back to
PENDING with backoff; permanent: FAILED).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from databricks.sdk import WorkspaceClient


class ActionKind(StrEnum):
    """What one plan action does (DESIGN.md)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    RUN = "RUN"
    REPAIR = "REPAIR"
    NOTIFY = "NOTIFY"
    QUERY = "QUERY"
    NO_OP = "NO_OP"


@dataclass
class Change:
    """One field that an action changes: dotted `field` path, `before` and `after` values
    (None when absent), and up to three documentation citations (`path › heading`)."""

    field: str
    before: Any = None
    after: Any = None
    citations: list[str] = field(default_factory=list)


@dataclass
class Action:
    """One step of a plan. `target` names the remote object (e.g. `job 123` or `job <new>`);
    `params` carries what apply needs (e.g. the full settings to send)."""

    kind: ActionKind
    target: str
    summary: str = ""
    changes: list[Change] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """A stored plan: its actions, the fingerprint of the remote state read while planning,
    and the idempotency token apply sends with anything that must not happen twice."""

    actions: list[Action]
    fingerprint: str
    idempotency_token: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape stored in `Task.plan` (and read by `state.progress`)."""
        data = asdict(self)
        for action in data["actions"]:
            action["kind"] = str(action["kind"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Plan":
        """Rebuild a plan stored by `as_dict`."""
        actions = [
            Action(
                kind=ActionKind(a["kind"]),
                target=a.get("target", ""),
                summary=a.get("summary", ""),
                changes=[Change(**c) for c in a.get("changes", [])],
                citations=list(a.get("citations", [])),
                params=dict(a.get("params", {})),
            )
            for a in data.get("actions", [])
        ]
        return cls(actions, data["fingerprint"], data["idempotency_token"])

    @property
    def is_no_op(self) -> bool:
        """True when every action is NO_OP."""
        return all(a.kind is ActionKind.NO_OP for a in self.actions)


def enum_value(value: Any) -> str | None:
    """The string value of an SDK enum (`jobs.RunLifeCycleState.TERMINATED` -> "TERMINATED"),
    a plain string as it is, None as None."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def fingerprint(value: Any) -> str:
    """A stable sha256 (hex, first 16 chars) of a JSON-like value: the remote state a plan read."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Problem:
    """One validation finding: the settings `field` (dotted), what is wrong, the requirements
    file line it came from (if known) and citations to the documentation of that field."""

    field: str
    message: str
    line: int | None = None
    source_path: str | None = None
    citations: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.source_path or 'requirements'}:{self.line}: " if self.line else ""
        cited = f" (see {'; '.join(self.citations)})" if self.citations else ""
        return f"{where}{self.field}: {self.message}{cited}"


class TaskFailure(Exception):
    """Base of the errors a phase raises on purpose."""


class ValidationFailed(TaskFailure):
    """The task's input or the workspace is not fit: a permanent failure. `problems` lists them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        super().__init__(f"{len(problems)} validation problem(s): " + "; ".join(lines) if len(lines) > 1 else lines[0])


class StalePlan(TaskFailure):
    """The remote state changed between plan and apply: the task must be planned again."""


class PermanentFailure(TaskFailure):
    """The work cannot succeed by trying again (e.g. a job run that failed)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


class LeaseLost(TaskFailure):
    """The worker no longer holds the task's lease; it must stop touching the task."""


class RevisionSuperseded(LeaseLost):
    """The task belongs to a superseded revision of its requirement: it must stop without
    applying; the worker records it CANCELLED."""

    def __init__(self, message: str, current_revision: int) -> None:
        super().__init__(message)
        self.current_revision = current_revision


class CheckAgain(TaskFailure):
    """Not done yet: check again in `after_seconds` (see the module docstring).

    `checkpoint` (JSON-ready) is handed back as `ctx.checkpoint` at the next claim; `reason`
    says what is awaited (shown in the task's events).
    """

    def __init__(self, after_seconds: float, checkpoint: dict[str, Any], reason: str = "waiting") -> None:
        super().__init__(reason)
        self.after_seconds = max(0.0, float(after_seconds))
        self.checkpoint = checkpoint
        self.reason = reason


@dataclass
class FollowUp:
    """A task for apply to enqueue (`ctx.follow_up`): its type, title and payload, an
    idempotency key (an existing key inserts nothing), and an optional delay in seconds
    before it may be claimed."""

    type: str
    title: str
    payload: dict[str, Any]
    idempotency_key: str
    not_before_seconds: float | None = None


class WorkerStopping(TaskFailure):
    """Raised by `ctx.heartbeat()` when the worker was asked to stop: the task is released
    (back to PENDING, the attempt not counted) and another worker picks it up where the
    remote state is (e.g. the same run, found again through its idempotency token)."""


@dataclass
class TaskContext:
    """What a phase may use. Built by the worker for one claimed task.

    Attributes:
        task_ref: `T-0001`; `spec_key`: `deploy_job:etl`; `payload`: the task's payload.
        requirement_ref / requirement_revision: where the task came from.
        attempt: this claim's attempt number (1-based).
        retry_generation: how many times a person sent the task back from FAILED (`lead
            retry`); 0 at first. Idempotency tokens include it, so an explicit retry starts
            new work while a crash-and-restart of the same generation finds the old work.
        dependency_results: spec_key -> `result` of each COMPLETE dependency.
        workspace: a `databricks.sdk.WorkspaceClient` (created lazily by the worker).
        heartbeat: renews the lease; raises `LeaseLost` when it was lost and
            `WorkerStopping` when the worker is shutting down. Long waits call it often.
        cite: query -> up to 3 citation strings (empty when no docs index is built).
        log: one-line progress messages (secrets must never be passed).
        settings: worker settings a task type may read (e.g. `run_timeout_seconds`;
            `report_dir` and `outbox_dir`, where reports and unsent e-mails go).
        checkpoint: what the phase left when it last raised `CheckAgain` (None at first).
        deployments: the deployment records (`DeploymentRecords`): which job a deployment
            key names in a workspace, written as soon as a job is created.
        decisions: the remediation decision log (`DecisionRecords`).
        follow_ups: tasks `follow_up` collected during this claim.
        engine: the worker's state database engine, for the LLM gateway's cache and
            accounting (`tasks.llm_access.task_gateway`); None in bare contexts. Task types
            never write task state through it.
        save_checkpoint: store a checkpoint now, while the lease is held (raises `LeaseLost` /
            `RevisionSuperseded`): a worker that dies after it resumes the same phase with
            `ctx.checkpoint` set instead of starting over (e.g. before a call that must not be
            repeated, so the resumed phase checks the remote state first).
    """

    task_id: int
    task_ref: str
    spec_key: str
    task_type: str
    payload: dict[str, Any]
    requirement_ref: str
    requirement_revision: int
    attempt: int
    dependency_results: dict[str, dict[str, Any]]
    workspace_factory: Callable[[], "WorkspaceClient"]
    heartbeat: Callable[[], None] = lambda: None
    cite: Callable[[str], list[str]] = lambda query: []
    log: Callable[[str], None] = lambda message: None
    settings: dict[str, Any] = field(default_factory=dict)
    retry_generation: int = 0
    checkpoint: dict[str, Any] | None = None
    deployments: "DeploymentRecords | None" = None
    decisions: "DecisionRecords | None" = None
    follow_ups: list[FollowUp] = field(default_factory=list)
    save_checkpoint: Callable[[dict[str, Any]], None] = lambda data: None
    engine: Any = None
    _workspace: Any = field(default=None, repr=False)

    def follow_up(self, task: FollowUp) -> None:
        """Enqueue `task` with this task's outcome (see the module docstring)."""
        self.follow_ups.append(task)

    @property
    def workspace(self) -> "WorkspaceClient":
        """The workspace client (created on first use)."""
        if self._workspace is None:
            self._workspace = self.workspace_factory()
        return self._workspace


class DeploymentRecords(Protocol):
    """The state database's record of deployments, as a task type sees it (the worker
    provides it; database errors are retried there).

    `get(workspace, key)` -> `{"job_id": int | None, "extra_job_ids": [int], "settings_hash":
    str | None}` or None. `record(workspace, key, *, job_id, settings_hash=None,
    extra_job_ids=None)` creates or updates the record (None leaves a field as it is).
    `workspace` is the workspace host; `key` is `<bundle>/<target>/<job_key>`.
    """

    def get(self, workspace: str, key: str) -> dict[str, Any] | None: ...

    def record(
        self, workspace: str, key: str, *, job_id: int | None, settings_hash: str | None = None,
        extra_job_ids: list[int] | None = None,
    ) -> None: ...


class DecisionRecords(Protocol):
    """The remediation decision log, as a task type sees it (the worker provides it).

    `record(workspace, run_id, repair_count, **fields) -> decision id` creates or updates the
    decision of one failure; `update(decision_id, **fields)`; `count(workspace, run_id=None,
    job_id=None, since_hours=None) -> int` counts retries decided (the budget);
    `corrections() -> [{"message", "category", "remediation"}]` are people's corrections (the
    classifier's extra labelled examples). Fields: see `state.decisions.DECISION_FIELDS`.
    """

    def record(self, workspace: str, run_id: int, repair_count: int, **fields: Any) -> int: ...

    def update(self, decision_id: int, **fields: Any) -> None: ...

    def count(self, workspace: str, *, run_id: int | None = None, job_id: int | None = None,
              since_hours: float | None = None) -> int: ...

    def corrections(self) -> list[dict[str, Any]]: ...


class TaskType(Protocol):
    """A task type plug-in. `name` is the registry key (`deploy_job`)."""

    name: str

    def validate(self, ctx: TaskContext) -> None:
        """Check input and workspace; raise `ValidationFailed`. Changes nothing."""

    def plan(self, ctx: TaskContext) -> Plan:
        """Read the workspace and return the plan."""

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Execute exactly `plan`; return the result; raise `StalePlan` when the remote moved."""
