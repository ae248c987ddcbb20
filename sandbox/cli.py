"""The ``sandbox`` command: ``sandbox serve [--port] [--state] [--scenario] [--clock-speed] [--token]
[--system-tables DIR]``.

Prints the URL and the token to use, then serves until interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="A local Databricks workspace emulator for the job-agent pipeline.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Local Databricks workspace emulator."""


@app.command()
def serve(
    port: int = typer.Option(8765, help="TCP port on 127.0.0.1 (0 picks a free one)."),
    state: Optional[Path] = typer.Option(None, help="JSON state file shared by separately started processes."),
    scenario: Optional[Path] = typer.Option(None, help="Scenario YAML applied to the printed token's workspace."),
    clock_speed: float = typer.Option(1.0, help="Simulated seconds per real second (0 freezes time)."),
    token: Optional[str] = typer.Option(None, help="Token to print (default: the state file's, else a new one)."),
    system_tables: Optional[Path] = typer.Option(
        None, "--system-tables", help="Directory with one file per system table (system.billing.usage.jsonl, "
        ".csv or .parquet) queried instead of the seeded history; tables without a file are empty."),
) -> None:
    """Serve the sandbox workspace API and print how to reach it."""
    from sandbox.app import build_app
    from sandbox.clock import SimClock
    from sandbox.routes_control import load_scenario
    from sandbox.server import BackgroundServer
    from sandbox.store import Store, new_token

    store = Store(SimClock(clock_speed), state)
    if system_tables is not None:
        import duckdb

        from sandbox.system_tables import DatasetError, load_dataset

        try:
            load_dataset(duckdb.connect(), system_tables)
        except DatasetError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        store.system_tables = str(system_tables)
    server = BackgroundServer(build_app(store), port=port).start()
    store.host = server.url
    tok = token or (store.ensure_default_token() if state else new_token())
    if scenario is not None:
        load_scenario(store, tok, scenario)
    typer.echo(f"Sandbox workspace listening on {server.url}")
    typer.echo(f"DATABRICKS_HOST={server.url}")
    typer.echo(f"DATABRICKS_TOKEN={tok}")
    typer.echo("Control endpoints under /__sandbox/ (faults, scenario, clock, reset). Ctrl-C to stop.", err=True)
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        store.persist_clock()


def main() -> None:
    """Console-script entry point (``sandbox = "sandbox.cli:main"``)."""
    app()


if __name__ == "__main__":
    main()
