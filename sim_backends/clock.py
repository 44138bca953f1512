"""Virtual time for the simulated rig: sleeping advances the clock instead of waiting.

The bench reads ``now()`` to know how far to advance the sample physics, so a sweep that would
take an hour in the lab takes as long as the physics needs to compute.
"""
from __future__ import annotations

import threading

from drivers.clock import Clock


class VirtualClock(Clock):
    """A clock that jumps forward on ``sleep``. Thread-safe; time never goes backwards."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"seconds={seconds:g} must be >= 0")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if seconds > 0:
            self.advance(seconds)
        return True

    @property
    def is_virtual(self) -> bool:
        return True
