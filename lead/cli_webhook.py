"""`lead webhook`: receive Databricks job-failure notifications and record `remediate_run` tasks.

    lead webhook serve [--host 127.0.0.1] [--port 8787] [--db URL] [--workspace-host URL]
                       [--ssl-certfile FILE --ssl-keyfile FILE]

Serves `POST /webhook` (and `GET /healthz`) with uvicorn until Ctrl-C (SIGINT/SIGTERM: exit
0); see `lead.webhook` for the requests and answers. The HTTP basic credentials come from
`JOB_AGENT_WEBHOOK_USER` and `JOB_AGENT_WEBHOOK_PASSWORD` (contract names): without both the
command refuses to start (exit 1). Point a Databricks generic webhook notification
destination at `https://<this host>/webhook` with the same user name and password, and add
the destination to a job's `webhook_notifications.on_failure`. Serve TLS yourself
(`--ssl-certfile`/`--ssl-keyfile`) or behind a proxy that does: basic auth over plain HTTP
is readable on the wire, so a non-loopback `--host` without TLS is warned about.

Exit codes as `lead`: 0 stopped by a signal, 1 user error (no credentials, the port is
taken, a bad `--db`), 2 internal error.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from lead.cli_runner import DbOption, UserError, open_engine

ENV_USER = "JOB_AGENT_WEBHOOK_USER"
ENV_PASSWORD = "JOB_AGENT_WEBHOOK_PASSWORD"

app = typer.Typer(
    name="webhook",
    help="Receive Databricks job-failure webhooks and record remediate_run tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8787,
    db: DbOption = None,
    workspace_host: Annotated[Optional[str], typer.Option(
        "--workspace-host", envvar="DATABRICKS_HOST",
        help="The workspace URL, used in the tasks' idempotency keys (default: $DATABRICKS_HOST, else the body's workspace_id).")] = None,
    ssl_certfile: Annotated[Optional[Path], typer.Option("--ssl-certfile", help="Serve HTTPS with this certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Optional[Path], typer.Option("--ssl-keyfile", help="The certificate's private key (PEM).")] = None,
) -> None:
    """Serve the webhook intake until interrupted.

    Credentials: $JOB_AGENT_WEBHOOK_USER and $JOB_AGENT_WEBHOOK_PASSWORD (both required).
    """
    username = os.environ.get(ENV_USER) or ""
    password = os.environ.get(ENV_PASSWORD) or ""
    missing = [name for name, value in ((ENV_USER, username), (ENV_PASSWORD, password)) if not value]
    if missing:
        raise UserError(f"the webhook needs HTTP basic credentials: set {' and '.join(missing)} "
                        "(the same user name and password as the Databricks notification destination)")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise UserError("--ssl-certfile and --ssl-keyfile go together")
    for path in (ssl_certfile, ssl_keyfile):
        if path is not None and not path.is_file():
            raise UserError(f"{path}: no such file")

    import uvicorn

    from lead.webhook import WEBHOOK_PATH, make_app

    engine = open_engine(db)
    sock = _listen(host, port)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("job_agent.webhook")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    scheme = "https" if ssl_certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"lead: webhook listening on {scheme}://{shown}:{sock.getsockname()[1]}{WEBHOOK_PATH} "
               f"(user {username}); recording jobs.on_failure as remediate_run tasks", err=True)
    if ssl_certfile is None and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("lead: warning: serving basic auth over plain HTTP on a non-loopback address: "
                   "use --ssl-certfile/--ssl-keyfile or a TLS proxy", err=True)
    config = uvicorn.Config(
        make_app(engine, username=username, password=password, workspace_host=workspace_host),
        log_level="warning", access_log=False, lifespan="off", server_header=False,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None, ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
    stopped_by: list[int] = []
    previous = _quiet_signals(stopped_by)
    try:
        uvicorn.Server(config).run(sockets=[sock])  # returns after a graceful shutdown on SIGINT/SIGTERM
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        engine.dispose()
    typer.echo("lead: webhook stopped" + (f" ({signal.Signals(stopped_by[0]).name})" if stopped_by else ""), err=True)


def _quiet_signals(seen: list[int]) -> dict:
    """Record SIGINT/SIGTERM instead of dying: uvicorn shuts down gracefully on them and then
    re-raises the signal to the handler that was installed before it, which is this one, so
    the command ends with exit 0. Returns the previous handlers (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda number, _frame: seen.append(number))
    return previous


def _listen(host: str, port: int) -> socket.socket:
    """A bound socket on host:port, or a `UserError` saying why not (port taken, bad address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise UserError(f"--host {host}: {error.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock
