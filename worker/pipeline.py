"""One claimed task through validate -> plan -> apply, and recording what came of it.

The plan is stored on the task (`Task.plan`) before apply runs, and apply receives exactly
that stored plan. Outcomes:

- all three phases pass: COMPLETE with the apply result (and its follow-up tasks, and the
  next occurrence of a recurring task, in the same transaction: `state.outcomes`);
- `CheckAgain` from a phase: back to PENDING until the time it names, the attempt not
  counted, phase, plan and checkpoint kept; the next claim resumes in that phase;
- `StalePlan` from apply: back to PENDING to plan again, counted as an attempt; with no
  attempts left FAILED, saying the plan went stale;
- `ValidationFailed`, `PermanentFailure`, an unknown task type, a permanent SDK error:
  FAILED with the error (validation problems kept in `result.problems` with citations);
- a transient error (`worker.retry_policy`): PENDING with a backoff `not_before` while
  attempts remain, else FAILED;
- `WorkerStopping`: released to PENDING (the attempt is not counted);
- `RevisionSuperseded` (a newer revision of the requirement exists, seen at a heartbeat or
  a phase boundary): CANCELLED without applying;
- `LeaseLost`: nothing is recorded; another worker owns the task now.

Every database call goes through `worker.db_retry.DbRetry`, so an outage delays the task
instead of killing the slot; the outcome is recorded once the database is back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from state.engine import writer
from state.machine import Phase, Superseded, TaskStatus, TransitionConflict, enter_phase, update_held
from state.models import Requirement, Task, TaskDependency
from state.outcomes import record_outcome
from state.queue import Claim
from tasks.base import (
    CheckAgain,
    LeaseLost,
    PermanentFailure,
    Plan,
    RevisionSuperseded,
    StalePlan,
    TaskContext,
    ValidationFailed,
    WorkerStopping,
)
from tasks.registry import UnknownTaskType, get_task_type
from worker import log
from worker.db_retry import DbRetry
from worker.decision_records import StateDecisionRecords
from worker.deployment_records import StateDeploymentRecords
from worker.heartbeats import LeaseKeeper
from worker.progress_writer import ProgressWriter
from worker.retry_policy import backoff, is_transient


@dataclass
class WorkerSettings:
    """How a worker runs tasks. Times in seconds.

    `task_settings` is handed to task types as `ctx.settings` (e.g. `run_timeout_seconds`,
    `run_poll_initial_seconds`, `run_poll_max_seconds`).
    """

    worker_id: str
    lease_ttl: float = 60.0
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    progress_dir: Path | None = None
    progress_min_interval: float = 0.5
    db_timeout: float = 300.0
    task_settings: dict[str, Any] = field(default_factory=dict)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


class TaskRunner:
    """Runs claimed tasks for one worker process (shared by its concurrency slots)."""

    def __init__(
        self,
        engine: Engine,
        settings: WorkerSettings,
        workspace_factory: Callable[[], Any],
        cite: Callable[[str], list[str]],
        stopping: threading.Event,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.workspace_factory = workspace_factory
        self.cite = cite
        self.stopping = stopping
        self.db = DbRetry(
            settings.db_timeout,
            on_error=lambda what, error, wait: log.emit(
                worker=settings.worker_id, event="db_error", during=what,
                error=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                retry_in_s=f"{wait:.1f}",
            ),
        )
        self.progress = ProgressWriter(
            engine,
            settings.progress_dir,
            min_interval=settings.progress_min_interval,
            on_error=lambda error: log.emit(worker=settings.worker_id, event="progress_error", error=f"{type(error).__name__}: {error}"),
        )

    def close(self) -> None:
        """Render the progress still pending (call when the worker stops)."""
        self.progress.close()

    # -- recording -------------------------------------------------------------------------
    def _render(self, requirement_id: int) -> None:
        self.progress.request(requirement_id)

    def _finish(
        self,
        claim: Claim,
        to_status: TaskStatus,
        *,
        reason: str,
        values: dict[str, Any] | None = None,
        follow_ups: list[Any] | None = None,
        not_before_in: float | None = None,
    ) -> TaskStatus | None:
        """Record the outcome (retrying across database outages); returns the status recorded,
        or None when the lease was lost meanwhile."""

        def record() -> TaskStatus:
            with Session(writer(self.engine)) as session:
                status = record_outcome(
                    session, claim.task_id, to_status, lease_owner=claim.lease_owner, reason=reason,
                    values=values or {}, follow_ups=follow_ups or (), not_before_in=not_before_in,
                )
                session.commit()
                return status

        try:
            return self.db.call("record outcome", record)
        except TransitionConflict as error:
            log.emit(worker=claim.lease_owner, task=f"T-{claim.task_id:04d}", event="lease_lost", reason=str(error))
            return None

    def _held(self, what: str, fn: Callable[[Session], None]) -> None:
        """Run a write that needs the lease; a superseded revision or a lost lease stops the task."""

        def write() -> None:
            with Session(writer(self.engine)) as session:
                fn(session)
                session.commit()

        try:
            self.db.call(what, write)
        except Superseded as error:
            raise RevisionSuperseded(str(error), error.current) from None
        except TransitionConflict as error:
            raise LeaseLost(str(error)) from None

    def _task_settings(self) -> dict[str, Any]:
        """`ctx.settings`: where reports (`report_dir`: `<progress dir>/reports`) and e-mails
        without an SMTP server (`outbox_dir`: `$JOB_AGENT_OUTBOX`, else `<home>/outbox`) go,
        plus the worker's task settings (which win)."""
        import os

        from state.engine import home_dir
        from state.progress import default_progress_dir

        progress = Path(self.settings.progress_dir or default_progress_dir())
        return {"report_dir": str(progress / "reports"),
                "outbox_dir": os.environ.get("JOB_AGENT_OUTBOX") or str(home_dir() / "outbox"),
                **self.settings.task_settings}

    def _load(self, claim: Claim) -> dict[str, Any]:
        with Session(self.engine) as session:
            task = session.get(Task, claim.task_id)
            requirement = session.get(Requirement, task.requirement_id)
            dependency_rows = session.execute(
                select(Task.spec_key, Task.result)
                .join(TaskDependency, TaskDependency.depends_on_id == Task.id)
                .where(TaskDependency.task_id == task.id)
            ).all()
            return dict(
                task_id=task.id,
                task_ref=task.ref,
                spec_key=task.spec_key,
                task_type=task.type,
                payload=dict(task.payload),
                requirement_ref=requirement.ref,
                requirement_revision=task.revision,
                attempt=claim.attempt,
                dependency_results={key: dict(result or {}) for key, result in dependency_rows},
                retry_generation=task.retry_generation,
                checkpoint=dict(task.checkpoint) if task.checkpoint is not None else None,
                _phase=task.phase,
                _plan=dict(task.plan) if task.plan else None,
                _max_attempts=task.max_attempts,
                _requirement_id=task.requirement_id,
            )

    # -- one task --------------------------------------------------------------------------
    def run(self, claim: Claim, keeper: LeaseKeeper | None = None) -> str:
        """Take one claimed task through its phases and record the outcome.

        Returns the task's final status value for this attempt (`COMPLETE`, `FAILED`,
        `PENDING`, `CANCELLED`), `WAITING` when it will be checked again later, or `LOST`
        when the lease was lost.

        Raises:
            worker.db_retry.DatabaseUnavailable: the database stayed unreachable past the timeout.
        """
        owner = claim.lease_owner
        ref = f"T-{claim.task_id:04d}"
        ctx_fields = self.db.call("load task", self._load, claim)
        stored_phase, stored_plan = ctx_fields.pop("_phase"), ctx_fields.pop("_plan")
        max_attempts, requirement_id = ctx_fields.pop("_max_attempts"), ctx_fields.pop("_requirement_id")
        task_type_name = ctx_fields["task_type"]
        keeper = keeper or LeaseKeeper(self.engine, claim, self.settings.lease_ttl, self.stopping).start()
        ctx = TaskContext(
            **ctx_fields,
            workspace_factory=self.workspace_factory,
            heartbeat=keeper.beat,
            cite=self.cite,
            log=lambda message: log.emit(worker=owner, task=ref, event="note", message=message),
            settings=self._task_settings(),
            deployments=StateDeploymentRecords(self.engine, self.db, claim.task_id),
            decisions=StateDecisionRecords(self.engine, self.db, claim.task_id),
            engine=self.engine,
            save_checkpoint=lambda data: self._held("save checkpoint", lambda session: update_held(
                session, claim.task_id, lease_owner=owner, values={"checkpoint": data})),
        )
        phases = [Phase.VALIDATE, Phase.PLAN, Phase.APPLY]
        plan: Plan | None = None
        resumed = ctx.checkpoint is not None and stored_phase in (Phase.PLAN.value, Phase.APPLY.value)
        if resumed and stored_phase == Phase.APPLY.value:
            if stored_plan is None:
                resumed = False
            else:
                plan = Plan.from_dict(stored_plan)
        if resumed:
            phases = phases[phases.index(Phase(stored_phase)):]
        base = dict(worker=owner, task=ref, type=task_type_name, attempt=claim.attempt)
        started = time.monotonic()
        phase_started = started
        previous: str | None = None
        current: str | None = None
        waiting = False
        try:
            task_type = get_task_type(task_type_name)
            result: dict[str, Any] = {}
            for phase in phases:
                now = time.monotonic()
                if resumed and previous is None:
                    note = f"resumed {phase.value} (checked again)"
                else:
                    note = f"entered {phase.value}" + (f" ({previous} took {_ms(now - phase_started)} ms)" if previous else "")
                if previous:
                    log.emit(**base, event="phase_done", phase=previous, duration_ms=_ms(now - phase_started))
                phase_started = now
                self._held("enter phase", lambda session, phase=phase, note=note: enter_phase(
                    session, claim.task_id, phase, lease_owner=owner, reason=note))
                current = phase.value
                log.emit(**base, event="phase", phase=phase.value)
                self._render(requirement_id)
                if phase is Phase.VALIDATE:
                    task_type.validate(ctx)
                elif phase is Phase.PLAN:
                    plan = task_type.plan(ctx)
                    stored = plan.as_dict()
                    self._held("store plan", lambda session: update_held(
                        session, claim.task_id, lease_owner=owner, values={"plan": stored, "checkpoint": None}))
                    ctx.checkpoint = None
                else:
                    result = task_type.apply(ctx, plan)
                previous = phase.value
                if self.stopping.is_set() and phase is not Phase.APPLY:
                    raise WorkerStopping("worker is stopping")
            took = time.monotonic() - phase_started
            log.emit(**base, event="phase_done", phase="apply", duration_ms=_ms(took))
            reason = f"apply took {_ms(took)} ms; {_ms(time.monotonic() - started)} ms in all"
            outcome = self._finish(claim, TaskStatus.COMPLETE, reason=reason,
                                   values={"result": result or {}, "checkpoint": None}, follow_ups=ctx.follow_ups)
        except RevisionSuperseded as error:
            log.emit(**base, event="superseded", reason=str(error))
            outcome = self._finish(claim, TaskStatus.CANCELLED,
                                   reason=f"superseded by revision {error.current_revision}; stopped before "
                                          f"{'applying' if previous != Phase.APPLY.value else 'finishing'}")
        except LeaseLost as error:
            log.emit(**base, event="lease_lost", reason=str(error))
            outcome = None
        except CheckAgain as wait:
            waiting = True
            outcome = self._finish(
                claim, TaskStatus.PENDING, reason=f"{wait.reason}; check again in {wait.after_seconds:g} s",
                values={"attempts": max(0, claim.attempt - 1), "checkpoint": wait.checkpoint},
                not_before_in=wait.after_seconds,
            )
        except WorkerStopping:
            outcome = self._finish(
                claim, TaskStatus.PENDING, reason=f"released during {previous or 'validate'}: worker stopping",
                values={"attempts": max(0, claim.attempt - 1), "not_before": None},
            )
        except StalePlan as error:
            if claim.attempt >= max_attempts:
                outcome = self._finish(
                    claim, TaskStatus.FAILED,
                    reason=f"plan stale at apply on attempt {claim.attempt}/{max_attempts}; no attempts left",
                    values={"error": f"the plan went stale {claim.attempt} time(s): the remote state kept changing "
                                     f"between plan and apply (last: {error})", "checkpoint": None},
                    follow_ups=ctx.follow_ups,
                )
            else:
                outcome = self._finish(
                    claim, TaskStatus.PENDING,
                    reason=f"plan stale (attempt {claim.attempt}/{max_attempts}): {error}",
                    values={"not_before": None, "checkpoint": None},
                )
        except ValidationFailed as error:
            problems = [asdict(p) for p in error.problems]
            message = "\n".join(str(p) for p in error.problems)
            outcome = self._finish(
                claim, TaskStatus.FAILED, reason=f"validation failed: {len(problems)} problem(s)",
                values={"error": message, "result": {"problems": problems}, "checkpoint": None},
            )
        except PermanentFailure as error:
            outcome = self._finish(claim, TaskStatus.FAILED, reason=f"{current or 'validate'} failed",
                                   values={"error": str(error), "result": error.result, "checkpoint": None},
                                   follow_ups=ctx.follow_ups)
        except UnknownTaskType as error:
            outcome = self._finish(claim, TaskStatus.FAILED, reason="unknown task type", values={"error": str(error)})
        except Exception as error:  # noqa: BLE001 - the retry policy decides
            from worker.db_retry import DatabaseUnavailable

            if isinstance(error, DatabaseUnavailable):
                raise
            message = f"{type(error).__name__}: {error}"
            if is_transient(error) and claim.attempt < max_attempts:
                delay = backoff(claim.attempt, base_seconds=self.settings.backoff_base, cap_seconds=self.settings.backoff_cap)
                outcome = self._finish(
                    claim, TaskStatus.PENDING,
                    reason=f"transient error, retry in {delay.total_seconds():.1f} s (attempt {claim.attempt}/{max_attempts}): {message}",
                    values={"error": message}, not_before_in=delay.total_seconds(),
                )
            else:
                why = "no attempts left" if is_transient(error) else "permanent error"
                outcome = self._finish(claim, TaskStatus.FAILED, reason=f"{why} during {current or 'claim'}",
                                       values={"error": message})
        finally:
            keeper.stop()
        status = "LOST" if outcome is None else ("WAITING" if waiting and outcome is TaskStatus.PENDING else outcome.value)
        log.emit(**base, event="outcome", status=status, duration_ms=_ms(time.monotonic() - started))
        self._render(requirement_id)
        return status
