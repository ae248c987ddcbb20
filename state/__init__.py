"""State: the SQLModel tables, the engine factory, the task state machine and progress files.

`state` is the only package that writes a task's status (see `state.machine`). It imports
nothing of `lead`, `worker`, `tasks`, `retriever` or `sandbox`, and never calls Databricks or
an LLM.

Modules:
- `state.columns`: column types (timezone-aware UTC timestamps).
- `state.models`: the tables (`Requirement`, `Task`, `TaskDependency`, `TaskEvent`) and ids.
- `state.engine`: `make_engine(url)` and the database location settings.
- `state.machine`: statuses, phases, allowed moves, the compare-and-set `transition`.
- `state.submissions`: recording a requirement revision and its tasks in one transaction.
- `state.queue`: claiming, heartbeats, lease recovery for workers.
- `state.views`: read models shared by the CLI and the progress files (blocked-by, counts).
- `state.progress`: rendering `progress/README.md` and one file per requirement, atomically.
"""
