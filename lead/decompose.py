"""Job definitions -> task specs: the deterministic rules of the lead.

Each job of the file becomes one ``deploy_job`` spec; a ``${resources.jobs.OTHER.id}``
anywhere in its settings makes it depend on ``deploy_job:OTHER`` (the id is resolved by the
worker at apply time, from the completed dependency). Each key of the front matter's
``run_after_deploy`` becomes a ``run_job`` spec depending on its ``deploy_job``. Cycles between
jobs are errors naming the cycle. The specs come out in topological order, dependencies
first, ties broken by the order the jobs are written in the file; ``run_job`` specs follow
the deploys in ``run_after_deploy`` order.

Spec keys are ``deploy_job:KEY`` and ``run_job:KEY``: stable within a file, so a revision of
the same file yields the same keys.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lead.errors import RequirementsError
from lead.substitution import suggest

DEPLOY_JOB = "deploy_job"
RUN_JOB = "run_job"


@dataclass(frozen=True)
class TaskSpec:
    """One task for the state database to record.

    key: ``deploy_job:KEY`` or ``run_job:KEY``, unique and stable within the file.
    type: ``deploy_job`` or ``run_job``.
    title: one line for people.
    payload: JSON-serialisable input of the task type, see `deploy_payload` / `run_payload`
        in the `lead` package docstring.
    depends_on: keys of the specs this one waits for.
    source_line / source_field: where in the requirements file the task comes from.
    """

    key: str
    type: str
    title: str
    payload: dict[str, Any]
    depends_on: tuple[str, ...]
    source_line: int
    source_field: str


@dataclass(frozen=True)
class JobReference:
    """A ``${resources.jobs.KEY.id}`` found in a job: the referenced key and where it is."""

    key: str
    line: int
    field: str


@dataclass(frozen=True)
class PreparedJob:
    """A job ready to deploy: settings after substitution, path resolution and defaults;
    `field_lines` maps dotted paths within `settings` to file lines; `line`/`field` locate
    the job key; `references` are the other jobs it refers to; `artifacts` the local files
    its library paths now name (`lead.artifacts.Artifact`); `written` what `lead export`
    needs to write the job back with its ``${...}`` as written (`lead.export.written_references`,
    None when nothing was substituted)."""

    key: str
    settings: dict[str, Any]
    field_lines: dict[str, int]
    line: int
    field: str
    references: tuple[JobReference, ...]
    artifacts: tuple[Any, ...] = ()
    written: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRequest:
    """One ``run_after_deploy`` entry and where it was written."""

    key: str
    line: int
    field: str


def decompose(
    jobs: list[PreparedJob],
    run_after_deploy: list[RunRequest],
    *,
    path: Path,
    owner: str | None,
    profile: str | None,
    workspace_root: str | None,
) -> list[TaskSpec]:
    """Turn prepared jobs and run requests into task specs in topological order.

    Raises `RequirementsError` for a ``run_after_deploy`` key that is not a job of the file,
    a reference to a missing job (normally caught earlier, during substitution) and a
    dependency cycle (``dependency cycle between jobs: a -> b -> a``, at the reference that
    closes it).
    """
    by_key = {job.key: job for job in jobs}
    for job in jobs:
        for ref in job.references:
            if ref.key not in by_key:
                raise RequirementsError(
                    path, ref.line, ref.field,
                    f"reference to job '{ref.key}', which is not defined in this file" + suggest(ref.key, by_key),
                )
    _check_cycles(jobs, by_key, path)
    order = _topological(jobs)
    source = str(path)
    specs: list[TaskSpec] = []
    for job in order:
        deps = tuple(dict.fromkeys(f"{DEPLOY_JOB}:{r.key}" for r in job.references))
        name = job.settings.get("name")
        title = f"Deploy job {job.key}" + (f" ({name})" if isinstance(name, str) and name != job.key else "")
        specs.append(
            TaskSpec(
                key=f"{DEPLOY_JOB}:{job.key}",
                type=DEPLOY_JOB,
                title=title,
                payload={
                    "job_key": job.key,
                    "settings": job.settings,
                    "field_lines": job.field_lines,
                    "source": {"path": source, "line": job.line},
                    "owner": owner,
                    "profile": profile,
                    "workspace_root": workspace_root,
                }
                | ({"artifacts": [a.as_payload() for a in job.artifacts]} if job.artifacts else {})
                | ({"written": job.written} if job.written else {}),
                depends_on=deps,
                source_line=job.line,
                source_field=job.field,
            )
        )
    for run in run_after_deploy:
        if run.key not in by_key:
            raise RequirementsError(
                path, run.line, run.field,
                f"run_after_deploy names job '{run.key}', which is not defined in this file"
                + suggest(run.key, by_key),
            )
        deploy = f"{DEPLOY_JOB}:{run.key}"
        specs.append(
            TaskSpec(
                key=f"{RUN_JOB}:{run.key}",
                type=RUN_JOB,
                title=f"Run job {run.key} once deployed",
                payload={"job_key": run.key, "deploy_task": deploy, "source": {"path": source, "line": run.line}},
                depends_on=(deploy,),
                source_line=run.line,
                source_field=run.field,
            )
        )
    return specs


def _check_cycles(jobs: list[PreparedJob], by_key: dict[str, PreparedJob], path: Path) -> None:
    """Depth-first search with an explicit stack (a chain of jobs can be as long as the file
    allows): raises at the reference that closes the first cycle found."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    for root in jobs:
        if root.key in state:
            continue
        state[root.key] = 1
        trail: list[str] = [root.key]
        frames: list[tuple[str, int]] = [(root.key, 0)]  # (job key, next reference to follow)
        while frames:
            key, i = frames[-1]
            refs = by_key[key].references
            if i == len(refs):
                frames.pop()
                trail.pop()
                state[key] = 2
                continue
            frames[-1] = (key, i + 1)
            ref = refs[i]
            if state.get(ref.key) == 1:
                cycle = trail[trail.index(ref.key) :] + [ref.key]
                raise RequirementsError(
                    path, ref.line, ref.field, f"dependency cycle between jobs: {' -> '.join(cycle)}"
                )
            if ref.key not in state:
                state[ref.key] = 1
                trail.append(ref.key)
                frames.append((ref.key, 0))


def _topological(jobs: list[PreparedJob]) -> list[PreparedJob]:
    """Kahn's algorithm with a heap; among ready jobs, the one written first goes first.
    Cycles were rejected before."""
    position = {job.key: i for i, job in enumerate(jobs)}
    waiting = {job.key: len({r.key for r in job.references}) for job in jobs}
    dependents: dict[str, list[str]] = {job.key: [] for job in jobs}
    for job in jobs:
        for dep in {r.key for r in job.references}:
            dependents[dep].append(job.key)
    ready = [position[job.key] for job in jobs if waiting[job.key] == 0]
    heapq.heapify(ready)
    done: list[PreparedJob] = []
    while ready:
        job = jobs[heapq.heappop(ready)]
        done.append(job)
        for other in dependents[job.key]:
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, position[other])
    return done
