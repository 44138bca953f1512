"""How far a campaign has got: units done, how far the running ones are, and the ETA.

Both runners feed a WorkTracker: the serial one from its engine's progress events, the parallel
coordinator from the progress its workers report for their units (a unit's fraction is its
experiment's points done / points planned). The work is counted in planned rig-clock seconds
(each unit's estimate), so a half-done long unit weighs more than a finished short one, and the
ETA is the wall time the work done so far took, scaled to the work still to do: on N workers
the work advances N units at a time, and the ETA follows.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from acquisition.events import Progress, RunStarted

#: at most one progress report per unit per this many wall seconds (the last point always)
PROGRESS_INTERVAL_S = 1.0


class WorkTracker:
    """The campaign's work: ``estimates`` (unit key -> planned rig-clock seconds) of the units
    this pass runs. Thread-safe: a serial runner updates it from its engine's thread."""

    def __init__(self, estimates: Mapping[str, float]) -> None:
        self.estimates = {key: max(float(seconds), 0.0) for key, seconds in estimates.items()}
        self.started = time.monotonic()
        self._fractions: dict[str, float] = {}
        self._completed: set[str] = set()
        self._lock = threading.Lock()

    def update(self, key: str, fraction: float) -> None:
        """Unit ``key`` is running, ``fraction`` (0..1) of it done."""
        with self._lock:
            if key not in self._completed:
                self._fractions[key] = min(max(float(fraction), 0.0), 1.0)

    def complete(self, key: str) -> None:
        with self._lock:
            self._fractions.pop(key, None)
            self._completed.add(key)

    def drop(self, key: str) -> None:
        """Unit ``key`` ended without completing (stopped, failed): its partial work is undone."""
        with self._lock:
            self._fractions.pop(key, None)

    def running(self) -> tuple[tuple[str, float], ...]:
        """(unit key, fraction done) of the units in progress, in the order they began."""
        with self._lock:
            return tuple(self._fractions.items())

    def work_done_s(self) -> float:
        with self._lock:
            return (sum(self.estimates.get(k, 0.0) for k in self._completed)
                    + sum(self.estimates.get(k, 0.0) * f for k, f in self._fractions.items()))

    def eta_s(self, now: float | None = None) -> float | None:
        """Wall seconds still to go, None until some work is done."""
        done = self.work_done_s()
        if done <= 0.0:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started
        return max(sum(self.estimates.values()) - done, 0.0) * elapsed / done


def unit_progress_listener(on_fraction: Callable[[float], None],
                           interval_s: float = PROGRESS_INTERVAL_S) -> Callable[[Any], None]:
    """An engine subscriber that reports the fraction done of a unit's measured run (the run
    that writes the unit's run file; its preparation writes none), at most once per
    ``interval_s`` and at its last point."""
    state: dict[str, Any] = {"ours": False, "last": -float("inf")}

    def listen(event: Any) -> None:
        if isinstance(event, RunStarted):
            state["ours"] = event.path is not None
            return
        if not isinstance(event, Progress) or not state["ours"] or not event.total:
            return
        now = time.monotonic()
        if now - state["last"] < interval_s and event.done < event.total:
            return
        state["last"] = now
        on_fraction(event.done / event.total)
    return listen
