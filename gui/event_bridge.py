"""Carries engine events from the engine's worker thread to the GUI thread.

The engine calls subscribers on its worker thread and they must return at once. The bridge
appends each event to a locked deque and, only when the deque was empty, posts one queued signal;
the GUI thread then drains everything that arrived in the meantime. A fast virtual-clock sweep
therefore costs the GUI one wake-up per batch instead of one per point.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable

from PyQt6.QtCore import QObject, Qt, pyqtSignal, pyqtSlot

from acquisition.events import Event

log = logging.getLogger(__name__)


class EngineEventBridge(QObject):
    """Subscribe to an engine; re-emit its events, in order, as ``received`` on the GUI thread."""

    received = pyqtSignal(object)
    _wake = pyqtSignal()

    #: longest stretch the GUI thread spends delivering events before yielding, s
    SLICE_S = 0.008
    #: events taken from the queue per lock acquisition
    BATCH = 64

    def __init__(self, engine: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: deque[Event] = deque()
        self._lock = threading.Lock()
        # PyQt6's stubs lack connect()'s connection-type argument, hence the ignores in gui/
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self._unsubscribe: Callable[[], None] | None = engine.subscribe(self.push)

    def push(self, event: Event) -> None:
        """Engine-thread side: enqueue and wake the GUI thread if it is not already due."""
        with self._lock:
            wake = not self._pending
            self._pending.append(event)
        if wake:
            try:
                self._wake.emit()
            except RuntimeError:  # bridge destroyed while the engine still runs (shutdown)
                log.debug("event after the GUI bridge was destroyed: %r", event)

    @pyqtSlot()
    def _drain(self) -> None:
        """Deliver queued events for at most ``SLICE_S``, then yield to the event loop.

        A burst (a virtual-clock sweep can emit thousands of points at once) is thus spread over
        several loop iterations, and timers, paints and clicks (STOP) get their turn in between.
        """
        deadline = time.perf_counter() + self.SLICE_S
        while True:
            with self._lock:
                if not self._pending:
                    return
                batch = [self._pending.popleft() for _ in range(min(self.BATCH, len(self._pending)))]
            for event in batch:
                self.received.emit(event)
            if time.perf_counter() > deadline:
                break
        with self._lock:
            more = bool(self._pending)
        if more:
            self._wake.emit()  # queued: the rest comes after whatever else is waiting

    @property
    def pending_count(self) -> int:
        """Events received from the engine but not yet delivered on the GUI thread."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
