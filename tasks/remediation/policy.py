"""The remediation policy: from a category, its evidence and a confidence to what to do.

The category is one input, not the answer: :func:`decide` reads the evidence as well. A
refused connection to a misconfigured endpoint and a reset connection are both ``network``,
but the first is NOTIFY_OWNER and the second RETRY. Order of precedence:

1. confidence below :data:`ESCALATE_BELOW` -> ESCALATE (nobody should act on a guess);
2. the remediation the deciding rule states (a signature or a termination code), unless the
   text says a person must fix a configuration (:data:`MISCONFIGURED`) and the rule said RETRY;
3. evidence read per category (transient vs misconfigured network errors, a timeout while the
   work is still running, spot capacity);
4. the remediation most of the nearest labelled examples of the same category chose
   (when the neighbours layer ran and agrees strongly enough, :data:`NEIGHBOUR_REMEDIATION_SHARE`);
5. the category's default (:data:`DEFAULT_REMEDIATION`).

Pure Python.
"""

from __future__ import annotations

import re

ESCALATE_BELOW = 0.35
"""A diagnosis less confident than this is escalated to a person whatever its category."""

NEIGHBOUR_REMEDIATION_SHARE = 0.6
"""Share of the neighbours' weight that must agree on a remediation before it beats the default."""

DEFAULT_REMEDIATION: dict[str, str] = {
    "timeout": "RETRY",
    "resource": "RETRY_WITH_NEW_PARAMS",
    "permission": "NOTIFY_OWNER",
    "syntax_or_analysis": "NOTIFY_OWNER",
    "missing_data": "NOTIFY_OWNER",
    "network": "NOTIFY_OWNER",
    "cloud_capacity": "RETRY",
    "library_dependency": "NOTIFY_OWNER",
    "concurrency_conflict": "RETRY",
    "rate_limit": "RETRY",
    "data_quality_schema": "NOTIFY_OWNER",
    "code_bug": "NOTIFY_OWNER",
    "platform_internal": "RETRY",
}

PRIORITY: dict[str, str] = {
    "permission": "critical",
    "syntax_or_analysis": "critical",
    "missing_data": "critical",
    "data_quality_schema": "critical",
    "code_bug": "high",
    "library_dependency": "high",
    "resource": "high",
    "network": "high",
    "cloud_capacity": "high",
    "platform_internal": "high",
    "timeout": "medium",
    "rate_limit": "medium",
    "concurrency_conflict": "medium",
}
"""Priority per category (as the seed's table: permission/syntax/data critical, resource and
network high, timeout medium). ESCALATE is always critical, IGNORE always medium."""

TRANSIENT = re.compile(
    r"temporar|try again|reset by peer|connection reset|closed by the remote|broken pipe|(?:HTTP|status|code|error)\W{0,3}(?:code\W{0,3})?50[234]\b|"
    r"unavailable|throttl|slow ?down|too many requests|intermittent|transient|Name resolution.*temporary",
    re.I,
)
MISCONFIGURED = re.compile(
    r"misconfigur|incorrect .*configuration|invalid (host|endpoint|url|configuration)|not configured|"
    r"check your (configuration|settings|firewall|network)|due to user error|_DUE_TO_MISCONFIG|"
    r"firewall|private link|allowlist|whitelist the",
    re.I,
)
STILL_RUNNING = re.compile(r"still running|exceeded (its |the )?(maximum |configured )?(duration|timeout)|timeout_seconds", re.I)
DRIVER = re.compile(r"driver|collect|maxResultSize|toPandas", re.I)
SPOT = re.compile(r"\bspot\b|preempt", re.I)


def new_params_for(category: str, text: str) -> str:
    """The kind of change for a RETRY_WITH_NEW_PARAMS: ``driver_memory`` when the driver ran out
    (collect, result size), ``on_demand`` for spot capacity, ``more_workers`` for time limits,
    else ``bigger_node``."""
    if category == "cloud_capacity":
        return "on_demand"
    if category == "timeout":
        return "more_workers"
    if category == "resource" and DRIVER.search(text):
        return "driver_memory"
    return "bigger_node"


def priority_for(category: str, remediation: str) -> str:
    """``critical`` | ``high`` | ``medium``."""
    if remediation == "ESCALATE":
        return "critical"
    if remediation == "IGNORE":
        return "medium"
    return PRIORITY.get(category, "high")


def decide(
    category: str,
    text: str,
    confidence: float,
    stated: str | None = None,
    stated_params: str | None = None,
    neighbour_votes: dict[str, float] | None = None,
) -> tuple[str, str | None]:
    """Choose ``(remediation, new_params)``; new_params is set only for RETRY_WITH_NEW_PARAMS.

    Args:
        category: one of the 13 categories.
        text: the evidence to read (the deciding line, or the whole message).
        confidence: of the category (0..1).
        stated: the remediation the deciding rule states, if any.
        stated_params: that rule's new_params hint.
        neighbour_votes: remediation -> summed similarity of the nearest examples of this category.
    """
    if confidence < ESCALATE_BELOW:
        return "ESCALATE", None
    remediation: str | None = None
    params = stated_params
    if stated:
        remediation = stated
        if stated == "RETRY" and MISCONFIGURED.search(text):
            remediation = "NOTIFY_OWNER"
    if remediation is None:
        if category == "network":
            if MISCONFIGURED.search(text):
                remediation = "NOTIFY_OWNER"
            elif TRANSIENT.search(text):
                remediation = "RETRY"
        elif category == "timeout" and STILL_RUNNING.search(text):
            remediation = "RETRY_WITH_NEW_PARAMS"
        elif category == "cloud_capacity" and SPOT.search(text):
            remediation = "RETRY_WITH_NEW_PARAMS"
        elif category == "platform_internal" and MISCONFIGURED.search(text):
            remediation = "NOTIFY_OWNER"
        elif category in ("platform_internal", "timeout") and TRANSIENT.search(text):
            remediation = "RETRY"
    if remediation is None and neighbour_votes:
        total = sum(neighbour_votes.values())
        best = max(neighbour_votes, key=neighbour_votes.get)
        if total > 0 and neighbour_votes[best] / total >= NEIGHBOUR_REMEDIATION_SHARE:
            remediation = best
    if remediation is None:
        remediation = DEFAULT_REMEDIATION.get(category, "ESCALATE")
    if remediation == "RETRY_WITH_NEW_PARAMS":
        return remediation, params or new_params_for(category, text)
    return remediation, None
