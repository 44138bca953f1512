"""Time source for the whole application.

Every wait in avalab goes through a Clock so that a simulated rig can run on virtual time
(a 12 h campaign in minutes) while the same experiment code runs on wall time in the lab.
"""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Monotonic time in seconds and the only way to wait."""

    @abstractmethod
    def now(self) -> float:
        """Seconds since an arbitrary epoch, monotonic."""

    @abstractmethod
    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds``; return False early if ``stop`` gets set, True if the full time passed."""

    @property
    def is_virtual(self) -> bool:
        return False


class RealClock(Clock):
    """Wall-clock time (time.monotonic)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return not (stop is not None and stop.is_set())
        if stop is None:
            time.sleep(seconds)
            return True
        return not stop.wait(seconds)
