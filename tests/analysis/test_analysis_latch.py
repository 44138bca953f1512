"""Photoswitching: a control pulse latches the bright state only inside the bistable window."""
from __future__ import annotations

import numpy as np
import pytest

from acquisition.analysis import assess_latch, switching_latched

PULSE_START, PULSE_END = 2.0, 3.0


def _trace(after_cps: float, rng: np.random.Generator, dwell_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0.0, 6.0, dwell_s)
    rate = np.where(t < PULSE_START, 350.0, np.where(t < PULSE_END, 5000.0, after_cps))
    return t, rng.poisson(rate * dwell_s) / dwell_s


def test_bias_inside_window_latches() -> None:
    t, rate = _trace(2500.0, np.random.default_rng(1))
    assert switching_latched(t, rate, PULSE_START, PULSE_END, settle_s=0.2)


def test_bias_below_window_returns_dark_even_though_the_pulse_itself_is_bright() -> None:
    t, rate = _trace(350.0, np.random.default_rng(2))
    assessment = assess_latch(t, rate, PULSE_START, PULSE_END, settle_s=0.2)
    assert not assessment.latched and "needed" in assessment.reason
    assert assessment.before_mean_cps == pytest.approx(350.0, rel=0.15)


def test_small_rise_within_noise_is_not_a_latch() -> None:
    t, rate = _trace(420.0, np.random.default_rng(3))
    assert not switching_latched(t, rate, PULSE_START, PULSE_END, settle_s=0.2)


def test_needs_samples_on_both_sides() -> None:
    t = np.linspace(0.0, 1.9, 20)
    with pytest.raises(ValueError, match="0 after"):
        switching_latched(t, np.ones_like(t), PULSE_START, PULSE_END)
