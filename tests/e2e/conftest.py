"""Fixtures for end-to-end tests: lead submit -> worker -> sandbox, all real.

- `sandbox_ws`: the sandbox workspace emulator on a loopback port (fast clock).
- `e2e`: a working directory with its own SQLite database and progress dir, plus helpers to
  submit through the real `lead` CLI and to run a real worker loop in this process against
  the sandbox, or as separate processes (`spawn_worker`).
- `pg_url`: a fresh PostgreSQL database on 127.0.0.1:5432 (skips when no server runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))  # for `import e2e_helpers`


@pytest.fixture
def sandbox_ws():
    from sandbox import running_sandbox

    with running_sandbox(clock_speed=3600.0) as sb:
        yield sb


class E2E:
    """One end-to-end environment: database URL, progress dir, sandbox."""

    def __init__(self, root: Path, db_url: str, sb) -> None:
        self.root = root
        self.db_url = db_url
        self.sb = sb
        self.progress = root / "progress"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def lead(self, *args: str) -> tuple[int, str, str]:
        """Run the real `lead` CLI in a subprocess-free way; returns (code, stdout, stderr)."""
        import contextlib
        import io

        from lead.cli import app
        from lead.cli_runner import run_cli

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_cli(app, "lead", [*args, "--db", self.db_url] + (["--progress-dir", str(self.progress)] if args[0] in ("submit", "retry", "cancel") else []))
        return code, out.getvalue(), err.getvalue()

    def engine(self):
        from state.engine import make_engine

        return make_engine(self.db_url)

    def run_worker(self, *, concurrency: int = 1, lease_ttl: float = 30.0, settings: dict | None = None, backoff_base: float = 0.05, cite=None):
        """Run a real worker loop in this process until idle; returns its outcome counts."""
        from worker.citations import Citer
        from worker.loop import LoopOptions, Worker
        from worker.pipeline import TaskRunner, WorkerSettings

        engine = self.engine()
        stopping = threading.Event()
        worker_settings = WorkerSettings(
            worker_id=f"test-{uuid.uuid4().hex[:6]}",
            lease_ttl=lease_ttl,
            backoff_base=backoff_base,
            progress_dir=self.progress,
            task_settings={"run_poll_initial_seconds": 0.02, "run_poll_max_seconds": 0.2, "run_timeout_seconds": 60} | (settings or {}),
        )
        runner = TaskRunner(engine, worker_settings, self.sb.workspace_client, cite or Citer(lambda m: None, enabled=False), stopping)
        loop = Worker(engine, runner, LoopOptions(concurrency=concurrency, poll_interval=0.05, until_idle=True))
        outcomes = loop.run()
        engine.dispose()
        return outcomes

    def worker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
        env.update(
            DATABRICKS_HOST=self.sb.url,
            DATABRICKS_TOKEN=self.sb.token,
            DATABRICKS_AUTH_TYPE="pat",
            JOB_AGENT_DB=self.db_url,
            JOB_AGENT_PROGRESS_DIR=str(self.progress),
            JOB_AGENT_HOME=str(self.root / ".job-agent"),
        )
        return env

    def spawn_worker(self, *args: str, log_name: str = "worker.log") -> subprocess.Popen:
        """Start `worker ARGS` as a separate process talking to the sandbox over HTTP."""
        log = open(self.root / log_name, "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "--no-citations", *args],
            cwd=self.root,
            env=self.worker_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def e2e(tmp_path, sandbox_ws):
    return E2E(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", sandbox_ws)


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database, dropped afterwards. Skips when no server is reachable."""
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 dbname=postgres user=postgres", autocommit=True, connect_timeout=3)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"PostgreSQL is not running on 127.0.0.1:5432 ({type(error).__name__}: {error})")
    name = f"job_agent_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
