"""What a requirements file deploys *as*: its bundle, target and deployment keys.

A requirement is identified by `<bundle>/<target>` (front matter `bundle`, or a block's
`bundle: name:`, else the file's stem; front matter `target`, else `dev`), the way a bundle
deployment is, so the same file in another clone, at another path or against another state
database is the same requirement and deploys to the same jobs. Each job is the deployment
`<bundle>/<target>/<job_key>`, carried by the job as its `job_agent_key` tag.
"""

from __future__ import annotations

from typing import Any

DEFAULT_TARGET = "dev"


def requirement_identity(doc: Any) -> tuple[str, str, str]:
    """`(bundle, target, identity)` of a `lead.requirements.RequirementsDoc`."""
    bundle = doc.bundle if isinstance(doc.bundle, str) and doc.bundle.strip() else doc.path.stem
    target = doc.target if isinstance(doc.target, str) and doc.target.strip() else DEFAULT_TARGET
    return bundle, target, f"{bundle}/{target}"


def task_specs_with_identity(doc: Any, bundle: str, target: str) -> list[Any]:
    """The document's task specs as `state.submissions.NewTask`s: every `deploy_job` carries
    its deployment key (in the payload, for the task type, and as the task's
    `deployment_key`, so two tasks of one deployment never run at once)."""
    from state.submissions import NewTask

    out = []
    for spec in doc.task_specs:
        payload = dict(spec.payload)
        key = None
        if spec.type == "deploy_job":
            key = f"{bundle}/{target}/{payload['job_key']}"
            payload["deployment_key"] = key
        out.append(NewTask(
            key=spec.key, type=spec.type, title=spec.title, payload=payload, depends_on=tuple(spec.depends_on),
            source_line=spec.source_line, source_field=spec.source_field, deployment_key=key,
        ))
    return out
