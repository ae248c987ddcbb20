"""The sandbox clock: simulated epoch milliseconds that run ``speed`` times faster than real time.

Run life-cycles are computed from this clock, so tests can freeze it (``speed=0``) and move it with
:meth:`SimClock.advance`, while demos run at human speed (``speed=1``). Each token's workspace adds
its own offset on top (see ``sandbox.store``), so one test advancing time does not move another's.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    """Simulated time in epoch milliseconds.

    ``now_ms() = base_sim_ms + (monotonic() - base_real) * speed * 1000``; ``speed`` is simulated
    seconds per real second (0 freezes time). Thread-safe.
    """

    def __init__(self, speed: float = 60.0, start_ms: int | None = None):
        if speed < 0:
            raise ValueError(f"clock speed must be >= 0 simulated seconds per real second, got {speed}")
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._base_sim_ms = float(start_ms if start_ms is not None else time.time() * 1000)
        self._base_real = time.monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now_ms(self) -> int:
        """Current simulated time, epoch milliseconds (int)."""
        with self._lock:
            return int(self._base_sim_ms + (time.monotonic() - self._base_real) * self._speed * 1000)

    def advance(self, seconds: float) -> int:
        """Move simulated time forward by ``seconds`` (>= 0); returns the new ``now_ms``."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        with self._lock:
            self._base_sim_ms += seconds * 1000
        return self.now_ms()

    def ensure_at_least(self, sim_ms: int) -> None:
        """Jump forward to ``sim_ms`` if the clock is behind it (used when loading a state file)."""
        with self._lock:
            current = self._base_sim_ms + (time.monotonic() - self._base_real) * self._speed * 1000
            if sim_ms > current:
                self._base_sim_ms += sim_ms - current
