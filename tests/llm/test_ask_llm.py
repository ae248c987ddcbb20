"""The model in `lead ask`, through the real gateway and a scripted local OpenAI-compatible server:
routing for questions the router is unsure about, the checked summary above the answer's tables,
and the no-model path."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from lead.ask.llm_route import LLM_BELOW, reroute
from lead.ask.router import route
from llm.config import LlmSettings
from llm.gateway import Gateway, OutputRejected
from state.models import LlmCall, Task
from tasks.answer_summary import check_summary, result_numbers

ROOT = Path(__file__).resolve().parents[2]
VAGUE = "lorem ipsum dolor sit amet"
TODAY = dt.date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def gateway(server) -> Gateway:
    return Gateway(LlmSettings(model=server.model, api_base=server.url, timeout_s=5.0, max_retries=1), backoff_s=0.01)


# --- routing -------------------------------------------------------------------------------------------

def test_an_unsure_route_takes_the_models_bound_templates(llm_server):
    before = route(VAGUE)
    assert before.intents == [] and before.confidence < LLM_BELOW
    llm_server.script([json.dumps({"templates": [{"name": "failed_jobs", "parameters": {"start_date": "today-7"}}]})])
    after, note = reroute(before, gateway(llm_server), today=TODAY)
    assert after.routed_by == "llm" and note == "routed by the model"
    assert after.intents == ["reliability"] and after.templates == [{"name": "failed_jobs", "parameters": {"start_date": "today-7"}}]
    assert after.as_dict()["routed_by"] == "llm" and after.confidence == before.confidence
    text = "\n".join(m["content"] for m in llm_server.requests[0]["messages"])
    assert VAGUE in text and "top_cost_contributors" in text and "2026-11-30" in text


def test_a_parameter_the_catalogue_refuses_gets_one_repair_then_the_router_stands(llm_server):
    before = route(VAGUE)
    bad = json.dumps({"templates": [{"name": "top_cost_contributors", "parameters": {"top_n": "lots"}}]})
    llm_server.script([bad, json.dumps({"templates": [{"name": "no_such_template"}]})])
    after, note = reroute(before, gateway(llm_server), today=TODAY)
    assert after == before and "LlmOutputInvalid" in note
    repair = llm_server.requests[1]["messages"][-1]["content"]
    assert "top_n" in repair and "is not a whole number" in repair


def test_a_repaired_route_is_taken(llm_server):
    llm_server.script([json.dumps({"templates": [{"name": "slow_queries", "parameters": {"min_duration": -5}}]}),
                       json.dumps({"templates": [{"name": "slow_queries", "parameters": {"min_duration": 600}}]})])
    after, _ = reroute(route(VAGUE), gateway(llm_server), today=TODAY)
    assert after.templates == [{"name": "slow_queries", "parameters": {"min_duration": "600"}}]
    assert after.intents == ["performance"]


def test_a_sure_route_never_reaches_the_model(llm_server):
    sure = route("Which jobs failed in the last 24 hours?")
    assert sure.confidence >= LLM_BELOW
    assert reroute(sure, gateway(llm_server))[0] is sure and llm_server.requests == []


def test_an_unreachable_model_leaves_the_routers_suggestions(llm_server):
    before = route(VAGUE)
    llm_server.script([{"status": 500}, {"status": 500}])
    after, note = reroute(before, gateway(llm_server))
    assert after is before and after.suggestions and "LlmUnavailable" in note


def test_lead_ask_dry_run_routes_with_the_model(llm_env, capsys):
    from lead.cli import app
    from lead.cli_runner import run_cli

    llm_env.script([json.dumps({"templates": [{"name": "failed_logins", "parameters": {}}]})])
    capsys.readouterr()
    code = run_cli(app, "lead", ["ask", VAGUE, "--dry-run", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert (data["intents"], data["routed_by"], data["templates"][0]["name"]) == (["security"], "llm", "failed_logins")


# --- the no-model path ----------------------------------------------------------------------------------

def test_without_a_model_lead_ask_says_so_once_and_never_imports_litellm(tmp_path):
    code = (
        "import sys\n"
        "from lead.cli import app\nfrom lead.cli_runner import run_cli\n"
        f"c1 = run_cli(app, 'lead', ['ask', {VAGUE!r}, '--dry-run'])\n"
        "c2 = run_cli(app, 'lead', ['ask', '--questions', sys.argv[1], '--dry-run', '--json'])\n"
        "print('CODES', c1, c2, 'litellm' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("JOB_AGENT_LLM")}
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{VAGUE}\nWhich jobs failed in the last 24 hours?\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", code, str(questions)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "CODES 1 0 False" in result.stdout, result.stderr
    assert result.stderr.count("LLM is off") == 1 and "nothing fits" in result.stderr


def test_a_sure_question_does_not_even_mention_the_llm():
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("JOB_AGENT_LLM")}
    result = subprocess.run([sys.executable, "-m", "lead.cli", "ask", "Which jobs failed in the last 24 hours?", "--dry-run"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "LLM" not in result.stderr and "failed_jobs" in result.stdout


# --- the summary check ----------------------------------------------------------------------------------

class _T:
    name, answers = "failed_jobs", "Failed job runs"


SECTIONS = [(_T(), {"columns": ["job_name", "failures", "cost_usd", "failure_rate"],
                    "rows": [["nightly-orders-etl", 14, 1234.567, 0.4567], ["hourly-sync", 3, 12.5, 0.0833]],
                    "row_count": 2, "report": {"totals": {"cost_usd": 1247.067}},
                    "parameters": {"start_date": "2026-11-23", "end_date": "2026-11-30"}})]


@pytest.mark.parametrize("text", [
    "One fails 0.46 of the time, about 0.5.",
    "2 jobs failed between 2026-11-23 and 2026-11-30; nightly-orders-etl failed 14 times.",
    "The failures cost $1,234.57 for nightly-orders-etl, about 1,235 dollars, and 1,247.07 in total.",
    "nightly-orders-etl fails 45.7% of the time (46%), hourly-sync 8.3%.",
])
def test_numbers_from_the_results_pass(text):
    assert check_summary(text, result_numbers(SECTIONS)) == text


@pytest.mark.parametrize("text, missing", [
    ("Failures rose 20% this week.", "20%"),
    ("Together they cost 1,300 dollars.", "1,300"),
    ("nightly-orders-etl failed 15 times.", "15"),
    ("It fails 0.46 of the time and 0.9 overall.", "0.9"),
])
def test_a_number_not_in_the_results_is_rejected(text, missing):
    with pytest.raises(OutputRejected) as caught:
        check_summary(text, result_numbers(SECTIONS))
    assert missing in caught.value.problems[-1]


# --- the answer task in the worker: lead ask -> monitor_query -> answer, the model behind real HTTP -----

def _e2e_module():
    import importlib.util

    here = ROOT / "tests" / "e2e"
    sys.path.insert(0, str(here))
    spec = importlib.util.spec_from_file_location("e2e_conftest_for_ask_llm", here / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def e2e(tmp_path, monkeypatch):
    from sandbox import running_sandbox

    monkeypatch.setenv("JOB_AGENT_HOME", str(tmp_path / ".job-agent"))
    with running_sandbox(clock_speed=3600.0) as sb:
        yield _e2e_module().E2E(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", sb)


def _ask(e2e, question: str):
    code, out, err = e2e.lead("ask", question, "--wait", "0", "--json")
    assert code == 0, err
    e2e.run_worker()
    with Session(e2e.engine()) as session:
        answer = session.exec(select(Task).where(Task.type == "answer")).one()
        calls = session.exec(select(LlmCall).order_by(LlmCall.id)).all()
        return answer, [(c.purpose, c.status) for c in calls]


def _grounded_reply(body: dict) -> str:
    facts = json.loads(body["messages"][-1]["content"].split("(JSON):\n", 1)[1].split("\n\nAnswer with", 1)[0])
    first = facts["results"][0]
    return f"The query returned {first['row_count']} rows; the first is {first['rows'][0][0]}."


def test_the_answer_carries_a_summary_whose_numbers_are_in_the_results(e2e, llm_env):
    llm_env.script([_grounded_reply])
    answer, calls = _ask(e2e, "Which jobs failed in the last 7 days?")
    assert answer.status == "COMPLETE", answer.error
    summary = answer.result["summary"]
    assert summary["status"] == "kept" and summary["text"].startswith("The query returned")
    markdown = answer.result["answer"]
    assert markdown.startswith("# Which jobs failed in the last 7 days?\n\nThe query returned")
    assert markdown.index("written by a model") < markdown.index("## Reliability")
    assert calls == [("ask_summary", "ok")]


def test_a_summary_with_an_invented_number_is_dropped_and_the_tables_stand(e2e, llm_env):
    invented = "Failures cost $987,654.32 this week, 73% more than usual."
    llm_env.script([invented, invented])
    answer, calls = _ask(e2e, "Which jobs failed in the last 7 days?")
    summary = answer.result["summary"]
    assert summary["status"] == "dropped" and summary["text"] is None
    assert "987,654.32" in summary["reason"] and "73%" in summary["reason"]
    assert "987,654" not in answer.result["answer"] and "## Reliability" in answer.result["answer"]
    assert calls == [("ask_summary", "invalid"), ("ask_summary", "invalid")]


def test_without_a_model_the_answer_is_the_tables_alone(e2e):
    answer, calls = _ask(e2e, "Which jobs failed in the last 7 days?")
    assert answer.result["summary"]["status"] == "off" and calls == []
    assert answer.result["answer"].startswith("# Which jobs failed in the last 7 days?\n\n## Reliability")
