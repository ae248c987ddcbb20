"""The `lead ask` router: domains of clear questions, templates, parameters with a fixed today,
inert injection-looking text."""

from __future__ import annotations

import datetime as dt

import pytest

from lead.ask.params import extract, time_range
from lead.ask.router import DOMAINS, KNOWN_TEMPLATES, load_examples, route

TODAY = dt.date(2026, 11, 18)  # a Wednesday


@pytest.mark.parametrize("question, intents", [
    ("How much did we spend on DBUs last month?", {"cost"}),
    ("Which jobs failed yesterday?", {"reliability"}),
    ("Which SQL queries are the slowest on the BI warehouse?", {"performance"}),
    ("Who granted admin permissions to new users this week?", {"security"}),
    ("Which tables are stale and what feeds them?", {"quality"}),
    ("What is the p99 latency of our model serving endpoint?", {"mlops"}),
    ("What was the cost of the failed jobs last week?", {"cost", "reliability"}),
    ("How much money do idle clusters waste?", {"cost", "performance"}),
    ("How much did our model serving endpoints cost this month?", {"cost", "mlops"}),
    ("Are slow jobs making us miss our SLA deadlines?", {"performance", "reliability"}),
])
def test_clear_questions(question, intents):
    r = route(question, today=TODAY)
    assert set(r.intents) == intents, (r.intents, r.scores)
    assert r.templates and 0 < r.confidence <= 1
    for t in r.templates:
        assert set(t) == {"name", "parameters"}


def test_multi_intent_uses_the_combined_template():
    r = route("What did the failed job runs cost us in the last 7 days?", today=TODAY)
    assert set(r.intents) == {"cost", "reliability"}
    assert r.templates[0] == {"name": "failed_run_cost", "parameters": {"start_date": "2026-11-11", "end_date": "2026-11-18"}}


@pytest.mark.parametrize("phrase, start, end", [
    ("last Tuesday", "2026-11-17", "2026-11-17"),
    ("last Wednesday", "2026-11-11", "2026-11-11"),
    ("in the past 24 hours", "2026-11-17", "2026-11-18"),
    ("this week", "2026-11-16", "2026-11-18"),
    ("last week", "2026-11-09", "2026-11-15"),
    ("last month", "2026-10-01", "2026-10-31"),
    ("this month", "2026-11-01", "2026-11-18"),
    ("since Nov 1", "2026-11-01", "2026-11-18"),
    ("since December 5", "2025-12-05", "2026-11-18"),
    ("since 2026-06-01", "2026-06-01", "2026-11-18"),
    ("yesterday", "2026-11-17", "2026-11-17"),
    ("today", "2026-11-18", "2026-11-18"),
    ("over the last 7 days", "2026-11-11", "2026-11-18"),
    ("in the last 30 days", "2026-10-19", "2026-11-18"),
    ("past two weeks", "2026-11-04", "2026-11-18"),
    ("in August 2024", "2024-08-01", "2024-08-31"),
    ("from 2026-01-05 to 2026-02-01", "2026-01-05", "2026-02-01"),
])
def test_time_phrases(phrase, start, end):
    got = time_range(f"Which jobs failed {phrase}?", TODAY)
    assert got is not None, phrase
    assert (got[0].isoformat(), got[1].isoformat()) == (start, end)


def test_no_time_phrase():
    assert time_range("Which jobs fail most often?", TODAY) is None


def test_parameters_for_the_chosen_template_only():
    r = route("What are the top 5 cost contributors since Nov 1?", today=TODAY)
    assert r.templates == [{"name": "top_cost_contributors",
                            "parameters": {"start_date": "2026-11-01", "end_date": "2026-11-18", "top_n": 5}}]
    r = route("Which queries ran over 10 minutes yesterday?", today=TODAY)
    assert r.templates == [{"name": "slow_queries",
                            "parameters": {"min_duration": 600, "start_date": "2026-11-17", "end_date": "2026-11-17"}}]
    r = route('Is the job "nightly_orders" getting slower over the last 30 days?', today=TODAY)
    assert r.templates == [{"name": "job_duration_trends", "parameters": {"job_name": "nightly_orders", "days_back": 30}}]
    r = route("What has carol.smith@example.org been doing in the past 14 days?", today=TODAY)
    assert r.intents == ["security"]
    assert r.templates == [{"name": "user_activity_summary", "parameters": {"user_email": "carol.smith@example.org", "days_back": 14}}]
    r = route("Which jobs missed their 45 minute SLA this week?", today=TODAY)
    assert r.templates == [{"name": "job_sla_compliance", "parameters": {"sla_minutes": 45, "start_date": "2026-11-16", "end_date": "2026-11-18"}}]
    r = route("Are we over our budget of $40,000 this month?", today=TODAY)
    assert r.templates[0] == {"name": "budget_variance", "parameters": {"budget": 40000.0, "start_date": "2026-11-01", "end_date": "2026-11-18"}}
    r = route("Any users with more than 5 suspicious logins since Nov 1?", today=TODAY)
    assert r.templates[0]["parameters"]["threshold"] == 5


def test_job_name_forms():
    assert extract("Why is job etl_daily slow?", TODAY)["job_name"] == "etl_daily"
    assert extract("Why is the billing-export job slow?", TODAY)["job_name"] == "billing-export"
    assert extract("Why is 'Sales Load' slow?", TODAY)["job_name"] == "Sales Load"
    assert "job_name" not in extract("Why are the jobs slow?", TODAY)


@pytest.mark.parametrize("question", [
    "Which jobs failed since '; DROP TABLE x; --",
    "Show the cost of job \"'; DROP TABLE users; --\" last week",
    "Failed jobs for robert'); DELETE FROM runs;--@example.com yesterday",
    "Top 5 costs ' OR 1=1 -- this month",
    "Which jobs failed 𝔂𝓮𝓼𝓽𝓮𝓻𝓭𝓪𝔂 \u202e\u0000 ünïcødé 失败的作业?",
    "{{ 7*7 }} ${jndi:ldap://x} $(rm -rf /) `id` top 3 most expensive runs",
])
def test_injection_looking_text_is_inert(question):
    r = route(question, today=TODAY)
    assert r.question == question
    for d in r.intents:
        assert d in DOMAINS
    for t in r.templates:
        assert t["name"] in KNOWN_TEMPLATES
        for name, value in t["parameters"].items():
            if name.endswith("_date"):
                dt.date.fromisoformat(value)
            elif name in ("top_n", "days_back", "sla_minutes", "min_duration", "threshold"):
                assert isinstance(value, int)
            else:
                assert isinstance(value, (str, float))


def test_injection_in_a_quoted_job_name_stays_a_string():
    r = route('How has job "x\'; DROP TABLE t; --" duration changed over the last 7 days?', today=TODAY)
    params = {k: v for t in r.templates for k, v in t["parameters"].items()}
    assert params.get("job_name") == "x'; DROP TABLE t; --"
    assert params.get("days_back") == 7


def test_nothing_fits_gives_suggestions():
    for q in ("hello there", "asdf qwer zxcv", "", "?"):
        r = route(q, today=TODAY)
        assert r.intents == [] and r.templates == [] and r.confidence == 0.0
        assert r.suggestions


def test_examples_are_well_formed():
    examples = load_examples()
    assert len(examples) >= 150
    for e in examples:
        assert e.template is None or e.template in KNOWN_TEMPLATES
        assert set(e.intents) <= set(DOMAINS)
