"""The classifier's layers with real messages and the real MiniLM model (no mocks)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from tasks.remediation.classify import CATEGORIES, LAYERS, NEW_PARAMS, REMEDIATIONS, Classifier, Diagnosis
from tasks.remediation import policy, signatures
from tasks.remediation.neighbours import correction_key, digest, load_examples

JVM_TRACE = """24/05/02 10:11:12 ERROR Executor: Exception in task 3.0 in stage 7.0 (TID 41)
org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times
\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2672)
\tat org.apache.spark.sql.execution.datasources.jdbc.JdbcUtils.savePartition(JdbcUtils.scala:700)
Caused by: java.net.ConnectException: Connection refused (Connection refused)
\tat java.net.PlainSocketImpl.socketConnect(Native Method)
\tat org.apache.spark.memory.TaskMemoryManager.acquireExecutionMemory(TaskMemoryManager.java:180)
"""


# --- layer 1: termination code, type and result state ------------------------------------

@pytest.mark.parametrize(
    "kwargs, category, remediation",
    [
        ({"termination_code": "USER_CANCELED"}, None, "IGNORE"),
        ({"result_state": "MAXIMUM_CONCURRENT_RUNS_REACHED"}, "concurrency_conflict", "IGNORE"),
        ({"termination_code": "MAX_CONCURRENT_RUNS_EXCEEDED"}, "concurrency_conflict", "IGNORE"),
        ({"termination_code": "LIBRARY_INSTALLATION_ERROR"}, "library_dependency", "NOTIFY_OWNER"),
        ({"termination_code": "UNAUTHORIZED_ERROR"}, "permission", "NOTIFY_OWNER"),
        ({"termination_code": "WORKSPACE_RUN_LIMIT_EXCEEDED"}, "rate_limit", "RETRY"),
        ({"termination_code": "TerminationCodeCode.RESOURCE_NOT_FOUND"}, "missing_data", "NOTIFY_OWNER"),
        ({"result_state": "TIMEDOUT"}, "timeout", "RETRY_WITH_NEW_PARAMS"),
    ],
)
def test_termination_layer(rules, kwargs, category, remediation):
    d = rules.classify("Run ended.", **kwargs)
    assert d.layer == "termination"
    assert d.remediation == remediation
    if category:
        assert d.category == category
    assert d.category in CATEGORIES
    assert d.evidence.split("=")[0] in ("termination_code", "result_state", "termination_type")


def test_user_cancel_names_the_cause_from_the_message(rules):
    d = rules.classify("java.lang.OutOfMemoryError: Java heap space", termination_code="USER_CANCELED")
    assert (d.category, d.remediation, d.layer) == ("resource", "IGNORE", "termination")


def test_cloud_failure_code_reads_the_message_for_the_remediation(rules):
    d = rules.classify("The spot instances backing the workers were reclaimed by AWS", termination_code="CLOUD_FAILURE")
    assert (d.category, d.remediation, d.new_params, d.layer) == ("cloud_capacity", "RETRY_WITH_NEW_PARAMS", "on_demand", "termination")


def test_unsure_termination_code_yields_to_a_signature(rules):
    d = rules.classify("Caused by: java.lang.OutOfMemoryError: GC overhead limit exceeded", termination_code="DRIVER_ERROR")
    assert (d.category, d.layer) == ("resource", "signature")


# --- layer 2: signatures --------------------------------------------------------------------

@pytest.mark.parametrize(
    "message, category, remediation, new_params",
    [
        ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `ordr_id` cannot be resolved. Did you mean one of the following? [`order_id`]", "syntax_or_analysis", "NOTIFY_OWNER", None),
        ("io.delta.exceptions.ConcurrentAppendException: [DELTA_CONCURRENT_APPEND] Files were added to partition [day=2024-09-01] by a concurrent update. Please try the operation again.", "concurrency_conflict", "RETRY", None),
        ("[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`silver`.`payments` cannot be found.", "missing_data", "NOTIFY_OWNER", None),
        ("org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results of 4021 tasks (4.1 GiB) is bigger than spark.driver.maxResultSize (4.0 GiB)", "resource", "RETRY_WITH_NEW_PARAMS", "driver_memory"),
        ("java.io.IOException: No space left on device", "resource", "RETRY_WITH_NEW_PARAMS", "bigger_node"),
        ("com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down (Service: Amazon S3; Status Code: 503; Error Code: SlowDown)", "rate_limit", "RETRY", None),
        ("java.net.UnknownHostException: warehouse-db.corp.invalid", "network", "NOTIFY_OWNER", None),
        ("java.net.SocketException: Connection reset by peer", "network", "RETRY", None),
        ("PERMISSION_DENIED: User does not have MODIFY on Table 'main.gold.kpis'.", "permission", "NOTIFY_OWNER", None),
        ("Cluster terminated. Reason: INIT_SCRIPT_FAILURE: init script /Volumes/ops/scripts/setup.sh exited with status 1", "library_dependency", "NOTIFY_OWNER", None),
        ("[DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields 'amount' and 'amount'", "data_quality_schema", "NOTIFY_OWNER", None),
        ("InsufficientInstanceCapacity: We currently do not have sufficient i3.2xlarge capacity in the Availability Zone you requested", "cloud_capacity", "RETRY", None),
        ("TEMPORARILY_UNAVAILABLE: The service at /api/2.1/jobs/runs/get is temporarily unavailable. Please try again later.", "platform_internal", "RETRY", None),
        ("context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "timeout", "RETRY", None),
    ],
)
def test_signature_layer(rules, message, category, remediation, new_params):
    d = rules.classify(message)
    assert (d.category, d.remediation, d.new_params) == (category, remediation, new_params)
    assert d.layer == "signature"
    assert d.confidence >= 0.85
    assert d.evidence and d.evidence in " ".join(message.split())


def test_last_caused_by_beats_words_in_frames(rules):
    d = rules.classify("org.apache.spark.SparkException: Task failed while writing rows", trace=JVM_TRACE)
    assert d.category == "network"  # not "resource" from TaskMemoryManager in a frame
    assert d.remediation == "NOTIFY_OWNER"
    assert "Connection refused" in d.evidence


def test_frames_alone_decide_nothing():
    frames_only = "\tat org.apache.spark.memory.OutOfMemoryHandler.run(X.java:1)\n\tat foo.Bar.baz(Bar.java:2)"
    assert signatures.match(frames_only) == []


def test_platform_crash_inside_vendor_code_escalates(rules):
    text = "Caused by: java.lang.NullPointerException\n\tat com.databricks.backend.daemon.driver.Something.run(Something.scala:10)"
    d = rules.classify(text)
    assert (d.category, d.remediation, d.priority) == ("platform_internal", "ESCALATE", "critical")


def test_misconfiguration_named_in_the_text_is_for_the_owner(rules):
    d = rules.classify("Spark failed to start: the driver is unresponsive. Possible reasons: a misconfigured init script.")
    assert d.remediation == "NOTIFY_OWNER"


def test_rules_fall_back_to_default_and_escalate(rules):
    d = rules.classify("The nightly step finished in an unexpected way; see the log")
    assert (d.layer, d.remediation, d.priority) == ("default", "ESCALATE", "critical")
    assert d.confidence < policy.ESCALATE_BELOW


# --- layer 3: neighbours --------------------------------------------------------------------

def test_neighbours_decide_what_the_rules_cannot(clf):
    message = "The worker nodes were taken back by the cloud provider when the spot price rose"
    assert signatures.match(message) == []
    d = clf.classify(message)
    assert d.layer == "neighbours"
    assert (d.category, d.remediation, d.new_params) == ("cloud_capacity", "RETRY_WITH_NEW_PARAMS", "on_demand")
    assert "~ nearest:" in d.evidence


def test_neighbours_that_barely_agree_escalate(clf):
    d = clf.classify("Could not load the python package on the cluster: the wheel is missing")
    assert d.layer == "neighbours"
    assert d.confidence < policy.ESCALATE_BELOW and d.remediation == "ESCALATE"


def test_a_sure_rule_is_never_overridden_by_neighbours():
    contrary = [
        {"message": f"OutOfMemoryError: Java heap space while building hash table {w}", "category": "network", "remediation": "RETRY"}
        for w in ("alpha", "beta", "gamma", "delta", "epsilon")
    ]
    clf = Classifier(extra_examples=contrary)
    d = clf.classify("java.lang.OutOfMemoryError: Java heap space during the final sort")
    assert (d.category, d.layer) == ("resource", "signature")


def test_a_correction_applies_at_once_to_the_same_error():
    message = "Step load_orders finished with state FAILED after 812 seconds (attempt 3)"
    before = Classifier(use_neighbours=False).classify(message)
    assert before.category != "missing_data"
    correction = {"message": "Step load_orders finished with state FAILED after 95 seconds (attempt 1)",
                  "category": "missing_data", "remediation": "NOTIFY_OWNER"}
    after = Classifier(extra_examples=[correction], use_neighbours=False).classify(message)
    assert (after.category, after.remediation, after.layer) == ("missing_data", "NOTIFY_OWNER", "neighbours")
    assert "correction:" in after.evidence


def test_a_correction_moves_a_near_identical_message_through_the_neighbours(clf):
    message = "Ingest step for the vendor feed ended: the partner's drop folder held zero files for today"
    correction = {"message": "Ingest step for the vendor feed ended: the partner's drop folder had no files for today",
                  "category": "missing_data", "remediation": "NOTIFY_OWNER"}
    assert correction_key(message) != correction_key(correction["message"])
    after = Classifier(extra_examples=[correction]).classify(message)
    assert (after.category, after.remediation, after.layer) == ("missing_data", "NOTIFY_OWNER", "neighbours")
    assert "drop folder had no files" in after.evidence


def test_extra_examples_are_validated():
    with pytest.raises(ValueError, match=r"extra_examples\[0\].*category"):
        Classifier(extra_examples=[{"message": "x", "category": "nope", "remediation": "RETRY"}])
    with pytest.raises(ValueError, match=r"extra_examples\[1\].*message"):
        Classifier(extra_examples=[{"message": "ok", "category": "timeout", "remediation": "RETRY"}, {"category": "timeout"}])


# --- the contract ---------------------------------------------------------------------------

def test_diagnosis_is_frozen_and_serialisable(rules):
    d = rules.classify("ModuleNotFoundError: No module named 'pyarrow'")
    assert isinstance(d, Diagnosis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.category = "x"  # type: ignore[misc]
    data = d.as_dict()
    assert set(data) == {"category", "remediation", "confidence", "evidence", "layer", "priority", "new_params"}
    json.dumps(data)
    assert data["category"] in CATEGORIES and data["remediation"] in REMEDIATIONS and data["layer"] in LAYERS
    assert 0.0 <= data["confidence"] <= 1.0 and data["priority"] in ("critical", "high", "medium")


def test_shipped_examples_are_valid_and_cover_every_category():
    examples = load_examples()
    assert {e.category for e in examples} == set(CATEGORIES)
    assert {e.remediation for e in examples} <= set(REMEDIATIONS)
    assert all(e.message.strip() for e in examples)


def test_new_params_only_with_retry_with_new_params(rules):
    for message in ("java.lang.OutOfMemoryError: Java heap space", "429 Too Many Requests", "Permission denied"):
        d = rules.classify(message)
        assert (d.new_params in NEW_PARAMS) == (d.remediation == "RETRY_WITH_NEW_PARAMS")


def test_digest_drops_frames_and_leads_with_the_root_cause():
    text = digest("SparkException: stage failure", JVM_TRACE)
    assert "PlainSocketImpl" not in text and "DAGScheduler.scala" not in text
    assert text.split(" | ")[1].startswith("Caused by: java.net.ConnectException")


def test_rules_alone_never_import_sentence_transformers():
    code = (
        "import sys\n"
        "from tasks.remediation.classify import Classifier\n"
        "c = Classifier()\n"  # neighbours allowed, but every message below is settled by rules
        "c.classify('[TABLE_OR_VIEW_NOT_FOUND] The table `a`.`b` cannot be found.')\n"
        "c.classify('x', termination_code='USER_CANCELED')\n"
        "Classifier(use_neighbours=False).classify('something vague')\n"
        "print('sentence_transformers' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
