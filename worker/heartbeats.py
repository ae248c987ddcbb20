"""Keeping a running task's lease alive.

A `LeaseKeeper` renews the lease every `lease_ttl / 3` seconds on a background thread while a
task runs, and task code may also call `beat()` (through `ctx.heartbeat`) during long waits.
When a renewal finds the lease gone (expired and recovered by another worker), `beat()`
raises `LeaseLost`; when the task's revision was superseded by a newer submit it raises
`RevisionSuperseded`; when the worker is stopping it raises `WorkerStopping`. A renewal that
fails because the database is briefly unreachable is left to the next one (the lease is
three renewals long).
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from state.machine import Superseded, TransitionConflict
from state.queue import Claim, heartbeat
from tasks.base import LeaseLost, RevisionSuperseded, WorkerStopping
from worker.db_retry import is_transient_db_error


class LeaseKeeper:
    """Renews one claim's lease until `stop()`; thread-safe.

    Args:
        stopping: set when the worker is shutting down (first signal).
    """

    def __init__(self, engine: Engine, claim: Claim, lease_ttl: float, stopping: threading.Event) -> None:
        self.engine = engine
        self.claim = claim
        self.lease_ttl = lease_ttl
        self.stopping = stopping
        self.lost = False
        self.superseded: Superseded | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.task_id}", daemon=True)

    def start(self) -> "LeaseKeeper":
        """Start the background renewals."""
        self._thread.start()
        return self

    def _renew(self) -> None:
        with self._lock:
            if self.lost or self.superseded:
                return
            try:
                self.claim = heartbeat(self.engine, self.claim, self.lease_ttl)
            except Superseded as error:
                self.superseded = error
            except TransitionConflict:
                self.lost = True

    def _run(self) -> None:
        interval = max(0.05, self.lease_ttl / 3)
        while not self._done.wait(interval):
            try:
                self._renew()
            except Exception:  # noqa: BLE001 - a failed renewal is retried at the next beat
                continue

    def beat(self) -> None:
        """Renew now. Raises `LeaseLost`, `RevisionSuperseded` or `WorkerStopping` (see the module docstring)."""
        try:
            self._renew()
        except Exception as error:  # noqa: BLE001 - only a briefly unreachable database is left to the next beat
            if not is_transient_db_error(error):
                raise
        if self.superseded is not None:
            raise RevisionSuperseded(str(self.superseded), self.superseded.current)
        if self.lost:
            raise LeaseLost(f"lease on T-{self.claim.task_id:04d} was lost")
        if self.stopping.is_set():
            raise WorkerStopping("worker is stopping")

    def stop(self) -> None:
        """Stop renewing (the task's outcome is about to be recorded)."""
        self._done.set()
        self._thread.join(timeout=5)
