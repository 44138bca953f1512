"""Shared fixtures of the physics tests: one calibrated Nd:KPb2Cl5 particle and its hysteresis sweep."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sim_backends.physics import RateModel

KW_CM2 = 1e7  # W/m2


@dataclass(frozen=True)
class Sweep:
    pump: np.ndarray        # W/m2
    up: np.ndarray          # (n, levels)
    down: np.ndarray        # (n, levels), same order as pump
    emission_up: np.ndarray
    emission_down: np.ndarray


@pytest.fixture(scope="session")
def nd_model() -> RateModel:
    return RateModel("Nd:KPb2Cl5", temperature_k=77.0)


@pytest.fixture(scope="session")
def nd_sweep(nd_model: RateModel) -> Sweep:
    """Up then down over 1-15 kW/cm2 in 0.05 kW/cm2 steps, 810 nm emission."""
    pump = np.arange(1.0, 15.0 + 1e-9, 0.05) * KW_CM2
    up = nd_model.sweep(pump)
    down = nd_model.sweep(pump[::-1], y0=up[-1])[::-1]
    weights = nd_model.emission_weights()["810nm"]
    return Sweep(pump, up, down, up @ weights, down @ weights)


def jump_index(emission: np.ndarray) -> int:
    """Index of the first point after the largest step of log(emission)."""
    return int(np.argmax(np.diff(np.log(emission)))) + 1
