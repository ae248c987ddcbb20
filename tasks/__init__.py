"""Task types as plug-ins: each implements validate / plan / apply for one kind of work.

- `tasks.base`: the contract (`TaskType`, `TaskContext`, `Plan`, `Action`, `Change`,
  `Problem`, and the errors a phase may raise).
- `tasks.registry`: task type name -> class, imported lazily.
- `tasks.deploy_job`, `tasks.run_job`: the job task types.

Task types never write a task's status: they return plans and results, or raise, and the
worker records the outcome through `state`. They never import `lead` or `worker`.
"""
