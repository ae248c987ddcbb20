"""`lead export REQ-ID --bundle DIR [--force] [--json]`: a submitted requirement as a Databricks Asset Bundle.

Writes ``DIR/databricks.yml`` and ``DIR/resources/<job_key>.job.yml`` from what the state
database recorded for the requirement's current revision (see `lead.export`); it touches no
workspace. Exit 0 written, 1 a user mistake (unknown id, a requirement without jobs, a non-empty
``DIR`` without ``--force``), nothing written then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lead.cli_runner import DbOption, JsonOption, UserError, open_engine


def export(
    requirement: Annotated[str, typer.Argument(help="The requirement to export (REQ-0001).", show_default=False)],
    bundle_dir: Annotated[
        Path, typer.Option("--bundle", help="Directory to write databricks.yml and resources/*.job.yml into.",
                           show_default=False)
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace databricks.yml and resources/ in a non-empty DIR.")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Write a submitted requirement's jobs as a Databricks Asset Bundle (databricks.yml + resources/).

    The jobs are written as recorded at submit (defaults and tags merged, relative paths and
    artifacts resolved), with ${var.*}, ${bundle.*}, ${workspace.*} and ${resources.jobs.X.id}
    kept as the file wrote them; the variables go in databricks.yml with their values as
    defaults. The pipeline's own job_agent_key tag is left out.
    """
    from sqlalchemy import select
    from sqlmodel import Session

    from lead.export import ExportError, build_bundle, write_bundle
    from state.models import Requirement, Task, parse_id

    try:
        number = parse_id("requirement", requirement)
    except ValueError as error:
        raise UserError(str(error)) from None
    engine = open_engine(db)
    with Session(engine) as session:
        req = session.get(Requirement, number)
        if req is None:
            raise UserError(f"no requirement {requirement}")
        tasks = session.execute(
            select(Task).where(Task.requirement_id == number, Task.revision == req.revision, Task.type == "deploy_job")
            .order_by(Task.id)
        ).scalars().all()
        payloads: dict[str, dict] = {}
        for task in tasks:  # a retried deploy is a later row of the same job: the last one wins
            payloads[task.payload.get("job_key")] = dict(task.payload)
        ref, bundle, target, front_matter = req.ref, req.bundle, req.target, dict(req.front_matter or {})
        identity = req.identity
    engine.dispose()
    if not bundle:
        bundle = identity.split("/")[0]
    try:
        result = build_bundle(bundle=bundle, target=target or "dev", front_matter=front_matter,
                              payloads=list(payloads.values()))
        files = result.files()
        write_bundle(files, bundle_dir, force=force)
    except ExportError as error:
        raise UserError(f"cannot export {ref}: {error}") from None
    from state.redaction import redact_text

    masked = [f"{job.key}.{field}" for job in result.jobs for field in job.masked]
    for field in masked:
        typer.echo(redact_text(f"lead: warning: {field} looks like a secret and is written masked (***)"), err=True)
    data = {
        "requirement": ref,
        "bundle": result.name,
        "target": result.target,
        "directory": str(bundle_dir),
        "files": sorted(files),
        "jobs": [job.key for job in result.jobs],
        "masked": masked,
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(f"{ref} exported as bundle {result.name} (target {result.target}) to {bundle_dir}: "
                   f"{len(result.jobs)} job(s)\n" + "\n".join(f"  {name}" for name in sorted(files)))
