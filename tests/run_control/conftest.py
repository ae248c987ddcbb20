"""Fixtures for run control: jobs deployed by a real worker into a sandbox with a state file.

`deployed` (one per module): a sandbox on a state file (as `worker --sandbox` keeps it) whose
succeeding task executions last an hour of simulated time (clock 60x: about a minute real, so a
run stays PENDING/RUNNING while a test looks at it), a SQLite database, and the jobs of
`REQUIREMENTS` submitted through the real `lead` CLI and deployed by a real worker loop.
`lead(*args)` runs the real `lead` CLI in this process with that database and progress dir.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))  # for `import e2e_helpers`

from e2e_helpers import notebook_job, requirement  # noqa: E402

JOBS = (
    notebook_job("ingest", "rc-ingest", extra="      parameters:\n        - name: run_date\n          default: '2026-01-01'\n"
                                             "        - name: region\n          default: eu\n")
    + notebook_job("report", "rc-report", notebook="publish")
    + notebook_job("widgets", "rc-widgets", notebook="transform").replace(
        "/notebooks/transform\n", "/notebooks/transform\n            base_parameters:\n              mode: full\n")
)
REQUIREMENTS = requirement(JOBS, title="Run control jobs", extra="bundle: rcbundle\n")
LONG_RUNS = {"defaults": {"duration_seconds": 3600}}


@dataclass
class CliResult:
    """Exit code and captured output of one `lead` invocation."""

    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Deployed:
    """The environment of one test module: sandbox handle, state file, database, progress dir."""

    def __init__(self, root: Path, sb, state_file: Path) -> None:
        self.root = root
        self.sb = sb
        self.state_file = state_file
        self.db_url = f"sqlite:///{root / 'state.db'}"
        self.progress = root / "progress"
        self.job_ids: dict[str, int] = {}

    def engine(self):
        from state.engine import make_engine

        return make_engine(self.db_url)

    def provider(self):
        """A `WorkspaceProvider` over this sandbox (the test's own server)."""
        from worker.workspace import WorkspaceProvider

        return WorkspaceProvider(lambda **_: self.sb.workspace_client(), "test sandbox")

    def lead(self, *args: str) -> CliResult:
        from lead.cli import app
        from lead.cli_runner import run_cli

        out, err = io.StringIO(), io.StringIO()
        extra = ["--db", self.db_url]
        if args[0] in ("submit", "run", "runs"):
            extra += ["--progress-dir", str(self.progress)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(app, "lead", [*args, *extra])
        return CliResult(code, out.getvalue(), err.getvalue())

    def sandbox_args(self) -> list[str]:
        return ["--sandbox", "--sandbox-state", str(self.state_file)]

    def run_worker(self, cite=None) -> dict:
        from worker.citations import Citer
        from worker.loop import LoopOptions, Worker
        from worker.pipeline import TaskRunner, WorkerSettings

        engine = self.engine()
        settings = WorkerSettings(worker_id=f"test-{uuid.uuid4().hex[:6]}", lease_ttl=30, backoff_base=0.05,
                                  progress_dir=self.progress)
        runner = TaskRunner(engine, settings, self.sb.workspace_client, cite or Citer(lambda m: None, enabled=False),
                            threading.Event())
        outcomes = Worker(engine, runner, LoopOptions(poll_interval=0.05, until_idle=True)).run()
        engine.dispose()
        return dict(outcomes)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    from sandbox import running_sandbox

    root = tmp_path_factory.mktemp("run_control")
    state_file = root / ".job-agent" / "sandbox.json"
    state_file.parent.mkdir()
    with running_sandbox(state_file=state_file, clock_speed=60.0, scenario=LONG_RUNS) as sb:
        env = Deployed(root, sb, state_file)
        path = root / "rc.md"
        path.write_text(REQUIREMENTS)
        result = env.lead("submit", str(path))
        assert result.code == 0, result.err
        assert env.run_worker() == {"COMPLETE": 3}
        w = sb.workspace_client()
        env.job_ids = {j.settings.name: j.job_id for j in w.jobs.list()}
        yield env
