"""YAML merge keys (``<<: *anchor``) behave as in PyYAML, with line numbers kept.

PyYAML's `yaml.safe_load` is the reference for the values: explicit keys override merged
ones, and in ``<<: [*a, *b]`` the earlier mapping wins. A key written twice explicitly in
one mapping is still an error.
"""

from __future__ import annotations

import textwrap

import pytest
import yaml
from lead_helpers import line_no, md

from lead import yaml_lines
from lead.errors import YamlError
from lead.requirements import load_requirements


def both(text: str):
    """Our value and PyYAML's for the same text (dates aside, they must agree)."""
    text = textwrap.dedent(text)
    value, lines = yaml_lines.load(text)
    return text, value, lines, yaml.safe_load(text)


def test_merge_then_override_is_accepted_and_the_override_wins():
    text, value, lines, reference = both("""\
        defaults: &defaults
          max_retries: 1
          timeout_seconds: 60
        task:
          <<: *defaults
          max_retries: 3
        """)
    assert value == reference
    assert value["task"] == {"max_retries": 3, "timeout_seconds": 60}
    assert lines.line_of(("task", "max_retries")) == line_no(text, "max_retries: 3")
    # a merged key points at where its value is written: in the anchored mapping
    assert lines.line_of(("task", "timeout_seconds")) == line_no(text, "timeout_seconds: 60")


def test_override_written_before_the_merge_key_still_wins():
    text, value, lines, reference = both("""\
        base: &base {a: 1, b: 2}
        m:
          a: 10
          <<: *base
        """)
    assert value == reference == {"base": {"a": 1, "b": 2}, "m": {"a": 10, "b": 2}}
    assert lines.line_of(("m", "a")) == line_no(text, "a: 10")
    assert lines.line_of(("m", "b")) == line_no(text, "base: &base")


def test_multiple_merges_earlier_wins_as_in_pyyaml():
    text, value, lines, reference = both("""\
        a: &a
          x: from-a
          only_a: 1
        b: &b
          x: from-b
          y: from-b
        m:
          <<: [*a, *b]
          z: own
        """)
    assert value == reference
    assert value["m"] == {"x": "from-a", "only_a": 1, "y": "from-b", "z": "own"}
    assert list(value["m"]) == list(reference["m"])  # same key order as PyYAML
    assert lines.line_of(("m", "x")) == line_no(text, "x: from-a")
    assert lines.line_of(("m", "y")) == line_no(text, "y: from-b")
    assert lines.line_of(("m", "z")) == line_no(text, "z: own")


def test_nested_values_of_merged_keys_keep_their_lines():
    text, value, lines, reference = both("""\
        cluster: &cluster
          spark_conf:
            spark.master: local
          node_type_id: i3.xlarge
        job:
          <<: *cluster
          node_type_id: m5.large
        """)
    assert value == reference
    assert lines.line_of(("job", "spark_conf", "spark.master")) == line_no(text, "spark.master: local")
    assert lines.line_of(("job", "node_type_id")) == line_no(text, "node_type_id: m5.large")


def test_merge_of_a_mapping_that_merges_itself():
    _, value, _, reference = both("""\
        a: &a {x: 1, y: 1}
        b: &b
          <<: *a
          y: 2
        c:
          <<: *b
          z: 3
        """)
    assert value == reference
    assert value["c"] == {"x": 1, "y": 2, "z": 3}


def test_repeated_explicit_key_is_still_an_error_next_to_a_merge():
    text = textwrap.dedent("""\
        base: &base {a: 1}
        m:
          <<: *base
          b: 1
          b: 2
        """)
    with pytest.raises(YamlError) as info:
        yaml_lines.load(text)
    assert info.value.line == line_no(text, "b: 2")
    assert info.value.message == f"duplicate key 'b' (first written at line {line_no(text, 'b: 1')})"


def test_merging_a_scalar_is_an_error():
    text = "base: &base 5\nm:\n  <<: *base\n"
    with pytest.raises(YamlError) as info:
        yaml_lines.load(text)
    assert info.value.line == 3
    assert "expected a mapping or list of mappings for merging" in info.value.message


def test_bundle_task_defaults_pattern_in_a_requirements_file(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              tasks:
                - &task_defaults
                  task_key: ingest
                  max_retries: 1
                  timeout_seconds: 600
                  notebook_task: {notebook_path: /Workspace/Shared/ingest}
                - <<: *task_defaults
                  task_key: transform
                  max_retries: 3
                  notebook_task: {notebook_path: /Workspace/Shared/transform}
        ```
        """)
    doc = load_requirements(write(text))
    payload = doc.task_specs[0].payload
    second = payload["settings"]["tasks"][1]
    assert second["task_key"] == "transform"
    assert second["max_retries"] == 3
    assert second["timeout_seconds"] == 600
    assert payload["field_lines"]["tasks[1].max_retries"] == line_no(text, "max_retries: 3")
    assert payload["field_lines"]["tasks[1].timeout_seconds"] == line_no(text, "timeout_seconds: 600")

