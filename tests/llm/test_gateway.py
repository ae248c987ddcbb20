"""The LLM gateway against a real local OpenAI-compatible server: answers, retries, repair, cache, accounting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlmodel import Session, select

from llm.config import LlmConfigError, LlmSettings, llm_settings
from llm.gateway import Gateway, LlmOutputInvalid, LlmUnavailable, OutputRejected, get_gateway
from llm.usage import usage_rows
from state.engine import make_engine
from state.models import LlmCacheEntry, LlmCall

SCHEMA = {
    "type": "object",
    "properties": {"category": {"enum": ["transient", "config"]}, "confidence": {"type": "number"}},
    "required": ["category", "confidence"],
    "additionalProperties": False,
}


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'state.db'}")


def gateway(server, engine=None, **kw) -> Gateway:
    settings = LlmSettings(model=server.model, api_base=server.url, timeout_s=kw.pop("timeout_s", 5.0),
                           max_retries=kw.pop("max_retries", 2))
    return Gateway(settings, engine, backoff_s=0.05)


def calls(engine) -> list[LlmCall]:
    with Session(engine) as session:
        return list(session.exec(select(LlmCall).order_by(LlmCall.id)))


def test_text_answer_is_recorded_with_tokens(llm_server, engine):
    llm_server.script([{"content": "hello there", "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}}])
    assert gateway(llm_server, engine).complete_text("ask_summary", [{"role": "user", "content": "hi"}]) == "hello there"
    [call] = calls(engine)
    assert (call.purpose, call.model, call.status, call.cached) == ("ask_summary", llm_server.model, "ok", False)
    assert (call.prompt_tokens, call.completion_tokens) == (12, 2)


def test_same_request_is_answered_from_the_cache(llm_server, engine):
    llm_server.script(["first"])
    messages = [{"role": "user", "content": "what is 2+2"}]
    assert gateway(llm_server, engine).complete_text("ask_route", messages) == "first"
    assert gateway(llm_server, engine).complete_text("ask_route", messages) == "first"
    assert len(llm_server.requests) == 1
    assert [c.cached for c in calls(engine)] == [False, True]
    [row] = usage_rows(engine)
    assert row["calls"] == 1  # the cache hit is free


def test_rate_limit_and_server_errors_are_retried(llm_server, engine):
    llm_server.script([{"status": 429}, {"status": 500}, "finally"])
    assert gateway(llm_server, engine).complete_text("remediation", [{"role": "user", "content": "x"}]) == "finally"
    assert len(llm_server.requests) == 3


def test_retries_run_out_with_a_typed_error(llm_server, engine):
    llm_server.script([{"status": 429}] * 3)
    with pytest.raises(LlmUnavailable, match="RateLimit"):
        gateway(llm_server, engine).complete_text("remediation", [{"role": "user", "content": "x"}])
    assert len(llm_server.requests) == 3
    assert [c.status for c in calls(engine)] == ["error"]


def test_a_slow_answer_times_out_and_the_retry_gets_the_next(llm_server, engine):
    llm_server.script([{"delay": 3.0, "content": "late"}, "in time"])
    answer = gateway(llm_server, engine, timeout_s=1.0).complete_text("ask_summary", [{"role": "user", "content": "x"}])
    assert answer == "in time"


def test_json_is_validated_and_repaired_once(llm_server, engine):
    llm_server.script(['{"category": "flaky", "confidence": 0.9}', '{"category": "transient", "confidence": 0.9}'])
    value = gateway(llm_server, engine).complete_json("remediation", [{"role": "user", "content": "classify"}], SCHEMA)
    assert value == {"category": "transient", "confidence": 0.9}
    repair = llm_server.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "flaky" in repair[-2]["content"]
    assert "category" in repair[-1]["content"] and "rejected by validation" in repair[-1]["content"]
    assert llm_server.requests[0].get("response_format") == {"type": "json_object"}
    assert [c.status for c in calls(engine)] == ["invalid", "ok"]


def test_malformed_json_twice_fails_with_the_problems(llm_server, engine):
    llm_server.script(["not json at all", "```json\n{\"category\": \n```"])
    with pytest.raises(LlmOutputInvalid) as raised:
        gateway(llm_server, engine).complete_json("remediation", [{"role": "user", "content": "classify"}], SCHEMA)
    assert "not valid JSON" in raised.value.problems[0]
    with Session(engine) as session:
        assert session.exec(select(LlmCacheEntry)).all() == []  # rejected answers are not kept


def test_malformed_http_body_is_an_error_not_a_crash(llm_server, engine):
    llm_server.script([{"raw": "{oops"}] * 3)
    with pytest.raises(LlmUnavailable):
        gateway(llm_server, engine, max_retries=0).complete_text("ask_summary", [{"role": "user", "content": "x"}])


def test_fenced_json_and_checks(llm_server):
    llm_server.script(['Here:\n```json\n{"category": "config", "confidence": 0.4}\n```', '{"category": "config", "confidence": 0.8}'])

    def confident(value):
        if value["confidence"] < 0.5:
            raise OutputRejected("confidence: must be at least 0.5")
        return value["category"]

    answer = gateway(llm_server).complete_json("remediation", [{"role": "user", "content": "c"}], SCHEMA, check=confident)
    assert answer == "config"
    assert "confidence: must be at least 0.5" in llm_server.requests[1]["messages"][-1]["content"]


def test_secrets_never_reach_the_model_or_the_error(llm_server, engine):
    token = "dapi" + "0123456789abcdef" * 2
    llm_server.script(["ok"])
    gateway(llm_server, engine).complete_text("remediation", [{"role": "user", "content": f"failed with token={token} and Bearer {token}"}])
    sent = json.dumps(llm_server.requests[0])
    assert token not in sent and "dapi" not in sent


def test_usage_command_json_shape(llm_server, engine, tmp_path):
    llm_server.script(["a", "b"])
    g = gateway(llm_server, engine)
    g.complete_text("ask_summary", [{"role": "user", "content": "one"}])
    g.complete_text("remediation", [{"role": "user", "content": "two"}])
    url = str(engine.url)
    out = subprocess.run([sys.executable, "-m", "lead.cli", "llm", "usage", "--json", "--db", url],
                         capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)
    assert {r["purpose"] for r in rows} == {"ask_summary", "remediation"}
    assert all(list(r) == ["day", "model", "purpose", "calls", "prompt_tokens", "completion_tokens", "cost_usd"] for r in rows)
    assert all(r["calls"] == 1 and r["model"] == llm_server.model for r in rows)
    text = subprocess.run([sys.executable, "-m", "lead.cli", "llm", "usage", "--db", url], capture_output=True, text=True, check=True)
    assert "remediation" in text.stdout and "total: 2 call(s)" in text.stdout


def test_no_model_configured_says_so_once(capsys, monkeypatch):
    monkeypatch.delenv("JOB_AGENT_LLM_MODEL", raising=False)
    import llm.gateway as module

    monkeypatch.setattr(module, "_said_off", False)
    assert get_gateway() is None
    assert get_gateway() is None
    assert capsys.readouterr().err.count("LLM is off") == 1


def test_settings_from_env_and_front_matter(monkeypatch):
    monkeypatch.setenv("JOB_AGENT_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("JOB_AGENT_LLM_API_BASE", "http://127.0.0.1:9/v1")
    assert llm_settings() == LlmSettings(model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1")
    assert llm_settings("anthropic/claude-sonnet-4-5").model == "anthropic/claude-sonnet-4-5"
    assert llm_settings({"model": "ollama/llama3", "api_base": "http://localhost:11434", "timeout_s": 30}).timeout_s == 30
    assert llm_settings("off") is None
    with pytest.raises(LlmConfigError, match="unknown key"):
        llm_settings({"model": "x/y", "temprature": 1})
    with pytest.raises(LlmConfigError, match="timeout"):
        llm_settings({"model": "x/y", "timeout_s": -1})


def test_commands_without_a_model_never_import_litellm(tmp_path):
    code = ("import sys; from lead.cli import app; from lead.cli_runner import run_cli; "
            f"run_cli(app, 'lead', ['llm', 'usage', '--db', 'sqlite:///{tmp_path}/s.db']); "
            "print('litellm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


def test_a_repaired_answer_is_served_to_the_same_request_next_time(llm_server, engine):
    llm_server.script(['{"category": "flaky", "confidence": 0.9}', '{"category": "transient", "confidence": 0.9}'])
    messages = [{"role": "user", "content": "classify this"}]
    first = gateway(llm_server, engine).complete_json("remediation", messages, SCHEMA)
    again = gateway(llm_server, engine).complete_json("remediation", messages, SCHEMA)
    assert first == again == {"category": "transient", "confidence": 0.9}
    assert len(llm_server.requests) == 2  # the re-run paid nothing
