"""State: the SQLModel tables, the engine factory, the task state machine and progress files.

`state` is the only package that writes a task's status (see `state.machine`). It imports
nothing of `lead`, `worker`, `tasks`, `retriever` or `sandbox`, and never calls Databricks or
an LLM.

Modules:
- `state.columns`: column types (timezone-aware UTC timestamps).
- `state.clock`: the database's clock (leases, `not_before`, schedules).
- `state.models`: the tables (`Requirement`, `Task`, `TaskDependency`, `TaskEvent`,
  `Deployment`) and ids.
- `state.engine`: `make_engine(url)` and the database location settings.
- `state.migrations`: the Alembic schema migrations and the upgrade-on-open check.
- `state.machine`: statuses, phases, allowed moves, the compare-and-set `transition`,
  cancelling with dependents, the requirement roll-up.
- `state.submissions`: recording a requirement revision and its tasks in one transaction;
  enqueueing tasks later (follow-ups, recurrences, ad hoc work).
- `state.outcomes`: recording how an attempt ended, with its follow-ups and the next
  occurrence of a recurring task, in one transaction.
- `state.schedules`: when a recurring task's next occurrence is due.
- `state.deployments`: deployment key -> job id records.
- `state.queue`: claiming, heartbeats, lease recovery for workers.
- `state.views`: read models shared by the CLI and the progress files (blocked-by, counts).
- `state.progress`: rendering `progress/README.md` and one file per requirement, atomically.
"""
