"""The focal spot: reproducible per seed and position, different between positions, bistable."""
from __future__ import annotations

import numpy as np

from sim_backends.physics import ChopperWaveform, Drive, FocalSpot

from .conftest import KW_CM2, jump_index


def test_spot_is_reproducible_and_positions_differ() -> None:
    first = FocalSpot(seed=7, position_m=(1e-6, 2e-6))
    again = FocalSpot(seed=7, position_m=(1e-6, 2e-6))
    elsewhere = FocalSpot(seed=7, position_m=(5e-6, 2e-6))
    assert first.specs == again.specs
    assert first.specs != elsewhere.specs
    drive = Drive(pump_peak_w_m2=8 * KW_CM2)
    assert first.advance(1.0, drive).mean_rate == again.advance(1.0, drive).mean_rate


def test_spot_up_down_sweep_shows_a_window() -> None:
    spot = FocalSpot(seed=1, position_m=(0.0, 0.0))
    pump = np.arange(1.0, 12.0, 0.1) * KW_CM2
    up = np.array([spot.advance(0.5, Drive(p)).mean_rate["810nm"] for p in pump])
    down = np.array([spot.advance(0.5, Drive(p)).mean_rate["810nm"] for p in pump[::-1]])[::-1]
    switch_on, switch_off = pump[jump_index(up)], pump[jump_index(down)]
    assert switch_off < switch_on - 0.5 * KW_CM2
    assert up[jump_index(up)] > 100 * up[jump_index(up) - 1]
    spot.reset()
    assert spot.advance(0.5, Drive(pump[jump_index(up) - 1])).bright_fraction == 0.0


def test_spot_trace_and_mean_agree_and_steady_dwell_is_flat() -> None:
    spot = FocalSpot(seed=2, n_particles=4)
    switching = spot.advance(0.05, Drive(20 * KW_CM2), trace_resolution_s=1e-3)
    assert switching.times_s is not None and len(switching.times_s) == 50
    assert switching.rate is not None and switching.rate["810nm"][-1] > switching.rate["810nm"][0]
    spot.advance(1.0, Drive(20 * KW_CM2))
    steady = spot.advance(0.05, Drive(20 * KW_CM2), trace_resolution_s=1e-3)
    assert steady.rate is not None
    np.testing.assert_allclose(steady.rate["810nm"], steady.mean_rate["810nm"], rtol=1e-9)


def test_chopped_dwell_matches_brute_force_integration() -> None:
    """The orbit / extrapolation shortcuts give the same mean as integrating every chopper edge."""
    chopper = ChopperWaveform(frequency_hz=500.0, duty=0.5)
    fast = FocalSpot(seed=4, n_particles=3)
    slow = FocalSpot(seed=4, n_particles=3)
    for pump in (6 * KW_CM2, 16 * KW_CM2):
        drive = Drive(pump, chopper=chopper)
        quick = fast.advance(0.4, drive).mean_rate["810nm"]
        # a trace request forces edge-by-edge integration of the whole dwell
        exact = slow.advance(0.4, drive, trace_resolution_s=0.4).mean_rate["810nm"]
        assert abs(quick - exact) <= 0.02 * exact


def test_trace_bins_average_the_rate_without_aliasing_the_chopper() -> None:
    spot = FocalSpot(seed=5, n_particles=3)
    drive = Drive(14 * KW_CM2, chopper=ChopperWaveform(frequency_hz=200.0, duty=0.3))
    spot.advance(1.0, drive)                                   # settle onto the periodic orbit
    emission = spot.advance(0.1, drive, trace_resolution_s=0.01)   # bins of two chopper periods
    assert emission.rate is not None and emission.times_s is not None
    np.testing.assert_allclose(emission.times_s[:2] - (spot.time_s - 0.1), [0.005, 0.015])
    mean = emission.mean_rate["810nm"]
    assert mean > 0
    np.testing.assert_allclose(emission.rate["810nm"], mean, rtol=1e-3)
    switching = FocalSpot(seed=5, n_particles=3).advance(0.1, drive, trace_resolution_s=0.01)
    assert switching.rate is not None
    assert np.isclose(switching.rate["810nm"].mean(), switching.mean_rate["810nm"], rtol=1e-6)
