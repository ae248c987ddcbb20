"""Every kind of requirements error: exact line (in the whole file), field and one-line message."""

from __future__ import annotations

import pytest
from lead_helpers import FRONT_MATTER, line_no, md

from lead.errors import RequirementsError
from lead.requirements import load_requirements

JOB = """\
```yaml
resources:
  jobs:
    etl:
      name: etl
      tasks:
        - task_key: main
          notebook_task:
            notebook_path: /Workspace/Shared/job-agent/notebooks/ingest
```
"""


def fail(path) -> RequirementsError:
    with pytest.raises(RequirementsError) as info:
        load_requirements(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert "\n" not in str(err)
    prefix = f"{path}:{err.line}: " + (f"{err.field}: " if err.field else "")
    assert str(err) == prefix + err.message
    return err


def test_malformed_front_matter_yaml(write):
    text = "---\ntitle: x\nowner: [me@example.com\nprofile: p\n---\n" + JOB
    err = fail(write(text))
    assert err.line == line_no(text, "profile: p")
    assert err.field == ""
    assert err.message.startswith("invalid YAML in the front matter: ")


def test_malformed_front_matter_after_blank_lines(write):
    text = "\n\n---\ntitle: x\nowner: me@example.com\n  bad: indent\n---\n" + JOB
    err = fail(write(text))
    assert err.line == line_no(text, "bad: indent")
    assert err.message == "invalid YAML in the front matter: mapping values are not allowed in this context"


def test_unclosed_front_matter(write):
    text = "\n---\ntitle: x\n" + JOB
    err = fail(write(text))
    assert (err.line, err.field) == (2, "")
    assert err.message == "the front matter opened here with '---' is never closed"


def test_front_matter_not_a_mapping(write):
    text = "---\n- a\n- b\n---\n" + JOB
    err = fail(write(text))
    assert (err.line, err.field, err.message) == (2, "", "the front matter must be a mapping of fields")


def test_unknown_front_matter_field(write):
    text = md(JOB, front=FRONT_MATTER.replace("title:", "titel:"))
    err = fail(write(text))
    assert err.line == line_no(text, "titel:")
    assert err.field == "titel"
    assert err.message.startswith("unknown top-level field 'titel'; did you mean 'title'? (front matter fields: title, owner,")


def test_malformed_owner(write):
    text = md(JOB, front=FRONT_MATTER.replace("me@example.com", "me-at-example.com"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "owner:"), "owner")
    assert err.message == "'me-at-example.com' is not a well-formed e-mail address"


def test_unknown_default_key(write):
    front = FRONT_MATTER[:-4] + "defaults:\n  timeout_seconds: 60\n  max_retry: 3\n---\n"
    text = md(JOB, front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "max_retry: 3"), "defaults.max_retry")
    assert err.message.startswith("unknown default 'max_retry'; did you mean 'max_retries'? (supported: email_notifications,")


def test_default_with_unknown_nested_field(write):
    front = FRONT_MATTER[:-4] + "defaults:\n  email_notifications:\n    on_failur: [me@example.com]\n---\n"
    text = md(JOB, front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "on_failur"), "defaults.email_notifications.on_failur")
    assert err.message == (
        "unknown job field 'on_failur' (JobEmailNotifications has no such field; did you mean 'on_failure'?)"
    )


def test_invalid_yaml_in_block_reports_line_in_whole_file(write):
    text = md("""
        Some prose.

        ```yaml
        resources:
          jobs:
            etl:
              name: [unclosed
              tasks: []
        ```
        """)
    err = fail(write(text))
    assert err.line == line_no(text, "tasks: []")
    assert err.field == ""
    assert err.message.startswith("invalid YAML: ")


def test_duplicate_key_in_block(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              name: a
              name: b
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "name: b"), "resources.jobs.etl.name")
    assert err.message == f"duplicate key 'name' (first written at line {line_no(text, 'name: a')})"


def test_unknown_block_top_level_field(write):
    text = md("""
        ```yaml
        resource:
          jobs: {}
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "resource:"), "resource")
    assert err.message.startswith("unknown top-level field 'resource'; did you mean 'resources'?")


def test_unmanaged_resource_kind(write):
    text = md(JOB + "\n```yaml\nresources:\n  pipelines:\n    etl_pipeline:\n      name: p\n```\n")
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "pipelines:"), "resources.pipelines")
    assert err.message == "resource kind 'pipelines' is not managed by this product (only jobs)"


def test_reference_to_unmanaged_resource_kind(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              tasks:
                - task_key: refresh
                  pipeline_task:
                    pipeline_id: ${resources.pipelines.default_python_etl.id}
        ```
        """)
    err = fail(write(text))
    assert err.line == line_no(text, "pipeline_id:")
    assert err.field == "resources.jobs.etl.tasks[0].pipeline_task.pipeline_id"
    assert err.message == (
        "'${resources.pipelines.default_python_etl.id}' refers to resource kind 'pipelines', "
        "which this product does not manage (only jobs)"
    )


def test_unknown_job_field(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              name: etl
              schedul:
                quartz_cron_expression: "0 0 1 * * ?"
        ```
        """)
    path = write(text)
    err = fail(path)
    assert (err.line, err.field) == (line_no(text, "schedul:"), "resources.jobs.etl.schedul")
    assert err.message == "unknown job field 'schedul' (JobSettings has no such field; did you mean 'schedule'?)"
    assert str(err) == (
        f"{path}:{err.line}: resources.jobs.etl.schedul: unknown job field 'schedul' "
        "(JobSettings has no such field; did you mean 'schedule'?)"
    )


def test_unknown_nested_field(write):
    text = md(JOB.replace("notebook_path:", "notebook_pathh:"))
    err = fail(write(text))
    assert err.line == line_no(text, "notebook_pathh")
    assert err.field == "resources.jobs.etl.tasks[0].notebook_task.notebook_pathh"
    assert err.message == (
        "unknown job field 'notebook_pathh' (NotebookTask has no such field; did you mean 'notebook_path'?)"
    )


def test_unknown_task_field(write):
    text = md(JOB.replace("- task_key: main", "- task_key: main\n          max_retry: 3"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "max_retry: 3"), "resources.jobs.etl.tasks[0].max_retry")
    assert err.message == "unknown job field 'max_retry' (Task has no such field; did you mean 'max_retries'?)"


def test_undefined_variable(write):
    text = md(JOB.replace("name: etl", "name: etl-${var.catalogue}"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "name: etl-"), "resources.jobs.etl.name")
    assert err.message == (
        "undefined variable 'catalogue' (not in the front matter's `variables` nor in a "
        "block's `variables:`; did you mean 'catalog'?)"
    )


def test_variable_declared_without_default_is_undefined(write):
    text = md("""
        ```yaml
        variables:
          warehouse:
            description: no default here
        resources:
          jobs:
            etl:
              description: ${var.warehouse}
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "description: ${var"), "resources.jobs.etl.description")
    assert err.message == (
        f"undefined variable 'warehouse' (declared at line {line_no(text, 'warehouse:')} without a "
        "default; give it a value in the front matter's `variables`)"
    )


def test_problem_inside_a_variable_points_at_its_definition(write):
    front = FRONT_MATTER.replace("  catalog: main\n", "  catalog: main\n  table: ${var.nope}_t\n")
    text = md(JOB.replace("name: etl", "name: ${var.table}"), front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "table: ${var.nope}"), "variables.table")
    assert err.message.startswith("undefined variable 'nope'")


def test_variable_cycle(write):
    front = FRONT_MATTER.replace("  catalog: main\n", "  catalog: ${var.schema}\n  schema: ${var.catalog}\n")
    text = md(JOB.replace("name: etl", "name: ${var.catalog}"), front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "catalog: ${var.schema}"), "variables.catalog")
    assert err.message == "variable cycle: catalog -> schema -> catalog"


def test_unsupported_substitution(write):
    text = md(JOB.replace("name: etl", "name: ${workspace.host}"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "name: ${workspace.host}"), "resources.jobs.etl.name")
    assert err.message.startswith("unsupported substitution '${workspace.host}'")


def test_bundle_target_needs_target(write):
    text = md(JOB.replace("name: etl", "name: etl-${bundle.target}"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "name: etl-"), "resources.jobs.etl.name")
    assert err.message == "'${bundle.target}' needs `target` in the front matter"


def test_reference_to_job_not_in_file(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            primary:
              tasks:
                - task_key: run
                  run_job_task:
                    job_id: ${resources.jobs.leaf.id}
            leaf1:
              name: leaf
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (
        line_no(text, "job_id:"),
        "resources.jobs.primary.tasks[0].run_job_task.job_id",
    )
    assert err.message == "reference to job 'leaf', which is not defined in this file; did you mean 'leaf1'?"


def test_run_after_deploy_names_missing_job(write):
    front = FRONT_MATTER[:-4] + "run_after_deploy:\n  - etl\n  - elt\n---\n"
    text = md(JOB, front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "- elt"), "run_after_deploy[1]")
    assert err.message == "run_after_deploy names job 'elt', which is not defined in this file; did you mean 'etl'?"


CYCLE = """\
```yaml
resources:
  jobs:
    a:
      tasks:
        - task_key: t
          run_job_task:
            job_id: ${resources.jobs.b.id}
    b:
      tasks:
        - task_key: t
          run_job_task:
            job_id: ${resources.jobs.c.id}
    c:
      tasks:
        - task_key: t
          run_job_task:
            job_id: ${resources.jobs.a.id}
```
"""


def test_dependency_cycle(write):
    text = md(CYCLE)
    err = fail(write(text))
    assert (err.line, err.field) == (
        line_no(text, "${resources.jobs.a.id}"),
        "resources.jobs.c.tasks[0].run_job_task.job_id",
    )
    assert err.message == "dependency cycle between jobs: a -> b -> c -> a"


def test_job_referring_to_itself_is_a_cycle(write):
    text = md(CYCLE.replace("${resources.jobs.b.id}", "${resources.jobs.a.id}"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "${resources.jobs.a.id}"), "resources.jobs.a.tasks[0].run_job_task.job_id")
    assert err.message == "dependency cycle between jobs: a -> a"


def test_duplicate_job_keys_across_blocks(write):
    text = md(JOB + "\nMore prose.\n\n" + JOB.replace("```yaml", "```yml"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "    etl:", nth=2), "resources.jobs.etl")
    assert err.message == f"duplicate job key 'etl' (already defined at line {line_no(text, '    etl:')})"


def test_duplicate_job_key_between_resources_and_bare_jobs_in_one_block(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl: {name: a}
        jobs:
          etl: {name: b}
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "etl: {name: b}"), "jobs.etl")
    assert err.message == f"duplicate job key 'etl' (already defined at line {line_no(text, 'etl: {name: a}')})"


@pytest.mark.parametrize("text", ["", "\n  \n\t\n"])
def test_empty_file(write, text):
    err = fail(write(text))
    assert (err.line, err.field) == (1, "")
    assert err.message == "empty file: expected front matter and fenced ```yaml blocks with jobs"


def test_no_jobs(write):
    text = md("""
        # Only prose

        ```python
        jobs = {"etl": 1}
        ```

        ```
        resources:
          jobs:
            etl: {name: x}
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (1, "")
    assert err.message.startswith("no jobs: the file has no fenced ```yaml block with `resources: jobs:` or `jobs:`")


def test_unclosed_yaml_fence(write):
    text = md("Prose.\n\n" + JOB.rstrip().removesuffix("```"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "```yaml"), "")
    assert err.message == "the ```yaml block opened here is never closed"


def test_relative_path_without_workspace_root(write):
    front = FRONT_MATTER.replace("workspace_root: /Workspace/Shared/job-agent\n", "")
    text = md(JOB.replace("/Workspace/Shared/job-agent/notebooks/ingest", "../src/hello.py"), front=front)
    err = fail(write(text))
    assert (err.line, err.field) == (
        line_no(text, "notebook_path:"),
        "resources.jobs.etl.tasks[0].notebook_task.notebook_path",
    )
    assert err.message == (
        "relative path '../src/hello.py' needs `workspace_root` in the front matter "
        "(or write an absolute workspace path)"
    )


def test_workspace_root_path_needs_workspace_root(write):
    front = FRONT_MATTER.replace("workspace_root: /Workspace/Shared/job-agent\n", "")
    text = md(JOB.replace("/Workspace/Shared/job-agent", "${workspace.root_path}"), front=front)
    err = fail(write(text))
    assert err.field == "resources.jobs.etl.tasks[0].notebook_task.notebook_path"
    assert err.message == "'${workspace.root_path}' needs `workspace_root` in the front matter"


def test_wildcard_dependency(write):
    text = md("""
        ```yaml
        resources:
          jobs:
            etl:
              environments:
                - environment_key: default
                  spec:
                    environment_version: "2"
                    dependencies:
                      - ../dist/*.whl
        ```
        """)
    err = fail(write(text))
    assert (err.line, err.field) == (
        line_no(text, "../dist/*.whl"),
        "resources.jobs.etl.environments[0].spec.dependencies[0]",
    )
    assert err.message.startswith("path '../dist/*.whl' has a wildcard")


def test_relative_workspace_root_is_refused(write):
    text = md(JOB, front=FRONT_MATTER.replace("/Workspace/Shared/job-agent", "Shared/job-agent"))
    err = fail(write(text))
    assert (err.line, err.field) == (line_no(text, "workspace_root:"), "workspace_root")
    assert err.message.startswith("'Shared/job-agent' must be an absolute workspace path")
