"""Flags shared by the engine (operator side) and a run's worker thread: pause, resume, abort.

The operator side only *requests*; the worker acts at its next checkpoint, where the sample is
in a defined state. Pausing waits on wall time (threading.Event), not on the rig clock: a
virtual clock only moves when the run sleeps, and a paused run does not sleep.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from acquisition.events import Event, RunState, StateChanged

log = logging.getLogger(__name__)


class AbortRequested(Exception):
    """Raised at a checkpoint after an abort request; the engine turns it into ABORTED."""


class RunFailure(Exception):
    """Raised at a checkpoint after something outside the plan failed the run (the run file
    cannot be written); the engine turns it into FAILED with this reason."""


class RunControl:
    """Pause/resume/abort requests and the run's current state, for one run."""

    def __init__(self, run_id: str, publish: Callable[[Event], None]) -> None:
        self.run_id = run_id
        self._publish = publish
        self.stop_event = threading.Event()  # set on abort; every rig-clock sleep watches it
        self._paused_wanted = False
        self._cond = threading.Condition()
        self._lock = threading.Lock()
        self._state = RunState.RUNNING
        self._reason = ""
        self.abort_reason = ""
        #: set by ``request_failure``: the run stops at its next checkpoint as FAILED
        self.failure_reason = ""

    @property
    def state(self) -> RunState:
        with self._lock:
            return self._state

    def set_state(self, state: RunState, reason: str = "") -> None:
        with self._lock:
            # a new reason for the same state is news too (an operator pause on top of an
            # interlock pause: the operator must see that a resume is now theirs to give)
            if self._state == state and (state != RunState.PAUSED or self._reason == reason):
                return
            self._state = state
            self._reason = reason
        log.info("run %s: state -> %s%s", self.run_id, state.value, f" ({reason})" if reason else "")
        self._publish(StateChanged(self.run_id, state, reason))

    # ---- operator side ---------------------------------------------------------------------
    def request_pause(self) -> None:
        with self._cond:
            self._paused_wanted = True
            self._cond.notify_all()

    def request_resume(self) -> None:
        with self._cond:
            self._paused_wanted = False
            self._cond.notify_all()

    def request_abort(self, reason: str = "aborted by operator") -> None:
        with self._cond:
            if not self.stop_event.is_set():
                self.abort_reason = reason
            self.stop_event.set()
            self._cond.notify_all()  # wake a paused worker so it can see the abort

    def request_failure(self, reason: str) -> None:
        """Stop the run at its next checkpoint as FAILED (the first reason wins)."""
        with self._cond:
            if not self.failure_reason:
                self.failure_reason = reason
            self.stop_event.set()
            self._cond.notify_all()

    # ---- worker side -----------------------------------------------------------------------
    @property
    def aborted(self) -> bool:
        return self.stop_event.is_set()

    def raise_if_failed(self) -> None:
        if self.failure_reason:
            raise RunFailure(self.failure_reason)

    @property
    def pause_requested(self) -> bool:
        with self._cond:
            return self._paused_wanted

    def raise_if_aborted(self) -> None:
        if self.stop_event.is_set():
            self.raise_if_failed()
            raise AbortRequested(self.abort_reason or "aborted")

    def hold_until_resumed(self, reason: str, already_requested: bool = False) -> None:
        """Block in PAUSED until the operator resumes (or aborts: AbortRequested).

        ``already_requested``: the operator asked for this pause; if a resume arrived in the
        meantime there is nothing to wait for.
        """
        with self._cond:
            if already_requested and not self._paused_wanted:
                return
            self._paused_wanted = True
        self.set_state(RunState.PAUSED, reason)
        with self._cond:
            while self._paused_wanted and not self.stop_event.is_set():
                self._cond.wait(0.5)
        self.raise_if_aborted()
        self.set_state(RunState.RUNNING, "resumed")
