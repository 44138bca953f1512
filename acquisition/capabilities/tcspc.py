"""TCSPC: histograms of photon arrival times after each sync/marker (chopper) edge."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext


class Tcspc:
    """The time tagger (role ``tagger``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int) -> np.ndarray:
        """Counts per delay bin after each marker edge, accumulated over ``acquisition_s``."""
        self._ctx.checkpoint()
        return np.asarray(self._ctx.instrument("tagger").histogram(acquisition_s, bin_width_s, n_bins))
