"""Which Databricks job a deployment is: the deployment key, its tag, and finding the job.

A deployment is named by `<bundle>/<target>/<job_key>` (DESIGN.md, "Deployment identity"):
the same on every machine, database and checkout path, as a bundle deployment is. Every job
the pipeline deploys carries it as the tag `job_agent_key` (tag keys and values allow
letters, digits, spaces and `+ - = . _ : / @`; Jobs API `JobSettings.tags`, "up to 25 tags").
Jobs deployed by earlier releases carry the old form `<requirement ref>:<job key>`
(`REQ-0001:etl`); a plan adopts such a job once (its tag is rewritten by the update).

Finding the job never lists the whole workspace:

1. the state database's deployment record names the job id: `jobs/get` (one call), and the
   job must still carry the key;
2. otherwise (nothing recorded, or the recorded job is gone): `jobs/list?name=<job name>`
   (an exact, case-insensitive filter) and keep the jobs that carry the key; a job with
   the same name and no key (someone else's) is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from databricks.sdk import WorkspaceClient

OWNER_TAG = "job_agent_key"


def owner_key(requirement_ref: str, job_key: str) -> str:
    """The old (per-database) ownership tag value: `REQ-0001:sales_nightly`. Only for adopting
    jobs deployed by earlier releases."""
    return f"{requirement_ref}:{job_key}"


def deployment_key(bundle: str, target: str, job_key: str) -> str:
    """The deployment key and tag value: `nightly_sales/dev/sales_nightly`."""
    return f"{bundle}/{target}/{job_key}"


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


def tagged_jobs_named(workspace: "WorkspaceClient", name: str, tag_values: tuple[str, ...]) -> list[tuple[int, str]]:
    """`(job_id, tag value)` of the jobs named `name` (`jobs/list?name=`, exact and
    case-insensitive) whose `job_agent_key` tag is one of `tag_values`, lowest id first."""
    found = []
    for job in workspace.jobs.list(name=name, limit=100):
        tag = ((job.settings.tags or {}) if job.settings is not None else {}).get(OWNER_TAG)
        if tag in tag_values and job.job_id is not None:
            found.append((job.job_id, tag))
    return sorted(found)


@dataclass
class OwnedJobs:
    """What a lookup found for a deployment key.

    `job_id`/`settings`: the job deployed to (None when there is none); `extras`: other jobs
    carrying the key (drift: overlapping applies), id -> settings; `legacy`: the job was
    found by its old-form tag and is adopted; `recorded`: it came from the deployment record.
    """

    job_id: int | None = None
    settings: dict[str, Any] | None = None
    extras: dict[int, dict[str, Any]] = field(default_factory=dict)
    legacy: bool = False
    recorded: bool = False


def find_owned(
    workspace: "WorkspaceClient",
    key: str,
    *,
    name: str,
    record: dict[str, Any] | None,
    legacy_key: str | None = None,
) -> OwnedJobs:
    """Find the job(s) of deployment `key` (see the module docstring).

    Args:
        name: the job's name in the desired settings (for the name lookup).
        record: the state database's deployment record (`{"job_id", "extra_job_ids"}`) or None.
        legacy_key: the old-form tag value to adopt when nothing carries `key`.
    """
    found = OwnedJobs()
    if record and record.get("job_id") is not None:
        settings = read_settings(workspace, int(record["job_id"]))
        if settings is not None and (settings.get("tags") or {}).get(OWNER_TAG) == key:
            found.job_id, found.settings, found.recorded = int(record["job_id"]), settings, True
        for extra in record.get("extra_job_ids") or []:
            if extra == found.job_id:
                continue
            extra_settings = read_settings(workspace, int(extra))
            if extra_settings is not None and (extra_settings.get("tags") or {}).get(OWNER_TAG) == key:
                found.extras[int(extra)] = extra_settings
    if found.job_id is not None:
        return found
    tags = (key,) + ((legacy_key,) if legacy_key else ())
    matches = tagged_jobs_named(workspace, name, tags)
    current = [job_id for job_id, tag in matches if tag == key]
    legacy = [job_id for job_id, tag in matches if tag != key]
    candidates, found.legacy = (current, False) if current else (legacy[:1], bool(legacy))
    for job_id in candidates:
        settings = read_settings(workspace, job_id)
        if settings is None:
            continue
        if found.job_id is None:
            found.job_id, found.settings = job_id, settings
        else:
            found.extras[job_id] = settings
    return found
