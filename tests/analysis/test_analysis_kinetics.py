"""Rise and decay times on synthetic exponentials with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from acquisition.analysis import decay_time_area, nonlinearity_slope, rise_time_95


def test_rise_of_a_single_exponential_is_tau_ln20() -> None:
    tau = 2.3e-3
    t = np.linspace(0.0, 20 * tau, 20001)
    signal = 5e4 * (1 - np.exp(-t / tau))
    assert rise_time_95(t, signal) == pytest.approx(tau * math.log(20), rel=1e-4)


def test_rise_is_measured_from_the_pre_pump_level_and_the_pump_on_time() -> None:
    tau, t_on, dark = 0.4, 1.0, 300.0
    t = np.linspace(0.0, 6.0, 60001)
    signal = np.where(t < t_on, dark, dark + 1e4 * (1 - np.exp(-(t - t_on) / tau)))
    assert rise_time_95(t, signal, t_on=t_on) == pytest.approx(tau * math.log(20), rel=1e-3)
    # the window is cut at pump-off: the decay after it must not change the steady state
    off = np.where(t < 5.0, signal, dark + (signal[np.searchsorted(t, 5.0)] - dark) * np.exp(-(t - 5.0) / 0.1))
    assert rise_time_95(t, off, t_on=t_on, t_off=5.0) == pytest.approx(tau * math.log(20), rel=2e-3)


def test_rise_with_poisson_noise_and_smoothing() -> None:
    rng = np.random.default_rng(5)
    tau = 1e-3
    t = np.arange(0.0, 15 * tau, 1e-5)
    counts = rng.poisson(200 * (1 - np.exp(-t / tau))).astype(float)
    assert rise_time_95(t, counts, smooth_points=25) == pytest.approx(tau * math.log(20), rel=0.1)


def test_rise_errors_are_one_line() -> None:
    t = np.linspace(-1, 1, 200)
    with pytest.raises(ValueError, match="does not rise"):
        rise_time_95(t, np.where(t < 0, 2.0, np.exp(-t)))
    with pytest.raises(ValueError, match="at least 3 samples"):
        rise_time_95(t[:2], t[:2])


def test_decay_area_of_a_single_exponential_is_tau() -> None:
    tau = 2.3e-3
    t = np.linspace(0.0, 30 * tau, 30001)
    assert decay_time_area(t, 7e3 * np.exp(-t / tau)) == pytest.approx(tau, rel=1e-5)


def test_decay_area_of_a_truncated_exponential_and_of_two_exponentials() -> None:
    tau, window = 1e-3, 2e-3
    t = np.linspace(0.0, window, 4001)
    assert decay_time_area(t, np.exp(-t / tau)) == pytest.approx(tau * (1 - math.exp(-window / tau)), rel=1e-6)
    t = np.linspace(0.0, 0.2, 200001)
    two = 0.7 * np.exp(-t / 1e-3) + 0.3 * np.exp(-t / 10e-3)
    assert decay_time_area(t, two) == pytest.approx(0.7e-3 + 3e-3, rel=1e-4)


def test_decay_with_pre_off_plateau_baseline_and_later_first_sample() -> None:
    tau, dark = 5e-3, 100.0
    t = np.concatenate([np.linspace(-0.01, -1e-4, 100), np.linspace(1e-5, 0.2, 20000)])
    signal = np.where(t < 0, dark + 1e4, dark + 1e4 * np.exp(-t / tau))
    assert decay_time_area(t, signal, baseline=dark) == pytest.approx(tau, rel=1e-3)
    # as measured (baseline 0) the dark counts add dark/I0 x window to the area
    as_measured = decay_time_area(t, signal)
    assert as_measured == pytest.approx((1e4 * tau + dark * 0.2) / (1e4 + dark), rel=1e-3)


def test_noise_around_the_baseline_is_no_decay() -> None:
    # a dark spot: Poisson counts at the dark level before and after pump-off
    rng = np.random.default_rng(11)
    t = np.linspace(-0.01, 0.05, 601)
    dark = 4.0
    counts = rng.poisson(dark, t.size).astype(float)
    counts[t < 0] = dark + 1.0  # the pre-off level barely above the floor
    # the floor estimated from a noisy tail sits above the mean of what follows pump-off
    with pytest.raises(ValueError, match="no decay above the baseline"):
        decay_time_area(t, counts, baseline=dark + 0.5)


def test_nonlinearity_slope_of_a_power_law() -> None:
    density = np.geomspace(1e7, 1e8, 12)
    assert nonlinearity_slope(density, 3.0 * density ** 26) == pytest.approx(26.0)
    assert nonlinearity_slope([1e7], [5.0]) is None
