"""The `workspace_check` task type: is the workspace reachable, and as whom?

A small recurring probe (e.g. every 5 minutes) that shows in the progress files whether the
pipeline can still reach its workspace with its credentials, before a deploy or a
remediation needs it. Payload: `{}` (nothing to configure).

- validate: nothing to check.
- plan: one QUERY action, "read the current user" (`GET /api/2.0/preview/scim/v2/Me`).
- apply: `current_user.me()`; result `{"user": userName, "host": workspace host}`. An auth
  error fails the task (permanent); a transient one is retried by the worker.
"""

from __future__ import annotations

from typing import Any

from tasks.base import Action, ActionKind, Plan, TaskContext, fingerprint


class WorkspaceCheck:
    """Read the current user of the workspace; see the module docstring."""

    name = "workspace_check"

    def validate(self, ctx: TaskContext) -> None:
        """Nothing to check: the probe has no input."""

    def plan(self, ctx: TaskContext) -> Plan:
        """One QUERY action on the current user."""
        action = Action(kind=ActionKind.QUERY, target="current user", summary="read the current user (SCIM Me)")
        return Plan([action], fingerprint({"probe": "me"}), f"{ctx.task_ref}:{ctx.attempt}")

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Call `current_user.me()` and report who the pipeline is."""
        me = ctx.workspace.current_user.me()
        return {"user": me.user_name, "host": (ctx.workspace.config.host or "").rstrip("/")}
