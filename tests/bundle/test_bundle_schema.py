"""The schema checker itself: it accepts real bundle YAML and refuses what the schema refuses."""

from __future__ import annotations

import yaml
from bundle_schema import check
from bundle_helpers import BUNDLE_JOBS


def test_public_bundle_examples_pass(schema):
    files = sorted(BUNDLE_JOBS.glob("*.yml"))
    assert len(files) == 4
    for path in files:
        assert check(yaml.safe_load(path.read_text()), schema) == [], path.name


def test_unknown_keys_wrong_types_enums_and_required_fields_are_errors(schema):
    config = {
        "bundle": {"name": 7, "nmae": "x"},
        "resources": {
            "jobs": {
                "etl": {
                    "max_concurrent_runs": "two",
                    "tags": ["not", "a", "map"],
                    "trigger": {"pause_status": "SLEEPING"},
                    "tasks": [{"notebook_task": {"notebook_path": "/x", "sourc": "GIT"}, "max_retries": True}],
                    "for_each": 1,
                },
            },
            "pipelinez": {},
        },
    }
    assert sorted(check(config, schema)) == sorted([
        "bundle.name: expected a string, got an integer 7",
        "bundle: unknown key 'nmae'",
        "resources.jobs.etl.max_concurrent_runs: expected an integer, got a string 'two'",
        "resources.jobs.etl.tags: expected a mapping, got a list",
        "resources.jobs.etl.trigger.pause_status: 'SLEEPING' is not one of UNPAUSED, PAUSED",
        "resources.jobs.etl.tasks[0].notebook_task: unknown key 'sourc'",
        "resources.jobs.etl.tasks[0].max_retries: expected an integer, got a boolean True",
        "resources.jobs.etl.tasks[0]: required key 'task_key' is missing",
        "resources.jobs.etl: unknown key 'for_each'",
        "resources: unknown key 'pipelinez'",
    ])


def test_references_are_accepted_for_any_field_and_nested_task_types_are_checked(schema):
    config = {"resources": {"jobs": {"etl": {
        "max_concurrent_runs": "${var.runs}",
        "tasks": [{"task_key": "each", "for_each_task": {"inputs": "[1]", "task": {"task_key": "t", "bogus": 1}}}],
    }}}}
    assert check(config, schema) == ["resources.jobs.etl.tasks[0].for_each_task.task: unknown key 'bogus'"]
