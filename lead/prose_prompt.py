"""The words the prose lead sends to the model: the instructions and the user turn.

Kept apart from `lead.prose` (the flow) so the prompt can be read and changed in one place.
The contract with the model (other tools rely on it): the answer is bundle YAML
(``resources: jobs: KEY: <JobSettings fields>``) in exactly one fenced ``yaml`` block; the
repair turn (`llm.gateway.repair_message`) quotes the validation messages, which name the
field and the generated YAML line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SYSTEM = """\
You are the tech lead of a Databricks job-automation pipeline. A data engineer describes in \
prose the Databricks jobs they want; you write those jobs as Databricks Asset Bundles job \
definitions.

Answer with exactly one fenced ```yaml block and nothing else of substance. Its shape:

```yaml
resources:
  jobs:
    <job_key>:
      name: <job name>
      <other Jobs API JobSettings fields>
```

Rules:
- Field names are those of the Jobs API `JobSettings` (the same as a bundle's `resources.jobs`):
  name, tasks, job_clusters, environments, schedule (quartz_cron_expression, timezone_id,
  pause_status), trigger, email_notifications, parameters, tags, max_concurrent_runs,
  timeout_seconds, ... Each task has a `task_key` and one task kind (notebook_task,
  spark_python_task, python_wheel_task, sql_task, run_job_task, pipeline_task, ...);
  task order is expressed with `depends_on: [{task_key: ...}]`.
- Job keys use only letters, digits, `_` and `-`.
- Quartz cron has six or seven fields: seconds minutes hours day-of-month month day-of-week
  [year], e.g. "0 0 2 * * ?" for 02:00 every day; give a `timezone_id` such as "UTC".
- Use `${var.NAME}` only for the variables listed below; refer to another job of this file
  with `${resources.jobs.KEY.id}`. Never invent cluster ids, warehouse ids or secrets.
- Only jobs: no pipelines, schemas or other resource kinds; no `targets` or `permissions`.
- Write only what the prose asks for; do not define jobs already defined in the file.
- When documentation passages are given, follow them for field names and values.
"""


@dataclass(frozen=True)
class Passage:
    """A documentation passage given to the model: its citation (one line) and its text."""

    citation: str
    text: str


def _context(front_matter: dict[str, Any], job_keys: tuple[str, ...]) -> list[str]:
    lines = []
    variables = front_matter.get("variables")
    if isinstance(variables, dict) and variables:
        lines.append("Variables you may use as ${var.NAME}: " + ", ".join(sorted(map(str, variables))))
    else:
        lines.append("Variables: none (do not use ${var.NAME}).")
    root = front_matter.get("workspace_root")
    if root:
        lines.append(f"Workspace root: {root} (relative notebook and file paths resolve under {root}/files).")
    else:
        lines.append("No workspace root: write absolute workspace paths (/Workspace/...) for notebooks and files.")
    run_after = front_matter.get("run_after_deploy")
    if run_after:
        keys = [run_after] if isinstance(run_after, str) else list(run_after)
        lines.append("Jobs run after deploy (you must define these job keys): " + ", ".join(map(str, keys)))
    if job_keys:
        lines.append("Jobs already defined in the file (do not define them again; you may refer to their ids): "
                     + ", ".join(job_keys))
    defaults = front_matter.get("defaults")
    if isinstance(defaults, dict) and defaults:
        lines.append("Front matter defaults merged into every job afterwards: " + json.dumps(defaults, sort_keys=True,
                                                                                          default=str))
    return lines


def build_messages(prose: str, front_matter: dict[str, Any], job_keys: tuple[str, ...],
                   passages: list[Passage]) -> list[dict[str, str]]:
    """The chat messages for one prose request: `[system, user]`.

    `prose` is the requirements text outside fenced blocks; `passages` the documentation
    retrieved for the fields involved (may be empty: the model then works ungrounded).
    """
    parts = ["The requirements file says:", "", "<<<", prose.strip(), ">>>", "", *_context(front_matter, job_keys)]
    if passages:
        parts += ["", "Documentation passages on the fields involved (cite nothing, just follow them):"]
        for i, passage in enumerate(passages, 1):
            parts += ["", f"[{i}] {passage.citation}", passage.text.strip()]
    parts += ["", "Write the job definitions now: one fenced ```yaml block with `resources: jobs:`."]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(parts)}]
