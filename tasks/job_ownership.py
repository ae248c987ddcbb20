"""Which Databricks job the pipeline owns for a requirement's job: the ownership tag.

Every job the pipeline deploys carries the tag `job_agent_key` = `<requirement ref>:<job key>`
(e.g. `REQ-0001:sales_nightly`). The requirement ref is stable across revisions of the same
requirements file (state keeps one requirement per source path) and the job key is the key
under `resources.jobs`, so a renamed job is still found and updated, never created twice.
Tag keys and values allow letters, digits, spaces and `+ - = . _ : / @` (Jobs API
`JobSettings.tags`: "A map of tags associated with the job ... up to 25 tags").

Lookup pages through `GET /api/2.2/jobs/list` (`jobs.list`, which follows `next_page_token`;
`settings.tags` is part of every listed job) and matches the tag exactly. Several jobs with the
tag (a duplicate created by a retried create) are returned oldest first (lowest job id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from databricks.sdk import WorkspaceClient

OWNER_TAG = "job_agent_key"


def owner_key(requirement_ref: str, job_key: str) -> str:
    """The ownership tag value for a job: `REQ-0001:sales_nightly`."""
    return f"{requirement_ref}:{job_key}"


def find_owned_job_ids(workspace: "WorkspaceClient", key: str) -> list[int]:
    """Ids of every job whose `settings.tags[job_agent_key] == key`, lowest (oldest) first.

    Reads all pages of `jobs/list` (100 per page). Raises the SDK's errors (e.g.
    `TooManyRequests` once its own retries are exhausted).
    """
    found = [
        job.job_id
        for job in workspace.jobs.list(limit=100)
        if job.settings is not None and (job.settings.tags or {}).get(OWNER_TAG) == key and job.job_id is not None
    ]
    return sorted(found)


def read_settings(workspace: "WorkspaceClient", job_id: int) -> dict[str, Any] | None:
    """The settings of job `job_id` as a dict (`jobs/get`, `Job.settings`), None if it is gone."""
    from databricks.sdk import errors

    try:
        job = workspace.jobs.get(job_id)
    except (errors.NotFound, errors.InvalidParameterValue) as exc:
        if isinstance(exc, errors.InvalidParameterValue) and "does not exist" not in str(exc):
            raise
        return None
    return job.settings.as_dict() if job.settings is not None else {}
