"""Periodic orbits under a chopped pump: detection, dense storage, phase-exact averages.

Once the state at a chopper opening edge repeats from one period to the next, the solution is
periodic from then on (the equations are autonomous within each period), so the rest of a long
chopped run is read off one stored period instead of being integrated edge by edge.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .waveforms import ChopperWaveform

# Orbit reached when, between consecutive opening edges, every population changed by less than
# this (relative to its value, with the absolute floor below): well inside the integrator's rtol
# over one period, so the remaining drift is below what any observable resolves.
ORBIT_RELATIVE_TOLERANCE = 2e-5
ORBIT_ABSOLUTE_TOLERANCE = 1e-10
SAMPLES_PER_SEGMENT = 48      # half uniform, half clustered just after the edge (fast transients)
FIRST_SAMPLE_S = 1e-7


def has_converged(previous: np.ndarray, current: np.ndarray) -> bool:
    return bool(np.all(np.abs(current - previous)
                       <= ORBIT_ABSOLUTE_TOLERANCE + ORBIT_RELATIVE_TOLERANCE * np.abs(current)))


def segment_samples(length_s: float) -> np.ndarray:
    """Offsets (0, length] within one constant segment, dense right after its starting edge."""
    uniform = length_s * np.arange(1, SAMPLES_PER_SEGMENT // 2 + 1) / (SAMPLES_PER_SEGMENT // 2)
    clustered = np.geomspace(min(FIRST_SAMPLE_S, length_s / 10.0), length_s, SAMPLES_PER_SEGMENT // 2)
    return np.union1d(uniform, clustered)


@dataclass(frozen=True)
class Orbit:
    """One period of the periodic solution, phase 0 at a chopper opening edge."""

    chopper: ChopperWaveform
    phases_s: np.ndarray      # (m,) from 0 to period inclusive
    states: np.ndarray        # (m, levels)

    @property
    def period_s(self) -> float:
        return self.chopper.period_s

    def phase(self, t: np.ndarray | float) -> np.ndarray:
        return np.mod(np.asarray(t, dtype=float) - self.chopper.offset_s, self.period_s)

    def states_at(self, t: np.ndarray) -> np.ndarray:
        phase = self.phase(t)
        return np.stack([np.interp(phase, self.phases_s, self.states[:, j]) for j in range(self.states.shape[1])],
                        axis=-1)

    def state_at(self, t: float) -> np.ndarray:
        return self.states_at(np.array([t]))[0]

    def integral(self, weights: np.ndarray, t_start: float, t_end: float) -> float:
        """Integral of weights @ y(t) over [t_start, t_end] along the orbit (trapezoid on the stored phases)."""
        signal = self.states @ weights
        cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (signal[1:] + signal[:-1]) * np.diff(self.phases_s))])
        per_period = cumulative[-1]

        def up_to(t: float) -> float:
            whole = math.floor((t - self.chopper.offset_s) / self.period_s)
            return whole * per_period + float(np.interp(self.phase(t), self.phases_s, cumulative))

        return up_to(t_end) - up_to(t_start)

    def mean(self, weights: np.ndarray) -> float:
        """Phase-averaged weights @ y over one period."""
        return self.integral(weights, self.chopper.offset_s, self.chopper.offset_s + self.period_s) / self.period_s
