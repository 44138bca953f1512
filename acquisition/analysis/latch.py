"""Did a control pulse latch the bright state? Compare the rate after the pulse with before it.

Window "before": samples with pulse_start - before_s <= t < pulse_start (all earlier samples if
``before_s`` is None). Window "after": samples with t >= pulse_end + settle_s (up to
``after_s`` long if given): the pulse itself excites emission, so the pulse and a settle time are
left out. Latched means the bright state persists after the pulse:
  after_mean - before_mean >= max(min_noise_multiple x I_noise, n_sigma x standard error) and
  (after_mean + I_noise) >= min_ratio x (before_mean + I_noise),
with standard error = sqrt(var_before / n_before + var_after / n_after).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from acquisition.units import REFERENCE_NOISE_CPS
from drivers.validation import check_positive


@dataclass(frozen=True)
class LatchAssessment:
    latched: bool
    before_mean_cps: float
    after_mean_cps: float
    standard_error_cps: float
    reason: str


def assess_latch(trace_t_s: ArrayLike, trace_rate: ArrayLike, pulse_start_s: float,
                 pulse_end_s: float, *, settle_s: float = 0.0, before_s: float | None = None,
                 after_s: float | None = None, noise_cps: float = REFERENCE_NOISE_CPS, min_ratio: float = 2.0,
                 min_noise_multiple: float = 3.0, n_sigma: float = 5.0) -> LatchAssessment:
    """Compare the rate before and after a control pulse (see module docstring)."""
    check_positive("noise_cps", noise_cps, "cps")
    if pulse_end_s < pulse_start_s:
        raise ValueError(f"pulse_end_s={pulse_end_s:g} s is before pulse_start_s={pulse_start_s:g} s")
    t = np.asarray(trace_t_s, dtype=float).ravel()
    rate = np.asarray(trace_rate, dtype=float).ravel()
    if t.shape != rate.shape:
        raise ValueError(f"trace_t_s and trace_rate differ in length: {t.size} vs {rate.size}")
    lower = -math.inf if before_s is None else pulse_start_s - before_s
    upper = math.inf if after_s is None else pulse_end_s + settle_s + after_s
    before = rate[(t >= lower) & (t < pulse_start_s)]
    after = rate[(t >= pulse_end_s + settle_s) & (t <= upper)]
    if before.size == 0 or after.size == 0:
        raise ValueError(f"need samples before the pulse and after pulse end + settle; "
                         f"got {before.size} before and {after.size} after")
    before_mean, after_mean = float(np.mean(before)), float(np.mean(after))
    variance_before = float(np.var(before, ddof=1)) if before.size > 1 else 0.0
    variance_after = float(np.var(after, ddof=1)) if after.size > 1 else 0.0
    standard_error = math.sqrt(variance_before / before.size + variance_after / after.size)
    rise = after_mean - before_mean
    needed = max(min_noise_multiple * noise_cps, n_sigma * standard_error)
    ratio = (after_mean + noise_cps) / (before_mean + noise_cps)
    if rise < needed:
        reason = f"rise {rise:.4g} cps < {needed:.4g} cps needed"
    elif ratio < min_ratio:
        reason = f"after/before ratio {ratio:.3g} < {min_ratio:g}"
    else:
        reason = f"rate rose {rise:.4g} cps ({ratio:.3g}x) and stayed up"
    return LatchAssessment(latched=rise >= needed and ratio >= min_ratio,
                           before_mean_cps=before_mean, after_mean_cps=after_mean,
                           standard_error_cps=standard_error, reason=reason)


def switching_latched(trace_t_s: ArrayLike, trace_rate: ArrayLike, pulse_start_s: float,
                      pulse_end_s: float, **options: float | None) -> bool:
    """True if the emission is bright after the pulse compared with before it."""
    return assess_latch(trace_t_s, trace_rate, pulse_start_s, pulse_end_s, **options).latched  # type: ignore[arg-type]
