"""Film positions give reproducible, different spots; virtual time outruns the wall clock."""
from __future__ import annotations

import time

import numpy as np
import pytest

from acquisition.rig import Rig, load_rig
from sim_backends.physics.film import DEFAULT_SPOT_M
from tests.bench.operator_steps import calibrate_hwp, move_to_density, prepare_pump, set_density

KW_CM2 = 1e7


def _switch_on(rig: Rig, x_m: float) -> float:
    """Up-sweep at one film position; the first density where the spot is bright (kW/cm2)."""
    prepare_pump(rig)
    calibration = calibrate_hwp(rig, step_deg=9.0)
    rig.pump_shutter.close_shutter()
    rig.set_film_position(x_m, 0.0)
    move_to_density(rig, calibration, 3.0 * KW_CM2)
    rig.pump_shutter.open()
    rig.emission_shutter.open()
    for density in np.arange(3.0, 12.0, 0.2):
        measured = set_density(rig, calibration, density * KW_CM2)
        rig.clock.sleep(0.5)
        if rig.counter.count(0.5) / 0.5 > 600.0:
            return measured / KW_CM2
    return float("nan")


def test_film_positions_are_reproducible_and_differ() -> None:
    thresholds = []
    for x_m in (0.0, 10e-6, 0.0):   # first switch-on steps 5.1 and 5.7 kW/cm2 (particle folds)
        rig = load_rig("sim")
        rig.connect_all()
        thresholds.append(_switch_on(rig, x_m))
        rig.close_all()
    assert thresholds[0] == thresholds[2]            # same spot, same particles, same answer
    assert abs(thresholds[0] - thresholds[1]) > 0.1  # another spot has other particles
    assert load_rig("sim").config.sample.film_position_m == list(DEFAULT_SPOT_M)


def test_a_virtual_sweep_never_waits_in_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the virtual clock every settle and dwell advances simulated time only: no real sleep
    anywhere, so a sweep costs only its physics. (The speed-up itself, >= 100x, is a performance
    goal: measured side by side by benchmarks/bench_virtual_time.py, never by a timed test.)"""
    rig = load_rig("sim")
    rig.connect_all()
    prepare_pump(rig)
    calibration = calibrate_hwp(rig, step_deg=9.0)
    rig.emission_shutter.open()
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: slept.append(seconds))
    steps = np.arange(3.0, 10.0, 0.25)
    clock0 = rig.clock.now()
    for density in np.concatenate([steps, steps[::-1]]):
        set_density(rig, calibration, density * KW_CM2)
        rig.clock.sleep(0.5)
        rig.counter.count(1.0)
    assert rig.clock.now() - clock0 >= 2 * steps.size * 1.5  # settle + dwell of every point
    assert sum(slept) == 0.0, slept
