"""Rise and decay times of luminescence traces (time-resolved APD / TCSPC data).

rise_time_95: time from pump-on to the first moment the (optionally smoothed) signal reaches
    baseline + 0.95 x (steady state - baseline), linearly interpolated between samples.
    steady state = mean of the last ``tail_fraction`` of the samples between pump-on and pump-off;
    baseline = mean of the samples before pump-on if there are any, else 0 (data are not
    background-subtracted, so with no pre-pump samples the reference is literally 95 % of the
    steady-state intensity).
decay_time_area: area under the normalised decay, integral of (I(t) - b) / (I0 - b) dt from
    pump-off to the end of the trace (trapezoids). I0 = mean of the last ``tail_fraction`` of the
    samples before pump-off if there are any, else the first sample at or after pump-off;
    b = ``baseline`` (default 0, data as measured). For a single exponential of lifetime tau
    recorded for T >> tau the area is tau; pass the dark-count level as ``baseline`` when it is not
    negligible, otherwise it adds b/(I0 - b) x T to the area. A non-positive area (noise around
    the baseline) is a ValueError, not a lifetime.
signal_problem: the common "is there a signal at all" test for both figures of a photon-counting
    histogram: the counts while the pump is on must exceed the dark floor expected in those bins
    by a factor 2 and by 5 Poisson standard deviations of that floor; otherwise a 'no signal'
    reason (a rise time of dark counts is the time the noise first crosses 95 % of its own mean).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from drivers.validation import check_range

RISE_FRACTION = 0.95
#: signal test: pump-on counts >= SIGNAL_MIN_RATIO x dark floor and SIGNAL_MIN_SIGMA Poisson sigmas above it
SIGNAL_MIN_RATIO = 2.0
SIGNAL_MIN_SIGMA = 5.0


def signal_problem(t_s: ArrayLike, counts: ArrayLike, t_on: float, t_off: float | None,
                   floor_per_bin: float) -> str | None:
    """None if the pump-on samples hold a signal above the dark floor, else the reason why not.

    ``floor_per_bin``: dark counts expected in each sample (same units as ``counts``).
    Signal = total counts with the pump on (t_on <= t < t_off) at least ``SIGNAL_MIN_RATIO`` x the
    floor expected in those samples and at least ``SIGNAL_MIN_SIGMA`` x sqrt(floor) above it
    (Poisson; the floor counted as at least 1 count so that a zero floor still needs a few counts).
    """
    t, y = _trace(t_s, counts)
    pumped = (t >= t_on) & (t < (np.inf if t_off is None else t_off))
    n = int(pumped.sum())
    if n == 0:
        return "no samples with the pump on"
    total = float(y[pumped].sum())
    expected = max(float(floor_per_bin), 0.0) * n
    excess = total - expected
    needed = max((SIGNAL_MIN_RATIO - 1.0) * expected, SIGNAL_MIN_SIGMA * float(np.sqrt(max(expected, 1.0))))
    if excess < needed:
        return (f"no signal above the dark floor: {total:.0f} counts with the pump on for "
                f"{expected:.0f} expected from dark counts (a signal needs {SIGNAL_MIN_RATIO:g} x the "
                f"floor and {SIGNAL_MIN_SIGMA:g} sigma above it)")
    return None


def _trace(t_s: ArrayLike, signal: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t_s, dtype=float).ravel()
    y = np.asarray(signal, dtype=float).ravel()
    if t.shape != y.shape:
        raise ValueError(f"t_s and signal differ in length: {t.size} vs {y.size}")
    keep = np.isfinite(t) & np.isfinite(y)
    order = np.argsort(t[keep], kind="stable")
    return t[keep][order], y[keep][order]


def _tail_mean(values: np.ndarray, tail_fraction: float) -> float:
    count = max(1, int(round(values.size * tail_fraction)))
    return float(np.mean(values[-count:]))


def _smoothed(values: np.ndarray, points: int) -> np.ndarray:
    if points <= 1:
        return values
    kernel = np.ones(points) / points
    # "valid"-style centred average with the edges averaged over what exists
    padded_sum = np.convolve(values, kernel, mode="same")
    norm = np.convolve(np.ones_like(values), kernel, mode="same")
    return padded_sum / norm


def rise_time_95(t_s: ArrayLike, signal: ArrayLike, t_on: float = 0.0, t_off: float | None = None,
                 *, baseline: float | None = None, tail_fraction: float = 0.1,
                 smooth_points: int = 1) -> float:
    """Seconds from ``t_on`` until the signal reaches 95 % of its rise (see module docstring).

    Raises ValueError if there are fewer than 3 samples while the pump is on, if the signal does
    not rise, or if it never reaches the 95 % level.
    """
    check_range("tail_fraction", tail_fraction, 0.0, 1.0, low_inclusive=False)
    t, y = _trace(t_s, signal)
    pumped = (t >= t_on) & (t < (np.inf if t_off is None else t_off))
    if pumped.sum() < 3:
        raise ValueError(f"rise_time_95 needs at least 3 samples with the pump on; got {int(pumped.sum())}")
    before = y[t < t_on]
    base = float(baseline) if baseline is not None else (float(np.mean(before)) if before.size else 0.0)
    t_p, y_p = t[pumped], _smoothed(y[pumped], smooth_points)
    steady = _tail_mean(y_p, tail_fraction)
    if steady <= base:
        raise ValueError(f"signal does not rise: steady state {steady:g} <= baseline {base:g}")
    level = base + RISE_FRACTION * (steady - base)
    reached = np.flatnonzero(y_p >= level)
    if reached.size == 0:
        raise ValueError("signal never reaches 95 % of its steady state")
    k = int(reached[0])
    if k == 0:
        return float(t_p[0] - t_on)
    # linear interpolation between the last sample below and the first at/above the level
    t0, t1, y0, y1 = t_p[k - 1], t_p[k], y_p[k - 1], y_p[k]
    return float(t0 + (level - y0) * (t1 - t0) / (y1 - y0) - t_on)


def decay_time_area(t_s: ArrayLike, signal: ArrayLike, t_off: float = 0.0, *,
                    baseline: float = 0.0, tail_fraction: float = 0.1) -> float:
    """Seconds: area under the decay normalised to 1 at pump-off (see module docstring)."""
    check_range("tail_fraction", tail_fraction, 0.0, 1.0, low_inclusive=False)
    t, y = _trace(t_s, signal)
    after = t >= t_off
    if after.sum() < 2:
        raise ValueError(f"decay_time_area needs at least 2 samples after pump-off; got {int(after.sum())}")
    before = y[t < t_off]
    t_a, y_a = t[after], y[after]
    start = _tail_mean(before, tail_fraction) if before.size else float(y_a[0])
    if start <= baseline:
        raise ValueError(f"no decay: level at pump-off {start:g} <= baseline {baseline:g}")
    normalised = (y_a - baseline) / (start - baseline)
    if before.size and t_a[0] > t_off:
        # the trace starts at pump-off with the pre-off level, not at the first later sample
        t_a = np.concatenate(([t_off], t_a))
        normalised = np.concatenate(([1.0], normalised))
    area = float(np.trapezoid(normalised, t_a))
    if area <= 0.0:
        # noise around the baseline integrates to zero or below: there is no decay to measure
        raise ValueError(f"no decay above the baseline: normalised area {area:g} s <= 0 "
                         f"(level at pump-off {start:g}, baseline {baseline:g}; too few counts?)")
    return area
