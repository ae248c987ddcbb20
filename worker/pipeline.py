"""One claimed task through validate -> plan -> apply, and recording what came of it.

The plan is stored on the task (`Task.plan`) before apply runs, and apply receives exactly
that stored plan. Outcomes:

- all three phases pass: COMPLETE with the apply result;
- `StalePlan` from apply: back to PENDING at once, reason "plan stale" (it is planned anew,
  never silently inside apply);
- `ValidationFailed`, `PermanentFailure`, an unknown task type, a permanent SDK error:
  FAILED with the error (validation problems kept in `result.problems` with citations);
- a transient error (`worker.retry_policy`): PENDING with a backoff `not_before` while
  attempts remain, else FAILED;
- `WorkerStopping`: released to PENDING (the attempt is not counted);
- `LeaseLost`: nothing is recorded; another worker owns the task now.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from state.columns import utcnow
from state.engine import writer
from state.machine import Phase, TaskStatus, TransitionConflict, enter_phase, transition, update_held
from state.models import Requirement, Task, TaskDependency, TaskEvent
from state.queue import Claim
from tasks.base import (
    LeaseLost,
    PermanentFailure,
    Plan,
    StalePlan,
    TaskContext,
    ValidationFailed,
    WorkerStopping,
)
from tasks.registry import UnknownTaskType, get_task_type
from worker import log
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
        self, claim: Claim, to_status: TaskStatus, *, reason: str, values: dict[str, Any] | None = None
    ) -> TaskStatus | None:
        """Record the outcome; returns `to_status`, or None when the lease was lost meanwhile."""
        try:
            with Session(writer(self.engine)) as session:
                transition(
                    session,
                    claim.task_id,
                    TaskStatus.IN_PROGRESS,
                    to_status,
                    actor=claim.lease_owner,
                    lease_owner=claim.lease_owner,
                    reason=reason,
                    values=values or {},
                )
                session.commit()
            return to_status
        except TransitionConflict as error:
            log.emit(worker=claim.lease_owner, task=f"T-{claim.task_id:04d}", event="lease_lost", reason=str(error))
            return None

    # -- one task --------------------------------------------------------------------------
    def run(self, claim: Claim, keeper: LeaseKeeper | None = None) -> str:
        """Take one claimed task through its phases and record the outcome.

        Returns the task's final status value for this attempt (`COMPLETE`, `FAILED`,
        `PENDING`, or `LOST` when the lease was lost).
        """
        owner = claim.lease_owner
        ref = f"T-{claim.task_id:04d}"
        with Session(self.engine) as session:
            task = session.get(Task, claim.task_id)
            requirement = session.get(Requirement, task.requirement_id)
            dependency_rows = session.execute(
                select(Task.spec_key, Task.result)
                .join(TaskDependency, TaskDependency.depends_on_id == Task.id)
                .where(TaskDependency.task_id == task.id)
            ).all()
            retry_generation = session.execute(
                select(func.count())
                .select_from(TaskEvent)
                .where(TaskEvent.task_id == task.id, TaskEvent.from_status == TaskStatus.FAILED.value, TaskEvent.to_status == TaskStatus.PENDING.value)
            ).scalar_one()
            task_type_name, max_attempts, requirement_id = task.type, task.max_attempts, task.requirement_id
            ctx_fields = dict(
                task_id=task.id,
                task_ref=task.ref,
                spec_key=task.spec_key,
                task_type=task.type,
                payload=dict(task.payload),
                requirement_ref=requirement.ref,
                requirement_revision=task.revision,
                attempt=claim.attempt,
                dependency_results={key: dict(result or {}) for key, result in dependency_rows},
                retry_generation=retry_generation,
            )
        keeper = keeper or LeaseKeeper(self.engine, claim, self.settings.lease_ttl, self.stopping).start()
        ctx = TaskContext(
            **ctx_fields,
            workspace_factory=self.workspace_factory,
            heartbeat=keeper.beat,
            cite=self.cite,
            log=lambda message: log.emit(worker=owner, task=ref, event="note", message=message),
            settings=dict(self.settings.task_settings),
        )
        base = dict(worker=owner, task=ref, type=task_type_name, attempt=claim.attempt)
        started = time.monotonic()
        phase_started = started
        previous: str | None = None
        try:
            task_type = get_task_type(task_type_name)
            plan: Plan | None = None
            result: dict[str, Any] = {}
            for phase in (Phase.VALIDATE, Phase.PLAN, Phase.APPLY):
                now = time.monotonic()
                note = f"entered {phase.value}" + (f" ({previous} took {_ms(now - phase_started)} ms)" if previous else "")
                if previous:
                    log.emit(**base, event="phase_done", phase=previous, duration_ms=_ms(now - phase_started))
                phase_started = now
                with Session(self.engine) as session:
                    enter_phase(session, claim.task_id, phase, lease_owner=owner, reason=note)
                    session.commit()
                log.emit(**base, event="phase", phase=phase.value)
                self._render(requirement_id)
                if phase is Phase.VALIDATE:
                    task_type.validate(ctx)
                elif phase is Phase.PLAN:
                    plan = task_type.plan(ctx)
                    with Session(self.engine) as session:
                        update_held(session, claim.task_id, lease_owner=owner, values={"plan": plan.as_dict()})
                        session.commit()
                else:
                    result = task_type.apply(ctx, plan)
                previous = phase.value
                if self.stopping.is_set() and phase is not Phase.APPLY:
                    raise WorkerStopping("worker is stopping")
            took = time.monotonic() - phase_started
            log.emit(**base, event="phase_done", phase="apply", duration_ms=_ms(took))
            reason = f"apply took {_ms(took)} ms; {_ms(time.monotonic() - started)} ms in all"
            outcome = self._finish(claim, TaskStatus.COMPLETE, reason=reason, values={"result": result or {}})
        except LeaseLost as error:
            log.emit(**base, event="lease_lost", reason=str(error))
            outcome = None
        except WorkerStopping:
            outcome = self._finish(
                claim, TaskStatus.PENDING, reason=f"released during {previous or 'validate'}: worker stopping",
                values={"attempts": max(0, claim.attempt - 1), "not_before": None},
            )
        except StalePlan as error:
            outcome = self._finish(claim, TaskStatus.PENDING, reason=f"plan stale: {error}", values={"not_before": None})
        except ValidationFailed as error:
            problems = [asdict(p) for p in error.problems]
            message = "\n".join(str(p) for p in error.problems)
            outcome = self._finish(
                claim, TaskStatus.FAILED, reason=f"validation failed: {len(problems)} problem(s)",
                values={"error": message, "result": {"problems": problems}},
            )
        except PermanentFailure as error:
            outcome = self._finish(claim, TaskStatus.FAILED, reason=f"{previous or 'validate'} failed", values={"error": str(error), "result": error.result})
        except UnknownTaskType as error:
            outcome = self._finish(claim, TaskStatus.FAILED, reason="unknown task type", values={"error": str(error)})
        except Exception as error:  # noqa: BLE001 - the retry policy decides
            message = f"{type(error).__name__}: {error}"
            if is_transient(error) and claim.attempt < max_attempts:
                delay = backoff(claim.attempt, base_seconds=self.settings.backoff_base, cap_seconds=self.settings.backoff_cap)
                outcome = self._finish(
                    claim, TaskStatus.PENDING,
                    reason=f"transient error, retry in {delay.total_seconds():.1f} s (attempt {claim.attempt}/{max_attempts}): {message}",
                    values={"not_before": utcnow() + delay, "error": message},
                )
            else:
                why = "no attempts left" if is_transient(error) else "permanent error"
                outcome = self._finish(claim, TaskStatus.FAILED, reason=f"{why} during {self._phase_of(claim)}", values={"error": message})
        finally:
            keeper.stop()
        log.emit(**base, event="outcome", status=outcome.value if outcome else "LOST", duration_ms=_ms(time.monotonic() - started))
        self._render(requirement_id)
        return outcome.value if outcome else "LOST"

    def _phase_of(self, claim: Claim) -> str:
        with Session(self.engine) as session:
            return session.execute(select(Task.phase).where(Task.id == claim.task_id)).scalar_one() or "claim"
