"""The model in remediation, through the real gateway and a scripted local OpenAI-compatible server:
rules first, the model only under the threshold, its answer validated like a person's input."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from llm.config import LlmSettings
from llm.gateway import Gateway
from state.engine import make_engine
from state.models import LlmCall
from tasks.remediation.classify import CATEGORIES, REMEDIATIONS, Classifier
from tasks.remediation.llm_fallback import LLM_BELOW, answer_schema, nearest_examples, refine

UNSURE = "Stage 7 of the nightly load stopped: the frobnicator reported status QX-77 for batch 2048"
SURE = "java.lang.OutOfMemoryError: Java heap space"
SECRET = "dapi0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture(scope="module")
def rules() -> Classifier:
    return Classifier(use_neighbours=False)


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'state.db'}")


def gateway(server, engine=None) -> Gateway:
    settings = LlmSettings(model=server.model, api_base=server.url, timeout_s=5.0, max_retries=1)
    return Gateway(settings, engine, backoff_s=0.01)


def answer(**fields) -> str:
    base = {"category": "platform_internal", "remediation": "RETRY", "confidence": 0.8,
            "evidence": "the frobnicator reported status QX-77"}
    return json.dumps({**base, **fields})


def prompt_text(request: dict) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def test_unsure_rules_take_the_models_validated_decision(llm_server, rules, engine):
    rule = rules.classify(UNSURE)
    assert rule.confidence < LLM_BELOW and rule.layer == "default"
    llm_server.script([answer()])
    refined = refine(rule, gateway(llm_server, engine), rules, UNSURE, result_state="FAILED", task_id=7)
    d = refined.diagnosis
    assert (d.category, d.remediation, d.layer, d.confidence) == ("platform_internal", "RETRY", "llm", 0.8)
    assert d.evidence == "the frobnicator reported status QX-77" and d.new_params is None
    assert refined.used and refined.rule == rule and "model chose platform_internal/RETRY" in refined.note
    [request] = llm_server.requests
    text = prompt_text(request)
    assert UNSURE in text and "result_state: FAILED" in text
    for allowed in (*CATEGORIES, *REMEDIATIONS, "bigger_node", "on_demand"):
        assert allowed in text
    assert request["response_format"] == {"type": "json_object"}
    with Session(engine) as session:
        [call] = session.exec(select(LlmCall)).all()
    assert (call.purpose, call.status, call.task_id) == ("remediation", "ok", 7)


def test_a_sure_rule_never_reaches_the_model(llm_server, rules):
    rule = rules.classify(SURE, termination_code="DRIVER_ERROR")
    assert rule.confidence >= LLM_BELOW
    llm_server.script([answer(category="code_bug", remediation="IGNORE", evidence="Java heap space")])
    refined = refine(rule, gateway(llm_server), rules, SURE, termination_code="DRIVER_ERROR")
    assert refined.diagnosis == rule and not refined.asked and llm_server.requests == []


def test_the_threshold_is_the_callers(llm_server, rules):
    rule = rules.classify(UNSURE)
    refined = refine(rule, gateway(llm_server), rules, UNSURE, threshold=rule.confidence)
    assert refined.diagnosis == rule and not refined.asked and llm_server.requests == []


def test_parameters_outside_the_allow_list_get_one_repair_round(llm_server, rules):
    rule = rules.classify(UNSURE)
    llm_server.script([
        answer(category="resource", remediation="RETRY_WITH_NEW_PARAMS", parameters={"new_params": "spark.executor.memory=64g"}),
        answer(category="resource", remediation="RETRY_WITH_NEW_PARAMS", parameters={"new_params": "more_workers"}),
    ])
    d = refine(rule, gateway(llm_server), rules, UNSURE).diagnosis
    assert (d.category, d.remediation, d.new_params, d.layer) == ("resource", "RETRY_WITH_NEW_PARAMS", "more_workers", "llm")
    repair = llm_server.requests[1]["messages"][-1]["content"]
    assert "rejected by validation" in repair and "new_params" in repair


def test_an_answer_invalid_twice_leaves_the_rule_decision(llm_server, rules):
    rule = rules.classify(UNSURE)
    llm_server.script([
        answer(category="cosmic_rays"),                                   # not a category (schema enum)
        answer(remediation="RETRY", parameters={"new_params": "bigger_node"}),  # parameters without new-params retry
    ])
    refined = refine(rule, gateway(llm_server), rules, UNSURE)
    assert refined.diagnosis == rule and refined.asked and not refined.used
    assert "LlmOutputInvalid" in refined.note and "rules stand" in refined.note
    assert len(llm_server.requests) == 2


def test_evidence_must_quote_the_error_text(llm_server, rules):
    rule = rules.classify(UNSURE)
    llm_server.script([answer(evidence="the disk is full"), answer(evidence="the disk is full")])
    refined = refine(rule, gateway(llm_server), rules, UNSURE)
    assert refined.diagnosis == rule
    assert "verbatim quote" in llm_server.requests[1]["messages"][-1]["content"]


def test_low_model_confidence_escalates_like_the_rules(llm_server, rules):
    rule = rules.classify(UNSURE)
    llm_server.script([answer(category="resource", remediation="RETRY_WITH_NEW_PARAMS", confidence=0.2)])
    d = refine(rule, gateway(llm_server), rules, UNSURE).diagnosis
    assert (d.category, d.remediation, d.new_params, d.priority, d.layer) == ("resource", "ESCALATE", None, "critical", "llm")


def test_an_unreachable_model_leaves_the_rule_decision(llm_server, rules):
    rule = rules.classify(UNSURE)
    llm_server.script([{"status": 500}, {"status": 429}])
    refined = refine(rule, gateway(llm_server), rules, UNSURE)
    assert refined.diagnosis == rule and "LlmUnavailable" in refined.note


def test_the_prompt_is_masked(llm_server, rules):
    message = f"{UNSURE}; connecting with token={SECRET} failed"
    rule = rules.classify(message)
    llm_server.script([answer()])
    refine(rule, gateway(llm_server), rules, message)
    assert SECRET not in json.dumps(llm_server.requests)


def test_no_model_configured_is_the_rules_alone(monkeypatch, rules, capsys):
    from llm.gateway import get_gateway

    monkeypatch.delenv("JOB_AGENT_LLM_MODEL", raising=False)
    gw = get_gateway()
    rule = rules.classify(UNSURE)
    refined = refine(rule, gw, rules, UNSURE)
    assert gw is None and refined.diagnosis == rule and not refined.asked


def test_schema_enums_are_the_allowed_values():
    schema = answer_schema()
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert schema["properties"]["remediation"]["enum"] == list(REMEDIATIONS)
    assert set(schema["properties"]["parameters"]["properties"]["new_params"]["enum"]) == {
        "bigger_node", "more_workers", "driver_memory", "on_demand"}


def test_nearest_examples_never_show_the_same_error():
    same = "Job aborted: the vendor gateway answered 'quota bucket 17 drained' for tenant 42"
    clf = Classifier(extra_examples=[{"message": same.replace("17", "18"), "category": "rate_limit", "remediation": "RETRY"}])
    found = nearest_examples(clf, same)
    assert found and all("quota bucket" not in e.message for e, _ in found)
    assert nearest_examples(Classifier(use_neighbours=False), same) == []


# --- the remediate_run task end to end: lead submit -> worker -> sandbox, the model behind real HTTP ---------

def _e2e_module():
    import importlib.util
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "e2e"
    sys.path.insert(0, str(here))
    spec = importlib.util.spec_from_file_location("e2e_conftest_for_llm", here / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def e2e(tmp_path, monkeypatch):
    from sandbox import running_sandbox

    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
    with running_sandbox(clock_speed=3600.0) as sb:
        yield _e2e_module().E2E(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", sb)


def _remediate(e2e, message: str, remediation: str = "{enabled: true}", front_matter: str = ""):
    from e2e_helpers import notebook_job, requirement
    from state.models import Decision

    e2e.sb.load_scenario({"rules": [{"job": "Nightly ETL", "task": "step", "attempts": [1], "message": message}]})
    path = e2e.write("req.md", requirement(notebook_job("etl", "Nightly ETL"),
                                           extra=f"run_after_deploy: [etl]\nremediation: {remediation}\n{front_matter}"))
    code, _, err = e2e.lead("submit", str(path))
    assert code == 0, err
    e2e.run_worker()
    with Session(e2e.engine()) as session:
        return session.exec(select(Decision)).all(), session.exec(select(LlmCall).order_by(LlmCall.id)).all()


def test_remediate_run_records_the_models_decision_as_layer_llm(e2e, llm_env):
    llm_env.script([answer(evidence="frobnicator reported status QX-77")])
    (decision,), calls = _remediate(e2e, UNSURE)
    assert (decision.category, decision.remediation, decision.layer) == ("platform_internal", "RETRY", "llm")
    assert decision.outcome == "SUCCESS" and "the rules were unsure (code_bug 0.20, default)" in decision.reason
    assert [(c.purpose, c.status) for c in calls] == [("remediation", "ok")] and calls[0].task_id == decision.task_id


def test_the_front_matter_threshold_keeps_the_model_out(e2e, llm_env):
    (decision,), calls = _remediate(e2e, UNSURE, "{enabled: true, llm_below: 0.1, escalate_to: oncall@example.com}")
    assert (decision.layer, decision.remediation) == ("default", "ESCALATE")
    assert [c.purpose for c in calls] == ["remediation_email"]  # only the e-mail paragraph was asked for (and failed)
    assert "You classify failed Databricks job runs" not in json.dumps(llm_env.requests)


def test_the_e_mail_explanation_is_kept_only_with_numbers_from_the_run(e2e, llm_env):
    llm_env.script([
        answer(category="code_bug", remediation="NOTIFY_OWNER", evidence="status QX-77 for batch 2048"),
        "Batch 2048 failed in stage 7 after 3 retries.",                     # "3" is not in the run: rejected
        "The frobnicator step rejected batch 2048 in stage 7 (status QX-77). Check the batch's input with its owner.",
    ])
    (decision,), calls = _remediate(e2e, UNSURE, "{enabled: true}")
    assert (decision.layer, decision.remediation, decision.status) == ("llm", "NOTIFY_OWNER", "APPLIED")
    assert [(c.purpose, c.status) for c in calls] == [("remediation", "ok"), ("remediation_email", "invalid"),
                                                      ("remediation_email", "ok")]
    assert "not in the facts: 3" in llm_env.requests[2]["messages"][-1]["content"]
    body = open(decision.detail["email"]["path"], encoding="utf-8").read()
    assert "written by a model" in body and "rejected batch 2048" in body
    assert "Error excerpt:" in body and "QX-77" in body.split("Error excerpt:")[1]


def test_a_failed_explanation_leaves_the_rule_text(e2e, llm_env):
    llm_env.script([answer(category="code_bug", remediation="NOTIFY_OWNER", evidence="status QX-77"),
                    "See https://example.com/fix now.", "Also 987654 things went wrong."])
    (decision,), _ = _remediate(e2e, UNSURE, "{enabled: true}")
    body = open(decision.detail["email"]["path"], encoding="utf-8").read()
    assert "written by a model" not in body and "https://example.com/fix" not in body
    assert "Why:" in body and "code_bug (llm, confidence 0.80)" in body


def test_without_a_model_remediation_runs_on_rules_and_says_so_once(e2e, capfd, monkeypatch):
    monkeypatch.setattr("llm.gateway._said_off", False)  # "once per process": earlier tests may have said it
    (decision,), calls = _remediate(e2e, UNSURE, "{enabled: true}")
    assert (decision.layer, decision.remediation) == ("default", "ESCALATE") and calls == []
    err = capfd.readouterr().err
    assert err.count("LLM is off (set JOB_AGENT_LLM_MODEL to use one)") == 1


@pytest.mark.parametrize("value", [1.5, -0.1, "high", True])
def test_llm_below_is_validated_like_the_other_remediation_fields(value):
    from lead.errors import FieldProblem
    from lead.remediation_block import check_remediation

    with pytest.raises(FieldProblem) as caught:
        check_remediation({"enabled": True, "llm_below": value})
    assert caught.value.path == ("remediation", "llm_below")
    assert check_remediation({"llm_below": 0.3})["llm_below"] == 0.3
    assert check_remediation({})["llm_below"] == LLM_BELOW


def test_a_requirements_llm_choice_travels_with_its_remediation_block(llm_env):
    from lead.remediation_block import with_remediation
    from state.submissions import NewTask
    from tasks.base import TaskContext
    from tasks.llm_access import task_gateway

    spec = NewTask(key="run_job:etl", type="run_job", title="run", payload={"job": "etl"})
    (wired,) = with_remediation([spec], {"remediation": {"enabled": True}, "llm": "off"}, "owner@example.com")
    config = wired.payload["remediation"]
    assert config["llm"] == "off"
    ctx = TaskContext(task_id=1, task_ref="T-0001", spec_key="k", task_type="remediate_run", payload={"remediation": config},
                      requirement_ref="R-0001", requirement_revision=1, attempt=1, dependency_results={},
                      workspace_factory=lambda: None)
    assert task_gateway(ctx, config.get("llm")) is None
    assert task_gateway(ctx).settings.model == llm_env.model
    logged = []
    ctx.log = logged.append
    assert task_gateway(ctx, {"model": "openai/x", "colour": "blue"}) is None and "unknown key" in logged[0]


def test_a_run_the_context_ignores_never_reaches_the_model(e2e, llm_env):
    """A failed run superseded by a newer successful one is IGNOREd: its unsure error is not
    worth a model call."""
    from databricks.sdk.service import compute, jobs

    from state.models import Decision

    e2e.sb.load_scenario({"rules": [{"job": "Flaky job", "attempts": [1], "message": UNSURE}]})
    w = e2e.sb.workspace_client()
    cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
    job_id = w.jobs.create(name="Flaky job", tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(
        notebook_path="/Workspace/Shared/job-agent/notebooks/ingest"), new_cluster=cluster)]).job_id
    failed = w.jobs.run_now(job_id=job_id).result()
    assert failed.state.result_state.value == "FAILED"
    assert w.jobs.run_now(job_id=job_id).result().state.result_state.value == "SUCCESS"
    assert e2e.lead("remediate", str(failed.run_id))[0] == 0
    assert e2e.run_worker() == {"COMPLETE": 1}
    with Session(e2e.engine()) as session:
        (decision,) = session.exec(select(Decision)).all()
    assert decision.remediation == "IGNORE" and "superseded" in decision.reason
    assert decision.layer == "default" and llm_env.requests == []


def test_llm_off_in_the_requirement_keeps_its_remediations_on_rules(e2e, llm_env):
    (decision,), calls = _remediate(e2e, UNSURE, "{enabled: true}", front_matter="llm: off\n")
    assert (decision.layer, decision.remediation) == ("default", "ESCALATE")
    assert calls == [] and llm_env.requests == []
