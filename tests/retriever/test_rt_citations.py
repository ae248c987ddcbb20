"""Retriever.cite: citations for job fields, including misspelt or unknown field names."""

from __future__ import annotations

import pytest

from retriever import Citation, Retriever


@pytest.mark.parametrize(
    "query, expected",
    [
        ("JobSettings.max_concurrent_runs", "sdk:jobs.JobSettings.max_concurrent_runs"),
        ("Task.retry_on_timeout", "sdk:jobs.Task.retry_on_timeout"),
    ],
)
def test_cite_a_field_name_finds_its_documentation_first(built_index, query, expected):
    cites = Retriever(built_index).cite(query)
    assert cites[0].path == expected
    assert str(cites[0]) == expected


@pytest.mark.parametrize(
    "message, expected",
    [
        # what a deploy_job validation would say about a job with an invalid field
        ("job 'nightly': unknown field 'max_concurrent_run' in JobSettings",
         "sdk:jobs.JobSettings.max_concurrent_runs"),
        ("task 'ingest': unknown field 'retry_on_timout' (did you mean a Task field?)",
         "sdk:jobs.Task.retry_on_timeout"),
        ("job 'nightly': email_notification.on_failures is not a valid field",
         "sdk:jobs.JobEmailNotifications.on_failure"),
    ],
)
def test_invalid_job_field_is_cited_with_the_real_fields_docs(built_index, message, expected):
    cites = Retriever(built_index).cite(message, k=3)
    assert 1 <= len(cites) <= 3
    assert expected in [c.path for c in cites]


def test_citations_are_distinct_and_render_on_one_line(built_index):
    cites = Retriever(built_index).cite("email a job's owners when a run fails", k=3)
    assert len({(c.path, c.heading) for c in cites}) == len(cites) == 3
    for c in cites:
        assert isinstance(c, Citation) and "\n" not in str(c)
    doc = Citation("notifications.md", "Notifications > Email on failure", "Notifications")
    assert str(doc) == "notifications.md § Notifications > Email on failure"
