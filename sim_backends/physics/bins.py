"""Trace bins: photon-counting traces are rates averaged over time bins, not instantaneous samples.

Averaging over each bin is what an APD + counter reports, and it avoids aliasing a chopped
signal onto the bin clock.
"""
from __future__ import annotations

import numpy as np

POINTS_PER_BIN = 4   # interior samples per bin when a dwell is integrated (resolves a switch inside a bin)


def bin_edges(t0: float, duration_s: float, n_bins: int) -> np.ndarray:
    return t0 + duration_s * np.arange(n_bins + 1) / n_bins


def bin_centres(t0: float, duration_s: float, n_bins: int) -> np.ndarray:
    return t0 + duration_s * (np.arange(n_bins) + 0.5) / n_bins


def cumulative_integral(times: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Trapezoid running integral of ``signal`` over ``times`` (starts at 0)."""
    return np.concatenate([[0.0], np.cumsum(0.5 * (signal[1:] + signal[:-1]) * np.diff(times))])


def bin_means(times: np.ndarray, signal: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``signal`` over each bin; ``edges`` should be points of ``times`` for exactness."""
    at_edges = np.interp(edges, times, cumulative_integral(times, signal))
    return np.diff(at_edges) / np.diff(edges)
