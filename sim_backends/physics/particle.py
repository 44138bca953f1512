"""One particle of a focal spot: its rate model, its state, and how it moves through a dwell cheaply.

Most dwells start from a state that is already steady, or close to a steady state on the same
branch: those are answered from the steady-state solver (Newton + stability check) and the
relaxation time of the linearised dynamics, without integrating the stiff equations over the
whole dwell. Only genuine transients (switching, control pulses, critical slowing down near a fold)
are integrated in time. Chopped excitation is handled by the periodic-steady-state module.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from .bins import POINTS_PER_BIN, bin_edges, bin_means
from .drive import Drive
from .material import Material
from .particle_step import ParticleStep
from .periodic import PeriodicCache
from .rate_model import RateModel
from .simplex import onto_simplex
from .steady import newton
from .waveforms import Constant

log = logging.getLogger(__name__)

# A dwell at least this many slowest relaxation times long ends on the steady state (e^-20).
SETTLE_RELAXATION_TIMES = 20.0
INTEGRATION_SAMPLES = 60            # uniform samples of an integrated dwell without a trace (plus early ones)
EARLY_SAMPLES = 30
EARLY_START_S = 1e-6
BRIGHT_GROUND_FRACTION = 0.9        # ground population below this = bright branch


def conserve_ions(y: np.ndarray) -> np.ndarray:
    """The particle state put back on the simplex (see simplex.py): each dwell ends there."""
    return onto_simplex(y)


class Particle:
    def __init__(self, material: Material, temperature_k: float) -> None:
        self.model = RateModel(material, temperature_k)
        self._weights = self.model.emission_weights()
        self.state = self.model.dark_state()
        self._settled_on: tuple | None = None
        self._periodic = PeriodicCache(self.model)

    @property
    def is_bright(self) -> bool:
        return bool(self.state[0] < BRIGHT_GROUND_FRACTION)

    def reset(self) -> None:
        self.state = self.model.dark_state()
        self._settled_on = None
        self._periodic.clear()

    def emission(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Photons/s per line for one state (n,) or many states (m, n)."""
        return {line: y @ w for line, w in self._weights.items()}

    def advance(self, t0: float, duration_s: float, drive: Drive, intensity_factor: float,
                n_samples: int | None) -> ParticleStep:
        self.state = conserve_ions(self.state)
        step = self._advance(t0, duration_s, drive, intensity_factor, n_samples)
        self.state = conserve_ions(self.state)
        return step

    def _advance(self, t0: float, duration_s: float, drive: Drive, intensity_factor: float,
                 n_samples: int | None) -> ParticleStep:
        if drive.temperature_k != self.model.temperature_k:
            self.model.temperature_k = drive.temperature_k
            self._settled_on = None
            self._periodic.clear()
        pump = drive.pump_peak_w_m2 * intensity_factor
        control = drive.control_peak_w_m2 * intensity_factor
        if drive.chopper is not None and drive.chopper.duty < 1.0 and pump > 0.0:
            step, self.state = self._periodic.advance(self.state, t0, duration_s, pump, drive.chopper, control,
                                                      drive.control_wavelength_m, n_samples)
            self._settled_on = None
            return step
        return self._advance_constant(duration_s, pump, control, drive.control_wavelength_m, n_samples)

    def _advance_constant(self, duration_s: float, pump: float, control: float, wavelength: float,
                          n_samples: int | None) -> ParticleStep:
        key = (pump, control, wavelength, self.model.temperature_k)
        if key == self._settled_on:
            return self._constant_step(self.state, n_samples)
        matrix = self.model.matrix(pump, control, wavelength)
        result = newton(self.model.equations, matrix, self.state)
        tau = self.model.solver.relaxation_time(result, self.state, matrix)
        if tau is not None and duration_s >= SETTLE_RELAXATION_TIMES * tau:
            return self._relax_to(onto_simplex(result.y), tau, duration_s, key, n_samples)
        return self._integrate(duration_s, pump, control, wavelength, key, n_samples)

    def _constant_step(self, y: np.ndarray, n_samples: int | None) -> ParticleStep:
        rates = {line: float(v) for line, v in self.emission(y).items()}
        trace = None if n_samples is None else {line: np.full(n_samples, v) for line, v in rates.items()}
        return ParticleStep(rates, trace)

    def _relax_to(self, target: np.ndarray, tau: float, duration_s: float, key: tuple,
                  n_samples: int | None) -> ParticleStep:
        """Exponential approach to ``target`` with the slowest relaxation time: mean and bin means."""
        start_rates, end_rates = self.emission(self.state), self.emission(target)
        transient_share = tau / duration_s * (-math.expm1(-duration_s / tau))
        mean = {line: float(end_rates[line] + (start_rates[line] - end_rates[line]) * transient_share)
                for line in end_rates}
        trace = None
        if n_samples is not None:
            edges = bin_edges(0.0, duration_s, n_samples)
            share = tau / np.diff(edges) * -np.diff(np.exp(-edges / tau))   # mean of exp(-t/tau) per bin
            trace = {line: end_rates[line] + (start_rates[line] - end_rates[line]) * share for line in end_rates}
        self.state = target
        self._settled_on = key
        return ParticleStep(mean, trace)

    def _integrate(self, duration_s: float, pump: float, control: float, wavelength: float, key: tuple,
                   n_samples: int | None) -> ParticleStep:
        n_points = INTEGRATION_SAMPLES if n_samples is None else n_samples * POINTS_PER_BIN
        uniform = duration_s * np.arange(1, n_points + 1) / n_points
        early = np.geomspace(min(EARLY_START_S, duration_s / 10), duration_s, EARLY_SAMPLES)
        times = np.union1d(np.concatenate([[0.0], early]), uniform)
        trajectory = self.model.simulate(times, Constant(pump), Constant(control), wavelength, self.state)
        rates = self.emission(trajectory.y)
        mean = {line: float(np.trapezoid(r, times) / duration_s) for line, r in rates.items()}
        trace = None
        if n_samples is not None:
            edges = bin_edges(0.0, duration_s, n_samples)
            trace = {line: bin_means(times, r, edges) for line, r in rates.items()}
        self.state = trajectory.y[-1]
        matrix = self.model.matrix(pump, control, wavelength)
        polished = newton(self.model.equations, matrix, self.state)
        if (self.model.solver.accept(polished, self.state, matrix)
                and np.max(np.abs(polished.y - self.state)) < 1e-6):
            self.state = onto_simplex(polished.y)
            self._settled_on = key
        else:
            self._settled_on = None
        return ParticleStep(mean, trace)
