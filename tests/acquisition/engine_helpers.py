"""Test helper: an engine subscriber that records events and lets a test wait for one."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from acquisition.events import Event


class EventRecorder:
    """Engine subscriber that keeps every event and wakes waiters on each one; it can also hold
    the engine's worker (it runs on that thread) at a chosen event until the test releases it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._hold: Callable[[Event], bool] | None = None
        self._released = threading.Event()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
            hold = self._hold is not None and self._hold(event)
            if hold:
                self._hold = None
        if hold:
            assert self._released.wait(600), "the test never released the run"

    def hold_at(self, predicate: Callable[[Event], bool]) -> None:
        """Hold the run right after the first event matching ``predicate`` until ``release()``:
        on the virtual clock a run can otherwise end before the test thread acts "mid-run"."""
        self._released.clear()
        self._hold = predicate

    def release(self) -> None:
        self._hold = None
        self._released.set()

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 600.0) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    raise TimeoutError("expected event did not arrive")
