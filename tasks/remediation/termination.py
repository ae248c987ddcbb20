"""Layer 1: what the Jobs API already says about a run's end, a free first-level label.

Inputs are the strings of the SDK enums (``databricks.sdk.service.jobs``):
``TerminationCodeCode`` (``termination_code``), ``TerminationTypeType`` (``termination_type``)
and ``RunResultState`` (``result_state``). Unknown values are ignored (the API may add codes).

:func:`read` returns a :class:`Verdict` or None. A verdict with ``sure=True`` is final for what
it states (its category, and its remediation when set); an unsure one is a prior that the
message layers may overrule. Pure Python, no SDK import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """What the termination fields imply.

    ``category`` may be None when the fields say what to do but not why (a user cancelled);
    then ``fallback_category`` is reported unless the message layers name one.
    ``evidence``: e.g. ``termination_code=USER_CANCELED``.
    """

    category: str | None
    remediation: str | None
    confidence: float
    sure: bool
    evidence: str
    new_params: str | None = None
    fallback_category: str | None = None


# code -> (category, remediation, confidence, sure, new_params, fallback_category)
TERMINATION_CODES: dict[str, tuple] = {
    "USER_CANCELED": (None, "IGNORE", 0.97, True, None, "timeout"),
    "DISABLED": (None, "IGNORE", 0.97, True, None, "concurrency_conflict"),
    "SKIPPED": (None, "IGNORE", 0.95, True, None, "concurrency_conflict"),
    "MAX_CONCURRENT_RUNS_EXCEEDED": ("concurrency_conflict", "IGNORE", 0.97, True, None, None),
    "MAX_JOB_QUEUE_SIZE_EXCEEDED": ("concurrency_conflict", "IGNORE", 0.95, True, None, None),
    "MAX_SPARK_CONTEXTS_EXCEEDED": ("concurrency_conflict", "RETRY", 0.85, False, None, None),
    "WORKSPACE_RUN_LIMIT_EXCEEDED": ("rate_limit", "RETRY", 0.97, True, None, None),
    "CLUSTER_REQUEST_LIMIT_EXCEEDED": ("rate_limit", "RETRY", 0.97, True, None, None),
    "LIBRARY_INSTALLATION_ERROR": ("library_dependency", "NOTIFY_OWNER", 0.95, True, None, None),
    "UNAUTHORIZED_ERROR": ("permission", "NOTIFY_OWNER", 0.95, True, None, None),
    "RESOURCE_NOT_FOUND": ("missing_data", "NOTIFY_OWNER", 0.9, True, None, None),
    "CLOUD_FAILURE": ("cloud_capacity", None, 0.9, True, None, None),
    "INVALID_CLUSTER_REQUEST": ("code_bug", "NOTIFY_OWNER", 0.88, True, None, None),
    "INVALID_RUN_CONFIGURATION": ("code_bug", "NOTIFY_OWNER", 0.88, True, None, None),
    "BREAKING_CHANGE": ("platform_internal", "RETRY", 0.9, True, None, None),
    "CANCELED": ("timeout", "RETRY_WITH_NEW_PARAMS", 0.75, False, "more_workers", None),
    "FEATURE_DISABLED": ("code_bug", "NOTIFY_OWNER", 0.6, False, None, None),
    "BUDGET_POLICY_LIMIT_EXCEEDED": ("permission", "NOTIFY_OWNER", 0.7, False, None, None),
    "STORAGE_ACCESS_ERROR": ("permission", None, 0.5, False, None, None),
    "REPOSITORY_CHECKOUT_FAILED": ("network", "RETRY", 0.6, False, None, None),
    "CLUSTER_TERMINATED_BY_USER": ("platform_internal", "RETRY", 0.7, False, None, None),
    "INTERNAL_ERROR": ("platform_internal", None, 0.6, False, None, None),
    "DRIVER_ERROR": ("platform_internal", None, 0.45, False, None, None),
    "CLUSTER_ERROR": ("platform_internal", None, 0.45, False, None, None),
}

RESULT_STATES: dict[str, tuple] = {
    "CANCELED": (None, "IGNORE", 0.9, True, None, "timeout"),
    "TIMEDOUT": ("timeout", "RETRY_WITH_NEW_PARAMS", 0.95, True, "more_workers", None),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("concurrency_conflict", "IGNORE", 0.97, True, None, None),
    "UPSTREAM_FAILED": (None, "IGNORE", 0.95, True, None, "concurrency_conflict"),
    "UPSTREAM_CANCELED": (None, "IGNORE", 0.95, True, None, "concurrency_conflict"),
    "EXCLUDED": (None, "IGNORE", 0.95, True, None, "concurrency_conflict"),
    "DISABLED": (None, "IGNORE", 0.95, True, None, "concurrency_conflict"),
}

TERMINATION_TYPES: dict[str, tuple] = {
    "CLOUD_FAILURE": ("cloud_capacity", "RETRY", 0.75, False, None, None),
    "INTERNAL_ERROR": ("platform_internal", None, 0.55, False, None, None),
}


def _norm(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    if "." in value:  # "TerminationCodeCode.USER_CANCELED" (str of the enum member)
        value = value.rsplit(".", 1)[1]
    return value.upper() or None


def read(termination_code: str | None, termination_type: str | None, result_state: str | None) -> Verdict | None:
    """The strongest verdict of the three fields (code, then result state, then type), or None
    when none of them is known or informative (``RUN_EXECUTION_ERROR``, ``SUCCESS``...)."""
    candidates: list[Verdict] = []
    for field, value, table in (
        ("termination_code", _norm(termination_code), TERMINATION_CODES),
        ("result_state", _norm(result_state), RESULT_STATES),
        ("termination_type", _norm(termination_type), TERMINATION_TYPES),
    ):
        if value and value in table:
            category, remediation, confidence, sure, new_params, fallback = table[value]
            candidates.append(Verdict(category, remediation, confidence, sure, f"{field}={value}", new_params, fallback))
    if not candidates:
        return None
    return max(candidates, key=lambda v: (v.sure, v.confidence))
