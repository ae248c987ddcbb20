"""Scripted run outcomes: which task execution fails, how, and when a retry succeeds.

A scenario is a YAML file or a dict::

    rules:
      - job: nightly-orders          # job name (or runs/submit run_name); omit to match any job
        task: transform              # task_key; omit to match every task of the job
        attempts: [1]                # which executions fail (1-based, counted per job name + task key
                                     # across runs, retries and repairs); omit = every execution
        error: fail-003              # id in ../shared/data/failures.jsonl: message and trace from there
        termination_code: RUN_EXECUTION_ERROR   # jobs.TerminationCodeCode (default RUN_EXECUTION_ERROR)
        result_state: FAILED         # FAILED (default) or TIMEDOUT
        message: "java.lang.OutOfMemoryError: Java heap space"   # optional, overrides the short error
        trace: "..."                 # optional, overrides the trace
        duration_seconds: 20         # simulated execution time of a failing execution (default 20)
        succeeds_when:               # an execution matching the rule still succeeds if ALL of these hold
          min_memory_gb: 60          # the task's cluster node type has at least this memory (GB = MB/1024)
          after_repair: true         # the execution is part of a runs/repair
    defaults:
      duration_seconds: 30           # simulated execution time of succeeding tasks

``error`` ids are resolved when the scenario is loaded (the failures file is read only then, only
if a rule references it; ``SANDBOX_FAILURES_FILE`` or the scenario's ``failures_file`` overrides
the default ``../shared/data/failures.jsonl`` beside the repository). Without a scenario every run
succeeds. The termination code decides the type and life cycle like the service: client errors
(``RUN_EXECUTION_ERROR``, ``LIBRARY_INSTALLATION_ERROR``...) end ``TERMINATED``/``FAILED``; platform
errors (``DRIVER_ERROR``, ``CLUSTER_ERROR``, ``CLOUD_FAILURE``, ``INTERNAL_ERROR``) end
``INTERNAL_ERROR``/``FAILED``. Source of the codes: ``jobs.TerminationCodeCode`` and
``jobs.TerminationTypeType`` in the SDK.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.errors import InvalidParameterValue

DEFAULT_FAILURES_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "failures.jsonl"

# termination code -> termination type (jobs.TerminationTypeType)
_CODE_TYPES = {
    "RUN_EXECUTION_ERROR": "CLIENT_ERROR",
    "LIBRARY_INSTALLATION_ERROR": "CLIENT_ERROR",
    "STORAGE_ACCESS_ERROR": "CLIENT_ERROR",
    "UNAUTHORIZED_ERROR": "CLIENT_ERROR",
    "RESOURCE_NOT_FOUND": "CLIENT_ERROR",
    "INVALID_CLUSTER_REQUEST": "CLIENT_ERROR",
    "INVALID_RUN_CONFIGURATION": "CLIENT_ERROR",
    "REPOSITORY_CHECKOUT_FAILED": "CLIENT_ERROR",
    "MAX_SPARK_CONTEXTS_EXCEEDED": "CLIENT_ERROR",
    "CLUSTER_REQUEST_LIMIT_EXCEEDED": "CLIENT_ERROR",
    "WORKSPACE_RUN_LIMIT_EXCEEDED": "CLIENT_ERROR",
    "BREAKING_CHANGE": "CLIENT_ERROR",
    "DRIVER_ERROR": "INTERNAL_ERROR",
    "INTERNAL_ERROR": "INTERNAL_ERROR",
    "CLUSTER_ERROR": "CLOUD_FAILURE",
    "CLOUD_FAILURE": "CLOUD_FAILURE",
}


@dataclass(frozen=True)
class Outcome:
    """How one task execution ends when it does not succeed.

    ``life_cycle_state`` is ``TERMINATED`` for client errors and ``INTERNAL_ERROR`` for platform
    errors; ``termination_type`` is a ``jobs.TerminationTypeType`` value.
    """

    result_state: str
    termination_code: str
    termination_type: str
    life_cycle_state: str
    message: str
    trace: str
    duration_seconds: float

    def as_dict(self) -> dict:
        """JSON form stored in run records."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Rule:
    """One scenario rule (see the module docstring for the fields)."""

    job: str | None
    task: str | None
    attempts: tuple[int, ...] | None
    outcome: Outcome
    min_memory_gb: float | None = None
    after_repair: bool = False

    def matches(self, job_name: str | None, task_key: str, execution: int) -> bool:
        """True if this rule covers ``execution`` (1-based) of ``task_key`` in job ``job_name``."""
        if self.job is not None and (job_name or "").lower() != self.job.lower():
            return False
        if self.task is not None and task_key != self.task:
            return False
        return self.attempts is None or execution in self.attempts

    def succeeds(self, memory_gb: float | None, is_repair: bool) -> bool:
        """True if the ``succeeds_when`` conditions all hold (a rule without conditions never succeeds)."""
        if self.min_memory_gb is None and not self.after_repair:
            return False
        if self.min_memory_gb is not None and (memory_gb is None or memory_gb < self.min_memory_gb):
            return False
        if self.after_repair and not is_repair:
            return False
        return True


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: rules plus the default simulated duration of succeeding executions."""

    rules: tuple[Rule, ...] = ()
    default_duration_seconds: float = 30.0
    source: dict = field(default_factory=dict)

    def decide(self, job_name: str | None, task_key: str, execution: int,
               memory_gb: float | None, is_repair: bool) -> Outcome | None:
        """The failing outcome of this execution, or None when it succeeds (first matching rule wins)."""
        for rule in self.rules:
            if rule.matches(job_name, task_key, execution):
                return None if rule.succeeds(memory_gb, is_repair) else rule.outcome
        return None


def _short_error(message: str) -> str:
    """The line of a log excerpt that names the exception, else its first non-empty line."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for line in lines:
        m = re.search(r"((?:[a-zA-Z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Exceeded)\b:?.*)", line)
        if m:
            return m.group(1).strip()
    return lines[0] if lines else "Workload failed, see run output for details"


def _load_failures(path: Path) -> dict[str, dict]:
    if not path.exists():
        raise InvalidParameterValue(
            f"Scenario references a failure id but the failures file {path} does not exist "
            "(set SANDBOX_FAILURES_FILE or the scenario's failures_file)"
        )
    out = {}
    with path.open() as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = row
    return out


def parse_scenario(data: dict | str | Path | None) -> Scenario:
    """Build a :class:`Scenario` from a dict, a YAML/JSON file path, or None (no rules).

    Raises ``sandbox.errors.InvalidParameterValue`` (HTTP 400 over the control endpoint) for an
    unknown key, an unknown failure id or an unknown termination code.
    """
    if data is None:
        return Scenario()
    if isinstance(data, (str, Path)):
        import yaml

        path = Path(data)
        if not path.exists():
            raise InvalidParameterValue(f"Scenario file {path} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise InvalidParameterValue("A scenario must be a mapping with a 'rules' list")
    unknown = set(data) - {"rules", "defaults", "failures_file"}
    if unknown:
        raise InvalidParameterValue(f"Unknown scenario keys: {sorted(unknown)}")
    raw_rules = data.get("rules") or []
    failures: dict[str, dict] | None = None
    rules = []
    allowed = {"job", "task", "attempts", "error", "termination_code", "result_state", "message", "trace",
               "duration_seconds", "succeeds_when"}
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise InvalidParameterValue(f"Scenario rule {i} must be a mapping")
        bad = set(raw) - allowed
        if bad:
            raise InvalidParameterValue(f"Scenario rule {i}: unknown keys {sorted(bad)}")
        message, trace = raw.get("message"), raw.get("trace")
        if raw.get("error"):
            if failures is None:
                path = Path(data.get("failures_file") or os.environ.get("SANDBOX_FAILURES_FILE") or DEFAULT_FAILURES_FILE)
                failures = _load_failures(path)
            row = failures.get(raw["error"])
            if row is None:
                raise InvalidParameterValue(f"Scenario rule {i}: failure id {raw['error']!r} is not in the failures file")
            trace = trace or row["message"]
            message = message or _short_error(row["message"])
        message = message or "Workload failed, see run output for details"
        trace = trace or message
        code = raw.get("termination_code", "RUN_EXECUTION_ERROR")
        if code not in _CODE_TYPES:
            raise InvalidParameterValue(f"Scenario rule {i}: unsupported termination_code {code!r}; use one of {sorted(_CODE_TYPES)}")
        result_state = raw.get("result_state", "FAILED")
        if result_state not in ("FAILED", "TIMEDOUT"):
            raise InvalidParameterValue(f"Scenario rule {i}: result_state must be FAILED or TIMEDOUT")
        ttype = _CODE_TYPES[code]
        outcome = Outcome(
            result_state=result_state,
            termination_code=code,
            termination_type=ttype,
            life_cycle_state="TERMINATED" if ttype == "CLIENT_ERROR" else "INTERNAL_ERROR",
            message=message,
            trace=trace,
            duration_seconds=float(raw.get("duration_seconds", 20)),
        )
        attempts = raw.get("attempts")
        if attempts is not None:
            attempts = tuple(int(a) for a in ([attempts] if isinstance(attempts, int) else attempts))
        cond = raw.get("succeeds_when") or {}
        bad = set(cond) - {"min_memory_gb", "after_repair"}
        if bad:
            raise InvalidParameterValue(f"Scenario rule {i}: unknown succeeds_when keys {sorted(bad)}")
        rules.append(
            Rule(
                job=raw.get("job"),
                task=raw.get("task"),
                attempts=attempts,
                outcome=outcome,
                min_memory_gb=float(cond["min_memory_gb"]) if "min_memory_gb" in cond else None,
                after_repair=bool(cond.get("after_repair", False)),
            )
        )
    defaults = data.get("defaults") or {}
    # keep a resolved copy (messages baked in) so a persisted state needs no failures file
    resolved = {
        "rules": [
            {
                **{k: v for k, v in raw.items() if k != "error"},
                "message": r.outcome.message,
                "trace": r.outcome.trace,
            }
            for raw, r in zip(raw_rules, rules)
        ],
        "defaults": defaults,
    }
    return Scenario(tuple(rules), float(defaults.get("duration_seconds", 30.0)), resolved)
