"""Switch-on and switch-off under a chopped pump, independent of any sweep step.

The dark periodic orbit is followed upward in pump intensity and the bright one downward, each
step started from the previous orbit (shooting with the remembered monodromy); where an orbit
stops existing (Newton is no longer accepted near the previous one: a fold of the periodic
orbits), the step is halved down to the resolution. The last intensity each branch reached is
its fold. Without hysteresis the two branches join: the dark branch goes up until it has become
the bright one, and the folds coincide or do not exist.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .rate_model import RateModel
from .shooting import ShootingMemory, find_orbit, settle_onto_orbit
from .waveforms import ChopperWaveform

#: a step along a branch may change the ground-state population of the orbit start by at most
#: this much; a larger change is a jump to the other branch, not a step along this one
BRANCH_STEP = 0.05
SETTLE_TIME_S = 30.0


@dataclass(frozen=True)
class PeriodicFolds:
    """Peak intensities (W/m2) where the dark orbit ends going up and the bright one going down.

    nan where a branch did not end inside the searched range."""

    switch_on_peak_w_m2: float
    switch_off_peak_w_m2: float

    @property
    def is_bistable(self) -> bool:
        return (math.isfinite(self.switch_on_peak_w_m2) and math.isfinite(self.switch_off_peak_w_m2)
                and self.switch_off_peak_w_m2 < self.switch_on_peak_w_m2)


def periodic_folds(model: RateModel, chopper: ChopperWaveform, pump_low_w_m2: float, pump_high_w_m2: float,
                   resolution: float = 0.005) -> PeriodicFolds:
    """Folds of the chopped steady state between two peak intensities; ``resolution`` is relative."""
    dark = model.steady_state(pump_low_w_m2 * chopper.duty)
    bright = model.steady_state(pump_high_w_m2, y0=model.steady_state(pump_high_w_m2 * 2.0))
    on = _branch_end(model, chopper, dark, pump_low_w_m2, pump_high_w_m2, resolution)
    off = _branch_end(model, chopper, bright, pump_high_w_m2, pump_low_w_m2, resolution)
    return PeriodicFolds(on, off)


def _branch_end(model: RateModel, chopper: ChopperWaveform, start: np.ndarray, pump_from: float, pump_to: float,
                resolution: float) -> float:
    basis = model.solver.basis
    n_levels = model.equations.n_levels
    settled = settle_onto_orbit(model.period_map(pump_from, chopper), start, basis,
                                math.ceil(SETTLE_TIME_S / chopper.period_s), np.zeros((0, n_levels)))
    if settled.result.orbit is None:
        return math.nan
    state = settled.result.orbit.states[0]
    memory: ShootingMemory | None = settled.result.memory
    log_pump, log_end = math.log(pump_from), math.log(pump_to)
    direction = 1.0 if log_end > log_pump else -1.0
    step = 0.1
    while step >= resolution:
        trial = log_pump + direction * step
        if direction * (trial - log_end) > 0.0:
            return math.nan                     # the branch reaches the end of the range
        result = find_orbit(model.period_map(math.exp(trial), chopper), state, basis, memory)
        if result.orbit is not None and abs(result.orbit.states[0][0] - state[0]) <= BRANCH_STEP:
            log_pump, state, memory = trial, result.orbit.states[0], result.memory
            step = min(1.5 * step, 0.1)
        else:
            step *= 0.5
    return math.exp(log_pump)
