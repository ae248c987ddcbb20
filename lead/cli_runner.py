"""Running a typer app with the exit codes our CLIs promise: 0 success, 1 user error, 2 internal error.

Click's own convention (2 for a usage error) is folded into ours: a bad flag or argument is a
user error (1). A `UserError` is printed as one line, without a traceback. Anything else is
an internal error: a one-line summary plus the traceback on stderr, exit 2. Used by `lead`
and `worker`, which also share `open_engine` (their `--db` handling).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 2


JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
"""The `--json` flag every `lead` command takes."""

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", envvar="JOB_AGENT_DB", help="State database URL [default: sqlite:///.job-agent/state.db]."),
]
"""The `--db URL` option (or `$JOB_AGENT_DB`) every command that opens the state database takes."""

ProgressOption = Annotated[
    Optional[Path],
    typer.Option("--progress-dir", envvar="JOB_AGENT_PROGRESS_DIR", help="Where progress markdown goes [default: ./progress]."),
]
"""The `--progress-dir DIR` option (or `$JOB_AGENT_PROGRESS_DIR`) of commands that render progress files."""

# The workspace options of the commands that talk to a workspace themselves (`lead run`,
# `lead runs`, `lead mcp`); `worker/workspace.py` `open_workspace` takes their values.
ProfileOption = Annotated[Optional[str], typer.Option(
    "--profile", help="Databricks config profile (~/.databrickscfg); SDK unified auth otherwise.")]
SandboxOption = Annotated[bool, typer.Option(
    "--sandbox", help="Use the local workspace emulator (the worker's state file): nothing reaches Databricks.")]
SandboxStateOption = Annotated[Optional[Path], typer.Option(
    "--sandbox-state", help="Sandbox state file, shared with workers [default: .job-agent/sandbox.json].")]
SandboxClockOption = Annotated[float, typer.Option(
    "--sandbox-clock-speed", min=0.0, help="Simulated seconds per real second in the sandbox.")]


class UserError(Exception):
    """A mistake the user can fix (a bad file, an unknown id, a refused move): one line, exit 1."""


def open_engine(db: str | None):
    """`state.engine.make_engine(db)` for a command: a bad URL or an unreachable database is a
    `UserError` naming it (password hidden), not a traceback."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from state.engine import make_engine, redact_url
    from state.migrations import SchemaError

    try:
        return make_engine(db)
    except SchemaError as error:
        raise UserError(str(error)) from None
    except ArgumentError as error:
        raise UserError(f"--db: not a database URL: {error}") from None
    except OperationalError as error:
        target = redact_url(db) if db else "the default database"
        raise UserError(f"cannot open {target}: {error.orig}") from None


def _masked(text: str) -> str:
    """`text` with credentials masked (`state.redaction.redact_text`): errors may quote values."""
    from state.redaction import redact_text

    return redact_text(text)


def run_cli(app, prog: str, argv: list[str] | None = None) -> int:
    """Run `app` (a `typer.Typer`) and return the process exit code (never raises).

    Args:
        prog: the program name shown in messages (`lead`, `worker`).
        argv: arguments (default: `sys.argv[1:]`).
    """
    try:
        result = app(args=argv, prog_name=prog, standalone_mode=False)
    except typer.Abort:
        print(f"{prog}: aborted", file=sys.stderr)
        return 130
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.TyperException as error:  # click's usage errors, as typer ships them
        if hasattr(error, "show"):
            error.show(file=sys.stderr)
        else:
            print(f"{prog}: error: {error.format_message()}", file=sys.stderr)
        return EXIT_OK if type(error).__name__ == "NoArgsIsHelpError" else EXIT_USER_ERROR
    except UserError as error:
        print(f"{prog}: error: {_masked(str(error))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: report and exit 2
        print(_masked(traceback.format_exc()), file=sys.stderr, end="")
        print(f"{prog}: internal error: {type(error).__name__}: {_masked(str(error))}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    return result if isinstance(result, int) else EXIT_OK
