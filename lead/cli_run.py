"""`lead run` and `lead runs`: start a run of a job, read a run's state, cancel a run.

    lead run JOB [--param NAME=VALUE ...] [--no-wait] [--json]   JOB: deployment key, job id or name
    lead runs status RUN_ID [--json]
    lead runs cancel RUN_ID [--no-wait] [--json]

Each is a task of the pipeline (`start_run`, `run_status`, `cancel_run`) in the requirement
`ad_hoc/run-control`, run by the lead itself through validate -> plan -> apply
(`lead.run_control`), so it has events, a plan and a progress page. The workspace options are
the worker's: `--sandbox` (the local emulator, state in `.job-agent/sandbox.json`, the file a
`worker --sandbox` deploys into), `--sandbox-state FILE`, or `--profile NAME` / the SDK's
unified auth. Each command is also recorded in the audit table (`lead audit`) under the MCP
tool name that does the same work (`start_job_run`, `get_run_status`, `cancel_run`), client
`lead-cli`.

Exit codes: 0 done; 1 user error (unknown job or run, ambiguous name, bad --param, no usable
workspace); 2 the task failed (or an internal error); 3 `lead run` waited and the run ended
other than SUCCESS.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from lead.cli_runner import (DbOption, JsonOption, ProfileOption, ProgressOption, SandboxClockOption, SandboxOption,
                             SandboxStateOption, UserError, open_engine)

EXIT_TASK_FAILED = 2
EXIT_RUN_NOT_SUCCESSFUL = 3

VerboseOption = Annotated[bool, typer.Option(
    "--verbose", help="Show the pipeline's log lines (phases, outcome) on stderr.")]

runs_app = typer.Typer(
    name="runs",
    help="Look at or cancel one job run (each call is a pipeline task in ad_hoc/run-control).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextlib.contextmanager
def _workspace(sandbox: bool, sandbox_state: Path | None, clock_speed: float, profile: str | None):
    """The `WorkspaceProvider` for these options (`worker.workspace.open_workspace`), its
    client created up front: no usable configuration is a user error."""
    if profile and sandbox:
        raise UserError("--profile and --sandbox exclude each other")
    from state.engine import home_dir
    from worker.workspace import open_workspace

    state_file = sandbox_state or (home_dir() / "sandbox.json")
    if sandbox and sandbox_state is not None and not sandbox_state.exists():
        raise UserError(f"--sandbox-state {sandbox_state}: no such file (a `worker --sandbox` run creates it)")
    gc.disable()  # importing the SDK builds ~2000 dataclasses: collecting meanwhile only costs time
    try:
        with open_workspace(sandbox=sandbox, sandbox_state=state_file, sandbox_clock_speed=clock_speed,
                            profile=profile) as provider:
            try:
                provider()
            except Exception as error:  # noqa: BLE001 - any failure here means "cannot use this workspace"
                raise UserError(f"cannot use the workspace ({provider.description}): {type(error).__name__}: {error}") from None
            finally:
                gc.enable()
            yield provider
    finally:
        gc.enable()


def _done() -> None:
    """The command has printed its answer and the process is about to exit: move everything to
    the permanent generation (`gc.freeze`) so the interpreter's final collection skips the SDK's
    objects (on these machines that collection took 1.3-1.9 s of `lead run --no-wait`)."""
    gc.freeze()


@contextlib.contextmanager
def _quiet(verbose: bool):
    """Hold back the pipeline's log lines (stderr) unless `verbose`; they are shown when the
    task fails."""
    if verbose:
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    except Exception:
        sys.stderr.write(buffer.getvalue())
        raise


AUDIT_CLIENT = "lead-cli"
"""The `client` of the audit entries these commands write (MCP clients give their own name)."""


def _audit(engine, tool: str, arguments: dict, status: str, error: str | None, started: float) -> None:
    """Record the command in the audit table under the MCP tool name that does the same work."""
    from sqlmodel import Session

    from state.audit import record_call
    from state.engine import writer

    with Session(writer(engine)) as session:
        record_call(session, tool=tool, arguments=arguments, status=status, error=error, client=AUDIT_CLIENT,
                    duration_ms=int((time.monotonic() - started) * 1000))
        session.commit()


def _call(fn, tool: str, arguments: dict, engine, *args, verbose: bool, **kwargs):
    """Run one `lead.run_control` call, audited as `tool`; map its errors to our exit codes."""
    from lead.run_control import RunControlError, RunControlTaskFailed

    started = time.monotonic()
    try:
        with _quiet(verbose):
            info = fn(engine, *args, **kwargs)
    except RunControlError as error:
        _audit(engine, tool, arguments, "error", str(error), started)
        raise UserError(str(error)) from None
    except RunControlTaskFailed as error:
        from state.redaction import redact_text

        _audit(engine, tool, arguments, "error", str(error), started)
        typer.echo(f"lead: {redact_text(str(error))} (see `lead show {error.task_ref}`)", err=True)
        raise typer.Exit(EXIT_TASK_FAILED) from None
    except Exception as error:
        from databricks.sdk import errors

        _audit(engine, tool, arguments, "error", f"{type(error).__name__}: {error}", started)
        if isinstance(error, (errors.Unauthenticated, errors.PermissionDenied)):
            raise UserError(f"the workspace refused: {type(error).__name__}: {error}") from None
        raise
    _audit(engine, tool, arguments, "ok", None, started)
    return info


def _text(info, verb: str) -> str:
    state = info.life_cycle_state or "?"
    if info.result_state:
        state += f"/{info.result_state}"
    job = f"{info.job_name} ({info.job_id})" if info.job_name else f"{info.job_id}"
    lines = [f"run {info.run_id} of job {job} {verb}: {state}"]
    if info.state_message:
        lines.append(f"  {info.state_message}")
    if info.run_page_url:
        lines.append(f"  {info.run_page_url}")
    lines.append(f"  {info.task_ref} in {info.requirement_ref}")
    return "\n".join(lines)


def _emit(as_json: bool, info, verb: str) -> None:
    from state.redaction import redact, redact_text

    typer.echo(json.dumps(redact(info.as_dict()), indent=2) if as_json else redact_text(_text(info, verb)))


def run(
    job: Annotated[str, typer.Argument(help="A deployment key (bundle/target/job_key, or job_key alone when unique), a job id, or an exact job name.", show_default=False)],
    param: Annotated[Optional[list[str]], typer.Option("--param", metavar="NAME=VALUE", help="NAME=VALUE, repeatable: a parameter the job defines (job parameters, else its tasks' named parameters).")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return as soon as the run is started, with its run id.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for the run to end (without --no-wait).")] = 3600.0,
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
    sandbox: SandboxOption = False,
    sandbox_state: SandboxStateOption = None,
    sandbox_clock_speed: SandboxClockOption = 60.0,
    profile: ProfileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Start a run of a job (a start_run task); wait for it to end unless --no-wait.

    Exit codes: 0 started (or ended SUCCESS), 1 user error, 2 the task failed, 3 the run ended other than SUCCESS.
    """
    from lead.run_control import RunControlError, parse_params, start_run

    try:
        params = parse_params(param or [])
    except RunControlError as error:
        raise UserError(str(error)) from None
    engine = open_engine(db)
    with _workspace(sandbox, sandbox_state, sandbox_clock_speed, profile) as provider:
        info = _call(start_run, "start_job_run", {"job": job, "params": params, "wait": not no_wait}, engine, provider,
                     job, params, wait=not no_wait, progress_dir=progress_dir, timeout_s=timeout, verbose=verbose)
    _emit(as_json, info, "started" if no_wait else "ended")
    _done()
    if not no_wait and info.result_state != "SUCCESS":
        raise typer.Exit(EXIT_RUN_NOT_SUCCESSFUL)


@runs_app.command("status")
def status(
    run_id: Annotated[int, typer.Argument(help="The run id (as `lead run` printed it).", show_default=False)],
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
    sandbox: SandboxOption = False,
    sandbox_state: SandboxStateOption = None,
    sandbox_clock_speed: SandboxClockOption = 60.0,
    profile: ProfileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Show a run's state (a run_status task)."""
    from lead.run_control import run_status

    engine = open_engine(db)
    with _workspace(sandbox, sandbox_state, sandbox_clock_speed, profile) as provider:
        info = _call(run_status, "get_run_status", {"run_id": run_id}, engine, provider, run_id,
                     progress_dir=progress_dir, verbose=verbose)
    _emit(as_json, info, "is")
    _done()


@runs_app.command("cancel")
def cancel(
    run_id: Annotated[int, typer.Argument(help="The run id to cancel.", show_default=False)],
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once the cancel is requested, not when the run has ended.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for the run to end after the cancel.")] = 600.0,
    as_json: JsonOption = False,
    db: DbOption = None,
    progress_dir: ProgressOption = None,
    sandbox: SandboxOption = False,
    sandbox_state: SandboxStateOption = None,
    sandbox_clock_speed: SandboxClockOption = 60.0,
    profile: ProfileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Cancel a run (a cancel_run task) and wait until it has ended, unless --no-wait."""
    from lead.run_control import cancel_run

    engine = open_engine(db)
    with _workspace(sandbox, sandbox_state, sandbox_clock_speed, profile) as provider:
        info = _call(cancel_run, "cancel_run", {"run_id": run_id, "wait": not no_wait}, engine, provider, run_id,
                     progress_dir=progress_dir, wait=not no_wait, timeout_s=timeout, verbose=verbose)
    _emit(as_json, info, "cancel requested" if no_wait else "is")
    _done()
