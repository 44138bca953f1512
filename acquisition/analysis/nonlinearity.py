"""Nonlinearity order s: slope of a straight-line fit of log I against log P."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def nonlinearity_slope(density_w_m2: ArrayLike, rate_cps: ArrayLike) -> float | None:
    """Least-squares slope of ln(rate) vs ln(density) over the given points.

    Points with non-positive density or rate cannot be on a log-log plot and are left out; None if
    fewer than two distinct densities remain. The slope is the same for any units of P or I.
    """
    density = np.asarray(density_w_m2, dtype=float).ravel()
    rate = np.asarray(rate_cps, dtype=float).ravel()
    usable = np.isfinite(density) & np.isfinite(rate) & (density > 0) & (rate > 0)
    x, y = np.log(density[usable]), np.log(rate[usable])
    if x.size < 2 or np.ptp(x) == 0:
        return None
    slope = np.polyfit(x, y, 1)[0]
    return float(slope)


def steepest_window(density_w_m2: np.ndarray, rate_cps: np.ndarray,
                    points: int = 3, min_rise_cps: float = 0.0) -> tuple[float, int, int] | None:
    """(slope, first, last) of the steepest ``points``-point window of a sorted branch, or None.

    Only windows whose emission rises by at least ``min_rise_cps`` from their first to their last
    point are considered: the log slope of counts scattering around the dark floor is not a
    nonlinearity (a dark spot gives slopes of 50 or more from Poisson noise alone).
    """
    best: tuple[float, int, int] | None = None
    for first in range(0, len(density_w_m2) - points + 1):
        last = first + points - 1
        if rate_cps[last] - rate_cps[first] < min_rise_cps:
            continue
        slope = nonlinearity_slope(density_w_m2[first:last + 1], rate_cps[first:last + 1])
        if slope is not None and (best is None or slope > best[0]):
            best = (slope, first, last)
    return best
