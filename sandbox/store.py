"""Per-token workspace state, its lock, and its optional JSON state file.

Each bearer token owns one workspace: jobs, runs, the workspace tree, id counters, the loaded
scenario and a clock offset. Unknown tokens get a freshly seeded workspace (see ``sandbox.seed``),
so parallel tests with different tokens never see each other.

All access goes through :meth:`Store.transaction`, which serialises requests with one re-entrant
lock (the server handles 4-8 concurrent client processes). With a state file, a transaction also
takes an exclusive ``flock`` on ``<file>.lock``, reloads the file if another process changed it,
and after a writing transaction saves it atomically (temp file + ``os.replace``), so separately
started processes sharing the file see the same jobs and runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sandbox import seed
from sandbox.clock import SimClock

STATE_VERSION = 1


def new_token() -> str:
    """A fresh random personal-access-token-like string (``dapi`` + 32 hex chars)."""
    return "dapi" + secrets.token_hex(16)


def fresh_workspace(now_ms: int) -> dict:
    """A newly seeded workspace state (JSON-serialisable dict)."""
    return {
        "created_ms": now_ms,
        "clock_offset_ms": 0,
        "jobs": {},
        "runs": {},
        "task_runs": {},  # task run id -> parent run id
        "idempotency": {},  # idempotency token -> run id
        "objects": seed.workspace_objects(now_ms),
        "clusters": seed.clusters(now_ms),
        "executions": {},  # "job name::task key" -> executions so far (scenario attempt counting)
        "next_job_id": 1001,
        "next_run_id": 100001,
        "next_object_id": 3_100_000_000_000_000,
        "scenario": None,
    }


class Store:
    """All workspaces of one sandbox server, keyed by token.

    ``clock`` is the shared :class:`SimClock`; ``state_file`` (optional) persists every workspace.
    ``host`` is the server's base URL once known (used in ``run_page_url`` and warehouse URLs).
    ``lock`` (re-entrant) guards every workspace and the transient per-token data.
    """

    def __init__(self, clock: SimClock, state_file: str | os.PathLike | None = None):
        self.clock = clock
        self.host = ""
        self.state_file = Path(state_file) if state_file else None
        self.lock = threading.RLock()
        self._workspaces: dict[str, dict] = {}
        self._transient: dict[str, dict] = {}  # per token, never persisted: faults, statements
        self.default_token: str | None = None
        self._seen_stat: tuple[int, int] | None = None
        self.lock_fd: int | None = None
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.lock_fd = os.open(str(self.state_file) + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
            with self._file_lock():
                self._reload_if_changed()

    # -- persistence -------------------------------------------------------------------------

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.lock_fd is None:
            yield
            return
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def _stat(self) -> tuple[int, int, int] | None:
        """What tells another process's save from ours: every save is a new file (`os.replace`),
        so its inode changes even when two saves share a timestamp tick and a size."""
        try:
            st = self.state_file.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload_if_changed(self) -> None:
        stat = self._stat()
        if stat is None or stat == self._seen_stat:
            return
        data = json.loads(self.state_file.read_text())
        if data.get("version") != STATE_VERSION:
            raise RuntimeError(f"{self.state_file}: unsupported sandbox state version {data.get('version')!r}")
        self._workspaces = data.get("workspaces", {})
        self.default_token = self.default_token or data.get("default_token")
        self.clock.ensure_at_least(int(data.get("sim_now_ms", 0)))
        self._seen_stat = stat

    def _save(self) -> None:
        self._write({
            "version": STATE_VERSION,
            "default_token": self.default_token,
            "sim_now_ms": self.clock.now_ms(),
            "workspaces": self._workspaces,
        })
        self._seen_stat = self._stat()

    def _write(self, data: dict) -> None:
        """Replace the state file with `data` atomically (a temporary file, then rename)."""
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-state-", dir=str(self.state_file.parent))
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(tmp, self.state_file)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def persist_clock(self) -> None:
        """Record this sandbox's simulated clock in the state file if it is ahead of the file's.

        Called when a sandbox stops: reads do not save, so without this the next process would
        resume from the clock of the last write and could see a run it already saw TERMINATED
        as TERMINATING again (simulated time going backwards across processes). Only
        `sim_now_ms` changes: the workspaces are copied from the file as it is now (under the
        file lock), never from this process's memory, so no other process's change is lost.
        """
        if not self.state_file:
            return
        with self.lock, self._file_lock():
            try:
                data = json.loads(self.state_file.read_text())
            except (FileNotFoundError, ValueError):
                return
            now = self.clock.now_ms()
            if data.get("version") != STATE_VERSION or now <= int(data.get("sim_now_ms", 0)):
                return
            data["sim_now_ms"] = now
            self._write(data)

    # -- access ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, token: str, write: bool = False) -> Iterator[dict]:
        """Yield the workspace dict of ``token`` under the store lock; save it afterwards if ``write``.

        A workspace is created (seeded) on first use of a token. Mutations must only happen in a
        ``write=True`` transaction. Exceptions propagate; a failed writing transaction is not saved
        (the in-memory dict may hold a partial change only if the handler mutated before raising,
        which handlers avoid by validating first).
        """
        with self.lock, self._file_lock():
            if self.state_file:
                self._reload_if_changed()
            created = token not in self._workspaces
            if created:
                self._workspaces[token] = fresh_workspace(self.clock.now_ms())
            yield self._workspaces[token]
            if self.state_file and (write or created):
                self._save()

    def transient(self, token: str) -> dict:
        """Per-token in-memory data that is never persisted (fault rules, SQL statements)."""
        with self.lock:
            return self._transient.setdefault(token, {"faults": [], "statements": {}, "next_fault_id": 1})

    def now_ms(self, ws: dict) -> int:
        """Simulated now of one workspace: the shared clock plus the workspace's own offset (ms)."""
        return self.clock.now_ms() + int(ws.get("clock_offset_ms", 0))

    def reset(self, token: str) -> None:
        """Replace ``token``'s workspace with a freshly seeded one and drop its faults."""
        with self.transaction(token, write=True):
            self._workspaces[token] = fresh_workspace(self.clock.now_ms())
        with self.lock:
            self._transient.pop(token, None)

    def ensure_default_token(self) -> str:
        """The token a handle uses: the state file's recorded one if any, else a new one (recorded)."""
        with self.lock, self._file_lock():
            if self.state_file:
                self._reload_if_changed()
            if not self.default_token:
                self.default_token = new_token()
                if self.state_file:
                    self._save()
            return self.default_token
