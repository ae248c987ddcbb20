"""Task types as plug-ins: each implements validate / plan / apply for one kind of work.

- `tasks.base`: the contract (`TaskType`, `TaskContext`, `Plan`, `Action`, `Change`,
  `Problem`, and the errors a phase may raise).
- `tasks.registry`: task type name -> class, imported lazily.
- `tasks.deploy_job`, `tasks.run_job`: the job task types; `tasks.workspace_check`: a
  probe of the workspace connection (typically recurring).
- Their parts: `tasks.job_validation` (settings and workspace checks), `tasks.quartz_cron`
  (schedule syntax), `tasks.job_diff` (field-level diff), `tasks.job_ownership` (deployment
  keys, the owner tag and finding a deployment's job), `tasks.job_refs` (`${resources.jobs.X.id}` and current
  user references), `tasks.job_fields` (requirements lines and citation queries of fields).

Task types never write a task's status: they return plans and results, or raise, and the
worker records the outcome through `state`. They never import `lead` or `worker`.
"""
