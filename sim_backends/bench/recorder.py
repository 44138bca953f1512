"""Collects the detected-rate history while a counter or time tagger is acquiring.

The rate is piecewise constant over samples [start, start + width); everything a detector needs
(counts per bin, photon arrival times) is derived from that without loss.
"""
from __future__ import annotations

import numpy as np


class RateRecorder:
    def __init__(self, start_t: float, resolution_s: float) -> None:
        self.start_t = start_t
        self.resolution_s = resolution_s
        self._starts: list[np.ndarray] = []
        self._widths: list[np.ndarray] = []
        self._rates: list[np.ndarray] = []

    def add(self, starts_s: np.ndarray, widths_s: np.ndarray, registered_cps: np.ndarray) -> None:
        self._starts.append(np.asarray(starts_s, dtype=float))
        self._widths.append(np.asarray(widths_s, dtype=float))
        self._rates.append(np.asarray(registered_cps, dtype=float))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._starts:
            return np.empty(0), np.empty(0), np.empty(0)
        return (np.concatenate(self._starts), np.concatenate(self._widths),
                np.concatenate(self._rates))

    def expected_in_bins(self, bin_edges_s: np.ndarray) -> np.ndarray:
        """Expected counts between consecutive absolute times in ``bin_edges_s``."""
        starts, widths, rates = self._arrays()
        if starts.size == 0:
            return np.zeros(len(bin_edges_s) - 1)
        boundaries = np.append(starts, starts[-1] + widths[-1])
        cumulative = np.concatenate(([0.0], np.cumsum(rates * widths)))
        return np.diff(np.interp(bin_edges_s, boundaries, cumulative))

    @property
    def n_chunks(self) -> int:
        """How many additions the recorder holds (``draw_arrivals(since_chunk=...)`` counts them)."""
        return len(self._starts)

    def draw_arrivals(self, rng: np.random.Generator, since_chunk: int = 0) -> np.ndarray:
        """Photon arrival times (absolute, sorted): Poisson number per sample, uniform within it.

        ``since_chunk`` draws only for what was added from that addition on, so a detector that
        reads out while it records (a TCSPC FIFO) draws every sample exactly once.
        """
        if since_chunk >= len(self._starts):
            return np.empty(0)
        starts = np.concatenate(self._starts[since_chunk:])
        widths = np.concatenate(self._widths[since_chunk:])
        rates = np.concatenate(self._rates[since_chunk:])
        counts = rng.poisson(np.maximum(rates * widths, 0.0))
        owner = np.repeat(np.arange(starts.size), counts)
        arrivals = starts[owner] + rng.random(owner.size) * widths[owner]
        arrivals.sort()
        return arrivals
