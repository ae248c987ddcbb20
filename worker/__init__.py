"""The worker: a long-running process that claims tasks and takes each through validate -> plan -> apply.

- `worker.cli`: the `worker` command and its flags.
- `worker.loop`: the claim loop, concurrency slots, idle detection, signals.
- `worker.pipeline`: one claimed task through its three phases, and recording the outcome.
- `worker.retry_policy`: transient vs permanent errors, and the backoff.
- `worker.heartbeats`: the lease-renewing thread of a running task.
- `worker.workspace`: the Databricks workspace client (a real workspace or `--sandbox`).
- `worker.citations`: documentation citations for task types, when a docs index exists.
- `worker.log`: one structured (logfmt) line per phase transition.

The worker knows nothing of what a task type does inside (`tasks/`); it records outcomes
only through `state`.
"""
