"""Workers ride out database outages: a SQLite file held locked, a PostgreSQL server stopped
and restarted mid-run. Every task completes exactly once, and the worker never dies silently."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from e2e_helpers import claims_never_overlap, notebook_job, requirement
from sqlalchemy import select
from sqlmodel import Session

from state.models import Task, TaskEvent
from tasks.job_ownership import OWNER_TAG

N_JOBS = 6


def _jobs(n: int) -> str:
    return "".join(notebook_job(f"job{i:02d}") for i in range(n))


def _complete_events(engine) -> Counter:
    with Session(engine) as session:
        return Counter(session.execute(select(TaskEvent.task_id).where(TaskEvent.to_status == "COMPLETE")).scalars())


def test_sqlite_locked_for_20_seconds_the_worker_goes_on(e2e):
    path = e2e.write("req.md", requirement(_jobs(N_JOBS)))
    assert e2e.lead("submit", str(path))[0] == 0
    db_file = e2e.db_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    env_extra = {"JOB_AGENT_SQLITE_BUSY_TIMEOUT_MS": "1000"}  # "database is locked" after 1 s, not 30
    proc = _spawn(e2e, env_extra, "--until-idle", "--poll-interval", "0.1", "--db-timeout", "120")
    try:
        time.sleep(20)
        assert proc.poll() is None, "the worker gave up while the database was locked"
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert proc.wait(timeout=120) == 0, (e2e.root / "worker.log").read_text()[-3000:]
    engine = e2e.engine()
    with Session(engine) as session:
        assert {t.status for t in session.execute(select(Task)).scalars()} == {"COMPLETE"}
    assert set(_complete_events(engine).values()) == {1}
    log = (e2e.root / "worker.log").read_text()
    assert "event=db_error" in log and "database is locked" in log


def test_the_worker_exits_non_zero_when_the_database_stays_unreachable(e2e):
    path = e2e.write("req.md", requirement(_jobs(1)))
    assert e2e.lead("submit", str(path))[0] == 0
    db_file = e2e.db_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        proc = _spawn(e2e, {"JOB_AGENT_SQLITE_BUSY_TIMEOUT_MS": "200"}, "--until-idle", "--db-timeout", "3")
        code = proc.wait(timeout=120)
    finally:
        holder.execute("COMMIT")
        holder.close()
    log = (e2e.root / "worker.log").read_text()
    assert code == 4, log[-3000:]
    assert "stayed unreachable for more than 3 s" in log


def _spawn(e2e, env_extra: dict[str, str], *args: str) -> subprocess.Popen:
    import sys

    log = open(e2e.root / "worker.log", "ab")
    env = e2e.worker_env() | env_extra
    return subprocess.Popen([sys.executable, "-m", "worker.cli", "--no-citations", *args], cwd=e2e.root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


# -- PostgreSQL: our own server, stopped for 15 s mid-run ---------------------------------------
def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnPostgres:
    """A PostgreSQL server of our own in a temp dir (initdb with the machine's binaries)."""

    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.data = root / "pgdata"
        self.port = _free_port()
        self.log = root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            import pwd

            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run a server as")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def own_postgres():
    import tempfile

    if _pg_bin() is None:
        pytest.skip("no PostgreSQL server binaries (pg_ctl, initdb) on this machine")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="job-agent-pg-"))
    root.chmod(0o755)
    try:
        server = OwnPostgres(root)
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_stopped_for_15_seconds_mid_run_every_task_completes_once(e2e, own_postgres):
    e2e.db_url = own_postgres.url
    n = 12
    path = e2e.write("req.md", requirement(_jobs(n)))
    assert e2e.lead("submit", str(path))[0] == 0
    e2e.sb.add_fault("/api/2.2/jobs/*", "latency", count=None, latency_ms=150)  # a run long enough to cut in two
    proc = _spawn(e2e, {}, "--until-idle", "--concurrency", "2", "--poll-interval", "0.1", "--db-timeout", "120",
                  "--lease-ttl", "10")
    engine = e2e.engine()
    deadline = time.monotonic() + 90
    while sum(_complete_events(engine).values()) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, (e2e.root / "worker.log").read_text()[-3000:]
        time.sleep(0.1)
    engine.dispose()
    own_postgres.stop()
    time.sleep(15)
    assert proc.poll() is None, "the worker died while the database was down"
    own_postgres.start()
    assert proc.wait(timeout=180) == 0, (e2e.root / "worker.log").read_text()[-3000:]
    engine = e2e.engine()
    with Session(engine) as session:
        assert Counter(t.status for t in session.execute(select(Task)).scalars()) == {"COMPLETE": n}
    assert set(_complete_events(engine).values()) == {1}
    claims_never_overlap(engine)
    w = e2e.sb.workspace_client()
    tagged = Counter((j.settings.tags or {}).get(OWNER_TAG) for j in w.jobs.list())
    assert tagged == {f"req/dev/job{i:02d}": 1 for i in range(n)}
    log = (e2e.root / "worker.log").read_text()
    assert "event=db_error" in log
