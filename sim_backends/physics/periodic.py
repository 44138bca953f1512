"""Chopped excitation: dwells under a square-wave pump, via the periodic steady state when possible.

Under a chopper the particle settles onto a periodic orbit. Once the orbit for a drive is known,
any later dwell on that orbit costs nothing: its mean emission is the phase average over whole
periods plus the exact partial period. Reaching the orbit from another state is integrated in time
(which is what decides the branch: a chopped pump can latch a particle bright or let it go dark).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .particle_step import ParticleStep
from .rate_model import RateModel
from .waveforms import ChopperWaveform, Constant, Scaled

log = logging.getLogger(__name__)

SAMPLES_PER_PERIOD = 64
# On the orbit when the state at a period start matches the orbit's within this (max |dy|).
ORBIT_TOLERANCE = 1e-7
MAX_SETTLING_PERIODS_PER_CALL = 5000


@dataclass
class PeriodicOrbit:
    key: tuple
    period_s: float
    offset_s: float            # orbit phase 0 = chopper opening edge (spot clock)
    phases_s: np.ndarray       # (m+1,) 0..period
    states: np.ndarray         # (m+1, levels) on the orbit


class PeriodicCache:
    """The periodic orbit of the last chopped drive of one particle, and dwells under it."""

    def __init__(self, model: RateModel) -> None:
        self.model = model
        self.weights = model.emission_weights()
        self.orbit: PeriodicOrbit | None = None

    def clear(self) -> None:
        self.orbit = None

    def _rates(self, y: np.ndarray) -> dict[str, np.ndarray]:
        return {line: y @ w for line, w in self.weights.items()}

    def advance(self, state: np.ndarray, t0: float, duration_s: float, pump: float, chopper: ChopperWaveform,
                control: float, wavelength: float, n_samples: int | None) -> tuple[ParticleStep, np.ndarray]:
        """Integrate the dwell densely (exact under any drive); returns the step and the end state."""
        period = chopper.period_s
        n_points = max(int(np.ceil(duration_s / period * SAMPLES_PER_PERIOD)), 2 * SAMPLES_PER_PERIOD)
        uniform = t0 + duration_s * np.arange(0, n_points + 1) / n_points
        sample_times = None
        if n_samples is not None:
            sample_times = t0 + duration_s * np.arange(1, n_samples + 1) / n_samples
            times = np.union1d(uniform, sample_times)
        else:
            times = uniform
        trajectory = self.model.simulate(times, Scaled(pump, chopper), Constant(control), wavelength, state)
        rates = self._rates(trajectory.y)
        mean = {line: float(np.trapezoid(r, times) / duration_s) for line, r in rates.items()}
        trace = None
        if sample_times is not None:
            index = np.searchsorted(times, sample_times)
            trace = {line: r[index] for line, r in rates.items()}
        return ParticleStep(mean, trace), trajectory.y[-1]
