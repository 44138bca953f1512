"""Find the instrument-limited jump of a sorted I-P branch (a switch-on or switch-off).

Working variable: L_k = ln(I_k + I_noise), the log rate with the detector noise floor added, so
that dark samples near zero counts do not dominate the steps. Steps d_k = L_{k+1} - L_k are taken
in order of rising density; on both branches the jump is a rise (up: switch-on; down, read
upwards in density: the bright state that was lost at switch-off).

The candidate is the largest step d*; it is a jump only if all of these hold:
1. ratio:     (I_hi + I_noise) / (I_lo + I_noise) >= ``min_ratio`` (default 2),
2. height:    I_hi - I_lo >= ``min_noise_multiple`` x I_noise (default 3),
3. outlier:   d* >= ``min_sigma`` x sigma, sigma = 1.4826 x MAD of the other steps (default 5):
              Poisson scatter and the smooth slope of the branches are measured from the data,
4. isolated:  d* >= ``min_dominance`` x each neighbouring step (default 2): a continuous steep
              rise (a plain avalanche sampled finely) spreads over several comparable steps,
              whereas an instrument-limited jump happens between two adjacent points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: MAD -> standard deviation for normally distributed scatter
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class JumpCriteria:
    min_ratio: float = 2.0
    min_noise_multiple: float = 3.0
    min_sigma: float = 5.0
    min_dominance: float = 2.0


@dataclass(frozen=True)
class Jump:
    """The jump lies between sorted points ``low`` and ``low + 1``."""

    low: int
    log_step: float
    robust_sigma: float

    @property
    def high(self) -> int:
        return self.low + 1


def log_rate(rate_cps: np.ndarray, noise_cps: float) -> np.ndarray:
    return np.log(np.clip(rate_cps, 0.0, None) + noise_cps)


def find_jump(rate_cps: np.ndarray, noise_cps: float,
              criteria: JumpCriteria = JumpCriteria()) -> Jump | None:
    """The jump of a branch sorted by rising density, or None if no step qualifies."""
    if rate_cps.size < 2:
        return None
    steps = np.diff(log_rate(rate_cps, noise_cps))
    low = int(np.argmax(steps))
    largest = float(steps[low])
    others = np.delete(steps, low)
    sigma = float(_MAD_TO_SIGMA * np.median(np.abs(others - np.median(others)))) if others.size >= 2 else 0.0
    neighbours = [steps[k] for k in (low - 1, low + 1) if 0 <= k < steps.size]
    rise = float(rate_cps[low + 1] - rate_cps[low])
    qualifies = (largest >= np.log(criteria.min_ratio)
                 and rise >= criteria.min_noise_multiple * noise_cps
                 and largest >= criteria.min_sigma * sigma
                 and all(largest >= criteria.min_dominance * max(n, 0.0) for n in neighbours))
    return Jump(low=low, log_step=largest, robust_sigma=sigma) if qualifies else None


def find_largest_drop(rate_cps: np.ndarray, noise_cps: float,
                      criteria: JumpCriteria = JumpCriteria()) -> Jump | None:
    """The largest log step of a branch that is at least ``min_noise_multiple`` x I_noise high.

    Used only for a branch already known to change state inside the swept range (an open loop:
    the up branch dark where the down branch is bright): a spot of several particles then turns
    dark (or bright) in a few consecutive steps, one particle after another, so no single step
    passes the ratio and dominance tests. Candidate steps are tried in order of falling log size
    and the first that is high enough is taken: near the detector floor the largest log step can
    be a rise of a few counts (e.g. 81 -> 262 cps with I_noise = 82 cps), which is noise-level
    and must not hide the next candidate (262 -> 586 cps). None if no step is high enough.
    """
    if rate_cps.size < 2:
        return None
    steps = np.diff(log_rate(rate_cps, noise_cps))
    rises = np.diff(rate_cps)
    for low in np.argsort(-steps, kind="stable"):
        low = int(low)
        if steps[low] <= 0:
            break
        if rises[low] >= criteria.min_noise_multiple * noise_cps:
            return Jump(low=low, log_step=float(steps[low]), robust_sigma=0.0)
    return None


def is_bright_like(level: float, dark_level: float, bright_level: float) -> bool:
    """True if log level ``level`` is closer to ``bright_level`` than to ``dark_level``."""
    return level >= 0.5 * (dark_level + bright_level)
