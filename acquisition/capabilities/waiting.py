"""Checkpoints and waiting: abort, operator pause, the temperature interlock, and sleeping on the
rig clock with the count rate probed while the beam is on."""
from __future__ import annotations

from typing import TYPE_CHECKING

from acquisition.capabilities.detection import RATE_PROBE_S
from acquisition.events import InterlockTripped

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

#: how often interlocks are checked while a plan waits (rig-clock seconds)
INTERLOCK_POLL_S = 0.25


class Waiting:
    """Where a plan gives the engine its say: every call here honours abort and pause."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def checkpoint(self) -> None:
        """Honour abort, operator pause and the temperature interlock."""
        self.honour_operator()
        self._ctx.cryostat.check_band()

    def honour_operator(self) -> bool:
        """Raise on abort; hold while the operator pauses. True if it held (the run was paused)."""
        control = self._ctx.session.control
        control.raise_if_aborted()
        if control.pause_requested:
            # on top of an interlock pause too: the new reason is published (run_control)
            self._ctx.log.info("pausing at a safe point on operator request")
            control.hold_until_resumed("paused by operator", already_requested=True)
            return True
        return False

    def sleep(self, seconds: float) -> None:
        """Wait on the rig clock, checking interlocks every INTERLOCK_POLL_S (with the beam on, a
        RATE_PROBE_S count checks the APD rate)."""
        ctx = self._ctx
        self.checkpoint()
        remaining = float(seconds)
        while remaining > 1e-12:
            chunk = min(remaining, INTERLOCK_POLL_S)
            probing = ctx.session.beam_on and ctx.has_instrument("counter") and chunk > 2 * RATE_PROBE_S
            probe = RATE_PROBE_S if probing else 0.0
            if not ctx.clock.sleep(chunk - probe, ctx.session.control.stop_event):
                ctx.session.control.raise_if_aborted()
            if probe:
                ctx.detection.probe_rate()
            remaining -= chunk
            self.checkpoint()

    def interlock(self, name: str, detail: str) -> None:
        """Tell the operator (log, event) that interlock ``name`` tripped."""
        # the CLI prints its own "avalab: INTERLOCK ..." line from the event (REPORTED_BY_CLI)
        self._ctx.log.warning("interlock %s: %s", name, detail, extra={"reported_by_cli": True})
        self._ctx.session.publish(InterlockTripped(self._ctx.run_id, name, detail))
