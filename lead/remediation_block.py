"""The front matter's `remediation:` block: how failed runs of this requirement's jobs are handled.

    remediation:
      enabled: true                 # a failed run of a run_job task is remediated at once
      escalate_to: oncall@example.com
      budget: {per_run: 2, per_job_per_day: 5}
      policy: {timeout: RETRY, code_bug: ESCALATE}   # category -> remediation overrides
      critical: [data_quality_schema]                # categories always escalated
      watch: {every: 5m, scope: owned}               # also watch for failed runs (recurring)
      llm_below: 0.6                # ask the model (when configured) only under this rule confidence

`check_remediation(value)` returns the block normalised (`{"enabled", "escalate_to",
"budget": {"per_run", "per_job_per_day"}, "policy", "critical", "watch": {"every_seconds",
"scope"} | None, "llm_below": 0..1}`) or raises `FieldProblem` at the offending field. `parse_duration("5m")`
reads the durations used here and by `lead watch --every`.
"""

from __future__ import annotations

import re
from typing import Any

from lead.errors import FieldProblem

CATEGORIES = (
    "timeout", "resource", "permission", "syntax_or_analysis", "missing_data", "network", "cloud_capacity",
    "library_dependency", "concurrency_conflict", "rate_limit", "data_quality_schema", "code_bug", "platform_internal",
)
"""The failure categories (as labelled in the shared failure set)."""
REMEDIATIONS = ("RETRY", "RETRY_WITH_NEW_PARAMS", "NOTIFY_OWNER", "ESCALATE", "IGNORE")
DEFAULT_BUDGET = {"per_run": 2, "per_job_per_day": 5}
KEYS = ("enabled", "escalate_to", "budget", "policy", "critical", "watch", "llm_below")
DEFAULT_LLM_BELOW = 0.6
"""As `tasks.remediation.llm_fallback.LLM_BELOW` (lead does not import tasks)."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_duration(text: Any) -> float:
    """Seconds in `30s`, `5m`, `1.5h`, `1d` or a bare number of seconds (at least 1).

    Raises:
        ValueError: anything else.
    """
    match = _DURATION.match(str(text))
    if not match or isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m, 2h)")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "").lower() or None]
    if seconds < 1:
        raise ValueError(f"{text!r} is shorter than one second")
    return seconds


def check_scope(scope: Any) -> str:
    """`owned`, `all` or `tag:KEY=VALUE`.

    Raises:
        ValueError: anything else.
    """
    if scope in ("owned", "all") or (isinstance(scope, str) and re.match(r"^tag:[^=]+=.*$", scope)):
        return scope
    raise ValueError(f"scope must be owned, all or tag:KEY=VALUE, not {scope!r}")


def check_remediation(value: Any) -> dict[str, Any]:
    """The normalised block (see the module docstring).

    Raises:
        FieldProblem: at `("remediation", ...)`.
    """
    where = ("remediation",)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise FieldProblem(where, "must be a mapping (enabled, escalate_to, budget, policy, critical, watch, llm_below)")
    for key in value:
        if key not in KEYS:
            raise FieldProblem(where + (key,), f"unknown field '{key}' (remediation fields: {', '.join(KEYS)})")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FieldProblem(where + ("enabled",), "must be true or false")
    escalate_to = value.get("escalate_to")
    if escalate_to is not None and not (isinstance(escalate_to, str) and _EMAIL.match(escalate_to)):
        raise FieldProblem(where + ("escalate_to",), f"{escalate_to!r} is not an e-mail address")
    budget = dict(DEFAULT_BUDGET)
    raw_budget = value.get("budget") or {}
    if not isinstance(raw_budget, dict):
        raise FieldProblem(where + ("budget",), "must be a mapping: {per_run: N, per_job_per_day: N}")
    for key, number in raw_budget.items():
        if key not in DEFAULT_BUDGET:
            raise FieldProblem(where + ("budget", key), f"unknown budget '{key}' (per_run, per_job_per_day)")
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 1000:
            raise FieldProblem(where + ("budget", key), "must be a whole number from 0 to 1000")
        budget[key] = number
    policy = value.get("policy") or {}
    if not isinstance(policy, dict):
        raise FieldProblem(where + ("policy",), "must map failure categories to remediations")
    for category, action in policy.items():
        if category not in CATEGORIES:
            raise FieldProblem(where + ("policy", category), f"unknown category '{category}' ({', '.join(CATEGORIES)})")
        if action not in REMEDIATIONS:
            raise FieldProblem(where + ("policy", category), f"unknown remediation {action!r} ({', '.join(REMEDIATIONS)})")
    critical = value.get("critical") or []
    if not isinstance(critical, list) or any(c not in CATEGORIES for c in critical):
        raise FieldProblem(where + ("critical",), f"must be a list of categories ({', '.join(CATEGORIES)})")
    watch = value.get("watch")
    if watch is not None:
        if not isinstance(watch, dict) or set(watch) - {"every", "scope"}:
            raise FieldProblem(where + ("watch",), "must be a mapping: {every: 5m, scope: owned|all|tag:KEY=VALUE}")
        try:
            every = parse_duration(watch.get("every", "5m"))
        except ValueError as error:
            raise FieldProblem(where + ("watch", "every"), str(error)) from None
        try:
            scope = check_scope(watch.get("scope", "owned"))
        except ValueError as error:
            raise FieldProblem(where + ("watch", "scope"), str(error)) from None
        watch = {"every_seconds": every, "scope": scope}
    llm_below = value.get("llm_below", DEFAULT_LLM_BELOW)
    if isinstance(llm_below, bool) or not isinstance(llm_below, (int, float)) or not 0 <= llm_below <= 1:
        raise FieldProblem(where + ("llm_below",), f"must be a number from 0 to 1 (a rule confidence), not {llm_below!r}")
    return {"enabled": enabled, "escalate_to": escalate_to, "budget": budget, "policy": dict(policy),
            "critical": list(critical), "watch": watch, "llm_below": float(llm_below)}


def with_remediation(specs: list[Any], front_matter: dict[str, Any], owner: str | None) -> list[Any]:
    """The task specs (`state.submissions.NewTask`) of a file with its `remediation:` block
    wired in (plus the file's `llm:` value under `"llm"`, so its remediations use, or do not
    use, the model it names): each `run_job` payload carries the block (so a failed run enqueues its
    `remediate_run` at once when `enabled`), and `watch:` adds a recurring `watch_runs` task.

    Raises:
        FieldProblem: the block is malformed (normally caught earlier by the front matter check).
    """
    if "remediation" not in (front_matter or {}):
        return specs
    from dataclasses import replace

    from state.submissions import NewTask

    config = check_remediation(front_matter["remediation"])
    if "llm" in front_matter:  # the requirement's model choice (or `llm: off`) travels with the block
        config = {**config, "llm": front_matter["llm"]}
    out = []
    for spec in specs:
        if spec.type == "run_job":
            spec = replace(spec, payload={**spec.payload, "remediation": config, "owner": owner})
        out.append(spec)
    if config["watch"]:
        out.append(NewTask(
            key="watch_runs", type="watch_runs", title=f"Watch for failed runs ({config['watch']['scope']})",
            payload={"scope": config["watch"]["scope"], "lookback_seconds": 2 * config["watch"]["every_seconds"] + 300,
                     "remediation": config, "owner": owner},
            schedule={"every_seconds": config["watch"]["every_seconds"]}, source_field="remediation.watch",
        ))
    return out
