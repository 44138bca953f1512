"""APD photon counting, with the count-rate interlock: a rate above the rig limit closes the pump
and emission shutters, pauses the run until the operator resumes, and the count is taken again."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from acquisition.interlocks import count_rate_exceeded

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
            self._count_rate_trip(peak_rate)

    def guarded_count(self, dwell_s: float) -> CountResult:
        """A count without a checkpoint first (the rate probe of waits and stage moves)."""
        while True:
            counts = int(self._ctx.instrument("counter").count(dwell_s))
            result = CountResult(counts, dwell_s)
            if not count_rate_exceeded(result.rate_cps, self._ctx.limits):
                return result
            self._count_rate_trip(result.rate_cps)

    def _count_rate_trip(self, rate_cps: float) -> None:
        # the excitation goes (pump shutter) and the detector is shielded (emission shutter),
        # whatever the light source was; beam.on reopens both on resume
        ctx = self._ctx
        ctx.beam.off()
        if ctx.has_instrument("emission_shutter"):
            ctx.instrument("emission_shutter").close_shutter()
        ctx.waiting.interlock("count_rate", f"count_rate={rate_cps:.4g} cps is above the rig limit "
                                            f"{ctx.limits.max_count_rate_cps:.4g} cps; pump and emission "
                                            "shutters closed")
        ctx.session.control.hold_until_resumed(f"count rate {rate_cps:.3g} cps above limit")
        # reopen at the power the beam had (calibration runs set their own, not the stored one's)
        ctx.beam.on(ctx.session.pump_setpoint_w)
