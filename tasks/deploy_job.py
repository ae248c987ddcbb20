"""The `deploy_job` task type: create or update one Databricks job from its settings.

Payload (see `lead/__init__.py`): `{"job_key", "deployment_key" ("<bundle>/<target>/<job_key>"),
"settings" (a Jobs API `JobSettings` dict with `${resources.jobs.OTHER.id}` and
`${workspace.current_user.*}` left literal), "field_lines", "source": {"path", "line"},
"owner", "profile", "workspace_root", "artifacts" (optional: local files the settings' library
paths name, `lead.artifacts.Artifact.as_payload`)}`.

- validate: `tasks.job_validation` over the settings with references resolved
  (`tasks.job_refs`); every finding becomes a `Problem` with its requirements line and
  citations; all are raised together as `ValidationFailed`. Nothing is changed.
- plan: the deployment's job is found by its key (`tasks.job_ownership.find_owned`): the
  state database's record names its id (`jobs/get`, one call), else a `jobs/list?name=`
  lookup keeps the jobs tagged with the key; the workspace is never listed whole. Absent ->
  CREATE; different -> UPDATE with a field-level diff (`tasks.job_diff`); equal -> NO_OP.
  Other jobs carrying the same key (drift left by overlapping applies) become `DELETE`
  actions. A job tagged with an earlier release's per-database key (`REQ-0001:etl`) is
  adopted once, with a note, and its tag rewritten. The fingerprint covers the job's id and
  settings as read (or their absence). `params` carry the full desired settings (tag
  included, references resolved) and, for UPDATE/NO_OP, the `job_id`.
- artifacts: each local file of the payload's ``artifacts`` (built and hashed at submit) is
  checked at validate (present on this machine, same sha256). Plan asks the workspace for its
  upload path (``<workspace_root>/artifacts/<sha256[:16]>/<file>``, `workspace/get-status`);
  a missing one becomes a CREATE action ``file <path>`` placed before the job's action, and
  apply uploads it (`workspace/mkdirs`, then `workspace/import` with format AUTO, overwrite)
  before creating or resetting the job. The path carries the hash, so an unchanged file is
  neither uploaded again nor a change to the job (NO_OP); a rebuilt one is a new path (UPDATE).
- apply: reads the job again (a change since plan raises `StalePlan`), then: CREATE looks
  the key up by name right before creating, adopts a job that has the desired settings (a
  create whose response was lost), records the new job id in the state database as soon as
  `jobs/create` answers, and deletes identical duplicates (the SDK retries a create whose
  connection dropped). UPDATE sends `jobs/reset` (the whole settings). DELETE actions delete
  the extra jobs. The deployment record then holds the job id and the settings' hash.

Jobs API calls per deploy: NO_OP 2 (`get` at plan and apply), UPDATE 3 (`get`, `get`,
`reset`), whatever the workspace's size; CREATE 4 (`list?name=` at plan, before and after
`create`).

Result: `{"job_id", "job_url": "<host>/jobs/<id>", "action": "CREATE"|"UPDATE"|"NO_OP",
"job_key", "owner_tag", "deleted_job_ids"}`.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from databricks.sdk.service import jobs

from tasks.base import Action, ActionKind, Change, Plan, Problem, StalePlan, TaskContext, ValidationFailed, fingerprint
from tasks.job_diff import diff_settings, normalise
from tasks.job_fields import cite_query, field_line
from tasks.job_ownership import OWNER_TAG, OwnedJobs, find_owned, owner_key, read_settings, tagged_jobs_named
from tasks.job_refs import resolve_settings
from tasks.job_validation import check_settings, check_workspace


def _job_url(ctx: TaskContext, job_id: int) -> str:
    return f"{(ctx.workspace.config.host or '').rstrip('/')}/jobs/{job_id}"


def _file_sha256(path: str) -> tuple[str, bytes]:
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.sha256(data).hexdigest(), data


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
        """The deployment key, also the job's tag value (`nightly_sales/dev/sales_nightly`); for
        a task recorded by an earlier release without one, the old form `REQ-0001:sales_nightly`."""
        return ctx.payload.get("deployment_key") or owner_key(ctx.requirement_ref, ctx.payload["job_key"])

    def _legacy_key(self, ctx: TaskContext) -> str | None:
        return owner_key(ctx.requirement_ref, ctx.payload["job_key"]) if ctx.payload.get("deployment_key") else None

    @staticmethod
    def _host(ctx: TaskContext) -> str:
        return (ctx.workspace.config.host or "").rstrip("/")

    def _record(self, ctx: TaskContext, key: str, job_id: int | None, **fields: Any) -> None:
        if ctx.deployments is not None:
            ctx.deployments.record(self._host(ctx), key, job_id=job_id, **fields)

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
        findings += self._artifact_findings(ctx)
        if findings:
            raise ValidationFailed([self._problem(ctx, path, message) for path, message in findings])

    @staticmethod
    def _artifact_findings(ctx: TaskContext) -> list[tuple[str, str]]:
        """(field, message) for every payload artifact missing here or changed since submit."""
        out = []
        for art in ctx.payload.get("artifacts") or []:
            local = art.get("local_path") or ""
            if not os.path.isfile(local):
                out.append((art.get("field") or "", f"the artifact {local} (from {art.get('pattern')!r}, resolved at "
                                                    "submit) is not on this machine; run the worker where the file is"))
                continue
            if os.path.getsize(local) != art.get("size") or _file_sha256(local)[0] != art.get("sha256"):
                out.append((art.get("field") or "", f"the artifact {local} changed since it was submitted; submit the "
                                                    "requirements file again"))
        return out

    @staticmethod
    def _missing_artifacts(ctx: TaskContext) -> list[dict[str, Any]]:
        """The payload artifacts whose upload path the workspace does not have (one `get-status` each)."""
        from databricks.sdk import errors

        missing = []
        for art in ctx.payload.get("artifacts") or []:
            try:
                ctx.workspace.workspace.get_status(art["workspace_path"])
            except errors.NotFound:
                missing.append(art)
        return missing

    def _upload(self, ctx: TaskContext, art: dict[str, Any]) -> None:
        """Upload one artifact to its workspace path; its bytes must still hash to the recorded sha256."""
        from databricks.sdk.service import workspace

        sha, data = _file_sha256(art["local_path"])
        if sha != art["sha256"]:
            raise ValidationFailed([self._problem(ctx, art.get("field") or "", f"the artifact {art['local_path']} "
                                                  "changed since it was submitted; submit the requirements file again")])
        path = art["workspace_path"]
        ctx.workspace.workspace.mkdirs(path.rsplit("/", 1)[0])
        ctx.workspace.workspace.upload(path, data, format=workspace.ImportFormat.AUTO, overwrite=True)
        ctx.log(f"uploaded {art['file_name']} ({art['size']} bytes, sha256 {sha[:16]}) to {path}")

    # -- plan ---------------------------------------------------------------------------
    def _find(self, ctx: TaskContext, desired: dict[str, Any]) -> OwnedJobs:
        key = self.owner_key(ctx)
        record = ctx.deployments.get(self._host(ctx), key) if ctx.deployments is not None else None
        return find_owned(ctx.workspace, key, name=desired.get("name") or ctx.payload["job_key"], record=record,
                          legacy_key=self._legacy_key(ctx))

    def plan(self, ctx: TaskContext) -> Plan:
        """Compare the deployment's job with the desired settings: CREATE, UPDATE (field diff)
        or NO_OP, plus a DELETE for each extra job carrying the same key."""
        desired = self.desired_settings(ctx)
        key = self.owner_key(ctx)
        owned = self._find(ctx, desired)
        job_id, remote = owned.job_id, owned.settings
        token = hashlib.sha256(
            f"{ctx.requirement_ref}:{ctx.requirement_revision}:{ctx.spec_key}".encode()
        ).hexdigest()[:32]
        fp = fingerprint(_remote_state(job_id, remote))
        job_key = ctx.payload["job_key"]
        name = desired.get("name") or job_key
        params = {"settings": desired, "owner_key": key}
        uploads = [
            Action(
                kind=ActionKind.CREATE,
                target=f"file {art['workspace_path']}",
                summary=f"upload {art['file_name']} ({art['size']} bytes, sha256 {art['sha256'][:16]}) from "
                        f"{art['local_path']}",
                params={"artifact": art},
            )
            for art in self._missing_artifacts(ctx)
        ]
        if job_id is None:
            actions = [Action(
                kind=ActionKind.CREATE,
                target="job <new>",
                summary=f"create job {name!r} ({job_key}) tagged {OWNER_TAG}={key}",
                citations=list(ctx.cite("jobs create JobSettings"))[:3],
                params=params,
            )]
        else:
            params["job_id"] = job_id
            adopted = ""
            if owned.legacy:
                adopted = (f"; adopts job {job_id} deployed by an earlier release "
                           f"(tag {OWNER_TAG}={(remote.get('tags') or {}).get(OWNER_TAG)})")
                ctx.log(f"job {job_id} carries the old ownership tag: adopted as {key}")
            changes = [
                Change(field=c.path, before=c.before, after=c.after, citations=list(ctx.cite(cite_query(c.path)))[:3])
                for c in diff_settings(remote, desired)
            ]
            if not changes:
                actions = [Action(kind=ActionKind.NO_OP, target=f"job {job_id}",
                                  summary=f"job {name!r} ({job_key}) is up to date", params=params)]
            else:
                actions = [Action(
                    kind=ActionKind.UPDATE,
                    target=f"job {job_id}",
                    summary=f"update job {name!r} ({job_key}): {len(changes)} field(s) change{adopted}",
                    changes=changes,
                    citations=list(ctx.cite("jobs reset new_settings"))[:3],
                    params=params,
                )]
        for extra in sorted(owned.extras):
            actions.append(Action(
                kind=ActionKind.DELETE,
                target=f"job {extra}",
                summary=f"delete job {extra}: it also carries {OWNER_TAG}={key} (a duplicate left by overlapping "
                        f"deploys; job {job_id} is kept)",
                citations=list(ctx.cite("jobs delete job_id"))[:3],
                params={"job_id": extra, "owner_key": key},
            ))
        return Plan(uploads + actions, fp, token)

    # -- apply --------------------------------------------------------------------------
    def _result(self, ctx: TaskContext, job_id: int, kind: ActionKind, deleted: list[int] | None = None) -> dict[str, Any]:
        return {"job_id": job_id, "job_url": _job_url(ctx, job_id), "action": str(kind),
                "job_key": ctx.payload.get("job_key"), "owner_tag": f"{OWNER_TAG}={self.owner_key(ctx)}",
                "deleted_job_ids": deleted or []}

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Execute `plan`'s actions; raise `StalePlan` if the deployment's job changed since plan."""
        uploads = [a for a in plan.actions if "artifact" in a.params]
        main = [a for a in plan.actions if a.kind is not ActionKind.DELETE and "artifact" not in a.params]
        deletes = [a for a in plan.actions if a.kind is ActionKind.DELETE]
        if len(main) != 1:
            raise StalePlan(f"a deploy_job plan has exactly one CREATE, UPDATE or NO_OP action, this one has {len(main)}")
        action = main[0]
        desired = action.params["settings"]
        key = action.params.get("owner_key") or self.owner_key(ctx)
        for upload in uploads:  # before the job names them
            self._upload(ctx, upload.params["artifact"])
        if action.kind is ActionKind.CREATE:
            result = self._apply_create(ctx, plan, desired, key)
        else:
            job_id = int(action.params["job_id"])
            current = read_settings(ctx.workspace, job_id)
            if fingerprint(_remote_state(job_id if current is not None else None, current)) != plan.fingerprint:
                raise StalePlan(f"job {job_id} changed (or was deleted) since it was planned")
            if action.kind is ActionKind.NO_OP:
                ctx.log(f"job {job_id} is up to date")
                result = self._result(ctx, job_id, ActionKind.NO_OP)
            elif action.kind is ActionKind.UPDATE:
                ctx.workspace.jobs.reset(job_id, jobs.JobSettings.from_dict(desired))
                ctx.log(f"job {job_id} reset ({len(action.changes)} field(s) changed)")
                result = self._result(ctx, job_id, ActionKind.UPDATE)
            else:
                raise StalePlan(f"deploy_job cannot apply a {action.kind} action")
        deleted = [job_id for job_id in (int(a.params["job_id"]) for a in deletes) if self._delete(ctx, job_id, key)]
        result["deleted_job_ids"] = sorted(set(result["deleted_job_ids"]) | set(deleted))
        self._record(ctx, key, result["job_id"], settings_hash=fingerprint(desired),
                     extra_job_ids=result.pop("drift_job_ids", []))
        return result

    def _delete(self, ctx: TaskContext, job_id: int, key: str) -> bool:
        """Delete a duplicate job of `key`; False when it was already gone."""
        from databricks.sdk import errors

        try:
            ctx.workspace.jobs.delete(job_id)
        except errors.NotFound:
            return False
        except errors.InvalidParameterValue as exc:
            if "does not exist" not in str(exc):
                raise
            return False
        ctx.log(f"deleted job {job_id}: a duplicate carrying {OWNER_TAG}={key}")
        return True

    def _identical_owned(self, ctx: TaskContext, key: str, desired: dict[str, Any]) -> tuple[list[int], list[int]]:
        """(ids of jobs named like `desired` carrying `key` whose settings equal `desired`, the other such ids)."""
        same, other = [], []
        for job_id, _tag in tagged_jobs_named(ctx.workspace, desired.get("name") or ctx.payload["job_key"], (key,)):
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
            self._record(ctx, key, same[0], extra_job_ids=same[1:])
            return self._finish_create(ctx, key, desired, same)
        settings = jobs.JobSettings.from_dict(desired)
        kwargs = {name: getattr(settings, name) for name in desired}
        created = ctx.workspace.jobs.create(**kwargs).job_id
        ctx.log(f"job {created} created")
        # Record at once: if this worker dies now, the next plan finds the job by id.
        record = ctx.deployments.get(self._host(ctx), key) if ctx.deployments is not None else None
        known = set((record or {}).get("extra_job_ids") or []) | ({record["job_id"]} if record and record.get("job_id") else set())
        self._record(ctx, key, created, extra_job_ids=sorted(known - {created}))
        same, other = self._identical_owned(ctx, key, desired)
        result = self._finish_create(ctx, key, desired, same or [created])
        # Jobs carrying the key with other settings appeared meanwhile (an overlapping deploy of
        # another revision): recorded, so the next plan deletes them.
        result["drift_job_ids"] = sorted(other)
        return result

    def _finish_create(self, ctx: TaskContext, key: str, desired: dict[str, Any], same: list[int]) -> dict[str, Any]:
        """Keep the oldest identical job; delete identical duplicates left by a retried create."""
        keep, extra = same[0], same[1:]
        deleted = [job_id for job_id in extra if self._delete(ctx, job_id, key)]
        return self._result(ctx, keep, ActionKind.CREATE, deleted)
