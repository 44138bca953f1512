"""Classic room-temperature avalanching in Tm:NaYF4 (8 % Tm, 295 K, CW 1064 nm)."""
from __future__ import annotations

import numpy as np

from sim_backends.physics import RateModel, Step

from .conftest import KW_CM2


def rise_time_95(model: RateModel, pump_w_m2: float) -> float:
    """Time to reach 95 % of the final 800 nm emission after the pump turns on at t = 0 (from dark)."""
    t = np.concatenate([[0.0], np.geomspace(1e-6, 30.0, 1500)])
    emission = model.simulate(t, Step(0.0, 0.0, pump_w_m2)).y @ model.emission_weights()["800nm"]
    return float(t[np.argmax(emission >= 0.95 * emission[-1])])


def test_tm_s_curve_and_critical_slowing_down() -> None:
    model = RateModel("Tm:NaYF4", temperature_k=295.0)
    pump = np.geomspace(0.1, 100.0, 240) * KW_CM2
    emission = model.sweep(pump) @ model.emission_weights()["800nm"]
    slope = np.gradient(np.log(emission), np.log(pump))
    peak = int(np.argmax(slope))
    # S shape: low-order below, avalanche, saturation above
    assert slope[peak] >= 20
    assert slope[: peak // 2].max() < 4
    assert slope[-20:].max() < 4
    threshold = pump[peak]
    assert rise_time_95(model, threshold) >= 5 * rise_time_95(model, 3 * threshold)
