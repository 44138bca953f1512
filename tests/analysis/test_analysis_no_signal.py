"""Kinetics of a chopper-period histogram with no emission: neither a rise nor a decay time."""
from __future__ import annotations

import numpy as np
import pytest

from acquisition.analysis.kinetics import signal_problem
from acquisition.experiments.lifetime import kinetics

PARAMS = {"frequency_hz": 20.0, "duty_cycle": 0.5, "acquisition_s": 5.0, "bin_width_s": 50e-6,
          "dark_counts_cps": 80.0}
FLOOR = 80.0 * 50e-6 * 100  # dark counts per bin over 100 periods: 0.4


def _t() -> np.ndarray:
    return (np.arange(1000) + 0.5) * 50e-6


@pytest.mark.parametrize("seed", range(10))
def test_dark_histogram_has_no_rise_and_no_decay_with_one_reason(seed: int) -> None:
    # QA: lifetime at 3 kW/cm2 -> 391 dark counts, rise_time_s 0.000148 reported
    counts = np.random.default_rng(seed).poisson(FLOOR, 1000)
    figures = kinetics(_t(), counts, PARAMS)
    assert figures["rise_time_s"] is None and figures["decay_time_s"] is None
    assert figures["rise_time_problem"] == figures["decay_time_problem"]
    assert "no signal" in figures["rise_time_problem"]


def test_emission_gives_both_times() -> None:
    t = _t()
    t_off, tau = 0.025, 2e-3
    mean = np.where(t < t_off, 50.0 * (1 - np.exp(-t / tau)),
                    50.0 * (1 - np.exp(-t_off / tau)) * np.exp(-(t - t_off) / tau)) + FLOOR
    counts = np.random.default_rng(1).poisson(mean)
    figures = kinetics(t, counts, PARAMS)
    assert figures["rise_time_s"] is not None and 0.0 < figures["rise_time_s"] < t_off
    assert figures["decay_time_s"] == pytest.approx(tau, rel=0.25)


def test_signal_problem_thresholds() -> None:
    t = np.arange(10.0)
    assert signal_problem(t, np.full(10, 1.0), 0.0, None, 1.0) is not None   # floor only
    assert signal_problem(t, np.full(10, 3.0), 0.0, None, 1.0) is None       # 3x floor, 6 sigma
    assert signal_problem(t, np.zeros(10), 0.0, None, 0.0) is not None      # nothing at all


def test_sweep_summary_of_dark_counts_has_no_s_and_says_why() -> None:
    from acquisition.experiments.sweep_summary import summarize_sweep

    rng = np.random.default_rng(3)
    grid = np.linspace(1.0, 3.0, 21) * 1e7
    density = np.concatenate([grid, grid[::-1]])
    columns = {"density_w_m2": density, "rate_cps": rng.poisson(8.0, density.size) / 0.1,
               "direction": np.array(["up"] * 21 + ["down"] * 21), "index": np.r_[0:21, 0:21]}
    summary = summarize_sweep(columns, 82.0)
    assert summary["nonlinearity_s"] is None
    assert "no emission above the noise floor" in summary["nonlinearity_s_problem"]
