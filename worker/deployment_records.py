"""The state database's deployment records, as task types see them (`ctx.deployments`).

Binds `state.deployments` to the worker's engine and its database retry, so a deploy that
creates a job records the id even across a brief database outage (DESIGN.md: "the state
database records key -> job id as soon as create answers").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from state.deployments import get_deployment, record_deployment
from state.engine import writer
from worker.db_retry import DbRetry


class StateDeploymentRecords:
    """`tasks.base.DeploymentRecords` over the state database, for one task (`task_id`)."""

    def __init__(self, engine: Engine, db: DbRetry, task_id: int) -> None:
        self.engine = engine
        self.db = db
        self.task_id = task_id

    def get(self, workspace: str, key: str) -> dict[str, Any] | None:
        """The record of `key` in `workspace`, or None (see `state.deployments.get_deployment`)."""

        def read() -> dict[str, Any] | None:
            with Session(self.engine) as session:
                return get_deployment(session, workspace, key)

        return self.db.call("read deployment", read)

    def record(
        self, workspace: str, key: str, *, job_id: int | None, settings_hash: str | None = None,
        extra_job_ids: list[int] | None = None,
    ) -> None:
        """Create or update the record (see `state.deployments.record_deployment`)."""

        def write() -> None:
            with Session(writer(self.engine)) as session:
                record_deployment(session, workspace, key, job_id=job_id, settings_hash=settings_hash,
                                  extra_job_ids=extra_job_ids, task_id=self.task_id)
                session.commit()

        self.db.call("record deployment", write)
