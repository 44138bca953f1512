"""Dwells of one particle under a chopped pump, answered from the periodic steady state.

Under a chopper the particle settles onto a periodic orbit. The orbit is computed directly by
shooting (Newton on the period map, shooting.py) from the state at the dwell's first opening
edge: in a sweep that is the previous point's orbit, so Newton converges in a few periods and the
dwell costs those periods, not the hundreds the slow 4I11/2 reservoir needs to forget its start.
The approach onto the orbit (the slowest Floquet mode, multiplier mu) is added to the dwell's
mean analytically, as the CW path does with its slowest relaxation time. Where Newton is not
accepted (the particle is switching branch, or the dwell is too short to reach the orbit) the
dwell is integrated period by period, as the particle lives it.

Once the particle sits on the orbit of a drive, any later dwell under the same drive costs
nothing: its mean emission is the exact phase average over the dwell, its trace and end state
are read off the stored period.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .bins import POINTS_PER_BIN, bin_edges, bin_means
from .chopped import run_chopped
from .orbit import Orbit, has_converged, segment_samples
from .particle_step import ParticleStep
from .rate_model import RateModel
from .shooting import ShootingMemory, is_nearby_pump, period_integrals, ros2_stretch, settle_onto_orbit
from .waveforms import ChopperWaveform, Constant, Scaled

#: a dwell that lasts this many relaxation times onto the orbit ends on it (e^-20)
SETTLE_RELAXATION_TIMES = 20.0


@dataclass(frozen=True)
class _OrbitOn:
    key: tuple
    orbit: Orbit


class PeriodicCache:
    """The periodic orbit the particle currently sits on, if any."""

    def __init__(self, model: RateModel) -> None:
        self.model = model
        self.weights = model.emission_weights()
        self._lines = list(self.weights)
        self._weight_rows = np.array([self.weights[line] for line in self._lines])
        self._on: _OrbitOn | None = None
        #: grids and monodromy of the last orbit found, for the next nearby drive (_nearby)
        self._memory: ShootingMemory | None = None
        self._memory_key: tuple | None = None

    def clear(self) -> None:
        self._on = None
        self._memory = None

    def advance(self, state: np.ndarray, t0: float, duration_s: float, pump: float, chopper: ChopperWaveform,
                control: float, wavelength: float, n_samples: int | None) -> tuple[ParticleStep, np.ndarray]:
        # The blade phase is re-anchored by the caller at every dwell: the orbit of a drive does
        # not depend on it, so the key leaves it out and the stored orbit is re-phased instead.
        key = (pump, chopper.frequency_hz, chopper.duty, control, wavelength, self.model.temperature_k)
        edges = None if n_samples is None else bin_edges(t0, duration_s, n_samples)
        if self._on is not None and self._on.key == key:
            orbit = replace(self._on.orbit, chopper=chopper)
            if has_converged(orbit.state_at(t0), state):
                return self._on_orbit(orbit, t0, duration_s, edges)
        self._on = None
        if edges is None:
            return self._settle(state, t0, duration_s, pump, chopper, control, wavelength, key)
        return self._integrate_with_trace(state, t0, duration_s, pump, chopper, control, wavelength, key, n_samples)

    def _integrate_with_trace(self, state: np.ndarray, t0: float, duration_s: float, pump: float,
                              chopper: ChopperWaveform, control: float, wavelength: float, key: tuple,
                              n_samples: int) -> tuple[ParticleStep, np.ndarray]:
        edges = bin_edges(t0, duration_s, n_samples)
        times = np.union1d(dense_times(t0, duration_s, chopper), bin_edges(t0, duration_s, n_samples * POINTS_PER_BIN))
        trajectory = self.model.simulate(times, Scaled(pump, chopper), Constant(control), wavelength, state)
        rates = {line: trajectory.y @ w for line, w in self.weights.items()}
        mean = {line: float(np.trapezoid(r, times) / duration_s) for line, r in rates.items()}
        trace = {line: bin_means(times, r, edges) for line, r in rates.items()}
        end_state = trajectory.y[-1]
        if trajectory.orbit is not None:
            self._on = _OrbitOn(key, trajectory.orbit)
            end_state = trajectory.orbit.state_at(t0 + duration_s)
        return ParticleStep(mean, trace), end_state

    def _settle(self, state: np.ndarray, t0: float, duration_s: float, pump: float, chopper: ChopperWaveform,
                control: float, wavelength: float, key: tuple) -> tuple[ParticleStep, np.ndarray]:
        """A dwell without a trace: up to the first opening edge, then shooting (with
        period-by-period integration where Newton is not accepted), then the orbit."""
        model, rows = self.model, self._weight_rows
        on, off = model.matrix(pump, control, wavelength), model.matrix(0.0, control, wavelength)
        t_end = t0 + duration_s
        period = chopper.period_s
        first_opening = chopper.offset_s + math.ceil((t0 - chopper.offset_s) / period - 1e-12) * period
        whole_periods = math.floor((t_end - first_opening) / period + 1e-9)
        period_map = model.period_map(pump, chopper, control, wavelength)
        # dwells and their partial periods run on the compiled ROS2 steps of the period map (an
        # operator's dwell is often cut into pieces shorter than a slow chopper's period)
        def stretch(y_from: np.ndarray, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
            return ros2_stretch(period_map, y_from, start, stop, rows)

        def one_period(y_open: np.ndarray, _t_open: float) -> Orbit:
            return period_map.orbit(period_map.run_adaptive(y_open))

        if whole_periods < 1:
            dwell = run_chopped(model.integrator, state, t0, duration_s, chopper, on, off, rows, one_period, stretch)
            return self._step(dwell.integrals, duration_s), dwell.end_state
        y, total = state, np.zeros(len(rows))
        if first_opening > t0:
            y, total = stretch(state, t0, first_opening)
        memory = self._memory if self._memory_key is not None and _nearby(self._memory_key, key) else None
        # a particle in transit (Newton not accepted from the dwell's start) is integrated period by
        # period with the error-controlled ROS2 map, shooting retried in between
        settled = settle_onto_orbit(period_map, y, model.solver.basis, whole_periods, rows, memory)
        total = total + settled.integrals
        t = first_opening + settled.periods_integrated * period
        result = settled.result
        remaining = whole_periods - settled.periods_integrated
        if result.orbit is None or remaining * period < SETTLE_RELAXATION_TIMES * result.relaxation_time_s:
            # the rest of the dwell, period by period (ROS2 map, geometric extrapolation of the slow
            # mode), from where Newton started: too short for the analytic approach onto the orbit
            dwell = run_chopped(model.integrator, settled.y_start, t, t_end - t, chopper, on, off, rows,
                                one_period, stretch)
            if dwell.orbit is not None:
                self._on = _OrbitOn(key, dwell.orbit)
            return self._step(total + dwell.integrals, duration_s), dwell.end_state
        orbit = result.orbit
        self._memory, self._memory_key = result.memory, key
        # Phase-exact orbit integral from t to t_end, plus the approach onto it: the deviation of
        # the first period's emission from the orbit's decays by mu per period (slowest mode).
        on_orbit = np.array([orbit.integral(w, t, t_end) for w in rows])
        assert result.first_run is not None
        first = period_integrals(result.first_run, rows)
        orbit_period = np.array([orbit.integral(w, t, t + period) for w in rows])
        mu = result.multiplier
        transient = (first - orbit_period) * (1.0 - mu**remaining) / (1.0 - mu)
        self._on = _OrbitOn(key, orbit)
        return self._step(total + on_orbit + transient, duration_s), orbit.state_at(t_end)

    def _step(self, integrals: np.ndarray, duration_s: float) -> ParticleStep:
        return ParticleStep({line: float(value / duration_s) for line, value in zip(self._lines, integrals)}, None)

    def _on_orbit(self, orbit: Orbit, t0: float, duration_s: float,
                  edges: np.ndarray | None) -> tuple[ParticleStep, np.ndarray]:
        mean = {line: orbit.integral(w, t0, t0 + duration_s) / duration_s for line, w in self.weights.items()}
        trace = None
        if edges is not None:
            trace = {line: np.diff(orbit.cumulative(w, edges)) / np.diff(edges) for line, w in self.weights.items()}
        return ParticleStep(mean, trace), orbit.state_at(t0 + duration_s)


def _nearby(remembered: tuple, key: tuple) -> bool:
    """Same chopper, control and temperature, and a peak pump close enough to reuse the orbit's
    grids and monodromy (shooting.is_nearby_pump)."""
    return remembered[1:] == key[1:] and is_nearby_pump(remembered[0], key[0])


def dense_times(t0: float, duration_s: float, chopper: ChopperWaveform) -> np.ndarray:
    """Output times resolving every on/off segment of the dwell (for an accurate mean emission)."""
    edges = chopper.breakpoints(t0, t0 + duration_s)
    bounds = np.concatenate([[t0], edges, [t0 + duration_s]])
    pieces = [bounds[:1]]
    for start, end in zip(bounds[:-1], bounds[1:]):
        pieces.append(start + segment_samples(end - start))
    return np.unique(np.concatenate(pieces))
