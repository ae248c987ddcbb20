"""The `remediate_run` task type: diagnose one failed job run, decide, and act.

Payload: `{"run_id": int, "job_id"?, "job_name"?, "source": "watch_runs"|"webhook"|"manual"|
"run_job", "repair_count"?: int, "remediation"?: {the front matter block, see
`lead.remediation_block`; with the requirement's `llm:` value under "llm" when it has one},
"owner"?: e-mail}`.

- validate: `run_id` is an integer; the remediation block (if any) is well formed.
- plan reads what a person would read: the run with its repair history (`runs/get`,
  `include_history`), each failed task's output (`runs/get-output`: `error`, `error_trace`),
  the termination details and state message, and the job (`jobs/get`: the cluster spec the
  tasks ran on, owner addresses). A run not ended yet is checked again later. The failure is
  classified (`tasks.remediation.classify`, with people's corrections as extra labelled
  examples; under the block's `llm_below` confidence a configured model decides, its answer
  validated like a person's, `tasks.remediation.llm_fallback`, decision layer `llm`), then the decision is made in context (`decide`): a succeeded, user-cancelled or
  skipped run, or one superseded by a newer successful run of the job, is IGNOREd; the
  requirement's policy overrides by category; critical categories ESCALATE; a retry beyond
  the budget (default 2 per run, 5 per job per 24 h) ESCALATEs. The plan's actions: RETRY ->
  REPAIR; RETRY_WITH_NEW_PARAMS -> UPDATE of the job (a field diff limited to cluster size,
  node type and availability; `tasks.cluster_sizing`) then REPAIR; NOTIFY_OWNER / ESCALATE
  -> NOTIFY (the e-mail, masked; a configured model may add a plain-words paragraph whose
  numbers must come from the run, `tasks.remediation.email_explanation`); IGNORE -> NO_OP. The decision itself rides in the first
  action's params.
- apply records the decision (`ctx.decisions`, keyed by workspace, run and repair count),
  then: re-reads the repair history and repairs only if no repair happened since the plan (a
  crash between repair and record never repairs twice), with `rerun_all_failed_tasks` and
  `latest_repair_id` from the second repair on; applies an UPDATE first after checking the
  job did not change since plan; sends e-mail through `tasks.notifier` (a file in the outbox
  when no SMTP server is configured). A repair is followed to its end without holding a
  worker slot (`CheckAgain`); its outcome (SUCCESS/FAILED) is written to the decision, and a
  repair that failed again enqueues the next `remediate_run` for the new repair count (the
  budget ends the loop with an escalation).

Result: `{"decision": "D-0001", "category", "remediation", "confidence", "evidence", "run_id",
"repair_id"?, "outcome"?, "email"?, "changes"?}`.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from tasks.base import (
    Action,
    ActionKind,
    Change,
    CheckAgain,
    FollowUp,
    Plan,
    Problem,
    StalePlan,
    TaskContext,
    ValidationFailed,
    enum_value,
    fingerprint,
)
from tasks.run_job import TERMINAL_STATES

FAILED_TASK_STATES = frozenset({"FAILED", "TIMEDOUT", "CANCELED", "MAXIMUM_CONCURRENT_RUNS_REACHED", "UPSTREAM_FAILED"})
DEFAULT_BUDGET = {"per_run": 2, "per_job_per_day": 5}
RETRIES = ("RETRY", "RETRY_WITH_NEW_PARAMS")
REMEDIATIONS = ("RETRY", "RETRY_WITH_NEW_PARAMS", "NOTIFY_OWNER", "ESCALATE", "IGNORE")
EXCERPT_CHARS = 2000
"""How much of an error message the decision keeps (and an e-mail shows)."""




def remediation_key(host: str, run_id: int, repair_count: int) -> str:
    """The idempotency key of the remediation of one failure: a run is remediated at most
    once per repair count."""
    return f"remediate:{host}:{run_id}:{repair_count}"


def remediate_follow_up(host: str, run_id: int, repair_count: int, *, job_id: int | None, job_name: str | None,
                        source: str, remediation: dict | None, owner: str | None) -> FollowUp:
    """The `remediate_run` follow-up task for one failure (used by `run_job`, `watch_runs`
    and this type itself)."""
    return FollowUp(
        type="remediate_run",
        title=f"Remediate run {run_id} of {job_name or f'job {job_id}'}" + (f" (repair {repair_count})" if repair_count else ""),
        payload={"run_id": run_id, "job_id": job_id, "job_name": job_name, "source": source,
                 "repair_count": repair_count, "remediation": remediation, "owner": owner},
        idempotency_key=remediation_key(host, run_id, repair_count),
    )


class RemediateRun:
    """Diagnose and remediate one failed run; see the module docstring."""

    name = "remediate_run"

    # -- validate -------------------------------------------------------------------------
    def validate(self, ctx: TaskContext) -> None:
        """The payload names a run; its remediation block is well formed."""
        problems = []
        run_id = ctx.payload.get("run_id")
        if isinstance(run_id, bool) or not isinstance(run_id, int):
            problems.append(Problem("run_id", f"must be a run id (an integer), not {run_id!r}"))
        config = ctx.payload.get("remediation")
        if config is not None and not isinstance(config, dict):
            problems.append(Problem("remediation", "must be a mapping (the front matter's remediation block)"))
        elif config:
            for category, action in (config.get("policy") or {}).items():
                if action not in REMEDIATIONS:
                    problems.append(Problem(f"remediation.policy.{category}", f"unknown remediation {action!r}"))
            below = config.get("llm_below")
            if below is not None and (isinstance(below, bool) or not isinstance(below, (int, float)) or not 0 <= below <= 1):
                problems.append(Problem("remediation.llm_below", f"must be a number from 0 to 1, not {below!r}"))
        if problems:
            raise ValidationFailed(problems)

    # -- plan -----------------------------------------------------------------------------
    def plan(self, ctx: TaskContext) -> Plan:
        """Read the run, classify the failure, decide, and plan the actions."""
        w = ctx.workspace
        host = (w.config.host or "").rstrip("/")
        run_id = int(ctx.payload["run_id"])
        run = w.jobs.get_run(run_id, include_history=True)
        life = enum_value(run.state.life_cycle_state) if run.state else None
        if life not in TERMINAL_STATES:
            raise CheckAgain(self._interval(ctx, 3), {"waiting_for": "the run to end"}, reason=f"run {run_id} is {life}: it has not ended yet")
        repairs = [h for h in (run.repair_history or []) if enum_value(h.type) == "REPAIR"]
        repair_count = len(repairs)
        latest_repair_id = repairs[-1].id if repairs else None
        facts = self._facts(ctx, run)
        job = w.jobs.get(run.job_id) if run.job_id else None
        settings = job.settings.as_dict() if job and job.settings else {}
        job_name = settings.get("name") or ctx.payload.get("job_name") or run.run_name
        config = ctx.payload.get("remediation") or {}
        why_ignored = self.ignored(ctx, run, facts)
        diagnosis, refined = self._classify(ctx, facts, config, use_model=why_ignored is None)
        remediation, reason = self.decide(ctx, host, run, facts, diagnosis, config, ignored=why_ignored)
        if refined is not None and refined.used:
            reason += f"; the rules were unsure ({refined.rule.category} {refined.rule.confidence:.2f}, {refined.rule.layer})"
        decision = {
            "category": diagnosis.category, "remediation": remediation, "confidence": round(float(diagnosis.confidence), 4),
            "evidence": diagnosis.evidence, "layer": diagnosis.layer, "priority": diagnosis.priority, "reason": reason,
            "message": facts["excerpt"], "inputs_digest": facts["digest"], "repair_count": repair_count,
            "job_id": run.job_id, "job_name": job_name, "run_page_url": run.run_page_url,
        }
        actions: list[Action] = []
        if remediation == "RETRY_WITH_NEW_PARAMS":
            update = self._resize(ctx, run, settings, facts, getattr(diagnosis, "new_params", None))
            if update is None:
                remediation, reason = "ESCALATE", f"{reason}; but no bigger compute can be had for this job: escalated"
                decision.update(remediation=remediation, reason=reason)
            else:
                actions.append(update)
        if remediation in RETRIES:
            actions.append(Action(
                kind=ActionKind.REPAIR, target=f"run {run_id}",
                summary=f"repair run {run_id}: rerun its failed tasks" + (f" (after repair {latest_repair_id})" if latest_repair_id else ""),
                citations=list(ctx.cite("jobs runs repair latest_repair_id rerun_all_failed_tasks"))[:3],
                params={"run_id": run_id, "latest_repair_id": latest_repair_id, "repair_count": repair_count},
            ))
        elif remediation in ("NOTIFY_OWNER", "ESCALATE"):
            actions.append(self._notify_action(ctx, run, settings, decision, remediation, config))
        else:
            actions.append(Action(kind=ActionKind.NO_OP, target=f"run {run_id}", summary=f"ignore: {reason}"))
        actions[0].params["decision"] = decision
        remote = {"run_id": run_id, "repair_count": repair_count,
                  "settings": fingerprint(settings) if remediation == "RETRY_WITH_NEW_PARAMS" else None}
        token = hashlib.sha256(remediation_key(host, run_id, repair_count).encode()).hexdigest()[:32]
        return Plan(actions, fingerprint(remote), token)

    def _facts(self, ctx: TaskContext, run: Any) -> dict[str, Any]:
        """What failed: messages and traces of the failed tasks, termination details."""
        from databricks.sdk import errors

        from state.redaction import redact_text

        details = run.status.termination_details if run.status else None
        messages, traces, lines = [], [], []
        for task in run.tasks or []:
            state = enum_value(task.state.result_state) if task.state else None
            if state not in FAILED_TASK_STATES or state == "UPSTREAM_FAILED":
                continue
            error, trace = (task.state.state_message if task.state else None), None
            try:
                output = ctx.workspace.jobs.get_run_output(task.run_id)
                error, trace = output.error or error, output.error_trace
            except errors.DatabricksError as exc:
                ctx.log(f"runs/get-output of task run {task.run_id} failed: {exc}")
            if error:
                messages.append(error)
                lines.append(f"task {task.task_key} {state}: {error}")
            if trace:
                traces.append(trace)
        termination = {"code": enum_value(details.code) if details else None, "type": enum_value(details.type) if details else None,
                       "message": details.message if details else None}
        state_message = run.state.state_message if run.state else None
        message = "\n".join(messages) or termination["message"] or state_message or ""
        trace = "\n".join(traces) or None
        digest = hashlib.sha256(repr((message, trace, termination, state_message)).encode()).hexdigest()
        excerpt = redact_text(message)[:EXCERPT_CHARS]
        return {"message": message, "trace": trace, "termination": termination, "state_message": state_message,
                "result_state": enum_value(run.state.result_state) if run.state else None, "lines": lines,
                "excerpt": excerpt, "digest": digest,
                "failed_tasks": [t for t in (run.tasks or []) if t.state and enum_value(t.state.result_state) in FAILED_TASK_STATES]}

    def _classify(self, ctx: TaskContext, facts: dict[str, Any], config: dict[str, Any], *, use_model: bool = True):
        """`(diagnosis, refined)`: the classifier's diagnosis, or the model's validated one when
        the rules are under the `llm_below` threshold and a model is configured
        (`tasks.remediation.llm_fallback`); `refined` is None when the model was not needed
        (or `use_model` is False: the context decides anyway)."""
        from tasks.remediation.classify import Classifier
        from tasks.remediation.llm_fallback import LLM_BELOW, refine

        extra = ctx.decisions.corrections() if ctx.decisions is not None else []
        classifier = Classifier(extra_examples=extra)
        termination = {"termination_code": facts["termination"]["code"], "termination_type": facts["termination"]["type"],
                       "result_state": facts["result_state"]}
        diagnosis = classifier.classify(facts["message"], facts["trace"], **termination)
        threshold = float(config.get("llm_below", LLM_BELOW))
        if diagnosis.confidence >= threshold or not use_model:
            return diagnosis, None
        from tasks.llm_access import task_gateway

        refined = refine(diagnosis, task_gateway(ctx, config.get("llm")), classifier, facts["message"], facts["trace"], **termination,
                         threshold=threshold, task_id=ctx.task_id)
        if refined.asked:
            ctx.log(f"remediation: {refined.note}")
        return refined.diagnosis, refined

    # -- the decision in context ------------------------------------------------------------
    def ignored(self, ctx: TaskContext, run: Any, facts: dict[str, Any]) -> str | None:
        """Why the run needs no remediation whatever its error says (it succeeded, a user
        cancelled it, it was skipped, a newer run of the job succeeded), or None."""
        result, code = facts["result_state"], facts["termination"]["code"]
        if result in ("SUCCESS", "SUCCESS_WITH_FAILURES"):
            return f"the run ended {result}"
        if code == "USER_CANCELED" or (result == "CANCELED" and code in (None, "CANCELED")):
            return "the run was cancelled by a user"
        if code in ("SKIPPED", "MAX_CONCURRENT_RUNS_REACHED") or enum_value(run.state.life_cycle_state) == "SKIPPED":
            return "the run was skipped (concurrency limit)"
        newer = self._newer_success(ctx, run)
        if newer is not None:
            return f"superseded: run {newer} of the same job succeeded after it"
        return None

    def decide(self, ctx: TaskContext, host: str, run: Any, facts: dict[str, Any], diagnosis: Any,
               config: dict[str, Any], *, ignored: Any = ...) -> tuple[str, str]:
        """`(remediation, why)` from the diagnosis and the context (see the module docstring).
        `ignored`: :meth:`ignored`'s answer when the caller already has it."""
        why_ignored = self.ignored(ctx, run, facts) if ignored is ... else ignored
        if why_ignored:
            return "IGNORE", why_ignored
        remediation, why = diagnosis.remediation, f"{diagnosis.category} ({diagnosis.layer}, confidence {diagnosis.confidence:.2f})"
        policy = config.get("policy") or {}
        if diagnosis.category in policy:
            remediation, why = policy[diagnosis.category], f"the requirement's policy for {diagnosis.category}"
        if diagnosis.category in (config.get("critical") or []):
            return "ESCALATE", f"{diagnosis.category} is configured as critical"
        if remediation in RETRIES and ctx.decisions is not None:
            budget = {**DEFAULT_BUDGET, **(config.get("budget") or {})}
            for_run = ctx.decisions.count(host, run_id=run.run_id)
            if for_run >= budget["per_run"]:
                return "ESCALATE", f"retry budget spent: {for_run} remediation(s) of this run already (per_run {budget['per_run']})"
            if run.job_id is not None:
                for_job = ctx.decisions.count(host, job_id=run.job_id, since_hours=24)
                if for_job >= budget["per_job_per_day"]:
                    return "ESCALATE", (f"retry budget spent: {for_job} remediation(s) of this job in 24 h "
                                        f"(per_job_per_day {budget['per_job_per_day']})")
        return remediation, why

    def _newer_success(self, ctx: TaskContext, run: Any) -> int | None:
        if not run.job_id or not run.start_time:
            return None
        for other in ctx.workspace.jobs.list_runs(job_id=run.job_id, completed_only=True, start_time_from=run.start_time + 1, limit=25):
            if other.run_id != run.run_id and other.state and enum_value(other.state.result_state) == "SUCCESS":
                return other.run_id
        return None

    # -- new parameters --------------------------------------------------------------------
    def _resize(self, ctx: TaskContext, run: Any, settings: dict[str, Any], facts: dict[str, Any], hint: str | None) -> Action | None:
        """An UPDATE of the job giving the failed tasks' cluster bigger compute, or None."""
        from tasks.cluster_sizing import resized_cluster

        kind = hint or "bigger_node"
        failed_keys = {t.task_key for t in facts["failed_tasks"]}
        node_types = ctx.workspace.clusters.list_node_types().node_types or []
        new_settings = _copy(settings)
        changes: list[Change] = []
        touched: set[str] = set()
        for index, task in enumerate(new_settings.get("tasks") or []):
            if failed_keys and task.get("task_key") not in failed_keys:
                continue
            if task.get("job_cluster_key"):
                for ci, cluster in enumerate(new_settings.get("job_clusters") or []):
                    if cluster.get("job_cluster_key") == task["job_cluster_key"] and cluster["job_cluster_key"] not in touched:
                        touched.add(cluster["job_cluster_key"])
                        new, diff = resized_cluster(cluster.get("new_cluster") or {}, kind, node_types)
                        cluster["new_cluster"] = new
                        changes += [Change(f"job_clusters[{cluster['job_cluster_key']}].new_cluster.{f}", b, a) for f, b, a in diff]
            elif isinstance(task.get("new_cluster"), dict):
                new, diff = resized_cluster(task["new_cluster"], kind, node_types)
                task["new_cluster"] = new
                changes += [Change(f"tasks[{task.get('task_key', index)}].new_cluster.{f}", b, a) for f, b, a in diff]
        if not changes:
            return None
        for change in changes:
            change.citations = list(ctx.cite(f"cluster {change.field.rsplit('.', 1)[-1]}"))[:3]
        owned = ((settings.get("tags") or {}).get("job_agent_key"))
        note = (f"; the job is deployed from requirements ({owned}): change the file too, or the next deploy reverts this"
                if owned else "")
        return Action(
            kind=ActionKind.UPDATE, target=f"job {run.job_id}",
            summary=f"give job {settings.get('name') or run.job_id} bigger compute ({kind}) before repairing{note}",
            changes=changes, citations=list(ctx.cite("jobs update new_settings job_clusters new_cluster"))[:3],
            params={"job_id": run.job_id, "new_settings": new_settings, "kind": kind},
        )

    # -- e-mail --------------------------------------------------------------------------
    def _notify_action(self, ctx: TaskContext, run: Any, settings: dict[str, Any], decision: dict[str, Any],
                       remediation: str, config: dict[str, Any]) -> Action:
        from tasks.notifier import format_failure_email

        owners = [ctx.payload["owner"]] if ctx.payload.get("owner") else []
        owners = owners or list(((settings.get("email_notifications") or {}).get("on_failure")) or [])
        owners = owners or ([run.creator_user_name] if run.creator_user_name and "@" in run.creator_user_name else [])
        escalation = config.get("escalate_to") or os.environ.get("JOB_AGENT_ESCALATE_TO")
        if remediation == "ESCALATE":
            to = [escalation] if escalation else owners
        else:
            to = owners or ([escalation] if escalation else [])
        tried = [f"{d}" for d in ctx.payload.get("tried") or []]
        if decision["repair_count"]:
            tried.append(f"{decision['repair_count']} repair(s) of this run")
        explanation = self._explanation(ctx, run, decision, remediation, config)
        subject, body = format_failure_email(
            decision["priority"], decision["job_name"] or f"job {run.job_id}", run.run_page_url or "",
            decision["category"], decision["message"], remediation, decision["reason"], tried, explanation,
        )
        return Action(kind=ActionKind.NOTIFY, target=", ".join(to) or "nobody",
                      summary=f"e-mail {', '.join(to) or '(no recipient known)'}: {subject}",
                      params={"to": to, "subject": subject, "body": body})

    @staticmethod
    def _explanation(ctx: TaskContext, run: Any, decision: dict[str, Any], remediation: str,
                     config: dict[str, Any]) -> str | None:
        """The model's plain-words paragraph for the e-mail, or None (LLM off or it failed:
        the rule text stands). The model sees only facts read from the run and the decision."""
        from tasks.llm_access import task_gateway
        from tasks.remediation.email_explanation import explain

        gateway = task_gateway(ctx, config.get("llm"))
        if gateway is None:
            return None
        facts = {
            "job_name": decision["job_name"], "job_id": run.job_id, "run_id": run.run_id,
            "life_cycle_state": enum_value(run.state.life_cycle_state) if run.state else None,
            "result_state": enum_value(run.state.result_state) if run.state else None,
            "started": _iso(run.start_time), "ended": _iso(run.end_time),
            "category": decision["category"], "decision": remediation, "reason": decision["reason"],
            "repairs_so_far": decision["repair_count"], "error_excerpt": decision["message"][:1500],
        }
        paragraph, note = explain(gateway, facts, task_id=ctx.task_id)
        ctx.log(f"e-mail: {note}")
        return paragraph

    # -- apply ---------------------------------------------------------------------------
    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Record the decision and carry out the plan; follow a repair to its end."""
        w = ctx.workspace
        host = (w.config.host or "").rstrip("/")
        first = plan.actions[0]
        decision = dict(first.params["decision"])
        run_id = int(ctx.payload["run_id"])
        checkpoint = ctx.checkpoint or {}
        if checkpoint.get("following"):
            return self._follow(ctx, host, run_id, decision, checkpoint)
        record = {k: v for k, v in decision.items() if k not in ("repair_count", "run_page_url")}
        decision_id = ctx.decisions.record(host, run_id, decision["repair_count"], status="PLANNED", detail={}, **record) \
            if ctx.decisions is not None else None
        result: dict[str, Any] = {"decision": f"D-{decision_id:04d}" if decision_id else None, "run_id": run_id,
                                  **{k: decision[k] for k in ("category", "remediation", "confidence", "evidence")}}
        detail: dict[str, Any] = {}
        for action in plan.actions:
            if action.kind is ActionKind.UPDATE:
                self._apply_update(ctx, plan, action)
                detail["changes"] = [{"field": c.field, "before": c.before, "after": c.after} for c in action.changes]
                result["changes"] = detail["changes"]
            elif action.kind is ActionKind.REPAIR:
                # A worker dying from here on resumes this apply: the repair history decides.
                ctx.save_checkpoint({"repairing": run_id, "decision_id": decision_id})
                repair_id = self._repair(ctx, run_id, decision["repair_count"], action.params.get("latest_repair_id"))
                detail["repair_id"] = repair_id
                result["repair_id"] = repair_id
                self._update(ctx, decision_id, status="APPLIED", detail=detail)
                raise CheckAgain(self._interval(ctx, 0), {"following": repair_id, "decision_id": decision_id, "polls": 0,
                                       "started_at": time.time(), "result": result},
                                 reason=f"run {run_id} repaired (repair {repair_id}); following it")
            elif action.kind is ActionKind.NOTIFY:
                from tasks.notifier import Notifier, SmtpSettings

                if not action.params["to"]:
                    ctx.log("no recipient known for this decision (no owner, no on-failure e-mail, no escalation address)")
                    detail["email"] = {"delivered": "none", "reason": "no recipient known", "subject": action.params["subject"]}
                    result["email"] = detail["email"]
                    continue

                sent = Notifier(SmtpSettings.from_env(), fallback_dir=ctx.settings["outbox_dir"]).send(
                    action.params["to"], action.params["subject"], action.params["body"],
                    idempotency_key=f"{remediation_key(host, run_id, decision['repair_count'])}:mail")
                detail["email"] = {"to": action.params["to"], "subject": action.params["subject"], **sent}
                result["email"] = detail["email"]
        self._update(ctx, decision_id, status="APPLIED", detail=detail)
        return result

    @staticmethod
    def _update(ctx: TaskContext, decision_id: int | None, **fields: Any) -> None:
        if decision_id is not None and ctx.decisions is not None:
            ctx.decisions.update(decision_id, **fields)

    def _apply_update(self, ctx: TaskContext, plan: Plan, action: Action) -> None:
        from databricks.sdk.service import jobs

        job_id = int(action.params["job_id"])
        current = ctx.workspace.jobs.get(job_id).settings.as_dict()
        new = action.params["new_settings"]
        if current == new:
            return  # applied before a crash: nothing to do
        remote = {"run_id": int(ctx.payload["run_id"]), "repair_count": plan.actions[0].params["decision"]["repair_count"],
                  "settings": fingerprint(current)}
        if fingerprint(remote) != plan.fingerprint:
            raise StalePlan(f"job {job_id} changed since the remediation was planned")
        ctx.workspace.jobs.reset(job_id, jobs.JobSettings.from_dict(new))
        ctx.log(f"job {job_id} updated: " + "; ".join(f"{c.field}: {c.before} -> {c.after}" for c in action.changes))

    def _repair(self, ctx: TaskContext, run_id: int, planned_repairs: int, latest_repair_id: int | None) -> int:
        """Repair the run unless a repair happened since the plan; returns the repair id."""
        run = ctx.workspace.jobs.get_run(run_id, include_history=True)
        repairs = [h for h in (run.repair_history or []) if enum_value(h.type) == "REPAIR"]
        if len(repairs) > planned_repairs:
            ctx.log(f"run {run_id} was already repaired (repair {repairs[-1].id}) since the plan: not repairing again")
            return int(repairs[-1].id)
        response = ctx.workspace.jobs.repair_run(run_id, latest_repair_id=latest_repair_id, rerun_all_failed_tasks=True)
        repair_id = int(response.response.repair_id if hasattr(response, "response") else response.repair_id)
        ctx.log(f"run {run_id} repaired: repair {repair_id}")
        return repair_id

    @staticmethod
    def _interval(ctx: TaskContext, polls: int) -> float:
        """Seconds before checking a run again: the worker's run polling settings (as `run_job`)."""
        settings = ctx.settings or {}
        return min(float(settings.get("run_poll_initial_seconds", 1.0)) * float(settings.get("run_poll_backoff", 1.5)) ** polls,
                   float(settings.get("run_poll_max_seconds", 30.0)))

    def _follow(self, ctx: TaskContext, host: str, run_id: int, decision: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
        run = ctx.workspace.jobs.get_run(run_id, include_history=True)
        life = enum_value(run.state.life_cycle_state) if run.state else None
        polls = int(checkpoint.get("polls") or 0)
        if life not in TERMINAL_STATES:
            raise CheckAgain(self._interval(ctx, polls + 1), {**checkpoint, "polls": polls + 1},
                             reason=f"repair {checkpoint['following']} of run {run_id} is {life}")
        state = enum_value(run.state.result_state)
        outcome = "SUCCESS" if state in ("SUCCESS", "SUCCESS_WITH_FAILURES") else "FAILED"
        self._update(ctx, checkpoint.get("decision_id"), outcome=outcome, outcome_run_state=f"{life}/{state}")
        result = {**(checkpoint.get("result") or {}), "outcome": outcome}
        if outcome == "FAILED":
            repairs = [h for h in (run.repair_history or []) if enum_value(h.type) == "REPAIR"]
            ctx.follow_up(remediate_follow_up(
                host, run_id, len(repairs), job_id=run.job_id, job_name=decision.get("job_name"), source="remediate_run",
                remediation=ctx.payload.get("remediation"), owner=ctx.payload.get("owner")))
            ctx.log(f"repair of run {run_id} failed again: the next remediation is enqueued")
        return result


def _iso(millis: int | None) -> str | None:
    """An epoch-milliseconds time of the Jobs API (`start_time`, `end_time`) as UTC ISO 8601."""
    if not millis:
        return None
    import datetime as dt

    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)
