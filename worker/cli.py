"""The `worker` command: claim tasks and take each through validate -> plan -> apply.

    uv run worker [--until-idle | --once] [--concurrency N] [--sandbox] ...

Exit codes: 0 the work it ran ended well (or it was stopped), 1 user error, 2 internal
error, 3 some task it ran FAILED (with `--until-idle` or `--once`), 4 the state database
stayed unreachable longer than `--db-timeout`.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lead.cli_runner import UserError, open_engine, run_cli

EXIT_TASKS_FAILED = 3
EXIT_DATABASE_UNAVAILABLE = 4

app = typer.Typer(
    name="worker",
    help="A worker: claims tasks and takes each through validate -> plan -> apply against a Databricks workspace.",
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def run(
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit when nothing is running and nothing can become claimable.")] = False,
    once: Annotated[bool, typer.Option("--once", help="Run one task, then exit.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Tasks run in parallel by this process.")] = 1,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.01, help="Seconds between claim attempts when idle.")] = 1.0,
    lease_ttl: Annotated[float, typer.Option("--lease-ttl", min=0.5, help="Lease length in seconds; renewed every third of it.")] = 60.0,
    db: Annotated[Optional[str], typer.Option("--db", envvar="JOB_AGENT_DB", help="State database URL [default: sqlite:///.job-agent/state.db].")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="Databricks config profile (~/.databrickscfg); SDK unified auth otherwise.")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Run against the local workspace emulator: nothing reaches Databricks.")] = False,
    sandbox_state: Annotated[Optional[Path], typer.Option("--sandbox-state", help="Sandbox state file [default: .job-agent/sandbox.json].")] = None,
    sandbox_scenario: Annotated[Optional[Path], typer.Option("--sandbox-scenario", exists=True, dir_okay=False, help="A sandbox scenario file: which runs fail, how, and when a retry succeeds (see sandbox/scenarios.py).")] = None,
    sandbox_clock_speed: Annotated[float, typer.Option("--sandbox-clock-speed", min=0.0, help="Simulated seconds per real second in the sandbox.")] = 60.0,
    progress_dir: Annotated[Optional[Path], typer.Option("--progress-dir", envvar="JOB_AGENT_PROGRESS_DIR", help="Where progress markdown goes [default: ./progress].")] = None,
    run_timeout: Annotated[float, typer.Option("--run-timeout", min=1.0, help="Seconds a run_job task follows a run before giving up.")] = 3600.0,
    backoff_base: Annotated[float, typer.Option("--backoff-base", min=0.0, help="Seconds of the first retry backoff (doubles each attempt, jittered).")] = 2.0,
    db_timeout: Annotated[float, typer.Option("--db-timeout", min=1.0, help="Seconds the state database may stay unreachable (locked, restarting) before the worker gives up (exit 4).")] = 300.0,
    connect_timeout: Annotated[int, typer.Option("--connect-timeout", min=1, help="Seconds to keep retrying the start-up connection check before giving up.")] = 10,
    citations: Annotated[bool, typer.Option("--citations/--no-citations", help="Cite documentation in validation errors and plans (needs `docs-index build`).")] = True,
) -> None:
    """Claim tasks and run them until stopped (Ctrl-C once: finish and exit; twice: exit now)."""
    if until_idle and once:
        raise UserError("--until-idle and --once exclude each other")
    if profile and sandbox:
        raise UserError("--profile and --sandbox exclude each other")
    import threading

    from state.engine import home_dir
    from state.redaction import redact_text
    from worker import log
    from worker.citations import Citer
    from worker.loop import LoopOptions, Worker, WorkerFailed
    from worker.pipeline import TaskRunner, WorkerSettings
    from worker.workspace import open_workspace

    engine = open_engine(db)

    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    settings = WorkerSettings(
        worker_id=worker_id,
        lease_ttl=lease_ttl,
        backoff_base=backoff_base,
        db_timeout=db_timeout,
        progress_dir=progress_dir,
        task_settings={"run_timeout_seconds": run_timeout},
    )
    stopping = threading.Event()
    citer = Citer(lambda message: log.emit(worker=worker_id, event="note", message=message), enabled=citations)
    state_file = sandbox_state or (home_dir() / "sandbox.json")
    with open_workspace(sandbox=sandbox, sandbox_state=state_file, sandbox_clock_speed=sandbox_clock_speed, profile=profile,
                        sandbox_scenario=sandbox_scenario) as provider:
        # Connect before claiming anything: bad credentials are the user's to fix, not a task failure.
        try:
            user = provider.check(retry_timeout_seconds=connect_timeout)
        except Exception as error:  # noqa: BLE001 - any failure here means "cannot use this workspace"
            raise UserError(f"cannot use the workspace ({provider.description}): {type(error).__name__}: {error}") from None
        if sandbox:
            bar = "*" * 78
            print(f"{bar}\n* SANDBOX MODE: {redact_text(provider.description)}\n* state file: {state_file}\n{bar}", file=sys.stderr, flush=True)
        print(f"worker {worker_id}: workspace = {redact_text(provider.description)}, as {user}", file=sys.stderr, flush=True)
        runner = TaskRunner(engine, settings, provider, citer, stopping)
        loop = Worker(engine, runner, LoopOptions(concurrency=concurrency, poll_interval=poll_interval, until_idle=until_idle, once=once))
        loop.install_signal_handlers()
        try:
            outcomes = loop.run()
        except WorkerFailed as failure:
            print(f"worker {worker_id}: stopped: {failure}", file=sys.stderr, flush=True)
            raise typer.Exit(EXIT_DATABASE_UNAVAILABLE if failure.database_unavailable else 2) from None
    summary = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no tasks"
    print(f"worker {worker_id}: done ({summary})", file=sys.stderr, flush=True)
    if outcomes.get("FAILED") and (until_idle or once):
        raise typer.Exit(EXIT_TASKS_FAILED)


def main() -> None:
    """Console-script entry point: `worker`."""
    sys.exit(run_cli(app, "worker"))


if __name__ == "__main__":
    main()
