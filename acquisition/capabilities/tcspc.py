"""TCSPC: histograms of photon arrival times after each sync/marker (chopper) edge, under the
count-rate interlock like every other detection path."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from acquisition.interlocks import count_rate_exceeded, histogram_peak_rate_cps

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext


class Tcspc:
    """The time tagger (role ``tagger``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int) -> np.ndarray:
        """Counts per delay bin after each marker edge, accumulated over ``acquisition_s``.

        The detector is exposed for the whole acquisition, so the APD rate is probed first (a
        RATE_PROBE_S count with the beam open: a rate already too high trips before the
        acquisition starts), and the histogram itself is judged after it: its fullest bin over
        its exposure (``histogram_peak_rate_cps``). A trip closes the shutters and pauses the
        run; on resume the histogram is acquired again, so no histogram taken above the limit
        is ever returned."""
        ctx = self._ctx
        ctx.checkpoint()
        while True:
            ctx.detection.probe_rate()
            counts = np.asarray(ctx.instrument("tagger").histogram(acquisition_s, bin_width_s, n_bins))
            rate = histogram_peak_rate_cps(counts, acquisition_s, bin_width_s, ctx.session.chopper_frequency_hz)
            if not count_rate_exceeded(rate, ctx.limits):
                return counts
            ctx.detection.count_rate_trip(rate, "TCSPC histogram")
