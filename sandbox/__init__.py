"""sandbox: a local Databricks workspace emulator that the unmodified ``databricks-sdk`` talks to.

Contract (other packages code against these names)::

    from sandbox import running_sandbox

    with running_sandbox(state_file=None, scenario=None, clock_speed=60.0, faults=None) as sb:
        w = sb.workspace_client()   # WorkspaceClient(host=sb.url, token=sb.token, auth_type="pat")
        sb.url, sb.token            # "http://127.0.0.1:<port>", "dapi..."
        sb.add_fault("/api/2.2/jobs/create", "429", count=1, offset=0, retry_after=0)  # -> rule id
        sb.load_scenario({"rules": [...]})   # or a YAML path
        sb.advance(60)              # move this workspace's simulated clock by 60 s
        sb.reset()                  # back to the seed

``running_sandbox(state_file=None, scenario=None, clock_speed=60.0, faults=None, *, port=0, token=None)``
starts the server in-process on a background thread. ``clock_speed`` is simulated seconds per real
second (0 freezes time: move it with ``advance``). A ``state_file`` persists every workspace
atomically and records the token, so separately started processes with the same file share jobs
and runs. The handle: ``Sandbox.workspace_client()``, ``add_fault(path_pattern, kind, count=1,
offset=0, *, method=None, retry_after=0, latency_ms=0, mode="drop")``, ``faults()``,
``clear_faults()``, ``load_scenario(dict_or_path)``, ``advance(seconds)``, ``now_ms()``, ``reset()``.

Command line: ``uv run sandbox serve [--port 8765] [--state FILE] [--scenario FILE]
[--clock-speed 1.0] [--token T]`` prints ``DATABRICKS_HOST=...`` and ``DATABRICKS_TOKEN=...``.
Control endpoints for other processes live under ``/__sandbox/`` (``sandbox.routes_control``).

State is per bearer token: any new token gets a freshly seeded workspace. The server serialises
requests on one lock, so several client processes may share one served sandbox.

Served APIs (paths as ``databricks/sdk/service/*.py`` calls them): identity (``/.well-known/
databricks-config``, ``/api/2.0/preview/scim/v2/Me``); Jobs 2.2 (create, get, list, reset,
update, delete, run-now, runs/submit, runs/get, runs/list, runs/get-output, runs/cancel,
runs/cancel-all, runs/delete, runs/repair); Clusters 2.1 (list, get, list-node-types,
spark-versions); Workspace 2.0 (get-status, list, mkdirs, import, export, delete); SQL warehouses
(list, get) and Statement Execution over synthetic system tables (``sandbox.system_tables``).

Seed (details in ``sandbox.seed``): user ``sandbox-user@example.com``; notebooks
``/Users/sandbox-user@example.com/etl/ingest_orders``, ``.../etl/transform_orders``,
``.../reports/daily_revenue``, ``/Shared/job-agent/notebooks/{ingest,transform,publish}``; files
``/Users/sandbox-user@example.com/scratch.py``, ``/Shared/job-agent/scripts/cleanup.py``,
``/Shared/job-agent/sql/cost_per_job.sql`` (the ``/Workspace`` prefix is accepted);
clusters ``0101-120000-shared01``, ``0101-120000-analyt02``, ``0101-120000-mlr5d03``; warehouses
``a1b2c3d4e5f60001`` (running), ``a1b2c3d4e5f60002`` (stopped); node types m5d/i3/r5d sizes;
runtimes 16.4.x, 15.4.x, 14.3.x, 13.3.x ``-scala2.12``.

Scenarios (which task execution fails, how, and when a retry succeeds): ``sandbox.scenarios``.
Faults (429, 503, latency, lose_response): ``sandbox.faults``. System tables and their seeded
history: ``sandbox.system_tables``; documented cost / reliability queries with the figures the
seed implies: ``sandbox.example_queries``. Latency: ``bench/sandbox_latency.py``.
"""

from sandbox.harness import Sandbox, running_sandbox

__all__ = ["Sandbox", "running_sandbox"]
