"""Periodic steady states under a chopped pump: found directly by shooting, on the simplex, and
the same orbit that integrating period after period reaches."""
from __future__ import annotations

import numpy as np
import pytest

from sim_backends.physics import ChopperWaveform, RateModel, Scaled
from sim_backends.physics.chopped import run_chopped

from .conftest import KW_CM2


def _on_simplex(states: np.ndarray) -> None:
    np.testing.assert_allclose(states.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(states >= 0.0)


def test_periodic_steady_state_stays_on_the_simplex_call_after_call(nd_model: RateModel) -> None:
    """The public API hands back populations summing to 1 (a returned orbit summing to 1.04 made
    the next call raise), from any start, however many times the result is fed back."""
    chopper = ChopperWaveform(frequency_hz=700.0, duty=0.4)
    bright = nd_model.steady_state(20 * KW_CM2)
    starts = [nd_model.dark_state(), bright, bright * (1 + 1e-3) / (1 + 1e-3 * bright.sum())]
    for start in starts:
        state = start
        for peak in (12 * KW_CM2, 16 * KW_CM2, 9 * KW_CM2, 25 * KW_CM2):
            orbit = nd_model.periodic_steady_state(peak, chopper, y0=state)
            _on_simplex(orbit.states)
            _on_simplex(orbit.states_at(np.linspace(0.0, 3 * chopper.period_s, 50)))
            state = orbit.state_at(1.234 * chopper.period_s)    # any phase, fed back as the next start


def test_geometric_extrapolation_lands_on_the_simplex(nd_model: RateModel) -> None:
    """The period-by-period path skips periods by extrapolating the slow mode and clips
    negatives: its end states must be renormalised, not left summing above 1."""
    chopper = ChopperWaveform(frequency_hz=2000.0, duty=0.5)
    on, off = nd_model.matrix(14 * KW_CM2), nd_model.matrix(0.0)
    weights = nd_model.emission_weights()["810nm"][None, :]
    state = nd_model.dark_state()
    for _ in range(5):
        dwell = run_chopped(nd_model.integrator, state, 0.0, 0.2, chopper, on, off, weights)
        _on_simplex(dwell.end_state)
        state = dwell.end_state


@pytest.mark.parametrize(("frequency_hz", "duty", "peak_kw_cm2"), [(100.0, 0.4, 12.0), (1000.0, 0.4, 14.0),
                                                                     (5000.0, 0.5, 11.0)])
def test_shooting_finds_the_orbit_that_integration_reaches(nd_model: RateModel, frequency_hz: float, duty: float,
                                                           peak_kw_cm2: float) -> None:
    chopper = ChopperWaveform(frequency_hz=frequency_hz, duty=duty)
    start = nd_model.steady_state(peak_kw_cm2 * duty * KW_CM2, y0=nd_model.steady_state(20 * KW_CM2))
    orbit = nd_model.periodic_steady_state(peak_kw_cm2 * KW_CM2, chopper, y0=start)
    # one period integrated by LSODA (adaptive, rtol 1e-6) from the orbit's start lands back on it
    # (within the ~1 % global error of the second-order period map, rosenbrock.RELATIVE_TOLERANCE)
    t = np.linspace(0.0, chopper.period_s, 5)
    again = nd_model.simulate(t, Scaled(peak_kw_cm2 * KW_CM2, chopper), y0=orbit.states[0]).y[-1]
    np.testing.assert_allclose(again, orbit.states[0], rtol=1.5e-2, atol=1e-9)
    weights = nd_model.emission_weights()["810nm"]
    # the orbit's mean emission agrees with a finely sampled LSODA period
    fine = np.linspace(0.0, chopper.period_s, 4001)
    lsoda = nd_model.simulate(fine, Scaled(peak_kw_cm2 * KW_CM2, chopper), y0=orbit.states[0]).y @ weights
    assert orbit.mean(weights) == pytest.approx(np.trapezoid(lsoda, fine) / chopper.period_s, rel=1.5e-2)


def test_a_chopped_sweep_follows_each_branch_from_the_previous_orbit(nd_model: RateModel) -> None:
    chopper = ChopperWaveform(frequency_hz=1000.0, duty=0.4)
    peaks = np.linspace(5.0, 40.0, 36) * KW_CM2
    weights = nd_model.emission_weights()["810nm"]
    up = np.array([o.mean(weights) for o in nd_model.periodic_sweep(peaks, chopper)])
    down = np.array([o.mean(weights) for o in nd_model.periodic_sweep(peaks[::-1], chopper,
                                                                       y0=nd_model.steady_state(40 * KW_CM2))])[::-1]
    assert up[-1] > 1e3 * up[0]
    # the down branch is never darker than the up branch (to the ~1 % discretisation error of the orbits)
    assert np.all(down >= up * (1 - 2e-2))
