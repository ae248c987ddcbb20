"""Re-rendering progress files from a busy worker without spending its time on them.

Every phase transition asks for its requirement's page to be re-rendered. A page of a few
hundred tasks takes tens of milliseconds to render, so a worker process renders a given
requirement at most once per `min_interval` seconds: the first request renders at once, later
ones within the interval are coalesced into one trailing render on a background thread, and
`close()` renders whatever is still pending. A reader therefore sees every change within
`min_interval` seconds, and the files are always whole (`state.progress.write_atomic`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session


class ProgressWriter:
    """Coalescing progress renderer for one worker process (thread-safe).

    Args:
        min_interval: seconds between two renders of the same requirement by this process.
        on_error: called with the exception when a render fails (rendering never fails a task).
    """

    def __init__(
        self, engine: Engine, progress_dir: Path | None, *, min_interval: float = 0.5, on_error: Callable[[Exception], None] = lambda e: None
    ) -> None:
        self.engine = engine
        self.progress_dir = progress_dir
        self.min_interval = min_interval
        self.on_error = on_error
        self._last: dict[int, float] = {}
        self._dirty: set[int] = set()
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="progress-writer", daemon=True)
        self._thread.start()

    def request(self, requirement_id: int) -> None:
        """Ask for a requirement's page (and the board) to be re-rendered."""
        now = time.monotonic()
        with self._lock:
            due = now - self._last.get(requirement_id, 0.0) >= self.min_interval
            if due:
                self._last[requirement_id] = now
            else:
                self._dirty.add(requirement_id)
                self._wake.set()
        if due:
            self._render([requirement_id])

    def _render(self, requirement_ids: list[int]) -> None:
        from state.progress import render_progress

        try:
            with self._render_lock, Session(self.engine) as session:
                render_progress(session, self.progress_dir, requirement_ids)
        except Exception as error:  # noqa: BLE001 - progress files must never fail a task
            self.on_error(error)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.min_interval)
            self._wake.clear()
            time.sleep(self.min_interval)
            self.flush()

    def flush(self) -> None:
        """Render every requirement with pending changes now."""
        with self._lock:
            pending = sorted(self._dirty)
            self._dirty.clear()
            now = time.monotonic()
            for requirement_id in pending:
                self._last[requirement_id] = now
        if pending:
            self._render(pending)

    def close(self) -> None:
        """Stop the background thread and render what is pending."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
