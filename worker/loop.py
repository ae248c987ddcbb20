"""The claim loop: concurrency slots, lease recovery, idle detection and shutdown.

Each of `concurrency` slots (threads) repeats: recover expired leases (at most every
`lease_ttl / 2` seconds per process), claim the next task, run it, and when nothing is
claimable wait `poll_interval` seconds. With `until_idle` the worker exits once no task is
running anywhere and none can become claimable by waiting (see `state.queue.outlook`); with
`once` it exits after one task (a task that waits to be checked again is followed until it
ends).

Database faults: every state call goes through the runner's `DbRetry` (claims, recovery, the
idle check, and everything the runner records), so a locked SQLite file or a restarting
PostgreSQL server delays work and is logged; it never ends a slot silently. If the database
stays unreachable past `--db-timeout`, or a slot meets an unexpected error, the whole worker
stops and `run` raises `WorkerFailed` (the CLI exits non-zero).

Signals: the first SIGINT/SIGTERM stops claiming; running tasks finish their current phase
and are completed or released (long waits see `WorkerStopping`), then the process exits 0.
A second signal exits at once (status 1); lease expiry hands its tasks to another worker.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from state.queue import claim_next, outlook, recover_expired_leases
from worker import log
from worker.db_retry import DatabaseUnavailable
from worker.pipeline import TaskRunner


class WorkerFailed(RuntimeError):
    """A slot could not go on: the database stayed unreachable past the timeout
    (`database_unavailable` is True), or an unexpected error (chained)."""

    def __init__(self, message: str, *, database_unavailable: bool) -> None:
        super().__init__(message)
        self.database_unavailable = database_unavailable


@dataclass
class LoopOptions:
    """How the loop runs. Times in seconds."""

    concurrency: int = 1
    poll_interval: float = 1.0
    until_idle: bool = False
    once: bool = False


class Worker:
    """A worker process's claim loop around a `TaskRunner`."""

    def __init__(self, engine: Engine, runner: TaskRunner, options: LoopOptions) -> None:
        self.engine = engine
        self.runner = runner
        self.options = options
        self.stopping = runner.stopping
        self.outcomes: Counter[str] = Counter()
        self._busy = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._last_recovery = 0.0
        self._signals = 0
        self._failure: WorkerFailed | None = None
        self._following: int | None = None  # with `once`: the task that waits to be checked again

    @property
    def worker_id(self) -> str:
        """This process's worker id (`host:pid`); slots add `/N`."""
        return self.runner.settings.worker_id

    def _on_signal(self, signum, _frame) -> None:
        self._signals += 1
        if self._signals == 1:
            print(f"worker: {signal.Signals(signum).name}: stopping; finishing or releasing current work (again to exit now)", file=sys.stderr, flush=True)
            self.stopping.set()
        else:
            print("worker: exiting now; leases will expire and other workers will recover the tasks", file=sys.stderr, flush=True)
            os._exit(1)

    def install_signal_handlers(self) -> None:
        """Route SIGINT and SIGTERM to the two-stage shutdown (main thread only)."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _recover(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_recovery < self.runner.settings.lease_ttl / 2:
                return
            self._last_recovery = now
        recovered = self.runner.db.call("recover expired leases", recover_expired_leases, self.engine, actor=self.worker_id)
        for task_id, status in recovered:
            log.emit(worker=self.worker_id, task=f"T-{task_id:04d}", event="recovered", status=status.value)

    def _slot(self, index: int) -> None:
        try:
            self._slot_loop(index)
        except DatabaseUnavailable as error:
            self._fail(WorkerFailed(str(error), database_unavailable=True), index)
        except Exception as error:  # noqa: BLE001 - a slot never dies silently: stop the worker and say why
            failure = WorkerFailed(f"slot {index}: {type(error).__name__}: {error}", database_unavailable=False)
            failure.__cause__ = error
            self._fail(failure, index)

    def _fail(self, failure: WorkerFailed, index: int) -> None:
        log.emit(worker=f"{self.worker_id}/{index}", event="worker_failed", error=str(failure))
        with self._lock:
            self._failure = self._failure or failure
        self._done.set()

    def _slot_loop(self, index: int) -> None:
        slot_id = f"{self.worker_id}/{index}"
        db = self.runner.db
        while not self.stopping.is_set() and not self._done.is_set():
            self._recover()
            with self._lock:
                self._busy += 1
            try:
                claim = db.call("claim", claim_next, self.engine, slot_id, self.runner.settings.lease_ttl)
                if claim is not None:
                    outcome = self.runner.run(claim)
                    if outcome != "WAITING":  # a wait is not an outcome: the task comes back
                        with self._lock:
                            self.outcomes[outcome] += 1
                    if self.options.once:
                        if outcome == "WAITING":
                            self._following = claim.task_id
                        else:
                            self._done.set()
                    continue
            finally:
                with self._lock:
                    self._busy -= 1
            if self.options.once and self._following is None:
                self._done.set()
                break
            if self.options.until_idle or self._following is not None:
                with self._lock:
                    others_busy = self._busy > 0
                if not others_busy:
                    view = db.call("idle check", outlook, self.engine)
                    if view.idle:
                        self._done.set()
                        break
            self.stopping.wait(self.options.poll_interval)

    def run(self) -> Counter[str]:
        """Run the slots until done or stopped; returns the outcome counts (`COMPLETE`, `FAILED`, ...).

        Raises:
            WorkerFailed: a slot could not go on (see the class); the other slots were stopped.
        """
        threads = [threading.Thread(target=self._slot, args=(i,), name=f"slot-{i}", daemon=True) for i in range(self.options.concurrency)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
        self.runner.close()
        if self._failure is not None:
            raise self._failure
        return self.outcomes
