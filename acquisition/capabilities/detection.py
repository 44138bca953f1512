"""APD photon counting, with the count-rate interlock: a rate above the rig limit closes the pump
and emission shutters, pauses the run until the operator resumes, and the count is taken again.
Under a running chopper the rate is judged over the blade's open phase (``open_phase_rate_cps``):
the detector sees bursts, not the counted mean."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from acquisition.interlocks import count_rate_exceeded, open_phase_rate_cps

#: the short count taken to check the APD rate while waiting or moving
RATE_PROBE_S = 0.01

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext


@dataclass(frozen=True)
class CountResult:
    counts: int
    dwell_s: float

    @property
    def rate_cps(self) -> float:
        return self.counts / self.dwell_s


class Detection:
    """The APD counter (role ``counter``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def count(self, dwell_s: float) -> CountResult:
        """APD counts over ``dwell_s`` (re-measured after a count-rate trip and resume)."""
        self._ctx.checkpoint()
        return self.guarded_count(dwell_s)

    def count_trace(self, dwell_s: float, bin_s: float) -> np.ndarray:
        """Counts in bins of ``bin_s`` over ``dwell_s``; a bin above the rate limit trips."""
        self._ctx.checkpoint()
        while True:
            trace = np.asarray(self._ctx.instrument("counter").count_trace(dwell_s, bin_s))
            peak_rate = float(trace.max()) / bin_s if trace.size else 0.0
            if not count_rate_exceeded(peak_rate, self._ctx.limits):
                return trace
            self.count_rate_trip(peak_rate, "APD trace")

    def probe_rate(self) -> None:
        """With the beam open, a RATE_PROBE_S count through the interlock (waits, stage moves,
        before a TCSPC acquisition); nothing without an APD counter on the rig."""
        if self._ctx.session.beam_on and self._ctx.has_instrument("counter"):
            self.guarded_count(RATE_PROBE_S)

    def guarded_count(self, dwell_s: float) -> CountResult:
        """A count without a checkpoint first (the rate probe of waits, stage moves, TCSPC)."""
        while True:
            counts = int(self._ctx.instrument("counter").count(dwell_s))
            result = CountResult(counts, dwell_s)
            session = self._ctx.session
            rate = open_phase_rate_cps(counts, dwell_s, session.chopper_duty, session.chopper_frequency_hz)
            if not count_rate_exceeded(rate, self._ctx.limits):
                return result
            self.count_rate_trip(rate)

    def count_rate_trip(self, rate_cps: float, source: str = "APD counter") -> None:
        """The count-rate interlock: shutters closed, run paused until the operator resumes, the
        beam reopened as it was (the caller then measures again)."""
        # the excitation goes (pump shutter) and the detector is shielded (emission shutter),
        # whatever the light source was; beam.on reopens both on resume
        ctx = self._ctx
        ctx.beam.off()
        if ctx.has_instrument("emission_shutter"):
            ctx.instrument("emission_shutter").close_shutter()
        ctx.waiting.interlock("count_rate", f"count_rate={rate_cps:.4g} cps ({source}) is above the rig limit "
                                            f"{ctx.limits.max_count_rate_cps:.4g} cps; pump and emission "
                                            "shutters closed")
        ctx.session.control.hold_until_resumed(f"count rate {rate_cps:.3g} cps above limit")
        # reopen at the power the beam had (calibration runs set their own, not the stored one's)
        ctx.beam.on(ctx.session.pump_setpoint_w)
