"""The remediation decision log, as task types see it (`ctx.decisions`).

Binds `state.decisions` to the worker's engine and database retry (see
`tasks.base.DecisionRecords`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from state import decisions as log
from state.engine import writer
from worker.db_retry import DbRetry


class StateDecisionRecords:
    """`tasks.base.DecisionRecords` over the state database, for one task (`task_id`)."""

    def __init__(self, engine: Engine, db: DbRetry, task_id: int) -> None:
        self.engine = engine
        self.db = db
        self.task_id = task_id

    def record(self, workspace: str, run_id: int, repair_count: int, **fields: Any) -> int:
        """Create or update the decision of one failure (this task's); returns its id."""

        def write() -> int:
            with Session(writer(self.engine)) as session:
                decision_id = log.record_decision(session, workspace, run_id, repair_count, task_id=self.task_id, **fields)
                session.commit()
                return decision_id

        return self.db.call("record decision", write)

    def update(self, decision_id: int, **fields: Any) -> None:
        """Set fields of a decision."""

        def write() -> None:
            with Session(writer(self.engine)) as session:
                log.update_decision(session, decision_id, **fields)
                session.commit()

        self.db.call("update decision", write)

    def count(self, workspace: str, *, run_id: int | None = None, job_id: int | None = None,
              since_hours: float | None = None) -> int:
        """Retries decided for a run, or for a job within `since_hours`."""

        def read() -> int:
            with Session(self.engine) as session:
                return log.count_decisions(session, workspace, run_id=run_id, job_id=job_id, since_hours=since_hours)

        return self.db.call("count decisions", read)

    def corrections(self) -> list[dict[str, Any]]:
        """People's corrections as labelled examples."""

        def read() -> list[dict[str, Any]]:
            with Session(self.engine) as session:
                return log.corrections(session)

        return self.db.call("read corrections", read)
