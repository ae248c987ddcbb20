"""Which `jobs/run-now` field carries a `--param`, read from the job's settings."""

from __future__ import annotations

import pytest

from tasks.run_control import UnknownParameter, job_parameters_of, run_parameters

NOTEBOOK_AND_WHEEL = {
    "name": "mixed",
    "tasks": [
        {"task_key": "nb", "notebook_task": {"notebook_path": "/x", "base_parameters": {"date": "", "region": "eu"}}},
        {"task_key": "whl", "python_wheel_task": {"package_name": "p", "entry_point": "e",
                                                 "named_parameters": {"mode": "full", "date": ""}}},
        {"task_key": "sql", "sql_task": {"warehouse_id": "w", "parameters": {"limit": "10"}, "query": {"query_id": "q"}}},
    ],
}


def test_job_level_parameters_go_in_job_parameters_and_hide_task_parameters():
    settings = {**NOTEBOOK_AND_WHEEL, "parameters": [{"name": "run_date", "default": "x"}, {"name": "region", "default": "eu"}]}
    assert job_parameters_of(settings) == {"run_date": ["job_parameters"], "region": ["job_parameters"]}
    assert run_parameters(settings, {"run_date": "2026-01-02"}, "mixed (1)") == {"job_parameters": {"run_date": "2026-01-02"}}
    with pytest.raises(UnknownParameter, match=r"job mixed \(1\) has no parameter 'mode' \(its parameters: region, run_date\)"):
        run_parameters(settings, {"mode": "full"}, "mixed (1)")


def test_task_named_parameters_go_in_their_own_fields():
    grouped = run_parameters(NOTEBOOK_AND_WHEEL, {"date": "2026-01-02", "mode": "delta", "limit": "5"}, "mixed (1)")
    assert grouped == {"notebook_params": {"date": "2026-01-02"},
                       "python_named_params": {"date": "2026-01-02", "mode": "delta"},
                       "sql_params": {"limit": "5"}}
    assert run_parameters(NOTEBOOK_AND_WHEEL, {}, "mixed (1)") == {}


def test_a_job_without_named_parameters_takes_none():
    with pytest.raises(UnknownParameter) as caught:
        run_parameters({"name": "plain", "tasks": [{"task_key": "t", "spark_python_task": {"python_file": "f.py"}}]},
                       {"a": "1", "b": "2"}, "plain (2)")
    assert caught.value.names == ["a", "b"] and caught.value.known == {}
    assert "(its parameters: none)" in str(caught.value)
