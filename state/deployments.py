"""The deployment records: which Databricks job a deployment key names in a workspace.

A deployment key is `<bundle>/<target>/<job_key>`, the same on every machine, database and
checkout (as a bundle deployment is). `deploy_job` records the job id as soon as `jobs/create`
answers, so a later plan reads that one job (`jobs/get`) instead of searching the workspace.
Writes are upserts, each in its own short transaction (the caller commits).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from state.clock import db_now
from state.models import Deployment


def get_deployment(session: Session, workspace: str, key: str) -> dict[str, Any] | None:
    """`{"job_id", "extra_job_ids", "settings_hash", "task_id"}` for the key in `workspace`
    (a host URL), or None when nothing was recorded."""
    row = session.execute(
        select(Deployment).where(Deployment.workspace == workspace, Deployment.key == key)
    ).scalar_one_or_none()
    if row is None:
        return None
    return {"job_id": row.job_id, "extra_job_ids": list(row.extra_job_ids or []), "settings_hash": row.settings_hash,
            "task_id": row.task_id}


def record_deployment(
    session: Session,
    workspace: str,
    key: str,
    *,
    job_id: int | None,
    settings_hash: str | None = None,
    extra_job_ids: list[int] | None = None,
    task_id: int | None = None,
) -> None:
    """Create or update the record of `key` in `workspace` (locked while it is changed).

    `job_id` replaces the recorded job (None forgets it); `settings_hash` and `extra_job_ids`
    replace theirs when given. The caller commits.
    """
    now = db_now(session)
    row = session.execute(
        select(Deployment).where(Deployment.workspace == workspace, Deployment.key == key).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        row = Deployment(workspace=workspace, key=key, extra_job_ids=[], created_at=now)
    row.job_id = job_id
    if settings_hash is not None:
        row.settings_hash = settings_hash
    if extra_job_ids is not None:
        row.extra_job_ids = sorted(set(extra_job_ids) - {job_id})
    if task_id is not None:
        row.task_id = task_id
    row.updated_at = now
    session.add(row)
    session.flush()
