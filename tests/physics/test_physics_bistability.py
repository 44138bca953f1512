"""Intrinsic optical bistability of one Nd:KPb2Cl5 particle (18 % Nd, 77 K, CW 1064 nm)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim_backends.physics import Pulse, RateModel, get_material

from .conftest import KW_CM2, Sweep, jump_index


def test_up_down_sweep_has_a_window_without_intermediate_level(nd_sweep: Sweep) -> None:
    b = jump_index(nd_sweep.emission_up)                  # first bright point going up
    c = jump_index(nd_sweep.emission_down)                # last bright point going down
    switch_on, switch_off = nd_sweep.pump[b] / KW_CM2, nd_sweep.pump[c] / KW_CM2
    assert 4.5 <= switch_on <= 8.0
    assert switch_off <= switch_on - 1.0
    dark_max = max(nd_sweep.emission_up[b - 1], nd_sweep.emission_down[c - 1])
    bright_min = min(nd_sweep.emission_up[b], nd_sweep.emission_down[c])
    assert bright_min > 1e3 * dark_max
    everything = np.concatenate([nd_sweep.emission_up, nd_sweep.emission_down])
    intermediate = (everything > 10 * dark_max) & (everything < 0.1 * bright_min)
    assert not intermediate.any()


def test_log_log_slope_at_switch_on_exceeds_100(nd_sweep: Sweep) -> None:
    b = jump_index(nd_sweep.emission_up)
    points = slice(b - 1, b + 1)                          # A and B, the points at the threshold
    slope = np.polyfit(np.log(nd_sweep.pump[points]), np.log(nd_sweep.emission_up[points]), 1)[0]
    assert slope >= 100


def test_population_inversion_only_on_the_bright_branch(nd_sweep: Sweep, nd_model: RateModel) -> None:
    ground, first = nd_model.level_names.index("4I9/2"), nd_model.level_names.index("4I11/2")
    inside = int(np.argmin(np.abs(nd_sweep.pump - 5.5 * KW_CM2)))
    dark, bright = nd_sweep.up[inside], nd_sweep.down[inside]
    assert bright[first] > bright[ground]
    assert dark[first] < dark[ground]


@pytest.mark.parametrize("wavelength", [808e-9, 745e-9, 875e-9])
def test_control_pulse_latches_inside_the_window_only(nd_model: RateModel, wavelength: float) -> None:
    t = np.linspace(0.0, 4.0, 81)
    pulse = Pulse(start_s=0.5, duration_s=1.0, level=7.0 * 1e4)   # 7 W/cm2
    weights = nd_model.emission_weights()["810nm"]
    after = t >= 2.5                                                   # 1 s after the pulse ended

    inside = nd_model.simulate(t, 4.7 * KW_CM2, pulse, wavelength, y0=nd_model.steady_state(4.7 * KW_CM2))
    emission = inside.y @ weights
    assert np.all(emission[after] > 1e3 * emission[0])

    below = nd_model.simulate(t, 3.5 * KW_CM2, pulse, wavelength, y0=nd_model.steady_state(3.5 * KW_CM2))
    emission_below = below.y @ weights
    assert np.all(emission_below[after] < 3 * emission_below[0])


def test_knocking_out_the_4f32_etu_removes_the_hysteresis() -> None:
    model = RateModel(get_material("Nd:KPb2Cl5", knockouts=("ETU1", "ETU2")), temperature_k=77.0)
    on, off = model.folds()
    assert math.isnan(on) and math.isnan(off)
    pump = np.arange(1.0, 20.0, 0.1) * KW_CM2
    up = model.sweep(pump)
    down = model.sweep(pump[::-1], y0=up[-1])[::-1]
    np.testing.assert_allclose(up, down, rtol=1e-4, atol=1e-9)


def test_arclength_folds_match_a_fine_sweep(nd_model: RateModel) -> None:
    switch_on, switch_off = nd_model.folds()
    step = 0.01 * KW_CM2
    pump = np.arange(3.5 * KW_CM2, 7.5 * KW_CM2, step)
    weights = nd_model.emission_weights()["810nm"]
    up = nd_model.sweep(pump) @ weights
    down = nd_model.sweep(pump[::-1], y0=nd_model.steady_state(9 * KW_CM2, y0=None))[::-1] @ weights
    sweep_on = pump[jump_index(up)]
    sweep_off = pump[jump_index(down)]
    assert sweep_on - step <= switch_on <= sweep_on + 1e-6 * step
    assert sweep_off - step <= switch_off <= sweep_off + 1e-6 * step
