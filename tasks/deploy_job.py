"""The `deploy_job` task type: create or update one Databricks job from its settings.

Payload (see `lead/__init__.py`): `{"job_key", "settings" (a Jobs API `JobSettings` dict with
`${resources.jobs.OTHER.id}` and `${workspace.current_user.*}` left literal), "field_lines",
"source": {"path", "line"}, "owner", "profile", "workspace_root"}`.

- validate: `tasks.job_validation` over the settings with references resolved
  (`tasks.job_refs`); every finding becomes a `Problem` with its requirements line and
  citations; all are raised together as `ValidationFailed`. Nothing is changed.
- plan: the job the pipeline owns is found by its ownership tag (`tasks.job_ownership`:
  `job_agent_key = <requirement ref>:<job key>`). Absent -> CREATE; different -> UPDATE with a
  field-level diff (`tasks.job_diff`); equal -> NO_OP. The fingerprint covers the owned job's
  id and settings as read (or their absence). `params` carry the full desired settings (tag
  included, references resolved) and, for UPDATE/NO_OP, the `job_id`.
- apply: reads the remote state again. CREATE looks the tag up again right before creating and
  adopts a job that has the desired settings (a create whose response was lost); after
  creating it deletes any extra job with the same tag and identical settings (the SDK retries a
  create whose connection dropped, which can create a second job). UPDATE sends `jobs/reset`
  (the whole settings). A remote change since plan raises `StalePlan`.

Result: `{"job_id", "job_url": "<host>/jobs/<id>", "action": "CREATE"|"UPDATE"|"NO_OP",
"job_key", "owner_tag"}`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from databricks.sdk.service import jobs

from tasks.base import Action, ActionKind, Change, Plan, Problem, StalePlan, TaskContext, ValidationFailed, fingerprint
from tasks.job_diff import diff_settings, normalise
from tasks.job_fields import cite_query, field_line
from tasks.job_ownership import OWNER_TAG, find_owned_job_ids, owner_key, read_settings
from tasks.job_refs import resolve_settings
from tasks.job_validation import check_settings, check_workspace


def _job_url(ctx: TaskContext, job_id: int) -> str:
    return f"{(ctx.workspace.config.host or '').rstrip('/')}/jobs/{job_id}"


def _remote_state(job_id: int | None, settings: dict[str, Any] | None) -> dict[str, Any]:
    """The value a deploy plan fingerprints: the owned job's id and settings, or absence."""
    if job_id is None or settings is None:
        return {"job": None}
    return {"job_id": job_id, "settings": settings}


class DeployJob:
    """Create or update one job (`jobs/create`, `jobs/reset`); see the module docstring."""

    name = "deploy_job"

    # -- shared -------------------------------------------------------------------------
    def _problem(self, ctx: TaskContext, path: str, message: str) -> Problem:
        payload = ctx.payload
        return Problem(
            field=path or "settings",
            message=message,
            line=field_line(payload, path),
            source_path=(payload.get("source") or {}).get("path"),
            citations=list(ctx.cite(cite_query(path)))[:3],
        )

    def desired_settings(self, ctx: TaskContext) -> dict[str, Any]:
        """The settings to deploy: references resolved, normalised through `jobs.JobSettings`,
        the ownership tag added.

        Raises:
            ValidationFailed: a `${resources.jobs.X.id}` has no completed dependency result.
        """
        resolved, missing = resolve_settings(ctx, ctx.payload.get("settings") or {})
        if missing:
            raise ValidationFailed([
                self._problem(ctx, m.field, f"${{resources.jobs.{m.key}.id}} cannot be resolved: the result of "
                                            f"deploy_job:{m.key} carries no job_id")
                for m in missing
            ])
        settings = normalise(resolved)
        settings["tags"] = {**(settings.get("tags") or {}), OWNER_TAG: self.owner_key(ctx)}
        return settings

    def owner_key(self, ctx: TaskContext) -> str:
        """The ownership tag value of this task's job (`REQ-0001:sales_nightly`)."""
        return owner_key(ctx.requirement_ref, ctx.payload["job_key"])

    # -- validate -----------------------------------------------------------------------
    def validate(self, ctx: TaskContext) -> None:
        """Check the settings and the workspace; raise `ValidationFailed` with every problem."""
        resolved, missing = resolve_settings(ctx, ctx.payload.get("settings") or {}, blank_unresolved=True)
        findings = [(m.field, f"${{resources.jobs.{m.key}.id}} cannot be resolved: the result of "
                              f"deploy_job:{m.key} carries no job_id") for m in missing]
        findings += check_settings(resolved)
        if not any(path == "" for path, _ in findings):
            findings += check_workspace(ctx.workspace, resolved)
        user_tags = resolved.get("tags") or {}
        if OWNER_TAG in user_tags:
            findings.append((f"tags.{OWNER_TAG}", f"the tag {OWNER_TAG!r} is reserved for the pipeline's ownership key"))
        elif len(user_tags) >= 25:
            findings.append(("tags", "a job can have at most 25 tags and the pipeline adds its own "
                                     f"({OWNER_TAG}); remove at least one"))
        if findings:
            raise ValidationFailed([self._problem(ctx, path, message) for path, message in findings])

    # -- plan ---------------------------------------------------------------------------
    def _read_owned(self, ctx: TaskContext) -> tuple[int | None, dict[str, Any] | None]:
        """The owned job (oldest if several) and its settings, or (None, None)."""
        for job_id in find_owned_job_ids(ctx.workspace, self.owner_key(ctx)):
            settings = read_settings(ctx.workspace, job_id)
            if settings is not None:
                return job_id, settings
        return None, None

    def plan(self, ctx: TaskContext) -> Plan:
        """Compare the owned job with the desired settings: CREATE, UPDATE (field diff) or NO_OP."""
        desired = self.desired_settings(ctx)
        job_id, remote = self._read_owned(ctx)
        token = hashlib.sha256(
            f"{ctx.requirement_ref}:{ctx.requirement_revision}:{ctx.spec_key}".encode()
        ).hexdigest()[:32]
        fp = fingerprint(_remote_state(job_id, remote))
        job_key = ctx.payload["job_key"]
        name = desired.get("name") or job_key
        if job_id is None:
            action = Action(
                kind=ActionKind.CREATE,
                target="job <new>",
                summary=f"create job {name!r} ({job_key}) tagged {OWNER_TAG}={self.owner_key(ctx)}",
                citations=list(ctx.cite("jobs create JobSettings"))[:3],
                params={"settings": desired, "owner_key": self.owner_key(ctx)},
            )
            return Plan([action], fp, token)
        changes = [
            Change(field=c.path, before=c.before, after=c.after, citations=list(ctx.cite(cite_query(c.path)))[:3])
            for c in diff_settings(remote, desired)
        ]
        if not changes:
            action = Action(kind=ActionKind.NO_OP, target=f"job {job_id}",
                            summary=f"job {name!r} ({job_key}) is up to date",
                            params={"job_id": job_id, "settings": desired, "owner_key": self.owner_key(ctx)})
        else:
            action = Action(
                kind=ActionKind.UPDATE,
                target=f"job {job_id}",
                summary=f"update job {name!r} ({job_key}): {len(changes)} field(s) change",
                changes=changes,
                citations=list(ctx.cite("jobs reset new_settings"))[:3],
                params={"job_id": job_id, "settings": desired, "owner_key": self.owner_key(ctx)},
            )
        return Plan([action], fp, token)

    # -- apply --------------------------------------------------------------------------
    def _result(self, ctx: TaskContext, job_id: int, kind: ActionKind) -> dict[str, Any]:
        return {"job_id": job_id, "job_url": _job_url(ctx, job_id), "action": str(kind),
                "job_key": ctx.payload.get("job_key"), "owner_tag": f"{OWNER_TAG}={self.owner_key(ctx)}"}

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Execute `plan`'s single action; raise `StalePlan` if the owned job changed since plan."""
        if len(plan.actions) != 1:
            raise StalePlan(f"a deploy_job plan has exactly one action, this one has {len(plan.actions)}")
        action = plan.actions[0]
        desired = action.params["settings"]
        key = action.params.get("owner_key") or self.owner_key(ctx)
        if action.kind is ActionKind.CREATE:
            return self._apply_create(ctx, plan, desired, key)
        job_id = int(action.params["job_id"])
        current = read_settings(ctx.workspace, job_id)
        if fingerprint(_remote_state(job_id if current is not None else None, current)) != plan.fingerprint:
            raise StalePlan(f"job {job_id} changed (or was deleted) since it was planned")
        if action.kind is ActionKind.NO_OP:
            ctx.log(f"job {job_id} is up to date")
            return self._result(ctx, job_id, ActionKind.NO_OP)
        if action.kind is not ActionKind.UPDATE:
            raise StalePlan(f"deploy_job cannot apply a {action.kind} action")
        ctx.workspace.jobs.reset(job_id, jobs.JobSettings.from_dict(desired))
        ctx.log(f"job {job_id} reset ({len(action.changes)} field(s) changed)")
        return self._result(ctx, job_id, ActionKind.UPDATE)

    def _identical_owned(self, ctx: TaskContext, key: str, desired: dict[str, Any]) -> tuple[list[int], list[int]]:
        """(owned job ids whose settings equal `desired`, the other owned job ids)."""
        same, other = [], []
        for job_id in find_owned_job_ids(ctx.workspace, key):
            settings = read_settings(ctx.workspace, job_id)
            if settings is None:
                continue
            (other if diff_settings(settings, desired) else same).append(job_id)
        return same, other

    def _apply_create(self, ctx: TaskContext, plan: Plan, desired: dict[str, Any], key: str) -> dict[str, Any]:
        same, other = self._identical_owned(ctx, key, desired)
        if other:
            raise StalePlan(f"a job tagged {OWNER_TAG}={key} appeared since plan with other settings (job {other[0]})")
        if same:
            ctx.log(f"job {same[0]} tagged {OWNER_TAG}={key} already exists with these settings: adopted")
            return self._finish_create(ctx, key, desired, same)
        settings = jobs.JobSettings.from_dict(desired)
        kwargs = {name: getattr(settings, name) for name in desired}
        created = ctx.workspace.jobs.create(**kwargs).job_id
        ctx.log(f"job {created} created")
        same, _ = self._identical_owned(ctx, key, desired)
        return self._finish_create(ctx, key, desired, same or [created])

    def _finish_create(self, ctx: TaskContext, key: str, desired: dict[str, Any], same: list[int]) -> dict[str, Any]:
        """Keep the oldest identical job; delete identical duplicates left by a retried create."""
        from databricks.sdk import errors

        keep, extra = same[0], same[1:]
        for job_id in extra:
            try:
                ctx.workspace.jobs.delete(job_id)
                ctx.log(f"deleted duplicate job {job_id} (same {OWNER_TAG}={key} and settings as job {keep})")
            except errors.NotFound:
                pass
            except errors.InvalidParameterValue as exc:
                if "does not exist" not in str(exc):
                    raise
        return self._result(ctx, keep, ActionKind.CREATE)
