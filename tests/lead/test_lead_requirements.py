"""Reading valid requirements files: front matter, blocks, substitutions, defaults, paths,
dependencies, order and payload shapes."""

from __future__ import annotations

import hashlib
import json

import pytest
from lead_helpers import FRONT_MATTER, line_no, md

from lead.errors import RequirementsError
from lead.requirements import load_requirements

ROOT = "/Workspace/Shared/job-agent"


def only_settings(doc, key):
    (spec,) = [s for s in doc.task_specs if s.key == f"deploy_job:{key}"]
    return spec.payload["settings"]


def test_front_matter_fields_and_payload_shapes(write):
    front = """\
---
title: Sales
owner: me@example.com
profile: staging
workspace_root: /Workspace/Shared/job-agent/
variables:
  catalog: main
tags:
  team: sales
  cost_center: 4711
run_after_deploy: [etl]
started: 2024-01-01
---
""".replace("started: 2024-01-01\n", "")
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              tasks:
                - task_key: main
                  notebook_task:
                    notebook_path: /Workspace/Shared/job-agent/notebooks/ingest
        ```
        """, front=front)
    path = write(text)
    doc = load_requirements(path)
    assert (doc.title, doc.owner, doc.profile, doc.workspace_root) == ("Sales", "me@example.com", "staging", ROOT)
    assert doc.tags == {"team": "sales", "cost_center": "4711"}
    assert doc.run_after_deploy == ("etl",)
    assert doc.front_matter["workspace_root"] == "/Workspace/Shared/job-agent/"
    assert doc.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    deploy, run = doc.task_specs
    assert deploy.key == "deploy_job:etl" and deploy.type == "deploy_job" and deploy.depends_on == ()
    assert (deploy.source_line, deploy.source_field) == (line_no(text, "    etl:"), "resources.jobs.etl")
    assert deploy.payload == {
        "job_key": "etl",
        "settings": {
            "name": "etl",
            "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": f"{ROOT}/notebooks/ingest"}}],
            "tags": {"team": "sales", "cost_center": "4711"},
        },
        "field_lines": {
            "tasks": line_no(text, "tasks:"),
            "tasks[0]": line_no(text, "task_key: main"),
            "tasks[0].task_key": line_no(text, "task_key: main"),
            "tasks[0].notebook_task": line_no(text, "notebook_task:"),
            "tasks[0].notebook_task.notebook_path": line_no(text, "notebook_path:"),
            "name": line_no(text, "    etl:"),
            "tags.team": line_no(text, "team: sales"),
            "tags.cost_center": line_no(text, "cost_center:"),
        },
        "source": {"path": str(path), "line": line_no(text, "    etl:")},
        "owner": "me@example.com",
        "profile": "staging",
        "workspace_root": ROOT,
    }
    assert run.key == "run_job:etl" and run.type == "run_job"
    assert run.depends_on == ("deploy_job:etl",)
    assert run.payload == {
        "job_key": "etl",
        "deploy_task": "deploy_job:etl",
        "source": {"path": str(path), "line": line_no(text, "run_after_deploy")},
    }
    assert (run.source_line, run.source_field) == (line_no(text, "run_after_deploy"), "run_after_deploy[0]")
    json.dumps([s.payload for s in doc.task_specs])  # JSON-serialisable


def test_text_argument_and_sha_of_its_utf8_bytes(tmp_path):
    text = md("```yaml\njobs:\n  etl: {name: Café}\n```\n")
    doc = load_requirements(tmp_path / "not-written.md", text=text)
    assert doc.content_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert only_settings(doc, "etl")["name"] == "Café"


def test_title_defaults_to_first_heading_then_file_name(write):
    body = "```yaml\njobs:\n  etl: {name: x}\n```\n"
    front = FRONT_MATTER.replace("title: Test requirements\n", "")
    assert load_requirements(write(front + "# Heading one\n\n" + body)).title == "Heading one"
    assert load_requirements(write(front + body, name="my-file.md")).title == "my-file"


def test_file_without_front_matter_and_crlf_lines(write):
    text = "# Plain\r\n\r\n```yml\r\njobs:\r\n  etl:\r\n    name: x\r\n    max_concurrent_runs: 2\r\n```\r\n"
    doc = load_requirements(write(text))
    (spec,) = doc.task_specs
    assert spec.payload["field_lines"]["max_concurrent_runs"] == 7
    assert doc.owner is None and doc.front_matter == {}


def test_only_yaml_fences_are_read(write):
    text = md("""
        ```python
        resources = {"jobs": {"nope": 1}}
        ```

        ```
        jobs:
          not_this_one: {}
        ```

        ~~~ yaml
        jobs:
          tilde: {name: t}
        ~~~

        - a list item holding a fence:

          ```yaml
          jobs:
            indented: {name: i}
          ```
        """)
    doc = load_requirements(write(text))
    assert [s.key for s in doc.task_specs] == ["deploy_job:tilde", "deploy_job:indented"]
    indented = next(s for s in doc.task_specs if s.key == "deploy_job:indented")
    assert indented.source_line == line_no(text, "indented: {name: i}")


def test_dates_stay_strings(write):
    text = md("```yaml\njobs:\n  etl:\n    description: 2024-01-01\n```\n")
    assert only_settings(load_requirements(write(text)), "etl")["description"] == "2024-01-01"


def test_substitutions_in_every_form(write):
    front = """\
---
owner: me@example.com
workspace_root: /Workspace/Shared/job-agent
bundle: sales_bundle
target: dev
variables:
  catalog: main
  retries: 3
  table: ${var.catalog}.${var.schema}.orders
  cluster:
    spark_version: 15.4.x-scala2.12
    node_type_id: i3.xlarge
  enabled: true
---
"""
    text = md("""
        ```yaml
        variables:
          schema:
            default: sales_${bundle.target}
          catalog:
            default: ignored_because_front_matter_wins
        resources:
          jobs:
            etl:
              name: "[${bundle.target}] ${bundle.name} etl"
              description: ${var.table} enabled=${var.enabled}
              job_clusters:
                - job_cluster_key: c
                  new_cluster: ${var.cluster}
              tasks:
                - task_key: a
                  max_retries: ${var.retries}
                  job_cluster_key: c
                  spark_python_task:
                    python_file: ${workspace.file_path}/scripts/run.py
                    parameters:
                      - ${workspace.root_path}
                      - ${workspace.current_user.userName}
                      - /Users/${workspace.current_user.short_name}/x
                      - "{{job.parameters.[input]}}"
                      - ${var.cluster.node_type_id}
        ```
        """, front=front)
    settings = only_settings(load_requirements(write(text)), "etl")
    assert settings["name"] == "[dev] sales_bundle etl"
    assert settings["description"] == "main.sales_dev.orders enabled=true"
    assert settings["job_clusters"][0]["new_cluster"] == {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",
    }
    task = settings["tasks"][0]
    assert task["max_retries"] == 3
    assert task["spark_python_task"] == {
        "python_file": f"{ROOT}/files/scripts/run.py",
        "parameters": [
            ROOT,
            "${workspace.current_user.userName}",
            "/Users/${workspace.current_user.short_name}/x",
            "{{job.parameters.[input]}}",
            "i3.xlarge",
        ],
    }


def test_block_bundle_name_is_used_without_front_matter_bundle(write):
    text = md("```yaml\nbundle:\n  name: from_block\njobs:\n  etl: {name: '${bundle.name}'}\n```\n")
    doc = load_requirements(write(text))
    assert only_settings(doc, "etl")["name"] == "from_block"
    assert doc.bundle == "from_block"
    assert [str(i) for i in doc.ignored] == [
        f"line {line_no(text, 'bundle:')}: bundle: bundle setting not used by this product"
    ]


def test_defaults_and_tags_merge(write):
    front = FRONT_MATTER[:-4] + """\
tags:
  team: data
  env: dev
defaults:
  max_retries: 2
  retry_on_timeout: true
  task_timeout_seconds: 600
  timeout_seconds: 3600
  email_notifications:
    on_failure: [oncall@example.com]
    on_start: [start@example.com]
---
"""
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              timeout_seconds: 60
              tags:
                env: prod
              email_notifications:
                on_failure: [me@example.com]
              tasks:
                - task_key: a
                  max_retries: 0
                  notebook_task: {notebook_path: /Shared/a}
                - task_key: b
                  notebook_task: {notebook_path: /Shared/b}
        ```
        """, front=front)
    doc = load_requirements(write(text))
    (spec,) = doc.task_specs
    settings = spec.payload["settings"]
    assert settings["timeout_seconds"] == 60
    assert settings["tags"] == {"env": "prod", "team": "data"}
    assert settings["email_notifications"] == {
        "on_failure": ["me@example.com"],
        "on_start": ["start@example.com"],
    }
    a, b = settings["tasks"]
    assert (a["max_retries"], b["max_retries"]) == (0, 2)
    assert a["retry_on_timeout"] is True and b["retry_on_timeout"] is True
    assert a["timeout_seconds"] == b["timeout_seconds"] == 600
    lines = spec.payload["field_lines"]
    assert lines["tasks[1].max_retries"] == line_no(text, "  max_retries: 2")
    assert lines["tasks[0].max_retries"] == line_no(text, "max_retries: 0")
    assert lines["tasks[0].timeout_seconds"] == line_no(text, "task_timeout_seconds")
    assert lines["email_notifications.on_start"] == line_no(text, "on_start:")
    assert lines["email_notifications.on_start[0]"] == line_no(text, "on_start:")
    assert lines["tags.team"] == line_no(text, "team: data")
    assert lines["timeout_seconds"] == line_no(text, "    timeout_seconds: 60")


def test_relative_paths_resolve_under_workspace_root_files(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              tasks:
                - task_key: nb
                  notebook_task: {notebook_path: ../src/hello.py}
                - task_key: nb2
                  notebook_task: {notebook_path: ./notebooks/explore.ipynb}
                - task_key: py
                  spark_python_task: {python_file: ./argv.py}
                  libraries:
                    - whl: ../dist/pkg-1.0-py3-none-any.whl
                    - pypi: {package: cowsay}
                - task_key: abs
                  notebook_task: {notebook_path: /Workspace/Shared/x.py}
                - task_key: vol
                  spark_python_task: {python_file: "dbfs:/scripts/x.py"}
                - task_key: sql
                  sql_task:
                    warehouse_id: abc
                    file: {path: queries/q.sql}
                - task_key: loop
                  for_each_task:
                    inputs: "[1, 2]"
                    task:
                      task_key: inner
                      notebook_task: {notebook_path: ../src/inner.py}
              environments:
                - environment_key: default
                  spec:
                    environment_version: "2"
                    dependencies: [cowsay, ../dist/tool-0.1-py3-none-any.whl]
            from_git:
              git_source: {git_url: "https://github.com/x/y", git_provider: gitHub, git_branch: main}
              tasks:
                - task_key: g
                  notebook_task: {notebook_path: notebooks/etl}
                - task_key: w
                  notebook_task: {notebook_path: ../src/w.py, source: WORKSPACE}
        ```
        """)
    doc = load_requirements(write(text))
    tasks = only_settings(doc, "etl")["tasks"]
    assert tasks[0]["notebook_task"]["notebook_path"] == f"{ROOT}/files/src/hello"
    assert tasks[1]["notebook_task"]["notebook_path"] == f"{ROOT}/files/notebooks/explore"
    assert tasks[2]["spark_python_task"]["python_file"] == f"{ROOT}/files/argv.py"
    assert tasks[2]["libraries"] == [{"whl": f"{ROOT}/files/dist/pkg-1.0-py3-none-any.whl"}, {"pypi": {"package": "cowsay"}}]
    assert tasks[3]["notebook_task"]["notebook_path"] == "/Workspace/Shared/x.py"
    assert tasks[4]["spark_python_task"]["python_file"] == "dbfs:/scripts/x.py"
    assert tasks[5]["sql_task"]["file"]["path"] == f"{ROOT}/files/queries/q.sql"
    assert tasks[6]["for_each_task"]["task"]["notebook_task"]["notebook_path"] == f"{ROOT}/files/src/inner"
    deps = only_settings(doc, "etl")["environments"][0]["spec"]["dependencies"]
    assert deps == ["cowsay", f"{ROOT}/files/dist/tool-0.1-py3-none-any.whl"]
    git_tasks = only_settings(doc, "from_git")["tasks"]
    assert git_tasks[0]["notebook_task"]["notebook_path"] == "notebooks/etl"
    assert git_tasks[1]["notebook_task"]["notebook_path"] == f"{ROOT}/files/src/w"


def test_job_references_become_dependencies_in_topological_order(write):
    front = FRONT_MATTER[:-4] + "run_after_deploy: [top, leaf_b]\n---\n"
    text = md("""
        ```yaml
        resources:
          jobs:
            top:
              tasks:
                - task_key: a
                  run_job_task: {job_id: "${resources.jobs.mid.id}"}
                - task_key: b
                  run_job_task: {job_id: "${resources.jobs.leaf_a.id}"}
            mid:
              description: calls ${resources.jobs.leaf_b.id} and ${resources.jobs.leaf_b.id}
            independent:
              name: nothing to wait for
        ```

        ```yaml
        jobs:
          leaf_a: {name: a}
          leaf_b: {name: b}
        ```
        """, front=front)
    doc = load_requirements(write(text))
    assert [(s.key, s.depends_on) for s in doc.task_specs] == [
        ("deploy_job:independent", ()),
        ("deploy_job:leaf_a", ()),
        ("deploy_job:leaf_b", ()),
        ("deploy_job:mid", ("deploy_job:leaf_b",)),
        ("deploy_job:top", ("deploy_job:mid", "deploy_job:leaf_a")),
        ("run_job:top", ("deploy_job:top",)),
        ("run_job:leaf_b", ("deploy_job:leaf_b",)),
    ]
    top = only_settings(doc, "top")
    assert top["tasks"][0]["run_job_task"]["job_id"] == "${resources.jobs.mid.id}"
    seen: set[str] = set()
    for spec in doc.task_specs:
        assert set(spec.depends_on) <= seen
        seen.add(spec.key)


def test_bundle_only_job_keys_are_dropped_and_reported(write):
    text = md("""
        ```yaml
        permissions:
          - level: CAN_VIEW
            group_name: users
        resources:
          jobs:
            etl:
              name: x
              permissions:
                - level: CAN_MANAGE
                  group_name: admins
        ```
        """)
    doc = load_requirements(write(text))
    assert "permissions" not in only_settings(doc, "etl")
    assert [str(i) for i in doc.ignored] == [
        f"line {line_no(text, 'permissions:')}: permissions: bundle setting not used by this product",
        f"line {line_no(text, 'permissions:', nth=2)}: resources.jobs.etl.permissions: "
        "bundle-only job setting not applied by this product",
    ]


def test_reference_in_a_default_depends_and_points_at_the_front_matter(write):
    front = FRONT_MATTER[:-4] + """\
defaults:
  webhook_notifications:
    on_failure:
      - id: ${resources.jobs.etl.id}
---
"""
    text = md("```yaml\njobs:\n  etl: {name: e}\n  report: {name: r}\n```\n", front=front)
    with pytest.raises(RequirementsError) as info:  # etl's default refers to etl itself
        load_requirements(write(text))
    err = info.value
    assert (err.line, err.field) == (line_no(text, "- id:"), "defaults.webhook_notifications.on_failure[0].id")
    assert err.message == "dependency cycle between jobs: etl -> etl"
