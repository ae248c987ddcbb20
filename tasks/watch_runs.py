"""The `watch_runs` task type: find failed runs and enqueue one `remediate_run` for each.

Usually recurring (`lead watch --every 5m`, or the front matter's `remediation: watch:`).
Payload: `{"scope": "owned" | "all" | "tag:KEY=VALUE", "lookback_seconds": N (default 900),
"remediation"?: {...}, "owner"?: e-mail}`.

- validate: the scope is one of the three forms; the lookback is a positive number.
- plan: one QUERY action (`jobs/runs/list` with `completed_only` and `start_time_from`).
- apply: lists the runs that completed within the lookback window (`jobs/runs/list`,
  `completed_only=true`, `start_time_from` in epoch milliseconds; Jobs API 2.2), keeps the
  failed ones (result state FAILED, TIMEDOUT or INTERNAL_ERROR, or life cycle INTERNAL_ERROR),
  keeps those in scope (`owned`: the job carries the pipeline's `job_agent_key` tag; `tag:K=V`:
  the job carries that tag; one `jobs/get` per distinct job), and enqueues a `remediate_run`
  follow-up per run. The follow-up's idempotency key is the workspace, the run and its repair
  count (0 here: a repaired run that fails again is followed up by the remediation that
  repaired it), so overlapping windows never remediate a run twice.

Result: `{"window_seconds", "runs_seen", "failed", "in_scope", "enqueued": [run ids]}`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tasks.base import (
    Action,
    ActionKind,
    Plan,
    Problem,
    TaskContext,
    ValidationFailed,
    enum_value,
    fingerprint,
)
from tasks.remediate_run import remediate_follow_up

FAILED_RESULTS = frozenset({"FAILED", "TIMEDOUT", "INTERNAL_ERROR"})
OWNER_TAG = "job_agent_key"
DEFAULT_LOOKBACK_SECONDS = 900




class WatchRuns:
    """Enqueue remediations for failed runs in scope; see the module docstring."""

    name = "watch_runs"

    def _scope(self, ctx: TaskContext) -> str:
        return ctx.payload.get("scope") or "owned"

    def validate(self, ctx: TaskContext) -> None:
        """The scope and the lookback are well formed."""
        problems = []
        scope = self._scope(ctx)
        if not (scope in ("owned", "all") or re.match(r"^tag:[^=]+=.*$", str(scope))):
            problems.append(Problem("scope", f"must be owned, all or tag:KEY=VALUE, not {scope!r}"))
        lookback = ctx.payload.get("lookback_seconds", DEFAULT_LOOKBACK_SECONDS)
        if isinstance(lookback, bool) or not isinstance(lookback, (int, float)) or lookback <= 0:
            problems.append(Problem("lookback_seconds", f"must be a positive number of seconds, not {lookback!r}"))
        if problems:
            raise ValidationFailed(problems)

    def plan(self, ctx: TaskContext) -> Plan:
        """One QUERY action over `jobs/runs/list`."""
        lookback = float(ctx.payload.get("lookback_seconds", DEFAULT_LOOKBACK_SECONDS))
        action = Action(kind=ActionKind.QUERY, target="jobs/runs/list",
                        summary=f"find failed runs that completed in the last {lookback:g} s ({self._scope(ctx)})",
                        citations=list(ctx.cite("jobs runs list completed_only start_time_from"))[:3])
        return Plan([action], fingerprint({"scope": self._scope(ctx), "lookback": lookback}), f"{ctx.task_ref}")

    def _in_scope(self, ctx: TaskContext, job_id: int | None, cache: dict[int, dict]) -> bool:
        scope = self._scope(ctx)
        if scope == "all":
            return True
        if job_id is None:
            return False
        if job_id not in cache:
            from databricks.sdk import errors

            try:
                job = ctx.workspace.jobs.get(job_id)
                cache[job_id] = (job.settings.tags or {}) if job.settings else {}
            except errors.NotFound:
                cache[job_id] = {}
        tags = cache[job_id]
        if scope == "owned":
            return OWNER_TAG in tags
        key, _, value = scope[len("tag:"):].partition("=")
        return tags.get(key) == value

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """List the window's completed runs and enqueue a remediation for each failed one in scope."""
        w = ctx.workspace
        host = (w.config.host or "").rstrip("/")
        lookback = float(ctx.payload.get("lookback_seconds", DEFAULT_LOOKBACK_SECONDS))
        since_ms = int((time.time() - lookback) * 1000)
        seen = failed = in_scope = 0
        enqueued: list[int] = []
        tags: dict[int, dict] = {}
        for run in w.jobs.list_runs(completed_only=True, start_time_from=since_ms, limit=25):
            seen += 1
            result = enum_value(run.state.result_state) if run.state else None
            life = enum_value(run.state.life_cycle_state) if run.state else None
            if result not in FAILED_RESULTS and life != "INTERNAL_ERROR":
                continue
            failed += 1
            if not self._in_scope(ctx, run.job_id, tags):
                continue
            in_scope += 1
            ctx.follow_up(remediate_follow_up(
                host, int(run.run_id), 0, job_id=run.job_id, job_name=run.run_name, source="watch_runs",
                remediation=ctx.payload.get("remediation"), owner=ctx.payload.get("owner")))
            enqueued.append(int(run.run_id))
        ctx.log(f"{seen} run(s) completed in the last {lookback:g} s; {failed} failed; {in_scope} in scope")
        return {"window_seconds": lookback, "runs_seen": seen, "failed": failed, "in_scope": in_scope, "enqueued": enqueued}
